package consent_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var (
	t0  = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	key = []byte("test-blind-index-key-0123456789ab")

	alice = consent.Phone("+86 138-0013-8000") // stored as 13800138000
	bob   = consent.Email(" Bob@Example.COM ")
	wm    = consent.ExternalUser("wmAbCdEf0123")
)

// mustNotice returns the published notice of a purpose.
func mustNotice(tb testing.TB, db *store.DB, p consent.Purpose) consent.Notice {
	tb.Helper()
	n, err := consent.NewLedger(db.R, key).Notice(context.Background(), p, 0)
	if err != nil {
		tb.Fatalf("notice %s: %v", p, err)
	}
	return n
}

// grant is a valid grant by the person's own action at t.
func grant(tb testing.TB, db *store.DB, p consent.Person, purpose consent.Purpose, ch consent.Channel, at time.Time) consent.Event {
	tb.Helper()
	n := mustNotice(tb, db, purpose)
	return consent.Event{
		Person: p, Purpose: purpose, Channel: ch, Action: consent.Grant, Source: consent.SourceCustomer,
		Evidence:      consent.Evidence{consent.EvidenceURL: "https://shop.example/consent", consent.EvidenceNotice: "checkout page"},
		NoticeVersion: n.Version, NoticeHash: n.TextHash,
		RecordedBy: "web", OccurredAt: at, ReceivedAt: at.Add(time.Second),
	}
}

func withdraw(p consent.Person, purpose consent.Purpose, ch consent.Channel, at time.Time) consent.Event {
	return consent.Event{
		Person: p, Purpose: purpose, Channel: ch, Action: consent.Withdraw, Source: consent.SourceCustomer,
		Evidence:   consent.Evidence{consent.EvidenceURL: "https://shop.example/preferences"},
		RecordedBy: "web", OccurredAt: at, ReceivedAt: at,
	}
}

func mustRecord(tb testing.TB, q store.Querier, e consent.Event) {
	tb.Helper()
	if err := consent.NewLedger(nil, key).Record(context.Background(), q, e); err != nil {
		tb.Fatalf("record %s %s/%s: %v", e.Action, e.Purpose, e.Channel, err)
	}
}

func mustState(tb testing.TB, db *store.DB, p consent.Person, purpose consent.Purpose, ch consent.Channel, at time.Time) consent.State {
	tb.Helper()
	st, err := consent.NewLedger(db.R, key).State(context.Background(), p, purpose, ch, at)
	if err != nil {
		tb.Fatalf("state: %v", err)
	}
	return st
}

func TestSeededNotices(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := consent.NewLedger(db.R, key)
		ps, err := l.Purposes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[consent.Purpose][2]bool{ // separate consent, commercial
			consent.Service: {false, false}, consent.Marketing: {false, true},
			consent.Archive: {true, false}, consent.Profiling: {false, true},
		}
		if len(ps) != len(want) {
			t.Fatalf("purposes %+v", ps)
		}
		for _, p := range ps {
			if w, ok := want[p.Key]; !ok || w != [2]bool{p.SeparateConsent, p.Commercial} || p.Name == "" {
				t.Errorf("purpose %+v", p)
			}
		}
		notices, err := l.Notices(ctx)
		if err != nil || len(notices) != 4 {
			t.Fatalf("notices %d %v", len(notices), err)
		}
		for _, n := range notices {
			if n.Version != 1 || n.Language != "zh-CN" || n.TextHash != consent.NoticeHash(n.Text) || !strings.Contains(n.Text, "版本1") {
				t.Errorf("notice %s v%d: hash %s, want %s", n.Purpose, n.Version, n.TextHash, consent.NoticeHash(n.Text))
			}
		}
	})
}

