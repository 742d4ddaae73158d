package wecom_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

func sandboxClient(t *testing.T) (*wecom.Client, *wecomtest.Server, []string) {
	t.Helper()
	sb := wecomtest.Start(t, wecomtest.Options{})
	wecomtest.MustSeed(t, sb.Sandbox, 5, wecomtest.SeedOptions{Customers: 5})
	c, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret()})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range sb.Members() {
		ids = append(ids, m.UserID)
	}
	return c, sb, ids
}

func TestContactWayEndpoints(t *testing.T) {
	ctx := context.Background()
	c, sb, ids := sandboxClient(t)
	no := false
	id, qr, err := c.AddContactWay(ctx, wecom.ContactWay{Type: wecom.ContactWayMulti, Scene: wecom.ContactWaySceneQR, State: "s", SkipVerify: &no, User: ids[:2], Remark: "海报"})
	if err != nil || id == "" || qr == "" {
		t.Fatalf("add: %q %q %v", id, qr, err)
	}
	if err := c.UpdateContactWay(ctx, wecom.ContactWay{ConfigID: id, User: ids[2:3]}); err != nil {
		t.Fatal(err)
	}
	w, err := c.GetContactWay(ctx, id)
	if err != nil || len(w.User) != 1 || w.User[0] != ids[2] || w.State != "s" || *w.SkipVerify || w.QRCode != qr {
		t.Fatalf("get: %+v %v", w, err)
	}
	// Refused before any call.
	for _, bad := range []wecom.ContactWay{
		{Type: 2, Scene: 2, User: make([]string, 101)},
		{Type: 2, Scene: 2, User: ids[:1], State: strings.Repeat("s", 31)},
		{Type: 1, Scene: 2, User: ids[:2]},
		{Type: 2, Scene: 3, User: ids[:1]},
	} {
		if _, _, err := c.AddContactWay(ctx, bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if err := c.DelContactWay(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetContactWay(ctx, id); wecom.ErrorCode(err) != wecomtest.CodeInvalidConfigID {
		t.Fatalf("deleted: %v", err)
	}
	// Links.
	l, err := c.CreateAcquisitionLink(ctx, wecom.AcquisitionLink{LinkName: "短信", SkipVerify: true, Range: wecom.LinkRange{UserList: ids[:1]}})
	if err != nil || l.LinkID == "" || !strings.HasPrefix(l.URL, "https://work.weixin.qq.com/ca/") {
		t.Fatalf("create link: %+v %v", l, err)
	}
	if err := c.UpdateAcquisitionLink(ctx, wecom.AcquisitionLink{LinkID: l.LinkID, LinkName: "短信2", Range: wecom.LinkRange{UserList: ids[1:3]}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetAcquisitionLink(ctx, l.LinkID)
	if err != nil || got.LinkName != "短信2" || len(got.Range.UserList) != 2 {
		t.Fatalf("get link: %+v %v", got, err)
	}
	if err := c.DeleteAcquisitionLink(ctx, l.LinkID); err != nil {
		t.Fatal(err)
	}
	// Welcome: the code of a real add, once.
	sb.SetCallbackURL("")
	d, err := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	msg := wecom.WelcomeMsg{WelcomeCode: d.Event.WelcomeCode, Text: &wecom.WelcomeText{Content: "你好"},
		Attachments: []wecom.WelcomeAttachment{{MsgType: "link", Link: &wecom.WelcomeLink{Title: "店", URL: "https://example.com"}}}}
	if err := c.SendWelcomeMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if err := c.SendWelcomeMsg(ctx, msg); wecom.ErrorCode(err) != wecom.CodeWelcomeAlreadyChatting {
		t.Fatalf("twice: %v", err)
	}
	if s := sb.WelcomesSent(); len(s) != 1 || s[0].Attachments != 1 {
		t.Fatalf("sent: %+v", s)
	}
	msg.Text.Content = strings.Repeat("x", 4001)
	if err := c.SendWelcomeMsg(ctx, msg); kith.ErrorCode(err) != kith.EINVALID {
		t.Fatalf("long: %v", err)
	}
}
