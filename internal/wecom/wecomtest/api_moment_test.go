package wecomtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestMomentsFromThePage: the control API publishes every waiting moment,
// and a customer who can see the post likes it; one who cannot is refused.
func TestMomentsFromThePage(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(1, SeedOptions{Customers: 1}); err != nil {
		t.Fatal(err)
	}
	member := s.Members()[0].UserID
	var exts []string
	for range 2 {
		d, err := s.CustomerAddsMember(context.Background(), AddContact{UserID: member, NoWelcomeCode: true})
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, d.Event.ExternalUserID)
	}
	s.mu.Lock()
	tag := s.st.groups[0].Tags[0].ID
	s.st.markTags(s.st.relation(member, exts[0]), []string{tag}, nil)
	m := &Moment{MomentID: "mom1", Senders: []string{member}, Tags: []string{tag}, Published: map[string]int64{}, Seen: map[string][]string{},
		Likes: map[string][]string{}, Comments: map[string][]string{}}
	s.moState().moments[m.MomentID], s.mo.order = m, append(s.mo.order, m.MomentID)
	s.mu.Unlock()
	post := func(path string, v url.Values) int {
		req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post("/sandbox/moments/publish", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("publish: %d", code)
	}
	got := s.Moments()[0]
	if _, ok := got.Published[member]; !ok || len(got.Seen[member]) != 1 || got.Seen[member][0] != exts[0] {
		t.Fatalf("after publishing: %+v", got)
	}
	if code := post("/sandbox/moments/like", url.Values{"moment_id": {"mom1"}, "userid": {member}, "external_userid": {exts[0]}}); code != http.StatusSeeOther {
		t.Fatalf("like: %d", code)
	}
	// A form post always returns to the page (with the error in msg); the
	// state shows the refusal.
	post("/sandbox/moments/comment", url.Values{"moment_id": {"mom1"}, "userid": {member}, "external_userid": {exts[1]}})
	if got := s.Moments()[0]; len(got.Likes[member]) != 1 || len(got.Comments[member]) != 0 {
		t.Errorf("interactions: %+v %+v", got.Likes, got.Comments)
	}
}