func TestGrantWithdrawGrant(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if st := mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0); st.Status != consent.StatusNone || st.Permits() {
			t.Fatalf("before any event: %+v", st)
		}
		g1 := grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0)
		g1.Scope = &consent.Scope{Types: []string{"promotions"}, MaxPerWeek: 2}
		mustRecord(t, db.W, g1)
		st := mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(time.Hour))
		if st.Status != consent.StatusGranted || !st.Permits() || st.Scope == nil || st.Scope.MaxPerWeek != 2 {
			t.Fatalf("after grant: %+v", st)
		}
		// The grant is for SMS marketing only.
		if st := mustState(t, db, alice, consent.Profiling, consent.ChannelSMS, t0.Add(time.Hour)); st.Status != consent.StatusNone {
			t.Fatalf("another purpose: %+v", st)
		}

		mustRecord(t, db.W, withdraw(alice, consent.Marketing, consent.ChannelSMS, t0.Add(2*time.Hour)))
		st = mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(2*time.Hour))
		if st.Status != consent.StatusWithdrawn || st.Permits() || st.Scope != nil {
			t.Fatalf("after withdrawal: %+v", st)
		}
		// As it stood before the withdrawal.
		if st := mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(time.Hour)); st.Status != consent.StatusGranted {
			t.Fatalf("before the withdrawal: %+v", st)
		}

		g2 := grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(3*time.Hour))
		g2.Scope = &consent.Scope{Types: []string{"new_products"}, MaxPerWeek: 1}
		mustRecord(t, db.W, g2)
		st = mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(4*time.Hour))
		if st.Status != consent.StatusGranted || st.Scope == nil || st.Scope.MaxPerWeek != 1 || st.Scope.Types[0] != "new_products" {
			t.Fatalf("granted again, with the last scope: %+v %+v", st, st.Scope)
		}

		// An old consent imported late does not outweigh the newer events.
		mustRecord(t, db.W, withdraw(alice, consent.Marketing, consent.ChannelSMS, t0.Add(5*time.Hour)))
		old := grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(-30*24*time.Hour))
		old.Source, old.Evidence, old.ReceivedAt = consent.SourceImport, consent.Evidence{consent.EvidenceProvenance: "shop_orders", consent.EvidenceBatch: "b1"}, t0.Add(6*time.Hour)
		mustRecord(t, db.W, old)
		if st := mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(7*time.Hour)); st.Status != consent.StatusWithdrawn {
			t.Fatalf("late import of an old grant: %+v", st)
		}

		h, err := consent.NewLedger(db.R, key).History(ctx, alice)
		if err != nil || len(h) != 5 {
			t.Fatalf("history %d %v", len(h), err)
		}
		if h[0].Person.Key != "13800138000" || h[0].Evidence[consent.EvidenceNotice] != "checkout page" || !h[0].OccurredAt.Equal(t0) || h[1].PrevHash != h[0].Hash {
			t.Fatalf("first event %+v", h[0])
		}
		r, err := consent.NewLedger(db.R, key).VerifyChain(ctx, alice)
		if err != nil || !r.OK || r.Events != 5 {
			t.Fatalf("chain %+v %v", r, err)
		}
	})
}

func TestExpiry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		until := time.Date(2026, 6, 30, 16, 0, 0, 0, time.UTC) // the end of 30 June in Beijing
		g := grant(t, db, wm, consent.Marketing, consent.ChannelWeCom, t0)
		g.Scope = &consent.Scope{Types: []string{"promotions"}, MaxPerWeek: 2, ValidUntil: &until}
		mustRecord(t, db.W, g)
		if st := mustState(t, db, wm, consent.Marketing, consent.ChannelWeCom, until); st.Status != consent.StatusGranted || !st.Permits() {
			t.Fatalf("at valid_until: %+v", st)
		}
		st := mustState(t, db, wm, consent.Marketing, consent.ChannelWeCom, until.Add(time.Microsecond))
		if st.Status != consent.StatusExpired || st.Permits() || st.Last == nil || !st.Scope.ValidUntil.Equal(until) {
			t.Fatalf("after valid_until: %+v", st)
		}
	})
}

