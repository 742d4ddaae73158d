package wecomtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestConfirmGroupMsgsFromThePage: the control page's button confirms
// every waiting task.
func TestConfirmGroupMsgsFromThePage(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(1, SeedOptions{Customers: 1}); err != nil {
		t.Fatal(err)
	}
	member := s.Members()[0].UserID
	d, err := s.CustomerAddsMember(context.Background(), AddContact{UserID: member, NoWelcomeCode: true})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.gmState()
	m := &GroupMsg{MsgID: "msg1", Creator: member, Recipients: []string{d.Event.ExternalUserID}, Status: map[string]int{d.Event.ExternalUserID: 0}}
	s.gm.msgs[m.MsgID], s.gm.order = m, append(s.gm.order, m.MsgID)
	s.mu.Unlock()
	req := httptest.NewRequest("POST", "/sandbox/groupmsgs/confirm", strings.NewReader(url.Values{"msgid": {""}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
	}
	got := s.GroupMsgs()[0]
	if !got.Confirmed || got.Status[d.Event.ExternalUserID] != GroupMsgSent || s.GroupMsgsReceived(d.Event.ExternalUserID) != 1 {
		t.Errorf("after confirming: %+v", got)
	}
}
