package wecomtest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wantDelivered checks the outcome and that the receiver decrypted the same
// event, with the envelope fields WeCom always sends.
func wantDelivered(t *testing.T, srv *Server, rc *receiver, d Delivery, err error) eventXML {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !d.Delivered || d.Attempts != 1 || d.StatusCode != http.StatusOK || d.Err != "" {
		t.Fatalf("delivery = %+v, want delivered at the first attempt", d)
	}
	e := rc.lastEvent(t)
	if e.ToUserName != srv.CorpID() || e.FromUserName != "sys" || e.MsgType != "event" || e.CreateTime == 0 {
		t.Fatalf("envelope fields = %+v", e)
	}
	if e.Event != d.Event.Event || e.ChangeType != d.Event.ChangeType {
		t.Fatalf("received %s/%s, delivery says %s/%s", e.Event, e.ChangeType, d.Event.Event, d.Event.ChangeType)
	}
	return e
}

func TestDriverEvents(t *testing.T) {
	srv, clock := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 5, SeedOptions{Customers: 50})
	rc := startReceiver(t, srv)

	var ext string
	t.Run("customer adds member", func(t *testing.T) {
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "zhaolei", Name: "孙悟空", State: "ch_douyin"})
		e := wantDelivered(t, srv, rc, d, err)
		ext = e.ExternalUserID
		if e.Event != EventChangeExternalContact || e.ChangeType != ChangeAddExternalContact || e.UserID != "zhaolei" ||
			!strings.HasPrefix(ext, "wm") || e.State != "ch_douyin" || e.WelcomeCode == "" {
			t.Fatalf("event = %+v", e)
		}
		if e.CreateTime != clock.Now().Unix() {
			t.Fatalf("CreateTime %d, want the sandbox clock %d", e.CreateTime, clock.Now().Unix())
		}
		c, _ := srv.Customer(ext)
		rel, ok := srv.Relation("zhaolei", ext)
		if c.Name != "孙悟空" || !ok || rel.State != "ch_douyin" || rel.AddWay != 1 || rel.OperUserID != ext || rel.CreateTime != clock.Now().Unix() {
			t.Fatalf("customer %+v, relation %+v", c, rel)
		}
		wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext), CodeOK)
	})
	t.Run("the same customer adds a second member", func(t *testing.T) {
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina", ExternalUserID: ext})
		e := wantDelivered(t, srv, rc, d, err)
		if e.ExternalUserID != ext || e.UserID != "lina" {
			t.Fatalf("event = %+v", e)
		}
		if _, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina", ExternalUserID: ext}); !errors.Is(err, ErrConflict) {
			t.Fatalf("adding twice: %v, want ErrConflict", err)
		}
	})
	t.Run("member edits the customer in the client", func(t *testing.T) {
		tag := srv.TagGroups()[2].Tags[1].ID
		d, err := srv.MemberEditsContact(ctx, EditContact{UserID: "zhaolei", ExternalUserID: ext, Remark: strp("大圣"), AddTags: []string{tag}})
		e := wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeEditExternalContact || e.UserID != "zhaolei" || e.ExternalUserID != ext || e.WelcomeCode != "" {
			t.Fatalf("event = %+v", e)
		}
		rel, _ := srv.Relation("zhaolei", ext)
		if rel.Remark != "大圣" || len(rel.TagIDs) != 1 || rel.TagIDs[0] != tag {
			t.Fatalf("relation = %+v", rel)
		}
		if _, err := srv.MemberEditsContact(ctx, EditContact{UserID: "zhaolei", ExternalUserID: ext, Remark: strp(strings.Repeat("长", 21))}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("long remark: %v", err)
		}
	})
	t.Run("customer deletes member", func(t *testing.T) {
		d, err := srv.CustomerDeletesMember(ctx, "lina", ext)
		e := wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeDelFollowUser || e.UserID != "lina" || e.ExternalUserID != ext {
			t.Fatalf("event = %+v", e)
		}
		rel, ok := srv.Relation("lina", ext)
		if !ok || !rel.DeletedByCustomer {
			t.Fatalf("relation = %+v, %v; want a one-way relation", rel, ok)
		}
		r := post(t, srv, "/cgi-bin/externalcontact/remark", map[string]any{"userid": "lina", "external_userid": ext, "remark": "x"})
		wantCode(t, r, CodeOK) // one-way relations still work
	})
	t.Run("member deletes customer", func(t *testing.T) {
		d, err := srv.MemberDeletesCustomer(ctx, "lina", ext)
		e := wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeDelExternalContact || e.UserID != "lina" || e.ExternalUserID != ext || e.Source != "" {
			t.Fatalf("event = %+v", e)
		}
		if _, ok := srv.Relation("lina", ext); ok {
			t.Fatal("relation still there")
		}
		wantCode(t, post(t, srv, "/cgi-bin/externalcontact/remark", map[string]any{"userid": "lina", "external_userid": ext, "remark": "x"}), CodeNoRelation)
	})
	t.Run("transfer fails", func(t *testing.T) {
		d, err := srv.TransferFails(ctx, "huangmin", ext, FailCustomerRefused)
		e := wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeTransferFail || e.FailReason != FailCustomerRefused || e.UserID != "huangmin" || e.ExternalUserID != ext {
			t.Fatalf("event = %+v", e)
		}
		if _, err := srv.TransferFails(ctx, "huangmin", ext, "bored"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad reason: %v", err)
		}
	})
	t.Run("admin creates, renames, reorders and deletes tags", func(t *testing.T) {
		d, err := srv.AdminCreatesTag(ctx, "会员活动", "618")
		e := wantDelivered(t, srv, rc, d, err)
		if e.Event != EventChangeExternalTag || e.ChangeType != ChangeCreate || e.TagType != TagTypeTagGroup || !strings.HasPrefix(e.ID, "et") {
			t.Fatalf("new group event = %+v", e)
		}
		groupID := e.ID
		d, err = srv.AdminCreatesTag(ctx, "会员活动", "双11")
		e = wantDelivered(t, srv, rc, d, err)
		if e.TagType != TagTypeTag || e.ChangeType != ChangeCreate {
			t.Fatalf("new tag event = %+v", e)
		}
		tagID := e.ID
		d, err = srv.AdminRenamesTag(ctx, tagID, "双十一")
		e = wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeUpdate || e.TagType != TagTypeTag || e.ID != tagID {
			t.Fatalf("rename event = %+v", e)
		}
		d, err = srv.AdminShufflesTags(ctx, groupID)
		e = wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeShuffle || e.ID != groupID || e.TagType != "" {
			t.Fatalf("shuffle event = %+v", e)
		}
		d, err = srv.AdminDeletesTag(ctx, groupID)
		e = wantDelivered(t, srv, rc, d, err)
		if e.ChangeType != ChangeDelete || e.TagType != TagTypeTagGroup || e.ID != groupID {
			t.Fatalf("delete event = %+v", e)
		}
		for _, g := range srv.TagGroups() {
			if g.ID == groupID {
				t.Fatal("deleted group still listed")
			}
		}
	})
	t.Run("customer group chat", func(t *testing.T) {
		d, err := srv.ExternalChatChanges(ctx, ChatChange{ChangeType: ChangeCreate})
		e := wantDelivered(t, srv, rc, d, err)
		if e.Event != EventChangeExternalChat || e.ChangeType != ChangeCreate || !strings.HasPrefix(e.ChatID, "wr") {
			t.Fatalf("create event = %+v", e)
		}
		chat := e.ChatID
		d, err = srv.ExternalChatChanges(ctx, ChatChange{ChatID: chat, ChangeType: ChangeUpdate, UpdateDetail: "add_member", JoinScene: 3, MemChangeList: []string{ext, "zhaolei"}})
		e = wantDelivered(t, srv, rc, d, err)
		if e.UpdateDetail != "add_member" || e.JoinScene != 3 || e.MemChangeCnt != 2 || len(e.MemChangeList) != 2 || e.MemChangeList[0] != ext {
			t.Fatalf("update event = %+v", e)
		}
		d, err = srv.ExternalChatChanges(ctx, ChatChange{ChatID: chat, ChangeType: ChangeDismiss})
		wantDelivered(t, srv, rc, d, err)
		if _, err := srv.ExternalChatChanges(ctx, ChatChange{ChatID: chat, ChangeType: ChangeDismiss}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("dismissing twice: %v", err)
		}
	})
	t.Run("member leaves the company", func(t *testing.T) {
		d, err := srv.MemberLeaves(ctx, "zhaolei")
		e := wantDelivered(t, srv, rc, d, err)
		if e.Event != EventChangeContact || e.ChangeType != ChangeDeleteUser || e.UserID != "zhaolei" {
			t.Fatalf("event = %+v", e)
		}
		wantCode(t, get(t, srv, "/cgi-bin/user/get", "userid", "zhaolei"), CodeUserNotFound)
		for _, u := range get(t, srv, "/cgi-bin/externalcontact/get_follow_user_list").list("follow_user") {
			if u == "zhaolei" {
				t.Fatal("a departed member is in follow_user")
			}
		}
		wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext), CodeNoRelation)
		if _, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "zhaolei"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("adding a departed member: %v", err)
		}
	})
}