func TestStates(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		carol := consent.Phone("13900139000")
		dave := consent.Phone("13700137000")
		mustRecord(t, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0))
		mustRecord(t, db.W, grant(t, db, carol, consent.Marketing, consent.ChannelSMS, t0))
		mustRecord(t, db.W, withdraw(carol, consent.Marketing, consent.ChannelSMS, t0.Add(time.Minute)))
		persons := []consent.Person{alice, carol, dave, consent.Phone("+8613800138000")}
		for i := range 1200 { // more than one query's worth
			persons = append(persons, consent.Phone(fmt.Sprintf("1500000%04d", i)))
		}
		late := consent.Phone("15000000700")
		mustRecord(t, db.W, grant(t, db, late, consent.Marketing, consent.ChannelSMS, t0))
		if err := consent.Suppress(ctx, db.W, key, late, consent.Marketing, consent.ChannelSMS, consent.ReasonComplaint, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// With $N lists, and with one JSON parameter per query.
		for _, l := range []*consent.Ledger{consent.NewLedger(db.R, key), consent.NewLedger(db.R, key).WithDialect(db.Dialect)} {
			m, err := l.States(ctx, persons, consent.Marketing, consent.ChannelSMS, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 1203 {
				t.Fatalf("%d states", len(m))
			}
			if m[alice].Status != consent.StatusGranted || m[carol].Status != consent.StatusWithdrawn || m[dave].Status != consent.StatusNone {
				t.Fatalf("states alice %s carol %s dave %s", m[alice].Status, m[carol].Status, m[dave].Status)
			}
			if m[late].Status != consent.StatusGranted || !m[late].Suppressed || m[alice].Suppressed {
				t.Fatalf("suppressed: late %s %v, alice %v", m[late].Status, m[late].Suppressed, m[alice].Suppressed)
			}
		}
		if _, err := consent.NewLedger(db.R, key).States(ctx, []consent.Person{{Kind: "wechat", Key: "x"}}, consent.Marketing, consent.ChannelSMS, t0); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("unknown person kind: %v", err)
		}
		if _, err := consent.NewLedger(db.R, nil).States(ctx, persons, consent.Marketing, consent.ChannelSMS, t0); err == nil {
			t.Fatal("a ledger without a suppression key answered")
		}
	})
}

func TestDatabaseRefusesChanges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustRecord(t, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0))
		mustRecord(t, db.W, withdraw(alice, consent.Marketing, consent.ChannelSMS, t0.Add(time.Hour)))
		refused := func(what, query string, args ...any) {
			t.Helper()
			_, err := db.W.ExecContext(ctx, query, args...)
			if err == nil {
				t.Fatalf("%s was allowed", what)
			}
			t.Logf("%s: %v", what, err)
		}
		refused("UPDATE", "UPDATE consent_events SET action = 'grant' WHERE action = 'withdraw'")
		refused("UPDATE of evidence", "UPDATE consent_events SET evidence = '{\"x\":\"y\"}'")
		refused("DELETE", "DELETE FROM consent_events")
		refused("DELETE of one person", "DELETE FROM consent_events WHERE person_key = $1", alice.Key)
		if db.Dialect == store.Postgres {
			refused("TRUNCATE", "TRUNCATE consent_events")
		}
		refused("an insert that forks the chain", `INSERT INTO consent_events (person_kind, person_key, purpose, channel, action, source, evidence,
			recorded_by, occurred_at, received_at, prev_hash, hash)
			VALUES ('phone', $1, 'marketing', 'sms', 'grant', 'customer', '{"a":"b"}', 'x', $2, $2, $3, $4)`,
			alice.Key, t0, strings.Repeat("0", 64), strings.Repeat("1", 64))
		refused("changing a notice", "UPDATE consent_notices SET text = 'x'")
		refused("deleting a notice", "DELETE FROM consent_notices")
		if err := consent.Suppress(ctx, db.W, key, alice, consent.Marketing, consent.ChannelSMS, consent.ReasonComplaint, t0); err != nil {
			t.Fatal(err)
		}
		refused("deleting a suppression", "DELETE FROM consent_suppressions")
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM consent_events").Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d events after the refusals, want 2 (%v)", n, err)
		}
		if st := mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(2*time.Hour)); st.Status != consent.StatusWithdrawn {
			t.Fatalf("state changed: %+v", st)
		}
	})
}

