package email

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// wed10 is Wednesday 2026-03-04 10:00 in Shanghai: outside quiet hours.
var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

var testSender = Sender{
	From:              mail.Address{Name: "小店 Shop", Address: "news@shop.example"},
	UnsubscribeURL:    "https://kith.shop.example/u/",
	UnsubscribeMailto: "unsubscribe@shop.example",
	ListID:            "Spring news <spring.shop.example>",
	TokenKey:          testKey,
}

var spring = Message{
	Class:   gate.Marketing,
	Subject: "{{name}}，春季新品到店",
	Text:    "{{name}}您好：\n\n春季新品已到店。\n",
	HTML:    "<p>{{name}}您好：</p><p>春季新品已到店。</p>",
}

// dkimKeys returns a signer and the TXT record that publishes its key.
func dkimKeys(tb testing.TB, algo string) (crypto.Signer, string) {
	tb.Helper()
	if algo == "ed25519" {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return priv, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	return priv, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

type fixture struct {
	db     *store.DB
	gate   *gate.Gate
	clock  *kith.FixedClock
	claim  *channel.Claimer
	comp   *Composer
	txt    string
	sink   *sink
	mailer *Mailer
}

func newFixture(tb testing.TB, db *store.DB, algo, tlsMode string, conns int) *fixture {
	tb.Helper()
	f := &fixture{db: db, clock: kith.NewFixedClock(wed10)}
	f.gate = gate.New(db, testKey, f.clock)
	f.claim = &channel.Claimer{DB: db, Gate: f.gate}
	key, txt := dkimKeys(tb, algo)
	d, err := NewDKIM("shop.example", "k1", key)
	if err != nil {
		tb.Fatal(err)
	}
	f.txt = txt
	if f.comp, err = NewComposer(testSender, d, f.clock); err != nil {
		tb.Fatal(err)
	}
	s, tc := startSink(tb, tlsMode)
	f.sink = s
	f.mailer, err = NewMailer(SMTPConfig{Addr: s.addr, TLS: tlsMode, TLSConfig: tc, Conns: conns, Timeout: 5 * time.Second}, f.comp, f.claim, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.mailer.Close() })
	return f
}

func mustGrant(tb testing.TB, db *store.DB, p consent.Person) {
	tb.Helper()
	ctx := context.Background()
	n, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		tb.Fatal(err)
	}
	at := wed10.Add(-time.Hour)
	err = consent.NewLedger(nil, testKey).Record(ctx, db.W, consent.Event{Person: p, Purpose: consent.Marketing, Channel: consent.ChannelEmail, Action: consent.Grant,
		Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/consent"},
		NoticeVersion: n.Version, NoticeHash: n.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at})
	if err != nil {
		tb.Fatal(err)
	}
}

// permits grants consent to each address and asks the gate for m with the
// content the composer makes; every decision must allow.
func (f *fixture) permits(tb testing.TB, m Message, vars []Vars, addrs ...string) []gate.Permit {
	tb.Helper()
	reqs := make([]gate.Request, len(addrs))
	for i, a := range addrs {
		p := consent.Email(a)
		mustGrant(tb, f.db, p)
		var v Vars
		if vars != nil {
			v = vars[i]
		}
		ct, err := f.comp.Content(p, m, v)
		if err != nil {
			tb.Fatal(err)
		}
		reqs[i] = gate.Request{Person: p, Channel: consent.ChannelEmail, Class: m.Class, Campaign: "spring", Sender: "system", Content: ct}
	}
	ds, err := f.gate.DecideBatch(context.Background(), reqs)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]gate.Permit, len(ds))
	for i, d := range ds {
		if !d.Allowed {
			tb.Fatalf("gate refused %s: %s %s", addrs[i], d.Reason, d.Message)
		}
		out[i] = d.Permit
	}
	return out
}

// verifyDKIM checks a received message's signature with go-msgauth and
// returns the signed header names.
func verifyDKIM(t *testing.T, raw []byte, txt string) []string {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
		if domain != "k1._domainkey.shop.example" {
			return nil, fmt.Errorf("no TXT for %s", domain)
		}
		return []string{txt}, nil
	}})
	if err != nil || len(vs) != 1 {
		t.Fatalf("dkim: %v, %d verifications", err, len(vs))
	}
	if vs[0].Err != nil {
		t.Fatalf("dkim: %v\n%s", vs[0].Err, raw)
	}
	return vs[0].HeaderKeys
}

