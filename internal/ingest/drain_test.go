package ingest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestYieldWaitsOutABurstButNotForever: with callbacks arriving fast the
// drain loop waits, but no longer than maxYield; without them it goes on at
// once, and soon after a burst ends it stops waiting.
func TestYieldWaitsOutABurstButNotForever(t *testing.T) {
	var d drainer
	d.init()
	d.note(1)
	start := time.Now()
	d.yield(context.Background())
	if quiet := time.Since(start); quiet > busyProbe {
		t.Fatalf("yielded %s with no callbacks arriving", quiet)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				d.note(busyRate) // far above busyRate, even if this goroutine runs rarely
			}
		}
	}()
	time.Sleep(3 * busyWindow)
	start = time.Now()
	d.yield(context.Background())
	close(stop)
	<-done
	if busy := time.Since(start); busy < maxYield/2 || busy > 3*maxYield {
		t.Fatalf("yielded %s during a burst; want about %s", busy, maxYield)
	}
	time.Sleep(busyHold + busyWindow)
	start = time.Now()
	d.yield(context.Background())
	if after := time.Since(start); after > busyProbe {
		t.Fatalf("yielded %s after the burst ended", after)
	}
}

// TestOverlappingCallbacksAreABurst: a commit of several events (callbacks
// that arrived while another commit ran) starts a burst whatever the rate;
// a commit of one does not.
func TestOverlappingCallbacksAreABurst(t *testing.T) {
	var d drainer
	d.init()
	d.note(1)
	if d.busyUntil.Load() != 0 {
		t.Fatal("one event committed alone started a burst")
	}
	before := time.Now()
	d.note(2)
	if until := time.Unix(0, d.busyUntil.Load()); until.Before(before.Add(busyHold)) {
		t.Fatalf("two events committed together: burst until %s, want at least %s", until, before.Add(busyHold))
	}
}

// TestBatchWithRepeats commits one batch holding a repeat of an event in
// the same batch and a repeat of an event stored before: each request gets
// the id of the first delivery, and only first deliveries count as new.
func TestBatchWithRepeats(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := NewService(db, nil, kith.SystemClock{}, slog.New(slog.DiscardHandler))
		ctx := context.Background()
		before, _, err := s.Accept(ctx, Inbound{Source: "wecom", DedupeKey: "k0", Kind: "k", Body: []byte("0")})
		if err != nil {
			t.Fatal(err)
		}
		req := func(key string) *acceptReq {
			return &acceptReq{in: Inbound{Source: "wecom", DedupeKey: key, Kind: "k", Body: []byte(key)}, done: make(chan struct{})}
		}
		batch := []*acceptReq{req("k1"), req("k2"), req("k1"), req("k0"), req("k3")}
		s.commit(ctx, batch)
		for i, r := range batch {
			if r.err != nil {
				t.Fatalf("request %d: %v", i, r.err)
			}
		}
		if batch[0].dup || batch[1].dup || !batch[2].dup || !batch[3].dup || batch[4].dup {
			t.Fatalf("duplicate flags %v %v %v %v %v", batch[0].dup, batch[1].dup, batch[2].dup, batch[3].dup, batch[4].dup)
		}
		if batch[2].id != batch[0].id || batch[3].id != before {
			t.Fatalf("repeats got ids %d and %d, want %d and %d", batch[2].id, batch[3].id, batch[0].id, before)
		}
		if !(before < batch[0].id && batch[0].id < batch[1].id && batch[1].id < batch[4].id) {
			t.Fatalf("ids do not follow arrival: %d %d %d %d", before, batch[0].id, batch[1].id, batch[4].id)
		}
		var n int
		db.R.QueryRow("SELECT count(*) FROM inbound_events").Scan(&n)
		if n != 4 {
			t.Fatalf("%d events stored, want 4", n)
		}
	})
}
