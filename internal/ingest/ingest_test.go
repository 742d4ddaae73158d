package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fastRetry retries failed jobs at once, so tests need not wait for River's
// backoff.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(20 * time.Millisecond) }

// fakeApplier writes the event's body into instance_meta, fails the first
// `fail` attempts, and panics on the body "panic".
type fakeApplier struct {
	fail     atomic.Int32
	prepared atomic.Int32
}

func (a *fakeApplier) Prepare(ctx context.Context, source, kind string, body []byte) (ingest.Write, error) {
	a.prepared.Add(1)
	if string(body) == "panic" {
		panic("boom")
	}
	if a.fail.Add(-1) >= 0 {
		return nil, errors.New("the WeCom API is unreachable")
	}
	if kind == "unknown" {
		return nil, nil
	}
	return func(ctx context.Context, tx store.Querier) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO instance_meta (key, value) VALUES ($1, $2)", "ev:"+string(body), kind)
		return err
	}, nil
}

func setup(t testing.TB, db *store.DB, a ingest.Applier) *ingest.Service {
	t.Helper()
	workers := river.NewWorkers()
	j, err := jobs.New(db, jobs.Config{Node: "n", Workers: workers, Logger: quiet, RetryPolicy: fastRetry{}})
	if err != nil {
		t.Fatal(err)
	}
	svc := ingest.NewService(db, j, kith.SystemClock{}, quiet)
	svc.MaxAttempts = 4
	river.AddWorker(workers, svc.Worker(a))
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		j.Stop(ctx)
	})
	return svc
}

func waitStatus(t *testing.T, svc *ingest.Service, id int64, want string) *ingest.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ev, err := svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status == want {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %d is %s (%s), want %s", id, ev.Status, ev.Error, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAcceptDedupesAndApplies(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		a := &fakeApplier{}
		svc := setup(t, db, a)
		ctx := context.Background()
		id, dup, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "k1", Kind: "change_external_contact/add_external_contact", Body: []byte("one")})
		if err != nil || dup {
			t.Fatalf("Accept: %v dup=%v", err, dup)
		}
		again, dup, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "k1", Kind: "x", Body: []byte("one")})
		if err != nil || !dup || again != id {
			t.Fatalf("retry of the same event: id %d dup %v err %v", again, dup, err)
		}
		ev := waitStatus(t, svc, id, ingest.StatusApplied)
		if ev.AppliedAt == nil || ev.Attempts != 1 {
			t.Fatalf("applied event %+v", ev)
		}
		var n int
		db.R.QueryRow("SELECT count(*) FROM instance_meta WHERE key = 'ev:one'").Scan(&n)
		if n != 1 {
			t.Fatalf("effect applied %d times", n)
		}
		if a.prepared.Load() != 1 {
			t.Fatalf("prepared %d times for one event", a.prepared.Load())
		}
		if _, _, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", Kind: "x"}); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("no dedupe key: %v", err)
		}
	})
}

func TestFailuresAreRetriedAndRecorded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		a := &fakeApplier{}
		a.fail.Store(2)
		svc := setup(t, db, a)
		ctx := context.Background()
		id, _, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "k2", Kind: "k", Body: []byte("two")})
		if err != nil {
			t.Fatal(err)
		}
		ev := waitStatus(t, svc, id, ingest.StatusApplied)
		if ev.Attempts != 3 || ev.Error != "" {
			t.Fatalf("after two failures: %+v", ev)
		}
		// A panic is an error like any other: the event stays and is retried
		// until it is marked failed with the reason.
		id, _, _ = svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "k3", Kind: "k", Body: []byte("panic")})
		ev = waitStatus(t, svc, id, ingest.StatusFailed)
		if ev.Attempts != svc.MaxAttempts || ev.Error == "" || !strings.Contains(ev.Error, "panic") {
			t.Fatalf("failed event %+v", ev)
		}
		// Unknown kinds are kept and shown, not rejected.
		id, _, _ = svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "k4", Kind: "unknown", Body: []byte("?")})
		waitStatus(t, svc, id, ingest.StatusStored)
		counts, err := svc.Counts(ctx)
		if err != nil || counts[ingest.StatusApplied] != 1 || counts[ingest.StatusFailed] != 1 || counts[ingest.StatusStored] != 1 {
			t.Fatalf("counts %v %v", counts, err)
		}
		list, next, err := svc.List(ctx, ingest.ListFilter{Limit: 2})
		if err != nil || len(list) != 2 || next == 0 || list[0].ID <= list[1].ID {
			t.Fatalf("list %+v next %d err %v", list, next, err)
		}
		failed, _, _ := svc.List(ctx, ingest.ListFilter{Status: ingest.StatusFailed})
		if len(failed) != 1 || failed[0].Body != "panic" {
			t.Fatalf("failed list %+v", failed)
		}
		if _, _, err := svc.List(ctx, ingest.ListFilter{Status: "weird"}); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("bad status: %v", err)
		}
	})
}