// parts returns the decoded text/plain and text/html parts of a message.
func parts(t *testing.T, raw []byte) (text, html string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain; charset=utf-8"):
			text = string(b)
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/html; charset=utf-8"):
			html = string(b)
		}
	}
	return text, html
}

func TestSendToSMTPSink(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for _, algo := range []string{"ed25519", "rsa"} {
			t.Run(algo, func(t *testing.T) {
				ctx := context.Background()
				f := newFixture(t, db, algo, StartTLS, 2)
				addrs := []string{algo + "-a@example.com", algo + "-b@example.com", algo + "-c@example.com", algo + "-d@example.com", algo + "-e@example.com"}
				vars := []Vars{{"name": "王女士"}, {"name": "李先生"}, {"name": "A & <B>"}, {"name": "D"}, {"name": "E"}}
				ps := f.permits(t, spring, vars, addrs...)
				res, err := f.mailer.Send(ctx, ps, spring, vars)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range res {
					if r.Status != channel.Sent || r.Permit != ps[i].ID() || r.ProviderID != "<"+ps[i].ID()+"@shop.example>" {
						t.Errorf("result %d = %+v", i, r)
					}
				}
				if n := f.sink.connections(); n < 1 || n > 2 {
					t.Errorf("%d SMTP connections for 5 messages on 2 connections; connections are not reused", n)
				}
				got := f.sink.to(addrs[0])
				if len(got) != 1 || !got[0].tls || got[0].from != "news@shop.example" {
					t.Fatalf("received %+v", got)
				}
				raw := got[0].data
				dec := new(mime.WordDecoder)
				subject, _ := dec.DecodeHeader(header(raw, "Subject"))
				if subject != "AD 王女士，春季新品到店" {
					t.Errorf("subject = %q", subject)
				}
				lu := header(raw, "List-Unsubscribe")
				token, _ := consent.UnsubscribeToken(testKey, consent.Email(addrs[0]), consent.ChannelEmail)
				url := "https://kith.shop.example/u/" + token
				if lu != "<"+url+">, <mailto:unsubscribe@shop.example?subject=unsubscribe>" {
					t.Errorf("List-Unsubscribe = %q", lu)
				}
				if p, ch, err := consent.ParseUnsubscribeToken(testKey, strings.TrimPrefix(url, "https://kith.shop.example/u/")); err != nil || p != consent.Email(addrs[0]) || ch != consent.ChannelEmail {
					t.Errorf("the link's token names %v %v (%v)", p, ch, err)
				}
				if header(raw, "List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || header(raw, "List-Id") != testSender.ListID ||
					header(raw, "To") != "<"+addrs[0]+">" || header(raw, "Message-ID") != res[0].ProviderID || header(raw, "MIME-Version") != "1.0" {
					t.Errorf("headers:\n%s", raw)
				}
				if from := header(raw, "From"); !strings.Contains(from, "<news@shop.example>") {
					t.Errorf("From = %q", from)
				}
				signed := verifyDKIM(t, raw, f.txt)
				for _, h := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post", "mime-version", "content-type"} {
					if !slices.Contains(signed, h) {
						t.Errorf("DKIM h= lacks %s: %v", h, signed)
					}
				}
				if !strings.Contains(header(raw, "DKIM-Signature"), "a="+map[string]string{"ed25519": "ed25519-sha256", "rsa": "rsa-sha256"}[algo]) {
					t.Errorf("DKIM-Signature = %s", header(raw, "DKIM-Signature"))
				}
				text, html := parts(t, raw)
				if !strings.HasPrefix(text, "王女士您好：\r\n\r\n春季新品已到店。") || !strings.Contains(text, "Unsubscribe: "+url) || !strings.Contains(text, "unsubscribe@shop.example") {
					t.Errorf("text part = %q", text)
				}
				if !strings.Contains(html, `<a href="`+url+`">Unsubscribe</a>`) || !strings.HasPrefix(html, "<p>王女士您好：</p>") {
					t.Errorf("html part = %q", html)
				}
				_, html3 := parts(t, f.sink.to(addrs[2])[0].data)
				if !strings.HasPrefix(html3, "<p>A &amp; &lt;B&gt;您好") {
					t.Errorf("a value is not escaped in HTML: %q", html3)
				}
				verifyDKIM(t, f.sink.to(addrs[2])[0].data, f.txt)
				// The permits are used: a second send sends nothing.
				again, err := f.mailer.Send(ctx, ps, spring, vars)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range again {
					if r.Status != channel.Refused || r.Code != string(gate.PermitReused) {
						t.Errorf("second send: %+v", r)
					}
				}
				if n := len(f.sink.messages()); n != 5 {
					t.Errorf("the sink holds %d messages, want 5", n)
				}
			})
		}
	})
}

