package gate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// wed10 is Wednesday 2026-03-04 10:00 in Shanghai.
var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

func mustGate(tb testing.TB, db *store.DB, at time.Time) (*Gate, *kith.FixedClock) {
	tb.Helper()
	clock := kith.NewFixedClock(at)
	return New(db, testKey, clock), clock
}

func mustGrant(tb testing.TB, db *store.DB, p consent.Person, ch consent.Channel, at time.Time, scope *consent.Scope) {
	tb.Helper()
	ctx := context.Background()
	n, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		tb.Fatal(err)
	}
	mustEvent(tb, db, consent.Event{Person: p, Purpose: consent.Marketing, Channel: ch, Action: consent.Grant, Source: consent.SourceCustomer,
		Evidence:      consent.Evidence{consent.EvidenceURL: "https://shop.example/consent"},
		NoticeVersion: n.Version, NoticeHash: n.TextHash, Scope: scope,
		RecordedBy: "web", OccurredAt: at, ReceivedAt: at})
}

func mustEvent(tb testing.TB, db *store.DB, e consent.Event) {
	tb.Helper()
	if err := consent.NewLedger(nil, testKey).Record(context.Background(), db.W, e); err != nil {
		tb.Fatalf("record %s: %v", e.Action, err)
	}
}

func withdrawal(p consent.Person, ch consent.Channel, a consent.Action, at time.Time) consent.Event {
	return consent.Event{Person: p, Purpose: consent.Marketing, Channel: ch, Action: a, Source: consent.SourceCustomer,
		Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/preferences"}, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}
}

const (
	smsOK    = "【小店】春季新品到店，回T退订"
	smsPlain = "【小店】您的订单已发货，单号 SF123"
)

var emailHeaders = map[string]string{
	"List-Unsubscribe":      "<https://shop.example/u/abc>, <mailto:u@shop.example>",
	"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}

func mktSMS(p consent.Person) Request {
	return Request{Person: p, Channel: consent.ChannelSMS, Class: Marketing, Campaign: "c1", Sender: "alice", Content: Content{Body: smsOK}}
}

func mustConsume(tb testing.TB, db *store.DB, g *Gate, p Permit) error {
	tb.Helper()
	return db.InTx(context.Background(), func(tx *sql.Tx) error { return g.Consume(context.Background(), tx, p) })
}

func TestReasons(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		day := -24 * time.Hour
		granted, none := consent.Phone("13800000001"), consent.Phone("13800000002")
		withdrawn, expired := consent.Phone("13800000003"), consent.Phone("13800000004")
		suppressed, refused := consent.Phone("13800000005"), consent.Phone("13800000006")
		mail := consent.Email("p@example.com")
		for _, p := range []consent.Person{granted, withdrawn, suppressed} {
			mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(3*day), nil)
		}
		past := wed10.Add(day)
		mustGrant(t, db, expired, consent.ChannelSMS, wed10.Add(3*day), &consent.Scope{ValidUntil: &past})
		mustGrant(t, db, mail, consent.ChannelEmail, wed10.Add(3*day), nil)
		typed := consent.Phone("13800000007")
		mustGrant(t, db, typed, consent.ChannelSMS, wed10.Add(3*day), &consent.Scope{Types: []string{"promotion"}})
		promo, research := mktSMS(typed), mktSMS(typed)
		promo.Type, research.Type = "promotion", "research"
		mustEvent(t, db, withdrawal(withdrawn, consent.ChannelSMS, consent.Withdraw, wed10.Add(day)))
		mustEvent(t, db, withdrawal(refused, consent.ChannelSMS, consent.Refuse, wed10.Add(day)))
		if err := consent.Suppress(ctx, db.W, testKey, suppressed, consent.Marketing, consent.ChannelSMS, "complaint", wed10.Add(day)); err != nil {
			t.Fatal(err)
		}
		service := func(p consent.Person, body string) Request {
			return Request{Person: p, Channel: consent.ChannelSMS, Class: Service, Content: Content{Body: body}}
		}
		email := func(subject string, h map[string]string) Request {
			return Request{Person: mail, Channel: consent.ChannelEmail, Class: Marketing, Content: Content{Subject: subject, Body: "新品", Headers: h}}
		}
		night := mktSMS(granted)
		night.At = time.Date(2026, 3, 4, 22, 30, 0, 0, DefaultLocation)
		nightService := service(none, smsPlain)
		nightService.At = night.At
		cases := []struct {
			name string
			req  Request
			want Reason
		}{
			{"granted", mktSMS(granted), OK},
			{"no consent", mktSMS(none), NoConsent},
			{"withdrawn", mktSMS(withdrawn), ConsentWithdrawn},
			{"refused", mktSMS(refused), ConsentRefused},
			{"expired", mktSMS(expired), ConsentExpired},
			{"suppressed", mktSMS(suppressed), Suppressed},
			{"type in scope", promo, OK},
			{"type not in scope", research, TypeNotInScope},
			{"service needs no marketing consent", service(none, smsPlain), OK},
			{"coupon in service", service(none, "【小店】您的订单已发货，领取8折券 https://shop.example/c"), PromoInService},
			{"discount link in service", service(none, "Your order shipped: https://shop.example/x?utm_campaign=spring"), PromoInService},
			{"no opt-out", Request{Person: granted, Channel: consent.ChannelSMS, Class: Marketing, Content: Content{Body: "【小店】春季新品到店"}}, MissingOptOut},
			{"no signature", Request{Person: granted, Channel: consent.ChannelSMS, Class: Marketing, Content: Content{Body: "春季新品到店，回T退订"}}, MissingSignature},
			{"e-mail ok", email("广告：春季新品", emailHeaders), OK},
			{"e-mail no unsubscribe", email("广告：春季新品", nil), MissingUnsubscribe},
			{"e-mail no AD", email("春季新品", emailHeaders), MissingADLabel},
			{"quiet hours", night, QuietHours},
			{"service exempt from quiet hours", nightService, OK},
			{"no person", Request{Channel: consent.ChannelSMS, Class: Marketing, Content: Content{Body: smsOK}}, InvalidRequest},
			{"wrong channel", Request{Person: granted, Channel: consent.ChannelWeCom, Class: Marketing, Content: Content{Body: smsOK}}, InvalidRequest},
			{"no class", Request{Person: granted, Channel: consent.ChannelSMS, Content: Content{Body: smsOK}}, InvalidRequest},
			{"no body", Request{Person: granted, Channel: consent.ChannelSMS, Class: Marketing}, InvalidRequest},
		}
		reqs := make([]Request, len(cases))
		for i, c := range cases {
			reqs[i] = c.req
		}
		ds, err := g.DecideBatch(ctx, reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			d := ds[i]
			if d.Reason != c.want || d.Allowed != (c.want == OK) || d.Permit.Valid() != d.Allowed || d.Message == "" || d.ID == "" {
				t.Errorf("%s: got %s allowed=%v permit=%v %q, want %s", c.name, d.Reason, d.Allowed, d.Permit.Valid(), d.Message, c.want)
			}
			// Decide alone answers as the batch does.
			one, err := g.Decide(ctx, c.req)
			if err != nil || one.Reason != c.want {
				t.Errorf("%s: Decide = %s, %v; want %s", c.name, one.Reason, err, c.want)
			}
		}
		if q := ds[16]; !q.NotBefore.Equal(time.Date(2026, 3, 5, 8, 0, 0, 0, DefaultLocation)) {
			t.Errorf("quiet hours: NotBefore %s, want 08:00 next morning", q.NotBefore)
		}
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM gate_decisions").Scan(&n); err != nil || n != 2*len(cases) {
			t.Errorf("recorded %d decisions (%v), want %d", n, err, 2*len(cases))
		}
		if c := g.Counts(); c[NoConsent] != 2 || c[OK] != 10 {
			t.Errorf("counts %v", c)
		}
	})
}

func TestConsumeOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		d, err := g.Decide(ctx, mktSMS(p))
		if err != nil || !d.Allowed {
			t.Fatalf("decide: %+v %v", d, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = mustConsume(t, db, g, d.Permit)
			}()
		}
		wg.Wait()
		var ok, reused int
		for _, err := range errs {
			var r *Refusal
			switch {
			case err == nil:
				ok++
			case errors.As(err, &r) && r.Reason == PermitReused:
				reused++
			default:
				t.Errorf("consume: %v", err)
			}
		}
		if ok != 1 || reused != 1 {
			t.Fatalf("consumed %d times, refused as reused %d times; want 1 and 1", ok, reused)
		}
		var sends int
		db.R.QueryRowContext(ctx, "SELECT count(*) FROM gate_sends").Scan(&sends)
		if sends != 1 {
			t.Errorf("%d sends recorded, want 1", sends)
		}
		// "Why did I get this?"
		ex, err := g.Explain(ctx, d.Permit.ID())
		if err != nil || ex.ConsumedAt == nil || ex.ConsentEvent == nil || ex.ConsentEvent.Action != consent.Grant || ex.Reason != OK || ex.Campaign != "c1" {
			t.Errorf("explain: %+v %v", ex, err)
		}
		all, err := g.PermitsFor(ctx, p)
		if err != nil || len(all) != 1 || all[0].DecisionID != d.ID {
			t.Errorf("permits for: %+v %v", all, err)
		}
	})
}

