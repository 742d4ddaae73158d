package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
)

func TestCustomerConsent(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedDirectory(t, db, 3)
	ctx := context.Background()
	at := time.Date(2025, 4, 1, 2, 0, 0, 0, time.UTC)
	n, err := consent.PublishNotice(ctx, db.W, consent.Marketing, "zh-CN", "我们会通过企业微信向您发送新品和会员优惠。", at)
	if err != nil {
		t.Fatal(err)
	}
	person := consent.ExternalUser("wm001")
	// The instance's suppression key is not at hand; nobody is suppressed
	// here, so any key records the same consent_state.
	if err := consent.NewLedger(nil, []byte("web-test-suppression-key")).Record(ctx, db.W, consent.Event{
		Person: person, Purpose: consent.Marketing, Channel: consent.ChannelWeCom, Action: consent.Grant, Source: consent.SourceCustomer,
		Evidence:      consent.Evidence{consent.EvidenceURL: "https://shop.example/consent"},
		NoticeVersion: n.Version, NoticeHash: n.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at,
	}); err != nil {
		t.Fatal(err)
	}
	var customerID string
	db.R.QueryRow("SELECT id FROM customers WHERE external_userid = 'wm001'").Scan(&customerID)

	agent := signedIn(t, in, auth.RoleAgent)
	body := agent.get("/customers/wm001", 200)
	mustContain(t, "consent section", body, `id="consent"`, `id="consent-history"`, "the customer", "granted",
		"The consent record is intact (1 events verified).", `id="consent-state-marketing"`, `id="consent-withdraw"`)
	if !strings.Contains(between(body, `id="consent-state-marketing"`, "</tr>"), "granted") ||
		!strings.Contains(between(body, `id="consent-state-profiling"`, "</tr>"), "never given") {
		t.Fatalf("states: %s", between(body, `id="consent-states"`, "</table>"))
	}
	mustContain(t, "customer without consent", agent.get("/customers/wm002", 200), `id="consent-none"`)

	// The note is required and bounded.
	withdraw := "/customers/wm001/consent/withdraw"
	resp, body := agent.form(withdraw, url.Values{"note": {"  "}}, en)
	if resp.StatusCode != 400 || !strings.Contains(body, "Write down how the customer asked.") {
		t.Fatalf("empty note: %d", resp.StatusCode)
	}
	resp, body = agent.form(withdraw, url.Values{"note": {strings.Repeat("长", 201)}}, en)
	if resp.StatusCode != 400 || !strings.Contains(body, "at most 200 characters") || !strings.Contains(body, strings.Repeat("长", 201)) {
		t.Fatalf("long note: %d", resp.StatusCode)
	}
	if hist, _ := consent.NewLedger(db.R, nil).History(ctx, person); len(hist) != 1 {
		t.Fatalf("a refused form recorded %d events", len(hist))
	}

	resp, _ = agent.form(withdraw, url.Values{"note": {"客户来电要求不再接收促销"}}, en)
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/customers/wm001?done=consent") {
		t.Fatalf("withdraw: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	hist, err := consent.NewLedger(db.R, nil).History(ctx, person)
	if err != nil {
		t.Fatal(err)
	}
	// Marketing withdrawn, profiling refused (never granted).
	if len(hist) != 3 || hist[1].Source != consent.SourceConsole || hist[1].RecordedBy != "user:u-agent" ||
		hist[1].Evidence["requested_by"] != "user:u-agent" || hist[1].Evidence["note"] != "客户来电要求不再接收促销" {
		t.Fatalf("history %+v", hist)
	}
	actions := map[consent.Purpose]consent.Action{}
	for _, e := range hist[1:] {
		actions[e.Purpose] = e.Action
	}
	if actions[consent.Marketing] != consent.Withdraw || actions[consent.Profiling] != consent.Refuse {
		t.Fatalf("actions %v", actions)
	}
	body = agent.get("/customers/wm001?done=consent", 200)
	mustContain(t, "after withdrawal", body, "Marketing was withdrawn", "withdrew", "console (on the customer&#39;s request)", "user:u-agent",
		"The consent record is intact (3 events verified).")
	if !strings.Contains(between(body, `id="consent-state-marketing"`, "</tr>"), "withdrawn") {
		t.Fatalf("marketing state: %s", between(body, `id="consent-state-marketing"`, "</tr>"))
	}

	log := audit.New(db, kith.SystemClock{})
	changes := entriesOf(t, log, audit.ActionConsentChange)
	if len(changes) != 1 || changes[0].Person != customerID || changes[0].Actor.String() != "user:u-agent" ||
		!strings.Contains(changes[0].Detail, `"recorded":2`) || strings.Contains(changes[0].Detail, "促销") {
		t.Fatalf("consent.change entries: %+v", changes)
	}

	// A second request records nothing new.
	resp, _ = agent.form(withdraw, url.Values{"note": {"again"}}, en)
	if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "done=consent_unchanged") {
		t.Fatalf("second withdraw: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if hist, _ := consent.NewLedger(db.R, nil).History(ctx, person); len(hist) != 3 {
		t.Fatalf("second withdraw recorded %d events", len(hist))
	}

	// The auditor finds the change by the person, linked from the entry.
	auditor := signedIn(t, in, auth.RoleAuditor)
	body = auditor.get("/audit?person="+customerID, 200)
	mustContain(t, "audit by person", body, "consent.change", `href="/audit?person=`+customerID+`"`)
	auditor.get("/customers/wm001", 403)

	// Who may not act is refused.
	if resp, _ := auditor.form(withdraw, url.Values{"note": {"x"}}, en); resp.StatusCode != 403 {
		t.Fatalf("auditor withdraw: %d", resp.StatusCode)
	}
	if resp, _ := agent.form("/customers/nobody/consent/withdraw", url.Values{"note": {"x"}}, en); resp.StatusCode != 404 {
		t.Fatalf("unknown customer: %d", resp.StatusCode)
	}
}

// between returns the part of s from the first from to the next to after it.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