func TestSMTPErrors(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		// BDAT pipelined (the server offers CHUNKING), DATA pipelined, one
		// command at a time.
		for _, dialogue := range []string{"chunking", "pipelining", "plain"} {
			t.Run(dialogue, func(t *testing.T) { smtpErrors(t, db, dialogue) })
		}
	})
}

func smtpErrors(t *testing.T, db *store.DB, dialogue string) {
	ctx := context.Background()
	f := newFixture(t, db, "ed25519", NoTLS, 1)
	f.mailer.plainDialogue = dialogue == "plain"
	f.mailer.noChunking = dialogue != "chunking"
	at := func(local string) string { return fmt.Sprintf("%s-%s@example.com", local, dialogue) }
	f.sink.rcpt[at("gone")] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	f.sink.rcpt[at("full")] = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
	f.sink.drop[at("cut")] = true
	addrs := []string{at("gone"), at("ok1"), at("full"), at("cut"), at("ok2")}
	vars := make([]Vars, len(addrs))
	for i := range vars {
		vars[i] = Vars{"name": "x"}
	}
	ps := f.permits(t, spring, vars, addrs...)
	res, err := f.mailer.Send(ctx, ps, spring, vars)
	if err != nil {
		t.Fatal(err)
	}
	want := []channel.Status{channel.Failed, channel.Sent, channel.Retryable, channel.Unknown, channel.Sent}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("%s: %+v, want %s", addrs[i], r, want[i])
		}
	}
	if res[0].Code != "550" || res[2].Code != "452" {
		t.Errorf("codes: %q %q", res[0].Code, res[2].Code)
	}
	// The message whose connection dropped was received once and not
	// sent again; the one after it went on a new connection.
	if n := len(f.sink.to(at("cut"))); n != 1 {
		t.Errorf("cut: received %d times, want once", n)
	}
	if n := len(f.sink.messages()); n != 3 {
		t.Errorf("the sink holds %d messages, want 3 (ok1, cut, ok2)", n)
	}
	if n := f.sink.connections(); n != 2 {
		t.Errorf("%d connections, want 2 (one more after the drop)", n)
	}
	// A server nobody listens on: retryable, nothing sent.
	m2, err := NewMailer(SMTPConfig{Addr: "127.0.0.1:1", TLS: NoTLS, Timeout: time.Second}, f.comp, f.claim, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, _ = m2.Send(ctx, f.permits(t, spring, []Vars{{"name": "y"}}, at("nobody")), spring, []Vars{{"name": "y"}})
	if res[0].Status != channel.Retryable {
		t.Errorf("refused connection: %+v", res[0])
	}
	// STARTTLS required but not offered: nothing is sent in the clear.
	m3, _ := NewMailer(SMTPConfig{Addr: f.sink.addr, TLS: StartTLS, Timeout: time.Second}, f.comp, f.claim, nil)
	res, _ = m3.Send(ctx, f.permits(t, spring, []Vars{{"name": "z"}}, at("plain")), spring, []Vars{{"name": "z"}})
	if res[0].Status != channel.Retryable || !strings.Contains(res[0].Message, "STARTTLS") || len(f.sink.to(at("plain"))) != 0 {
		t.Errorf("no STARTTLS: %+v", res[0])
	}
}