func TestConcurrentAcceptsShareTransactions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		a := &fakeApplier{}
		svc := setup(t, db, a)
		ctx := context.Background()
		const n = 300
		type result struct {
			id  int64
			dup bool
			err error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := i % 200 // keys 0–99 arrive twice
				id, dup, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: fmt.Sprint("k", key), Kind: "k", Body: []byte(fmt.Sprint("b", key))})
				results[i] = result{id, dup, err}
			}()
		}
		wg.Wait()
		byKey := map[int]int64{}
		dups := 0
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("accept %d: %v", i, r.err)
			}
			if prev, ok := byKey[i%200]; ok && prev != r.id {
				t.Fatalf("key %d got ids %d and %d", i%200, prev, r.id)
			}
			byKey[i%200] = r.id
			if r.dup {
				dups++
			}
		}
		if dups != 100 {
			t.Fatalf("%d accepts were duplicates, want 100", dups)
		}
		var stored int
		db.R.QueryRow("SELECT count(*) FROM inbound_events").Scan(&stored)
		if stored != 200 {
			t.Fatalf("%d events stored, want 200", stored)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			counts, _ := svc.Counts(ctx)
			if counts[ingest.StatusApplied] == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s: %v", counts)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var effects int
		db.R.QueryRow("SELECT count(*) FROM instance_meta WHERE key LIKE 'ev:%'").Scan(&effects)
		if effects != 200 || a.prepared.Load() != 200 {
			t.Fatalf("%d effects from %d preparations, want 200 each", effects, a.prepared.Load())
		}
	})
}

// TestPendingEventsAreAppliedAfterARestart stores events while no drain loop
// runs (as if Kith stopped right after answering), then starts one: it finds
// and applies them.
func TestPendingEventsAreAppliedAfterARestart(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		stopped := ingest.NewService(db, nil, kith.SystemClock{}, quiet)
		var ids []int64
		for i := range 5 {
			id, _, err := stopped.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: fmt.Sprint("r", i), Kind: "k", Body: []byte(fmt.Sprint("restart", i))})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		time.Sleep(50 * time.Millisecond)
		if ev, _ := stopped.Get(ctx, ids[0]); ev.Status != ingest.StatusPending {
			t.Fatalf("applied with no drain loop running: %+v", ev)
		}
		svc := setup(t, db, &fakeApplier{})
		for _, id := range ids {
			waitStatus(t, svc, id, ingest.StatusApplied)
		}
	})
}

// TestDrainLeaseKeepsOtherNodesOut holds the drain lease for another node:
// nothing is applied until that lease lapses, then this node takes over.
func TestDrainLeaseKeepsOtherNodesOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		far := fmt.Sprintf("%020d other-node", time.Now().Add(time.Hour).UnixNano())
		storetest.MustExec(t, db, "INSERT INTO instance_meta (key, value) VALUES ('ingest.drain_lease', $1)", far)
		a := &fakeApplier{}
		svc := setup(t, db, a)
		id, _, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "lease", Kind: "k", Body: []byte("lease")})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if ev, _ := svc.Get(ctx, id); ev.Status != ingest.StatusPending || a.prepared.Load() != 0 {
			t.Fatalf("applied while another node held the lease: %+v", ev)
		}
		lapsed := fmt.Sprintf("%020d other-node", time.Now().Add(-time.Second).UnixNano())
		storetest.MustExec(t, db, "UPDATE instance_meta SET value = $1 WHERE key = 'ingest.drain_lease'", lapsed)
		waitStatus(t, svc, id, ingest.StatusApplied)
		var lease string
		db.R.QueryRow("SELECT value FROM instance_meta WHERE key = 'ingest.drain_lease'").Scan(&lease)
		if strings.HasSuffix(lease, "other-node") {
			t.Fatalf("lease %q still the other node's", lease)
		}
	})
}

// panicWriter's Write panics for the body "panic-write".
type panicWriter struct{ fakeApplier }

func (p *panicWriter) Prepare(ctx context.Context, source, kind string, body []byte) (ingest.Write, error) {
	if string(body) == "panic-write" {
		return func(context.Context, store.Querier) error { panic("write boom") }, nil
	}
	return p.fakeApplier.Prepare(ctx, source, kind, body)
}

// TestPanicInWriteLosesNothing: a Write that panics rolls its transaction
// back, the other events of its chunk are applied, and it is retried until
// marked failed with the reason.
func TestPanicInWriteLosesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := setup(t, db, &panicWriter{})
		bad, _, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "pw", Kind: "k", Body: []byte("panic-write")})
		if err != nil {
			t.Fatal(err)
		}
		good, _, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: "ok", Kind: "k", Body: []byte("fine")})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, svc, good, ingest.StatusApplied)
		ev := waitStatus(t, svc, bad, ingest.StatusFailed)
		if ev.Attempts != svc.MaxAttempts || !strings.Contains(ev.Error, "panic") {
			t.Fatalf("failed event %+v", ev)
		}
	})
}