func TestErase(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustRecord(t, db.W, grant(t, db, bob, consent.Marketing, consent.ChannelEmail, t0))
		mustRecord(t, db.W, grant(t, db, bob, consent.Service, consent.ChannelEmail, t0))
		mustRecord(t, db.W, withdraw(bob, consent.Marketing, consent.ChannelEmail, t0.Add(time.Hour)))
		mustRecord(t, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0)) // someone else

		// A rolled-back erasure leaves everything as it was.
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if n, err := consent.Erase(ctx, tx, key, bob, t0.Add(2*time.Hour)); err != nil || n != 3 {
				t.Fatalf("erase in a rolled-back transaction: %d %v", n, err)
			}
			return sql.ErrTxDone // roll back
		})
		if err != sql.ErrTxDone {
			t.Fatal(err)
		}
		if h, _ := consent.NewLedger(db.R, key).History(ctx, bob); len(h) != 3 {
			t.Fatalf("%d events after a rolled-back erasure", len(h))
		}

		var erased int
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			erased, err = consent.Erase(ctx, tx, key, consent.Email("bob@example.com"), t0.Add(2*time.Hour))
			return err
		})
		if err != nil || erased != 3 {
			t.Fatalf("erase: %d %v", erased, err)
		}
		l := consent.NewLedger(db.R, key)
		if h, err := l.History(ctx, bob); err != nil || len(h) != 0 {
			t.Fatalf("history after erasure: %d %v", len(h), err)
		}
		var markers, suppressions int
		db.R.QueryRowContext(ctx, "SELECT count(*) FROM consent_erasures").Scan(&markers)
		db.R.QueryRowContext(ctx, "SELECT count(*) FROM consent_suppressions").Scan(&suppressions)
		if markers != 0 {
			t.Fatalf("%d erasure markers left", markers)
		}
		// service/email, and marketing and profiling on all three channels
		if suppressions != 7 {
			t.Fatalf("%d suppressions, want 7", suppressions)
		}
		var leaked int
		db.R.QueryRowContext(ctx, "SELECT count(*) FROM consent_suppressions WHERE subject_hash LIKE '%bob%' OR subject_hash LIKE '%example%'").Scan(&leaked)
		if leaked != 0 {
			t.Fatal("a suppression holds the address in clear")
		}
		for _, c := range []struct {
			p    consent.Purpose
			ch   consent.Channel
			want bool
		}{{consent.Marketing, consent.ChannelEmail, true}, {consent.Profiling, consent.ChannelSMS, true}, {consent.Service, consent.ChannelEmail, true}, {consent.Service, consent.ChannelSMS, false}, {consent.Archive, consent.ChannelWeCom, false}} {
			if got, err := l.Suppressed(ctx, bob, c.p, c.ch); err != nil || got != c.want {
				t.Errorf("suppressed %s/%s = %v (%v), want %v", c.p, c.ch, got, err, c.want)
			}
		}
		if ok, _ := consent.NewLedger(db.R, []byte("another-key-0123456789abcdef")).Suppressed(ctx, bob, consent.Marketing, consent.ChannelEmail); ok {
			t.Fatal("suppression matched under another key")
		}
		if st := mustState(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(3*time.Hour)); st.Status != consent.StatusGranted || st.Suppressed {
			t.Fatalf("someone else's consent changed: %+v", st)
		}

		// Re-imported from an old list, the erased person stays out of reach;
		// only their own new consent brings them back.
		imp := grant(t, db, bob, consent.Marketing, consent.ChannelEmail, t0.Add(-24*time.Hour))
		imp.Source, imp.Evidence, imp.ReceivedAt = consent.SourceImport, consent.Evidence{consent.EvidenceProvenance: "old_crm"}, t0.Add(3*time.Hour)
		mustRecord(t, db.W, imp)
		st := mustState(t, db, bob, consent.Marketing, consent.ChannelEmail, t0.Add(4*time.Hour))
		if st.Status != consent.StatusGranted || !st.Suppressed || st.Permits() {
			t.Fatalf("re-imported after erasure: %+v", st)
		}
		mustRecord(t, db.W, grant(t, db, bob, consent.Marketing, consent.ChannelEmail, t0.Add(5*time.Hour)))
		if st := mustState(t, db, bob, consent.Marketing, consent.ChannelEmail, t0.Add(6*time.Hour)); !st.Permits() {
			t.Fatalf("own consent after erasure: %+v", st)
		}
		if r, err := l.VerifyChain(ctx, bob); err != nil || !r.OK || r.Events != 2 {
			t.Fatalf("the new chain after erasure: %+v %v", r, err)
		}
	})
}