// TestChineseAndTextOnly: mostly-Chinese parts go in base64, a message
// without HTML is one text/plain part, and both verify.
func TestChineseAndTextOnly(t *testing.T) {
	f := newFixture(t, storetest.MustSQLite(t), "ed25519", NoTLS, 1)
	long := strings.Repeat("春季新品已到店，欢迎选购。", 40)
	withHTML := Message{Class: gate.Marketing, Subject: "新品", Text: long, HTML: "<p>" + long + "</p>"}
	service := Message{Class: gate.Service, Subject: "发货通知", Text: "您的订单已发货。" + long[:30]}
	ps := f.permits(t, withHTML, nil, "zh@example.com")
	if res, err := f.mailer.Send(context.Background(), ps, withHTML, nil); err != nil || res[0].Status != channel.Sent {
		t.Fatalf("%+v %v", res, err)
	}
	raw := f.sink.to("zh@example.com")[0].data
	text, html := parts(t, raw)
	if !strings.HasPrefix(text, long) || !strings.Contains(html, long) || !bytes.Contains(raw, []byte("Content-Transfer-Encoding: base64")) {
		t.Errorf("parts:\n%s", raw)
	}
	verifyDKIM(t, raw, f.txt)
	d, err := f.gate.Decide(context.Background(), gate.Request{Person: consent.Email("svc@example.com"), Channel: consent.ChannelEmail, Class: gate.Service,
		Content: gate.Content{Subject: service.Subject, Body: service.Text}})
	if err != nil || !d.Allowed {
		t.Fatalf("service: %s %v", d.Reason, err)
	}
	if res, err := f.mailer.Send(context.Background(), []gate.Permit{d.Permit}, service, nil); err != nil || res[0].Status != channel.Sent {
		t.Fatalf("%+v %v", res, err)
	}
	raw = f.sink.to("svc@example.com")[0].data
	msg, _ := mail.ReadMessage(bytes.NewReader(raw))
	body, _ := io.ReadAll(msg.Body)
	dec, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
	if msg.Header.Get("Content-Type") != "text/plain; charset=utf-8" || string(dec) != service.Text || header(raw, "List-Unsubscribe") != "" {
		t.Errorf("service message:\n%s", raw)
	}
	verifyDKIM(t, raw, f.txt)
}

func TestImplicitTLS(t *testing.T) {
	f := newFixture(t, storetest.MustSQLite(t), "ed25519", Implicit, 1)
	ps := f.permits(t, spring, []Vars{{"name": "t"}}, "tls@example.com")
	res, err := f.mailer.Send(context.Background(), ps, spring, []Vars{{"name": "t"}})
	if err != nil || res[0].Status != channel.Sent {
		t.Fatalf("%+v %v", res, err)
	}
	if got := f.sink.to("tls@example.com"); len(got) != 1 || !got[0].tls {
		t.Errorf("received %+v", got)
	}
}

