package campaign_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// wed10 is Wednesday 4 March 2026, 10:00 in Shanghai: outside quiet hours.
var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

// world is a small company: customers wm1..wmN, followed by alice (odd)
// and bob (even); even ones carry the tag vip; every third one never
// consented to WeCom marketing.
type world struct {
	db    *store.DB
	clock *kith.FixedClock
	gate  *gate.Gate
	svc   *campaign.Service
}

func mustExec(tb testing.TB, db *store.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

func newWorld(tb testing.TB, db *store.DB, n int) *world {
	tb.Helper()
	ctx := context.Background()
	clock := kith.NewFixedClock(wed10)
	at := wed10.Add(-48 * time.Hour)
	ov := "" // ids given explicitly
	if db.Dialect == store.Postgres {
		ov = " OVERRIDING SYSTEM VALUE"
	}
	for _, m := range []string{"alice", "bob"} {
		mustExec(tb, db, "INSERT INTO members (userid, name, status, contact_enabled, updated_at) VALUES ($1, $1, 1, TRUE, $2)", m, at)
	}
	mustExec(tb, db, "INSERT INTO users (id, username, role, password_hash, created_at, updated_at)"+ov+" VALUES (1, 'op', 'operator', 'x', $1, $1)", at)
	mustExec(tb, db, "INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ('g1', 'level', $1, $1)", at)
	mustExec(tb, db, "INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ('t1', 'g1', 'vip', $1, $1)", at)
	n0, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		member := "alice"
		if i%2 == 0 {
			member = "bob"
		}
		mustExec(tb, db, "INSERT INTO customers (id, external_userid, name, created_at, updated_at)"+ov+" VALUES ($1, $2, $2, $3, $3)", i, fmt.Sprintf("wm%d", i), at)
		mustExec(tb, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, $2, $3, $3)", i, member, at)
		if i%2 == 0 {
			mustExec(tb, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, 't1')", i, member)
		}
		if i%3 == 0 {
			continue
		}
		if err := consent.NewLedger(nil, testKey).Record(ctx, db.W, consent.Event{Person: consent.ExternalUser(fmt.Sprintf("wm%d", i)), Purpose: consent.Marketing,
			Channel: consent.ChannelWeCom, Action: consent.Grant, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"},
			NoticeVersion: n0.Version, NoticeHash: n0.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}); err != nil {
			tb.Fatal(err)
		}
	}
	g := gate.New(db, testKey, clock)
	svc := campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock})
	return &world{db: db, clock: clock, gate: g, svc: svc}
}

func (w *world) create(tb testing.TB, in campaign.Input) campaign.Campaign {
	tb.Helper()
	c, err := w.svc.Create(context.Background(), 1, in)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func wecomInput(aud campaign.Audience) campaign.Input {
	return campaign.Input{Name: "spring", Purpose: campaign.PurposeMarketing, Channel: campaign.WeCom,
		Content: campaign.Content{Text: "春季新品到店"}, Audience: aud, Schedule: campaign.Schedule{Kind: campaign.Now}}
}

// deliveries returns the campaign's deliveries by state.
func (w *world) deliveries(tb testing.TB, id int64) map[string]int {
	tb.Helper()
	rows, err := w.db.R.QueryContext(context.Background(), "SELECT state, COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1 GROUP BY state", id)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		rows.Scan(&s, &n)
		out[s] = n
	}
	return out
}

// fakeTransport claims through the service and records what it sent.
type fakeTransport struct {
	svc    *campaign.Service
	mu     sync.Mutex
	sent   map[string]int // person key → times sent
	status channel.Status // what every message gets; Sent when empty
	crash  bool           // panic after claiming, before any answer
	calls  int
}

func (f *fakeTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	refusals, err := f.svc.Claimer().Claim(ctx, permits)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.crash {
		panic("crash after the claim")
	}
	out := make([]channel.Result, len(permits))
	for i, p := range permits {
		if refusals[i] != nil {
			out[i] = channel.Refusal(p, refusals[i])
			continue
		}
		st := f.status
		if st == "" {
			st = channel.Sent
		}
		if st == channel.Sent || st == channel.Unknown {
			f.sent[p.Person().Key]++
		}
		out[i] = channel.Result{Permit: p.ID(), Status: st, ProviderID: fmt.Sprintf("msg-%d", b.ID)}
	}
	return out, nil
}

// runAll calls RunBatch until the campaign finishes (or n steps).
func runAll(tb testing.TB, svc *campaign.Service, id int64) campaign.Step {
	tb.Helper()
	for range 100 {
		st, err := svc.RunBatch(context.Background(), id)
		if err != nil {
			tb.Fatalf("RunBatch: %v", err)
		}
		if st != campaign.Progressed {
			return st
		}
	}
	tb.Fatal("RunBatch did not finish in 100 steps")
	return 0
}