// disableGuards drops or disables the append-only triggers, as someone with
// the database owner's rights could.
func disableGuards(t *testing.T, db *store.DB) {
	t.Helper()
	if db.Dialect == store.Postgres {
		storetest.MustExec(t, db, "ALTER TABLE consent_events DISABLE TRIGGER USER")
		return
	}
	for _, tr := range []string{"consent_events_no_update", "consent_events_no_delete", "consent_events_linear"} {
		storetest.MustExec(t, db, "DROP TRIGGER "+tr)
	}
}

func TestTamperedChain(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := consent.NewLedger(db.R, key)
		for i := range 4 {
			at := t0.Add(time.Duration(i) * time.Hour)
			if i%2 == 0 {
				mustRecord(t, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, at))
			} else {
				mustRecord(t, db.W, withdraw(alice, consent.Marketing, consent.ChannelSMS, at))
			}
		}
		mustRecord(t, db.W, grant(t, db, wm, consent.Marketing, consent.ChannelWeCom, t0))
		h, _ := l.History(ctx, alice)
		if len(h) != 4 {
			t.Fatalf("%d events", len(h))
		}
		disableGuards(t, db)

		// A withdrawal turned into a grant.
		storetest.MustExec(t, db, "UPDATE consent_events SET action = 'grant' WHERE id = $1", h[1].ID)
		r, err := l.VerifyChain(ctx, alice)
		if err != nil || r.OK || r.BrokenAt != h[1].ID || !strings.Contains(r.Reason, "changed") {
			t.Fatalf("changed event: %+v %v", r, err)
		}
		// Another person's chain is untouched.
		if r, _ := l.VerifyChain(ctx, wm); !r.OK {
			t.Fatalf("other chain: %+v", r)
		}
		// Undone, the chain verifies again; then an event goes missing.
		storetest.MustExec(t, db, "UPDATE consent_events SET action = 'withdraw' WHERE id = $1", h[1].ID)
		if r, _ := l.VerifyChain(ctx, alice); !r.OK {
			t.Fatalf("restored chain: %+v", r)
		}
		storetest.MustExec(t, db, "DELETE FROM consent_events WHERE id = $1", h[2].ID)
		r, _ = l.VerifyChain(ctx, alice)
		if r.OK || r.BrokenAt != h[3].ID || !strings.Contains(r.Reason, "removed") {
			t.Fatalf("removed event: %+v", r)
		}
		// A changed time is a change too.
		storetest.MustExec(t, db, "UPDATE consent_events SET occurred_at = $1 WHERE id = $2", t0.Add(-time.Hour), h[0].ID)
		if r, _ := l.VerifyChain(ctx, alice); r.OK || r.BrokenAt != h[0].ID {
			t.Fatalf("changed time: %+v", r)
		}
	})
}