func TestComposerRules(t *testing.T) {
	db := storetest.MustSQLite(t)
	f := newFixture(t, db, "ed25519", NoTLS, 1)
	ctx := context.Background()
	p := consent.Email("rules@example.com")
	mustGrant(t, db, p)
	decide := func(m Message) gate.Reason {
		ct, err := f.comp.Content(p, m, Vars{"name": "n"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.gate.Decide(ctx, gate.Request{Person: p, Channel: consent.ChannelEmail, Class: m.Class, Content: ct})
		if err != nil {
			t.Fatal(err)
		}
		return d.Reason
	}
	// Marketing content passes the gate; the label is not doubled.
	if r := decide(spring); r != gate.OK {
		t.Errorf("marketing: %s", r)
	}
	labelled := spring
	labelled.Subject = "【广告】春季新品"
	if ct, _ := f.comp.Content(p, labelled, Vars{"name": "n"}); ct.Subject != "【广告】春季新品" {
		t.Errorf("labelled subject became %q", ct.Subject)
	}
	// Service mail: no unsubscribe headers, no footer, and the gate
	// refuses promotional words in it.
	service := Message{Class: gate.Service, Subject: "您的订单已发货", Text: "单号 SF123"}
	ct, err := f.comp.Content(p, service, nil)
	if err != nil || ct.Headers != nil || ct.Body != "单号 SF123" || ct.Subject != "您的订单已发货" {
		t.Errorf("service content: %+v %v", ct, err)
	}
	if r := decide(service); r != gate.OK {
		t.Errorf("service: %s", r)
	}
	service.Text += "，领取8折券"
	if r := decide(service); r != gate.PromoInService {
		t.Errorf("coupon in service: %s", r)
	}
	// Bad input.
	noDKIM, _ := NewComposer(testSender, nil, f.clock)
	for name, err := range map[string]error{
		"marketing without dkim": noDKIM.check(spring),
		"no text":                f.comp.check(Message{Class: gate.Marketing, Subject: "s"}),
		"no class":               f.comp.check(Message{Subject: "s", Text: "t"}),
		"two-line subject":       f.comp.check(Message{Class: gate.Service, Subject: "a\r\nBcc: x@y", Text: "t"}),
		"unknown variable":       second(f.comp.Content(p, Message{Class: gate.Service, Subject: "s", Text: "{{nope}}"}, nil)),
		"unclosed variable":      second(f.comp.Content(p, Message{Class: gate.Service, Subject: "s", Text: "{{name"}, Vars{"name": "n"})),
		"line break by variable": second(f.comp.Content(p, Message{Class: gate.Service, Subject: "{{name}}", Text: "t"}, Vars{"name": "a\nBcc: x@y"})),
		"not https":              second(NewComposer(Sender{From: testSender.From, UnsubscribeURL: "http://x/u/", UnsubscribeMailto: "u@x.example", TokenKey: testKey}, nil, f.clock)),
		"bad from":               second(NewComposer(Sender{UnsubscribeURL: "https://x/u/", UnsubscribeMailto: "u@x.example", TokenKey: testKey}, nil, f.clock)),
		"bad smtp addr":          second(NewMailer(SMTPConfig{Addr: "nohost"}, f.comp, f.claim, nil)),
		"bad tls mode":           second(NewMailer(SMTPConfig{Addr: "h:25", TLS: "ssl"}, f.comp, f.claim, nil)),
		"missing value":          second(f.mailer.Send(ctx, []gate.Permit{{}}, spring, []Vars{{"nom": "x"}})),
		"no values":              second(f.mailer.Send(ctx, []gate.Permit{{}}, spring, nil)),
		"values count":           second(f.mailer.Send(ctx, []gate.Permit{{}}, spring, []Vars{{"name": "x"}, {"name": "y"}})),
		"ecdsa key":              second(NewDKIM("d.example", "s", mustECDSA(t))),
		"no selector":            second(NewDKIM("d.example", "", ed25519.NewKeyFromSeed(make([]byte, 32)))),
	} {
		if kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func mustECDSA(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIdleConnectionClosedByServer: a connection the server closed while
// idle fails at MAIL; the message goes on a new connection, once.
func TestIdleConnectionClosedByServer(t *testing.T) {
	f := newFixture(t, storetest.MustSQLite(t), "ed25519", NoTLS, 1)
	ctx := context.Background()
	v := []Vars{{"name": "n"}}
	if res, err := f.mailer.Send(ctx, f.permits(t, spring, v, "first@example.com"), spring, v); err != nil || res[0].Status != channel.Sent {
		t.Fatalf("%+v %v", res, err)
	}
	f.sink.conns.Range(func(c, _ any) bool {
		c.(*smtp.Conn).Conn().Close()
		return true
	})
	time.Sleep(20 * time.Millisecond)
	res, err := f.mailer.Send(ctx, f.permits(t, spring, v, "second@example.com"), spring, v)
	if err != nil || res[0].Status != channel.Sent {
		t.Fatalf("after the server closed the idle connection: %+v %v", res, err)
	}
	if n := len(f.sink.to("second@example.com")); n != 1 || f.sink.connections() != 2 {
		t.Errorf("received %d times over %d connections; want once over 2", n, f.sink.connections())
	}
}

func TestTextFromHTMLAndCheckVariables(t *testing.T) {
	got := TextFromHTML(`<html><head><style>p{color:red}</style></head><body><p>你好 {{name}}，</p><p>春季&amp;新品<br>到店</p><script>x()</script></body></html>`)
	if got != "你好 {{name}}，\n春季&新品\n到店" {
		t.Errorf("TextFromHTML = %q", got)
	}
	if err := CheckVariables(Message{Subject: "Hi {{name}}", Text: "{{unsubscribe_url}}"}, "name"); err != nil {
		t.Error(err)
	}
	if err := CheckVariables(Message{Subject: "Hi {{nmae}}", Text: "x"}, "name"); err == nil || !strings.Contains(err.Error(), "{{nmae}} is not a variable") {
		t.Errorf("unknown variable: %v", err)
	}
	if err := CheckVariables(Message{Subject: "Hi", Text: "{{name"}, "name"); err == nil {
		t.Error("an unclosed variable passed")
	}
}