func TestHalfAdd(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	rc := startReceiver(t, srv)

	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "chenjing", Half: true, State: "ch_gzh"})
	e := wantDelivered(t, srv, rc, d, err)
	if e.ChangeType != ChangeAddHalfExternalContact || e.WelcomeCode == "" || e.State != "ch_gzh" {
		t.Fatalf("half event = %+v", e)
	}
	ext := e.ExternalUserID
	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext), CodeNoRelation)

	// The member adds the customer back: a full relation, and no second
	// WelcomeCode.
	d, err = srv.CustomerAddsMember(ctx, AddContact{UserID: "chenjing", ExternalUserID: ext})
	e = wantDelivered(t, srv, rc, d, err)
	if e.ChangeType != ChangeAddExternalContact || e.WelcomeCode != "" {
		t.Fatalf("completing event = %+v", e)
	}
	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext), CodeOK)
}

func TestNoWelcomeCode(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	rc := startReceiver(t, srv)
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina", NoWelcomeCode: true})
	if e := wantDelivered(t, srv, rc, d, err); e.WelcomeCode != "" {
		t.Fatalf("WelcomeCode %q despite NoWelcomeCode", e.WelcomeCode)
	}
	d, err = srv.CustomerAddsMember(ctx, AddContact{UserID: "lina", Type: CustomerWeCom, CorpName: "腾讯"})
	e := wantDelivered(t, srv, rc, d, err)
	if e.WelcomeCode != "" || !strings.HasPrefix(e.ExternalUserID, "wo") {
		t.Fatalf("WeCom customer event = %+v; want a wo… id and no WelcomeCode", e)
	}
}

