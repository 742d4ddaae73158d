package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

func TestGatePolicyPage(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	admin := signedIn(t, in, auth.RoleAdmin)
	body := admin.get("/settings/gate", 200)
	mustContain(t, "defaults", body, `id="policy-wecom"`, `id="policy-sms"`, `id="policy-email"`,
		`id="quiet_start-sms" value="21:00"`, `id="quiet_end-sms" value="08:00"`, `value="month_days" selected`, `id="tab-gate" aria-current="page"`)

	save := func(v url.Values) (int, string) {
		resp, body := admin.form("/settings/gate", v, en)
		return resp.StatusCode, body
	}
	// Refusals come back in the channel's form with what was typed.
	cases := []struct {
		form url.Values
		says string
	}{
		{url.Values{"channel": {"sms"}, "cap_day": {"5"}, "quiet_start": {"21:00"}, "quiet_end": {"08:00"}}, "above the platform&#39;s 3"},
		{url.Values{"channel": {"wecom"}, "wecom_rule": {"day_1"}, "cap_week": {"9"}, "quiet_start": {"21:00"}, "quiet_end": {"08:00"}}, "above the platform&#39;s 7"},
		{url.Values{"channel": {"email"}, "cap_day": {"x"}, "quiet_start": {"21:00"}, "quiet_end": {"08:00"}}, `Per day must be a whole number from 0 to 10000, not &#34;x&#34;`},
		{url.Values{"channel": {"email"}, "cap_day": {"-1"}, "quiet_start": {"21:00"}, "quiet_end": {"08:00"}}, "Per day must be a whole number"},
		{url.Values{"channel": {"email"}, "quiet_start": {"25:00"}, "quiet_end": {"08:00"}}, `Quiet from must be a time of day like 21:00, not &#34;25:00&#34;`},
		{url.Values{"channel": {"email"}, "quiet_start": {"21:00"}, "quiet_end": {"8"}}, "until must be a time of day"},
		{url.Values{"channel": {"wecom"}, "wecom_rule": {"hourly"}, "quiet_start": {"21:00"}, "quiet_end": {"08:00"}}, "unknown WeCom rule"},
	}
	for _, c := range cases {
		code, body := save(c.form)
		if code != 400 || !strings.Contains(body, c.says) {
			t.Errorf("%v: %d, want 400 saying %q in %s", c.form, code, c.says, between(body, `class="error policy-error"`, "</p>"))
		}
	}
	if code, _ := save(url.Values{"channel": {"fax"}}); code != 400 {
		t.Errorf("unknown channel: %d", code)
	}
	g := gate.New(db, []byte("0123456789abcdef0123456789abcdef"), kith.SystemClock{})
	ctx := context.Background()
	if p, _ := g.Policy(ctx, consent.ChannelSMS); p != gate.DefaultPolicy(consent.ChannelSMS) {
		t.Fatalf("a refused form changed the policy: %+v", p)
	}

	resp, _ := admin.form("/settings/gate", url.Values{"channel": {"wecom"}, "wecom_rule": {"week_7"}, "cap_day": {"1"}, "cap_week": {""},
		"cap_month": {"20"}, "quiet_start": {"22:30"}, "quiet_end": {"07:15"}}, en)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/settings/gate?saved=wecom#policy-wecom" {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	p, err := g.Policy(ctx, consent.ChannelWeCom)
	want := gate.Policy{Channel: consent.ChannelWeCom, CapDay: 1, CapMonth: 20, QuietStart: 22*60 + 30, QuietEnd: 7*60 + 15, WeComRule: gate.Week7}
	if err != nil || p != want {
		t.Fatalf("saved policy %+v (%v), want %+v", p, err, want)
	}
	body = admin.get("/settings/gate?saved=wecom", 200)
	mustContain(t, "after save", body, `id="policy-saved-wecom"`, `id="cap_month-wecom" value="20"`, `id="quiet_start-wecom" value="22:30"`, `value="week_7" selected`)

	changes := entriesOf(t, audit.New(db, kith.SystemClock{}), audit.ActionSettingsChange)
	if len(changes) != 1 || changes[0].ObjectType != "gate_policy" || changes[0].ObjectID != "wecom" || !strings.Contains(changes[0].Detail, `"cap_month":20`) {
		t.Fatalf("audit: %+v", changes)
	}
	signedIn(t, in, auth.RoleOperator).get("/settings/gate", 403)
}