func TestForgedPermit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		d, _ := g.Decide(ctx, mktSMS(p))
		real := d.Permit.p
		forged := []struct {
			name string
			p    Permit
			want Reason
		}{
			{"zero", Permit{}, PermitMissing},
			{"unknown id", Permit{&permit{id: "nosuchpermit", token: real.token, person: p, channel: real.channel, class: Marketing, tz: "UTC"}}, PermitForged},
			{"guessed token", Permit{&permit{id: real.id, token: strings.Repeat("0", 32), person: p, channel: real.channel, class: Marketing, tz: "UTC"}}, PermitForged},
		}
		for _, f := range forged {
			var r *Refusal
			if err := mustConsume(t, db, g, f.p); !errors.As(err, &r) || r.Reason != f.want {
				t.Errorf("%s: %v, want %s", f.name, err, f.want)
			}
		}
		if err := mustConsume(t, db, g, d.Permit); err != nil {
			t.Errorf("the real permit after forgeries: %v", err)
		}
	})
}

func TestExpiredPermit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		g, clock := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		d, _ := g.Decide(context.Background(), mktSMS(p))
		clock.Add(PermitTTL + time.Second)
		var r *Refusal
		if err := mustConsume(t, db, g, d.Permit); !errors.As(err, &r) || r.Reason != PermitExpired {
			t.Errorf("consume after expiry: %v", err)
		}
	})
}

// P-13: a withdrawal between the decision and the send wins.
func TestWithdrawBeforeConsume(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		g, clock := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		d, _ := g.Decide(context.Background(), mktSMS(p))
		if !d.Allowed {
			t.Fatalf("decide: %+v", d)
		}
		clock.Add(time.Minute)
		mustEvent(t, db, withdrawal(p, consent.ChannelSMS, consent.Withdraw, clock.Now()))
		clock.Add(time.Second)
		var r *Refusal
		if err := mustConsume(t, db, g, d.Permit); !errors.As(err, &r) || r.Reason != ConsentWithdrawn {
			t.Fatalf("consume after withdrawal: %v", err)
		}
		var sends int
		db.R.QueryRow("SELECT count(*) FROM gate_sends").Scan(&sends)
		if sends != 0 {
			t.Errorf("%d sends recorded after a refused consume", sends)
		}
	})
}