func TestDeliveryRetries(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	rc := startReceiver(t, srv)

	t.Run("succeeds at the third delivery", func(t *testing.T) {
		rc.failNext(http.StatusInternalServerError, http.StatusServiceUnavailable)
		before := len(rc.received())
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Delivered || d.Attempts != 3 || d.StatusCode != 200 {
			t.Fatalf("delivery = %+v", d)
		}
		got := rc.received()[before:]
		if len(got) != 3 || !bytes.Equal(got[0], got[2]) {
			t.Fatalf("receiver got %d posts; want 3 copies of the same event", len(got))
		}
	})
	t.Run("three failures are recorded, then redelivered", func(t *testing.T) {
		rc.failNext(500, 500, 500)
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Delivered || d.Attempts != MaxDeliveries || d.StatusCode != 500 || d.Err == "" {
			t.Fatalf("delivery = %+v, want failed after 3 attempts", d)
		}
		if _, failed := srv.DeliveryCounts(); failed != 1 {
			t.Fatalf("%d failed, want 1", failed)
		}
		// The state changed even though the callback was lost.
		if _, ok := srv.Relation("lina", d.Event.ExternalUserID); !ok {
			t.Fatal("relation missing")
		}
		log := srv.Deliveries()
		if last := log[len(log)-1]; last.Seq != d.Seq || last.Delivered {
			t.Fatalf("log ends with %+v", last)
		}
		again := srv.RedeliverFailed(ctx)
		if len(again) != 1 || !again[0].Delivered || again[0].Seq != d.Seq {
			t.Fatalf("redelivery = %+v", again)
		}
		if _, failed := srv.DeliveryCounts(); failed != 0 {
			t.Fatalf("%d still failed", failed)
		}
	})
	t.Run("an unreachable receiver", func(t *testing.T) {
		srv.SetCallbackURL("http://127.0.0.1:1/unreachable")
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Delivered || d.Attempts != 3 || d.StatusCode != 0 || d.Err == "" {
			t.Fatalf("delivery = %+v", d)
		}
		srv.SetCallbackURL("")
		d, _ = srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
		if d.Delivered || d.Attempts != 0 || !strings.Contains(d.Err, "no callback URL") {
			t.Fatalf("delivery without URL = %+v", d)
		}
	})
}

