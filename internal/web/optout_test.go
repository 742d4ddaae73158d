package web_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/consent"
)

func historyOf(t *testing.T, in *apptest.Instance, p consent.Person) []consent.Event {
	t.Helper()
	h, err := consent.NewLedger(mustStore(t, in).R, nil).History(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestUnsubscribeLinkAndOneClick(t *testing.T) {
	env, _ := revealEnv()
	in := apptest.Start(t, apptest.Options{Env: env})
	key := bytes.Repeat([]byte{9}, 32) // the instance's blind-index key
	person := consent.Email("Zhang.San@Example.com")
	token, err := consent.UnsubscribeToken(key, person, consent.ChannelEmail)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "en"}

	// Opening the link asks; it records nothing (scanners open links).
	_, body := c.do("GET", "/u/"+token, nil, map[string]string{"Accept-Language": "en"})
	mustContain(t, "ask", body, "Stop marketing e-mails to z***@example.com?", `id="unsub-submit"`)
	mustNotContain(t, "ask", body, "zhang.san@example.com")
	if h := historyOf(t, in, person); len(h) != 0 {
		t.Fatalf("GET recorded %d events", len(h))
	}

	// A mail client's one-click POST (RFC 8058).
	resp, body := c.do("POST", "/u/"+token, strings.NewReader("List-Unsubscribe=One-Click"), form)
	if resp.StatusCode != 200 || !strings.Contains(body, "you will get no more marketing e-mails") {
		t.Fatalf("one-click: %d %s", resp.StatusCode, body)
	}
	h := historyOf(t, in, person)
	if len(h) != 2 {
		t.Fatalf("one-click recorded %d events, want marketing and profiling refused", len(h))
	}
	for _, e := range h {
		if e.Source != consent.SourceOneClick || e.Action != consent.Refuse || e.Channel != consent.ChannelEmail || e.RecordedBy != "web:unsubscribe" {
			t.Errorf("event %+v", e)
		}
	}
	// Again, through the page's button: nothing new, and it says so.
	resp, body = c.do("POST", "/u/"+token, strings.NewReader(""), form)
	if resp.StatusCode != 200 || !strings.Contains(body, "already unsubscribed") || len(historyOf(t, in, person)) != 2 {
		t.Fatalf("repeat: %d %s", resp.StatusCode, body)
	}
	// A link that was altered is refused.
	bad := token[:len(token)-2] + "xx"
	if resp, _ := c.do("GET", "/u/"+bad, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("altered token: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/u/"+bad, strings.NewReader("List-Unsubscribe=One-Click"), form); resp.StatusCode != 404 {
		t.Fatalf("altered token POST: %d", resp.StatusCode)
	}
}

var callbackRe = regexp.MustCompile(`id="callback-(\w+)">([^<]+)<`)

func TestSMSReplyPushesOptOut(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	admin := signedIn(t, in, auth.RoleAdmin)
	urls := map[string]string{}
	for _, m := range callbackRe.FindAllStringSubmatch(admin.get("/settings/gate", 200), -1) {
		urls[m[1]] = strings.TrimPrefix(m[2], in.URL)
	}
	if len(urls) != 2 || !strings.HasPrefix(urls["tencent"], "/sms/tencent/replies/") {
		t.Fatalf("callback addresses: %v", urls)
	}
	c := newClient(t, in)
	js := map[string]string{"Content-Type": "application/json"}

	resp, body := c.do("POST", urls["tencent"], strings.NewReader(`{"extend":"","mobile":"13800000001","nationcode":"86","sign":"小店","text":"ｔｄ ","time":1457336869}`), js)
	if resp.StatusCode != 200 || body != sms.TencentAck {
		t.Fatalf("tencent push: %d %s", resp.StatusCode, body)
	}
	h := historyOf(t, in, consent.Phone("13800000001"))
	if len(h) != 2 || h[0].Source != consent.SourceOptOutReply || h[0].Evidence[consent.EvidenceText] != "ｔｄ " {
		t.Fatalf("tencent opt-out: %+v", h)
	}
	// Aliyun pushes several; only the opt-out is recorded.
	resp, body = c.do("POST", urls["aliyun"], strings.NewReader(`[{"phone_number":"13800000002","content":"退订","send_time":"2017-01-01 00:00:00","sequence_id":1},
		{"phone_number":"13800000003","content":"好的","send_time":"2017-01-01 00:00:00","sequence_id":2}]`), js)
	if resp.StatusCode != 200 || body != sms.AliyunAck {
		t.Fatalf("aliyun push: %d %s", resp.StatusCode, body)
	}
	if len(historyOf(t, in, consent.Phone("13800000002"))) != 2 || len(historyOf(t, in, consent.Phone("13800000003"))) != 0 {
		t.Fatal("aliyun replies were not taken as they should be")
	}
	// Without the key, or with a push Kith cannot read: refused, nothing kept.
	if resp, _ := c.do("POST", "/sms/tencent/replies/0000", strings.NewReader(`{"mobile":"13800000009","text":"T","time":1}`), js); resp.StatusCode != 404 {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", strings.Replace(urls["tencent"], "tencent", "fax", 1), strings.NewReader(`{}`), js); resp.StatusCode != 404 {
		t.Fatalf("unknown provider: %d", resp.StatusCode)
	}
	resp, body = c.do("POST", urls["aliyun"], strings.NewReader(`[{"phone_number":"abc","content":"T","send_time":"2017-01-01 00:00:00","sequence_id":1}]`), js)
	if resp.StatusCode != 400 || !strings.Contains(body, "phone_number") {
		t.Fatalf("bad push: %d %s", resp.StatusCode, body)
	}
	if len(historyOf(t, in, consent.Phone("13800000009"))) != 0 {
		t.Fatal("a push without the key was recorded")
	}
}
