package channel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

const body = "【小店】春季新品到店，拒收请回复R"

func grant(tb testing.TB, db *store.DB, p consent.Person) {
	tb.Helper()
	ctx := context.Background()
	n, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		tb.Fatal(err)
	}
	at := wed10.Add(-time.Hour)
	if err := consent.NewLedger(nil, testKey).Record(ctx, db.W, consent.Event{Person: p, Purpose: consent.Marketing, Channel: consent.ChannelSMS, Action: consent.Grant,
		Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"}, NoticeVersion: n.Version,
		NoticeHash: n.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}); err != nil {
		tb.Fatal(err)
	}
}

func permit(tb testing.TB, g *gate.Gate, p consent.Person) gate.Permit {
	tb.Helper()
	d, err := g.Decide(context.Background(), gate.Request{Person: p, Channel: consent.ChannelSMS, Class: gate.Marketing, Content: gate.Content{Body: body}})
	if err != nil || !d.Allowed {
		tb.Fatalf("decide: %s %v", d.Reason, err)
	}
	return d.Permit
}

// TestClaim: each permit is consumed with the caller's record; a refused
// one (consent withdrawn after the decision, reused, zero) is rolled back
// alone; a failing record rolls back the whole claim.
func TestClaim(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := kith.NewFixedClock(wed10)
		g := gate.New(db, testKey, clock)
		a, b, c := consent.Phone("13800000001"), consent.Phone("13800000002"), consent.Phone("13800000003")
		for _, p := range []consent.Person{a, b, c} {
			grant(t, db, p)
		}
		pa, pb, pc := permit(t, g, a), permit(t, g, b), permit(t, g, c)
		// b withdraws after the decision.
		if _, err := consent.NewLedger(nil, testKey).OptOut(ctx, db.W, consent.OptOutRequest{Person: b, Channel: consent.ChannelSMS, Source: consent.SourceOptOutReply,
			Evidence: consent.Evidence{consent.EvidenceMessageID: "mo-1", consent.EvidenceText: "TD"}, RecordedBy: "sms",
			OccurredAt: wed10, ReceivedAt: wed10}); err != nil {
			t.Fatal(err)
		}
		var recorded []string
		cl := &channel.Claimer{DB: db, Gate: g, Record: func(ctx context.Context, tx store.Querier, p gate.Permit) error {
			recorded = append(recorded, p.ID())
			_, err := tx.ExecContext(ctx, "UPDATE gate_permits SET campaign = 'recorded' WHERE id = $1", p.ID())
			return err
		}}
		refusals, err := cl.Claim(ctx, []gate.Permit{pa, pb, {}, pa})
		if err != nil {
			t.Fatal(err)
		}
		reason := func(err error) gate.Reason {
			var r *gate.Refusal
			if errors.As(err, &r) {
				return r.Reason
			}
			return ""
		}
		if refusals[0] != nil || reason(refusals[1]) != gate.ConsentWithdrawn || reason(refusals[2]) != gate.PermitMissing || reason(refusals[3]) != gate.PermitReused {
			t.Errorf("refusals = %v", refusals)
		}
		if len(recorded) != 1 || recorded[0] != pa.ID() {
			t.Errorf("recorded %v, want only a's permit", recorded)
		}
		// A permit is used up by its row in gate_sends (keyed by the permit).
		var consumed, sends int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM gate_sends WHERE permit_id = $1", pa.ID()).Scan(&consumed)
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM gate_sends").Scan(&sends)
		if consumed != 1 || sends != 1 {
			t.Errorf("%d sends of a's permit, %d sends recorded; want 1 and 1", consumed, sends)
		}
		// A record that fails takes the whole claim back: c stays unused.
		boom := errors.New("boom")
		cl.Record = func(context.Context, store.Querier, gate.Permit) error { return boom }
		if _, err := cl.Claim(ctx, []gate.Permit{pc}); !errors.Is(err, boom) {
			t.Fatalf("claim with a failing record: %v", err)
		}
		cl.Record = nil
		if refusals, err := cl.Claim(ctx, []gate.Permit{pc}); err != nil || refusals[0] != nil {
			t.Errorf("c after the failed claim: %v %v", refusals, err)
		}
		if r := channel.Refusal(pb, refusals[1]); r.Status != channel.Refused || r.Code != string(gate.ConsentWithdrawn) || r.Permit != pb.ID() {
			t.Errorf("Refusal = %+v", r)
		}
	})
}

// fakeSleep moves the clock instead of waiting and keeps the waits.
func fakeSleep(clock *kith.FixedClock, waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		clock.Add(d)
		return nil
	}
}

func TestLimiter(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)
	clock := kith.NewFixedClock(start)
	l, err := channel.NewLimiter(clock, channel.Window{N: 10, Per: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	l.SetSleep(fakeSleep(clock, &waits))
	// 100 messages at 10 a second take about 9 seconds of waiting, and no
	// span of one second holds more than 10.
	var sent []time.Time
	for range 100 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, clock.Now())
	}
	elapsed := clock.Now().Sub(start)
	if elapsed < 9*time.Second || elapsed > 11*time.Second {
		t.Errorf("100 messages at 10/s took %s", elapsed)
	}
	for i := range sent {
		n := 0
		for j := i; j < len(sent) && sent[j].Sub(sent[i]) < time.Second; j++ {
			n++
		}
		if n > 10 {
			t.Fatalf("%d messages within one second from %s", n, sent[i].Sub(start))
		}
	}
	// Two windows: the tighter one rules.
	clock2 := kith.NewFixedClock(start)
	l2, _ := channel.NewLimiter(clock2, channel.Window{N: 1000, Per: time.Second}, channel.Window{N: 5, Per: time.Minute})
	var waits2 []time.Duration
	l2.SetSleep(fakeSleep(clock2, &waits2))
	for range 6 {
		l2.Wait(ctx)
	}
	if d := clock2.Now().Sub(start); d < time.Minute-time.Second || d > 2*time.Minute {
		t.Errorf("the 6th message of 5 a minute waited %s", d)
	}
	// A cancelled context stops the wait.
	l3, _ := channel.NewLimiter(kith.NewFixedClock(start), channel.Window{N: 1, Per: time.Hour})
	l3.Wait(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l3.Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	if _, err := channel.NewLimiter(clock, channel.Window{N: 0, Per: time.Second}); kith.ErrorCode(err) != kith.EINVALID {
		t.Errorf("N=0: %v", err)
	}
	var nilLimiter *channel.Limiter
	if err := nilLimiter.Wait(ctx); err != nil {
		t.Errorf("nil limiter: %v", err)
	}
}

func TestParseWindows(t *testing.T) {
	ws, err := channel.ParseWindows("14/1s, 50000/24h")
	if err != nil || len(ws) != 2 || ws[0] != (channel.Window{N: 14, Per: time.Second}) || ws[1] != (channel.Window{N: 50000, Per: 24 * time.Hour}) {
		t.Errorf("ParseWindows = %v, %v", ws, err)
	}
	if ws, err := channel.ParseWindows(""); err != nil || len(ws) != 0 {
		t.Errorf("empty: %v %v", ws, err)
	}
	for _, bad := range []string{"14", "x/1s", "14/soon", "0/1s", "14/-1s"} {
		if _, err := channel.ParseWindows(bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("ParseWindows(%q) = %v", bad, err)
		}
	}
}