// P-21: cap 2/week; campaign A (Mon, sender s1) and B (Tue, s2) sent; C (Wed,
// s3) is refused.
func TestCapAcrossCampaignsAndSenders(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mon := wed10.AddDate(0, 0, -2)
		g, clock := mustGate(t, db, mon)
		if err := g.SetPolicy(ctx, Policy{Channel: consent.ChannelSMS, CapWeek: 2, QuietStart: 21 * 60, QuietEnd: 8 * 60}); err != nil {
			t.Fatal(err)
		}
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, mon.Add(-time.Hour), nil)
		send := func(campaign, sender string) Decision {
			r := mktSMS(p)
			r.Campaign, r.Sender = campaign, sender
			d, err := g.Decide(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				if err := mustConsume(t, db, g, d.Permit); err != nil {
					t.Fatalf("consume %s: %v", campaign, err)
				}
			}
			return d
		}
		if d := send("A", "s1"); !d.Allowed {
			t.Fatalf("A: %+v", d)
		}
		clock.Add(24 * time.Hour)
		if d := send("B", "s2"); !d.Allowed {
			t.Fatalf("B: %+v", d)
		}
		clock.Add(24 * time.Hour)
		if d := send("C", "s3"); d.Allowed || d.Reason != FreqCap {
			t.Fatalf("C: %s %s, want FREQ_CAP", d.Reason, d.Message)
		}
		// Next Monday the week starts again.
		clock.Add(5 * 24 * time.Hour)
		if d := send("D", "s1"); !d.Allowed {
			t.Fatalf("next week: %+v", d)
		}
	})
}

func TestCapsInBatchAndAtConsume(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		if err := g.SetPolicy(ctx, Policy{Channel: consent.ChannelWeCom, WeComRule: Day1, QuietStart: 21 * 60, QuietEnd: 8 * 60}); err != nil {
			t.Fatal(err)
		}
		w := consent.ExternalUser("wmABC")
		mustGrant(t, db, w, consent.ChannelWeCom, wed10.Add(-time.Hour), nil)
		r := Request{Person: w, Channel: consent.ChannelWeCom, Class: Marketing, Content: Content{Body: "春季新品"}}
		ds, err := g.DecideBatch(ctx, []Request{r, r})
		if err != nil || !ds[0].Allowed || ds[1].Reason != PlatformCap {
			t.Fatalf("batch: %s, %s, %v; want OK, PLATFORM_CAP", ds[0].Reason, ds[1].Reason, err)
		}
		if err := mustConsume(t, db, g, ds[0].Permit); err != nil {
			t.Fatal(err)
		}
		if d, _ := g.Decide(ctx, r); d.Reason != PlatformCap {
			t.Errorf("after one send: %s", d.Reason)
		}

		// The frequency the person agreed to.
		q := consent.ExternalUser("wmXYZ")
		mustGrant(t, db, q, consent.ChannelWeCom, wed10.Add(-time.Hour), &consent.Scope{MaxPerWeek: 1})
		r.Person = q
		a, _ := g.Decide(ctx, r)
		b, _ := g.Decide(ctx, r) // decided before a is sent: allowed now …
		if !a.Allowed || !b.Allowed {
			t.Fatalf("%s %s", a.Reason, b.Reason)
		}
		if err := g.SetPolicy(ctx, Policy{Channel: consent.ChannelWeCom, WeComRule: MonthDays, QuietStart: 21 * 60, QuietEnd: 8 * 60}); err != nil {
			t.Fatal(err)
		}
		if err := mustConsume(t, db, g, a.Permit); err != nil {
			t.Fatal(err)
		}
		var rf *Refusal // … and refused when it would exceed the cap.
		if err := mustConsume(t, db, g, b.Permit); !errors.As(err, &rf) || rf.Reason != ConsentFrequency {
			t.Errorf("second consume: %v, want CONSENT_FREQUENCY", err)
		}
	})
}

