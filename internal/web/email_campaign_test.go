package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/channel/email/smtpsink"
	"github.com/kith-scrm/kith/internal/consent"
)

// emailAddrs are the VIP customers' addresses (seedDirectory tags every
// third customer VIP).
var emailAddrs = map[string]string{"wm003": "chen.jing@shop-customer.example", "wm006": "wang.fang@shop-customer.example", "wm009": "li.na@shop-customer.example"}

// TestEmailCampaignEndToEnd configures SMTP and DKIM in the console of a
// running Kith, gives customers e-mail addresses on their pages, and runs
// a marketing e-mail campaign to a real SMTP server: one message per
// recipient, personalised, DKIM-signed over the RFC 8058 headers, with a
// working one-click unsubscribe link; after one recipient unsubscribes, a
// second campaign sends them nothing.
func TestEmailCampaignEndToEnd(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedDirectory(t, db, 9)
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	admin := signedIn(t, in, auth.RoleAdmin)

	// Sending rules: no quiet hours for e-mail, so the test runs at any hour.
	if resp, body := admin.form("/settings/gate", url.Values{"channel": {"email"}, "cap_day": {"5"}, "quiet_start": {"00:00"}, "quiet_end": {"00:00"}}, en); resp.StatusCode != 303 {
		t.Fatalf("gate policy: %d %s", resp.StatusCode, between(body, `class="error"`, "</p>"))
	}
	host, port, _ := strings.Cut(sink.Addr(), ":")
	smtpForm := url.Values{"host": {host}, "port": {port}, "tls": {"none"}, "from": {"news@shop.example"}, "from_name": {"小店"},
		"public_url": {in.URL}, "per_minute": {"600"}}
	if resp, body := admin.form("/settings/providers/smtp", smtpForm, en); resp.StatusCode != 303 {
		t.Fatalf("smtp: %d %s", resp.StatusCode, between(body, `id="smtp-error"`, "</p>"))
	}
	if resp, body := admin.form("/settings/providers/dkim", url.Values{"domain": {"shop.example"}, "selector": {"kith1"}, "generate": {"1"}}, en); resp.StatusCode != 303 {
		t.Fatalf("dkim: %d %s", resp.StatusCode, between(body, `id="dkim-error"`, "</p>"))
	}
	page := admin.get("/settings/providers?saved=dkim", 200)
	mustContain(t, "providers page", page, `id="dkim-dns-name">kith1._domainkey.shop.example<`, "v=DKIM1; k=rsa; p=", `id="set-private_key">set<`)
	mustNotContain(t, "providers page", page, "PRIVATE KEY")

	// The addresses, added on the customer pages, shown masked.
	agent := signedIn(t, in, auth.RoleAgent)
	for eid, addr := range emailAddrs {
		resp, body := agent.form("/customers/"+eid+"/emails", url.Values{"email": {addr}}, en)
		if resp.StatusCode != 303 {
			t.Fatalf("add %s: %d %s", eid, resp.StatusCode, between(body, `id="emails-error"`, "</p>"))
		}
	}
	body := agent.get("/customers/wm003", 200)
	mustContain(t, "customer page", body, `id="emails"`, "c***@shop-customer.example", "added in the console")
	mustNotContain(t, "customer page", body, emailAddrs["wm003"])

	// Marketing consent for e-mail, as a shop's sign-up form records it.
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).UTC()
	n, err := consent.PublishNotice(ctx, db.W, consent.Marketing, "zh-CN", "我们会通过电子邮件向您发送新品和会员优惠。", at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range emailAddrs {
		if err := consent.NewLedger(nil, []byte("web-test-suppression-key")).Record(ctx, db.W, consent.Event{
			Person: consent.Email(addr), Purpose: consent.Marketing, Channel: consent.ChannelEmail, Action: consent.Grant, Source: consent.SourceCustomer,
			Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/signup"}, NoticeVersion: n.Version, NoticeHash: n.TextHash,
			RecordedBy: "web", OccurredAt: at, ReceivedAt: at,
		}); err != nil {
			t.Fatal(err)
		}
	}

	owner := newClient(t, in)
	owner.login("owner", apptest.OwnerPassword)
	run := func(name string) string {
		t.Helper()
		resp, body := owner.form("/campaigns", url.Values{"name": {name}, "purpose": {"marketing"}, "channel": {"email"}, "subject": {"春季新品 {{name}}"},
			"text": {"{{name}}，您好：春季新品到店。"}, "html": {"<p>{{name}}，您好：<b>春季新品</b>到店。</p>"}, "tags": {"VIP"}, "schedule": {"now"}}, en)
		page := resp.Header.Get("Location")
		if resp.StatusCode != 303 || !campaignPageRe.MatchString(page) {
			t.Fatalf("create: %d %s", resp.StatusCode, between(body, `id="campaign-form-error"`, "</p>"))
		}
		if resp, _ := owner.form(page+"/schedule", url.Values{}, nil); resp.StatusCode != 303 {
			t.Fatalf("schedule: %d", resp.StatusCode)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			body = owner.get(page, 200)
			if strings.Contains(body, `id="campaign-state">Done<`) || strings.Contains(body, `id="campaign-state">Failed<`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the campaign did not finish:\n%s", between(body, `id="campaign-summary"`, "</section>"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(body, "Done<") {
			t.Fatalf("campaign failed: %s", between(body, `id="campaign-reason"`, "</p>"))
		}
		return page
	}
	run("春季邮件")
	msgs := sink.Messages()
	if len(msgs) != 3 {
		t.Fatalf("the SMTP server got %d messages, want 3 (one per recipient)", len(msgs))
	}
	unsub := map[string]string{}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("a message to %v", m.To)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		h := parsed.Header
		subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
		eid := ""
		for e, a := range emailAddrs {
			if a == m.To[0] {
				eid = e
			}
		}
		if eid == "" || unsub[eid] != "" {
			t.Fatalf("unexpected or repeated recipient %s", m.To[0])
		}
		if subject != "AD 春季新品 客户"+eid[2:] {
			t.Errorf("%s: subject %q", eid, subject)
		}
		lu := h.Get("List-Unsubscribe")
		link := regexp.MustCompile(`<(http://[^>]+/u/[^>]+)>`).FindStringSubmatch(lu)
		if link == nil || !strings.HasPrefix(link[1], in.URL+"/u/") || !strings.Contains(lu, "mailto:news@shop.example") {
			t.Fatalf("%s: List-Unsubscribe %q", eid, lu)
		}
		unsub[eid] = link[1]
		if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("%s: List-Unsubscribe-Post %q", eid, h.Get("List-Unsubscribe-Post"))
		}
		sig := strings.ReplaceAll(strings.ReplaceAll(h.Get("DKIM-Signature"), " ", ""), "\t", "")
		if !strings.Contains(sig, "d=shop.example") || !strings.Contains(sig, "s=kith1") || !strings.Contains(strings.ToLower(sig), "list-unsubscribe:list-unsubscribe-post") {
			t.Errorf("%s: DKIM-Signature %q", eid, sig)
		}
		text, html := parts(t, parsed)
		if !strings.Contains(text, "客户"+eid[2:]+"，您好") || !strings.Contains(text, link[1]) {
			t.Errorf("%s: text part %q", eid, text)
		}
		if !strings.Contains(html, "<p>客户"+eid[2:]+"，您好：<b>春季新品</b>") || !strings.Contains(html, `href="`+link[1]+`"`) {
			t.Errorf("%s: html part %q", eid, html)
		}
	}

	// wm006 unsubscribes with one click, as a mailbox provider does it: a
	// POST without cookies, answered 200 and no redirect.
	form := "List-Unsubscribe=One-Click"
	resp, err := http.Post(unsub["wm006"], "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Location") != "" {
		t.Fatalf("one-click unsubscribe: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	page2 := run("春季邮件二")
	msgs = sink.Messages()[3:]
	if len(msgs) != 2 {
		t.Fatalf("the second campaign sent %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.To[0] == emailAddrs["wm006"] {
			t.Errorf("the customer who unsubscribed got the second campaign")
		}
	}
	body = owner.get(page2, 200)
	mustContain(t, "second campaign", body, `id="result-refused"`)
}

// parts returns a multipart/alternative message's text and HTML parts,
// decoded.
func parts(t *testing.T, m *mail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return text, html
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, _ = decodeBase64(b)
		}
		ct := p.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		}
	}
}

func decodeBase64(b []byte) ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, string(b))
	return base64.StdEncoding.DecodeString(s)
}