func TestPauseAndResumeDelivery(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	rc := startReceiver(t, srv)

	srv.PauseDelivery()
	var seqs []int64
	for _, u := range []string{"lina", "zhangwei", "wangfang"} {
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Queued || d.Attempts != 0 {
			t.Fatalf("delivery while paused = %+v", d)
		}
		seqs = append(seqs, d.Seq)
	}
	if len(rc.received()) != 0 {
		t.Fatal("callbacks were sent while paused")
	}
	if queued, _ := srv.DeliveryCounts(); queued != 3 {
		t.Fatalf("%d queued, want 3", queued)
	}
	out := srv.ResumeDelivery(ctx)
	if len(out) != 3 {
		t.Fatalf("resume sent %d", len(out))
	}
	got := rc.received()
	for i, d := range out {
		if !d.Delivered || d.Seq != seqs[i] || parseEvent(t, got[i]).UserID != d.Event.UserID {
			t.Fatalf("resume %d = %+v, want in order", i, d)
		}
	}
	d, _ := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
	if !d.Delivered {
		t.Fatalf("after resume: %+v", d)
	}
}

func TestRetryDelayAndCancel(t *testing.T) {
	srv, _ := start(t, Options{RetryDelay: time.Hour})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	rc := startReceiver(t, srv)
	rc.failNext(500)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Delivered || d.Attempts != 1 || !strings.Contains(d.Err, "deadline") {
		t.Fatalf("delivery = %+v, want one attempt then the context's end", d)
	}
}

func TestVerifyCallbackURL(t *testing.T) {
	srv, _ := start(t, Options{})
	if err := srv.VerifyCallbackURL(context.Background()); err == nil {
		t.Fatal("verified without a URL")
	}
	startReceiver(t, srv)
	if err := srv.VerifyCallbackURL(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("success")) })
	srv.SetCallbackURL(bad)
	if err := srv.VerifyCallbackURL(context.Background()); err == nil {
		t.Fatal("a receiver answering \"success\" passed the URL check")
	}
}

func TestEventXML(t *testing.T) {
	ev := Event{ToUserName: "ww1", FromUserName: "sys", CreateTime: 1403610513, MsgType: "event",
		Event: EventChangeExternalContact, ChangeType: ChangeAddExternalContact, UserID: "zhangsan",
		ExternalUserID: "wm1", State: "a]]>b"}
	got := string(ev.XML())
	want := "<xml><ToUserName><![CDATA[ww1]]></ToUserName>\n<FromUserName><![CDATA[sys]]></FromUserName>\n" +
		"<CreateTime>1403610513</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n" +
		"<Event><![CDATA[change_external_contact]]></Event>\n<ChangeType><![CDATA[add_external_contact]]></ChangeType>\n" +
		"<UserID><![CDATA[zhangsan]]></UserID>\n<ExternalUserID><![CDATA[wm1]]></ExternalUserID>\n" +
		"<State><![CDATA[a]]]]><![CDATA[>b]]></State>\n</xml>"
	if got != want {
		t.Fatalf("XML =\n%s\nwant\n%s", got, want)
	}
	if e := parseEvent(t, []byte(got)); e.State != "a]]>b" {
		t.Fatalf("State round trip = %q", e.State)
	}
}

// A receiver that calls the API while it handles a callback, as Kith's
// ingest might, must not deadlock the sandbox.
func TestReceiverMayCallTheAPI(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	var code atomic.Int32
	srv.SetCallbackURL(httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get(srv.URL + "/cgi-bin/user/get?userid=lina&access_token=" + srv.AccessToken())
		if err == nil {
			res.Body.Close()
			code.Store(int32(res.StatusCode))
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
	if err != nil || !d.Delivered || code.Load() != http.StatusOK {
		t.Fatalf("delivery %+v, err %v, API status %d", d, err, code.Load())
	}
}