func TestRecordRefusesBadInput(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustRecord(t, db.W, grant(t, db, wm, consent.Marketing, consent.ChannelWeCom, t0))
		good := func() consent.Event { return grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0) }
		past := t0.Add(-time.Hour)
		cases := []struct {
			name   string
			change func(e *consent.Event)
			code   string
			field  string // the message names it
		}{
			{"no person", func(e *consent.Event) { e.Person = consent.Person{} }, kith.EINVALID, "person"},
			{"bad phone", func(e *consent.Event) { e.Person = consent.Phone("call me") }, kith.EINVALID, "person"},
			{"bad e-mail", func(e *consent.Event) { e.Person, e.Channel = consent.Email("bob"), consent.ChannelEmail }, kith.EINVALID, "person"},
			{"no purpose", func(e *consent.Event) { e.Purpose = "" }, kith.EINVALID, "purpose"},
			{"unknown purpose", func(e *consent.Event) { e.Purpose = "newsletter" }, kith.EINVALID, "purpose"},
			{"two purposes in one", func(e *consent.Event) { e.Purpose = "marketing,profiling" }, kith.EINVALID, "purpose"},
			{"no channel", func(e *consent.Event) { e.Channel = "" }, kith.EINVALID, "channel"},
			{"unknown channel", func(e *consent.Event) { e.Channel = "fax" }, kith.EINVALID, "channel"},
			{"channel that does not reach the person", func(e *consent.Event) { e.Channel = consent.ChannelEmail }, kith.EINVALID, "channel"},
			{"no action", func(e *consent.Event) { e.Action = "" }, kith.EINVALID, "action"},
			{"unknown action", func(e *consent.Event) { e.Action = "maybe" }, kith.EINVALID, "action"},
			{"no source", func(e *consent.Event) { e.Source = "" }, kith.EINVALID, "source"},
			{"unknown source", func(e *consent.Event) { e.Source = "rumour" }, kith.EINVALID, "source"},
			{"grant from an opt-out", func(e *consent.Event) { e.Source = consent.SourceOptOutReply }, kith.EINVALID, "source"},
			{"no evidence", func(e *consent.Event) { e.Evidence = nil }, kith.EINVALID, "evidence"},
			{"empty evidence value", func(e *consent.Event) { e.Evidence = consent.Evidence{"url": "  "} }, kith.EINVALID, "evidence.url"},
			{"bad evidence key", func(e *consent.Event) { e.Evidence = consent.Evidence{"Page URL": "x"} }, kith.EINVALID, "evidence key"},
			{"evidence too big", func(e *consent.Event) { e.Evidence = consent.Evidence{"note": strings.Repeat("字", 800)} }, kith.EINVALID, "evidence"},
			{"import without provenance", func(e *consent.Event) { e.Source, e.Evidence = consent.SourceImport, consent.Evidence{"batch": "b1"} }, kith.EINVALID, "evidence.provenance"},
			{"purchased list", func(e *consent.Event) {
				e.Source, e.Evidence = consent.SourceImport, consent.Evidence{"provenance": "Purchased"}
			}, kith.EINVALID, "evidence.provenance"},
			{"opt-out reply without message id", func(e *consent.Event) {
				e.Action, e.Source, e.Evidence, e.NoticeVersion, e.NoticeHash = consent.Refuse, consent.SourceOptOutReply, consent.Evidence{"text": "TD"}, 0, ""
			}, kith.EINVALID, "evidence.message_id"},
			{"agent grant without the person's words", func(e *consent.Event) {
				e.Source, e.Evidence = consent.SourceConsole, consent.Evidence{"note": "she said yes on the phone"}
			}, kith.EINVALID, "evidence.message_id"},
			{"grant without notice", func(e *consent.Event) { e.NoticeVersion, e.NoticeHash = 0, "" }, kith.EINVALID, "notice_version"},
			{"notice never published", func(e *consent.Event) { e.NoticeVersion = 9 }, kith.EINVALID, "notice_version"},
			{"notice without hash", func(e *consent.Event) { e.NoticeHash = "" }, kith.EINVALID, "notice_hash"},
			{"notice hash of another text", func(e *consent.Event) { e.NoticeHash = consent.NoticeHash("另一段文字") }, kith.EINVALID, "notice_hash"},
			{"hash without version", func(e *consent.Event) { e.Action, e.NoticeVersion = consent.Refuse, 0 }, kith.EINVALID, "notice_hash"},
			{"no recorded_by", func(e *consent.Event) { e.RecordedBy = " " }, kith.EINVALID, "recorded_by"},
			{"no occurred_at", func(e *consent.Event) { e.OccurredAt = time.Time{} }, kith.EINVALID, "occurred_at"},
			{"no received_at", func(e *consent.Event) { e.ReceivedAt = time.Time{} }, kith.EINVALID, "received_at"},
			{"occurred after received", func(e *consent.Event) { e.OccurredAt = e.ReceivedAt.Add(time.Hour) }, kith.EINVALID, "occurred_at"},
			{"scope ends before it starts", func(e *consent.Event) { e.Scope = &consent.Scope{ValidUntil: &past} }, kith.EINVALID, "scope.valid_until"},
			{"negative frequency", func(e *consent.Event) { e.Scope = &consent.Scope{MaxPerWeek: -1} }, kith.EINVALID, "scope.max_per_week"},
			{"empty type", func(e *consent.Event) { e.Scope = &consent.Scope{Types: []string{""}} }, kith.EINVALID, "scope.types"},
			{"scope on a withdrawal", func(e *consent.Event) {
				e.Person, e.Channel = wm, consent.ChannelWeCom
				e.Action, e.Scope = consent.Withdraw, &consent.Scope{MaxPerWeek: 1}
			}, kith.EINVALID, "scope"},
			{"separate consent from an import", func(e *consent.Event) {
				n := mustNotice(t, db, consent.Archive)
				e.Person, e.Channel, e.Purpose, e.NoticeVersion, e.NoticeHash = wm, consent.ChannelWeCom, consent.Archive, n.Version, n.TextHash
				e.Source, e.Evidence = consent.SourceImport, consent.Evidence{"provenance": "old_crm"}
			}, kith.EINVALID, "separate consent"},
			{"withdrawal for an unknown person", func(e *consent.Event) {
				*e = withdraw(consent.Phone("13111111111"), consent.Marketing, consent.ChannelSMS, t0)
			}, kith.ENOTFOUND, "nothing to withdraw"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := good()
				c.change(&e)
				err := consent.NewLedger(nil, key).Record(ctx, db.W, e)
				if kith.ErrorCode(err) != c.code || !strings.Contains(kith.ErrorMessage(err), c.field) {
					t.Fatalf("got %v (%s), want %s naming %q", err, kith.ErrorCode(err), c.code, c.field)
				}
			})
		}
		var n int
		db.R.QueryRowContext(ctx, "SELECT count(*) FROM consent_events").Scan(&n)
		if n != 1 {
			t.Fatalf("%d events stored, want only the first", n)
		}
		// The good event itself is accepted, and a small clock skew is
		// absorbed.
		e := good()
		e.OccurredAt = e.ReceivedAt.Add(time.Minute)
		mustRecord(t, db.W, e)
		if h, _ := consent.NewLedger(db.R, key).History(ctx, alice); len(h) != 1 || !h[0].OccurredAt.Equal(e.ReceivedAt) {
			t.Fatalf("skewed event: %+v", h)
		}
		// A withdrawal for a known person who never granted this purpose is
		// fine: there is a person to record it for.
		mustRecord(t, db.W, withdraw(alice, consent.Profiling, consent.ChannelSMS, t0))
	})
}