func TestWhyDidIGetThis(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedDirectory(t, db, 3)
	ctx := context.Background()
	at := time.Date(2025, 4, 1, 2, 0, 0, 0, time.UTC)
	n, err := consent.PublishNotice(ctx, db.W, consent.Marketing, "zh-CN", "我们会通过企业微信向您发送新品和会员优惠。", at)
	if err != nil {
		t.Fatal(err)
	}
	if err := consent.NewLedger(nil, []byte("web-test-suppression-key")).Record(ctx, db.W, consent.Event{
		Person: consent.ExternalUser("wm001"), Purpose: consent.Marketing, Channel: consent.ChannelWeCom, Action: consent.Grant,
		Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/consent"},
		NoticeVersion: n.Version, NoticeHash: n.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at,
	}); err != nil {
		t.Fatal(err)
	}
	g := gate.New(db, []byte("0123456789abcdef0123456789abcdef"), kith.SystemClock{})
	// No quiet hours, so the test decides the same at any time of day.
	if err := g.SetPolicy(ctx, gate.Policy{Channel: consent.ChannelWeCom, WeComRule: gate.MonthDays}); err != nil {
		t.Fatal(err)
	}
	req := gate.Request{Person: consent.ExternalUser("wm001"), Channel: consent.ChannelWeCom, Class: gate.Marketing,
		Campaign: "双11预热", Sender: "zhangsan", Content: gate.Content{Body: "新品上市"}}
	d, err := g.Decide(ctx, req)
	if err != nil || !d.Allowed {
		t.Fatalf("decision %+v %v", d, err)
	}
	req.Person = consent.ExternalUser("wm002") // never consented
	refused, err := g.Decide(ctx, req)
	if err != nil || refused.Allowed || refused.Reason != gate.NoConsent {
		t.Fatalf("refusal %+v %v", refused, err)
	}

	agent := signedIn(t, in, auth.RoleAgent)
	body := agent.get("/customers/wm001", 200)
	mustContain(t, "permits section", body, `id="permits-list"`, `id="permit-`+d.ID+`"`, `href="/gate/decisions/`+d.ID+`"`, "双11预热", "not sent")
	mustContain(t, "no permits", agent.get("/customers/wm002", 200), `id="permits-none"`)

	body = agent.get("/gate/decisions/"+d.ID, 200)
	mustContain(t, "decision page", body, `id="decision-outcome">permitted`, `id="decision-reason">OK`, `id="decision-consent-action">granted`,
		fmt.Sprintf("v%d · %s", n.Version, n.TextHash), "https://shop.example/consent", "zhangsan")
	body = agent.get("/gate/decisions/"+refused.ID, 200)
	mustContain(t, "refusal page", body, `id="decision-outcome">refused`, `id="decision-reason">NO_CONSENT`, `id="decision-noconsent"`)
	agent.get("/gate/decisions/nope", 404)
	signedIn(t, in, auth.RoleAuditor).get("/gate/decisions/"+d.ID, 403)

	var customerID string
	db.R.QueryRow("SELECT id FROM customers WHERE external_userid = 'wm001'").Scan(&customerID)
	reads := entriesOf(t, audit.New(db, kith.SystemClock{}), audit.ActionPIIRead)
	found := false
	for _, e := range reads {
		found = found || (e.ObjectType == "gate_decision" && e.ObjectID == d.ID && e.Person == customerID)
	}
	if !found {
		t.Fatalf("the decision read was not audited: %+v", reads)
	}

	_, token, err := in.Auth(t).CreateToken(ctx, "crm", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Authorization": "Bearer " + token}
	resp, body := agent.do("GET", "/api/v1/customers/wm001/permits", nil, hdr)
	var list struct {
		Permits []struct {
			ID, Reason, Campaign string
			Consent              *struct {
				ID     int64  `json:"id"`
				Action string `json:"action"`
			} `json:"consent_event"`
		}
		Truncated bool
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Permits) != 1 || list.Permits[0].ID != d.ID ||
		list.Permits[0].Consent == nil || list.Permits[0].Consent.Action != "grant" || list.Truncated {
		t.Fatalf("permits API: %d %s", resp.StatusCode, body)
	}
	resp, body = agent.do("GET", "/api/v1/gate/decisions/"+refused.ID, nil, hdr)
	if resp.StatusCode != 200 || !strings.Contains(body, `"reason": "NO_CONSENT"`) || !strings.Contains(body, `"allowed": false`) {
		t.Fatalf("decision API: %d %s", resp.StatusCode, body)
	}
	if resp, _ := agent.do("GET", "/api/v1/gate/decisions/nope", nil, hdr); resp.StatusCode != 404 {
		t.Fatalf("unknown decision: %d", resp.StatusCode)
	}
	if resp, _ := agent.do("GET", "/api/v1/customers/nobody/permits", nil, hdr); resp.StatusCode != 404 {
		t.Fatalf("unknown customer: %d", resp.StatusCode)
	}
}