func TestPolicyAbovePlatformRefused(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		bad := []Policy{
			{Channel: consent.ChannelWeCom, WeComRule: Day1, CapDay: 2},
			{Channel: consent.ChannelWeCom, WeComRule: Week7, CapWeek: 8},
			{Channel: consent.ChannelWeCom, WeComRule: MonthDays, CapMonth: 30},
			{Channel: consent.ChannelSMS, CapDay: 4},
			{Channel: consent.ChannelWeCom, WeComRule: "weekly"},
			{Channel: consent.ChannelSMS, CapWeek: -1},
			{Channel: "fax"},
			{Channel: consent.ChannelSMS, QuietStart: 1440},
		}
		for _, p := range bad {
			err := g.SetPolicy(ctx, p)
			if kith.ErrorCode(err) != kith.EINVALID || kith.ErrorMessage(err) == "" {
				t.Errorf("%+v: %v, want EINVALID", p, err)
			}
		}
		if err := g.SetPolicy(ctx, Policy{Channel: consent.ChannelWeCom, WeComRule: MonthDays, CapMonth: 20, CapWeek: 3}); err != nil {
			t.Fatal(err)
		}
		got, err := g.Policy(ctx, consent.ChannelWeCom)
		if err != nil || got.CapMonth != 20 || got.CapWeek != 3 || got.WeComRule != MonthDays {
			t.Errorf("policy %+v %v", got, err)
		}
		if msg := kith.ErrorMessage(g.SetPolicy(ctx, Policy{Channel: consent.ChannelWeCom, WeComRule: Day1, CapDay: 2})); !strings.Contains(msg, "above the platform's 1") {
			t.Errorf("message %q", msg)
		}
	})
}

func TestPromotional(t *testing.T) {
	for text, want := range map[string]bool{
		"您的订单已发货":                false,
		"折叠屏手机已发货":               false,
		"全场8折":                   true,
		"限时优惠":                   true,
		"Summer SALE starts":     true,
		"Your order has shipped": false,
		"Get 20% off":            true,
	} {
		if got := promotional(text) != ""; got != want {
			t.Errorf("promotional(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestMisuseAudited(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10)
		log := audit.New(db, clock)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		d, _ := g.Decide(ctx, mktSMS(p))
		if err := mustConsume(t, db, g, d.Permit); err != nil {
			t.Fatal(err)
		}
		err := mustConsume(t, db, g, d.Permit)
		if err := g.Misuse(ctx, log, audit.Actor{Kind: audit.ActorJob, Name: "campaign.send"}, d.Permit, err); err != nil {
			t.Fatal(err)
		}
		var action, object string
		if err := db.R.QueryRowContext(ctx, "SELECT action, object_id FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&action, &object); err != nil ||
			action != audit.ActionGateOverride || object != d.ID {
			t.Errorf("audit: %s %s %v", action, object, err)
		}
		if g.Counts()[PermitReused] != 1 {
			t.Errorf("counts %v", g.Counts())
		}
	})
}

// A large batch is read in parallel parts; a person's requests still count
// against each other (the carriers' 3 marketing SMS a day).
func TestLargeBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		g, _ := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		var reqs []Request
		for i := range 600 {
			reqs = append(reqs, mktSMS(consent.Phone(fmt.Sprintf("139%08d", i))))
			if i%150 == 0 {
				reqs = append(reqs, mktSMS(p))
			}
		}
		ds, err := g.DecideBatch(context.Background(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		got := map[Reason]int{}
		for _, d := range ds {
			got[d.Reason]++
		}
		if got[NoConsent] != 600 || got[OK] != SMSCarrierDaily || got[PlatformCap] != 4-SMSCarrierDaily {
			t.Errorf("reasons %v", got)
		}
	})
}

// A malformed request is refused and recorded, bounded.
func TestMalformedRecorded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		g, _ := mustGate(t, db, wed10)
		d, err := g.Decide(context.Background(), Request{Person: consent.Person{Kind: "phone", Key: strings.Repeat("\xff1", 1000)},
			Channel: consent.ChannelSMS, Class: Marketing, Content: Content{Body: smsOK}})
		if err != nil || d.Reason != InvalidRequest {
			t.Fatalf("%+v %v", d, err)
		}
		ex, err := g.Explain(context.Background(), d.ID)
		if err != nil || ex.Allowed || ex.Reason != InvalidRequest || len(ex.Person.Key) > 300 {
			t.Errorf("%+v %v", ex, err)
		}
	})
}