func TestPublishNotice(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		text := "营销消息同意书（版本2）：……"
		n, err := consent.PublishNotice(ctx, db.W, consent.Marketing, "zh-CN", text, t0)
		if err != nil || n.Version != 2 || n.TextHash != consent.NoticeHash(text) {
			t.Fatalf("publish: %+v %v", n, err)
		}
		got := mustNotice(t, db, consent.Marketing)
		if got.Version != 2 || got.Text != text {
			t.Fatalf("newest notice %+v", got)
		}
		// Grants may name either version, with its own hash.
		v1, _ := consent.NewLedger(db.R, key).Notice(ctx, consent.Marketing, 1)
		e := grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0)
		e.NoticeVersion, e.NoticeHash = 1, v1.TextHash
		mustRecord(t, db.W, e)
		e.NoticeHash = n.TextHash
		if err := consent.NewLedger(nil, key).Record(ctx, db.W, e); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("version 1 with version 2's hash: %v", err)
		}
		for _, bad := range []struct{ p, lang, text string }{{"marketing", "zh-CN", " "}, {"nope", "zh-CN", "x"}, {"marketing", "Chinese", "x"}} {
			if _, err := consent.PublishNotice(ctx, db.W, consent.Purpose(bad.p), bad.lang, bad.text, t0); kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("publish %+v: %v", bad, err)
			}
		}
		if _, err := consent.NewLedger(db.R, key).Notice(ctx, consent.Marketing, 7); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("missing notice: %v", err)
		}
	})
}
