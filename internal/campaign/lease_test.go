package campaign_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// stallTransport claims its batch, then waits in its "call" until its
// context ends, as a platform call that never answers, and answers
// Unknown: nobody can tell whether the call went out.
type stallTransport struct {
	svc   *campaign.Service
	in    chan struct{}
	cause chan error
}

func (s *stallTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	if _, err := s.svc.Claimer().Claim(ctx, permits); err != nil {
		return nil, err
	}
	s.in <- struct{}{}
	<-ctx.Done()
	s.cause <- context.Cause(ctx)
	out := make([]channel.Result, len(permits))
	for i, p := range permits {
		out[i] = channel.Result{Permit: p.ID(), Status: channel.Unknown, Message: "no answer"}
	}
	return out, nil
}

// TestLeaseLost: a runner whose lease another runner took stops the call
// it has in flight within two renewals, before the lease would run out,
// and records the batch as unknown, never as sent or planned.
func TestLeaseLost(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 12)
		w.svc.BatchSize = 2
		st := &stallTransport{svc: w.svc, in: make(chan struct{}, 1), cause: make(chan error, 1)}
		w.svc.Register(campaign.WeCom, st, nil)
		c := started(t, w)
		done := make(chan error, 1)
		go func() {
			_, err := w.svc.Run(ctx, c.ID, "n1", time.Minute)
			done <- err
		}()
		<-st.in
		lost := time.Now()
		mustExec(t, db, "UPDATE campaigns SET run_owner = 'n2' WHERE id = $1", c.ID)
		select {
		case cause := <-st.cause:
			if cause == nil || !strings.Contains(cause.Error(), "lease") {
				t.Errorf("cancelled without the lease's cause: %v", cause)
			}
		case <-time.After(campaign.LeaseTTL):
			t.Fatal("the call went on after the lease was lost")
		}
		if d := time.Since(lost); d >= campaign.LeaseTTL {
			t.Errorf("the call stopped %s after the lease was lost; it must stop before the lease runs out (%s)", d, campaign.LeaseTTL)
		}
		if err := <-done; err == nil {
			t.Error("Run ended without an error after losing its lease")
		}
		if got := w.deliveries(t, c.ID); got["unknown"] != 2 || got["sent"] != 0 || got["claimed"] != 0 {
			t.Errorf("deliveries = %v, want the batch in flight unknown", got)
		}
		var owner string
		if err := db.R.QueryRowContext(ctx, "SELECT run_owner FROM campaigns WHERE id = $1", c.ID).Scan(&owner); err != nil || owner != "n2" {
			t.Errorf("run_owner = %q, %v: the loser must leave the new holder's lease alone", owner, err)
		}
	})
}

// TestHeldRunResumes: a run job that finds the campaign held by a runner
// that died waits for its lease to run out and then runs the campaign,
// without waiting for the next tick; and a tick left "running" by a killed
// node does not keep the next tick out.
func TestHeldRunResumes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 12)
		ft := &fakeTransport{svc: w.svc, sent: map[string]int{}}
		w.svc.Register(campaign.WeCom, ft, nil)
		c := started(t, w)
		// A runner that was killed: its lease is still good for a second.
		mustExec(t, db, "UPDATE campaigns SET run_owner = 'dead/1', run_lease = $1 WHERE id = $2", w.clock.Now().Add(time.Second).UTC(), c.ID)
		workers := river.NewWorkers()
		var j *jobs.Jobs
		river.AddWorker(workers, &campaign.TickWorker{Service: w.svc, Jobs: func() campaign.Inserter { return j.Client() }})
		river.AddWorker(workers, &campaign.RunWorker{Service: w.svc, Node: "n1"})
		river.AddWorker(workers, &campaign.PollWorker{Service: w.svc})
		j, err := jobs.New(db, jobs.Config{Node: "n1", Workers: workers, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		// A tick of a killed node, stuck "running" until River rescues it.
		res, err := j.Client().Insert(ctx, campaign.TickArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1 WHERE id = $2", time.Now().UTC(), res.Job.ID)
		if err := j.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			j.Stop(stop)
		})
		res, err = j.Client().Insert(ctx, campaign.TickArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.UniqueSkippedAsDuplicate {
			t.Fatal("a tick left running by a killed node keeps the next one out")
		}
		// The tick queues a run job, which finds the lease held and waits.
		time.Sleep(time.Second)
		if got := w.deliveries(t, c.ID); got["sent"] != 0 {
			t.Fatalf("ran while another runner held the lease: %v", got)
		}
		w.clock.Add(2 * time.Second) // the dead runner's lease has run out
		deadline := time.Now().Add(campaign.LeaseTTL + 20*time.Second)
		for {
			if c, _ := w.svc.Get(ctx, c.ID); c.State == campaign.Done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the campaign did not resume after the dead runner's lease ran out: %v", w.deliveries(t, c.ID))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := w.deliveries(t, c.ID); got["sent"] != 4 {
			t.Errorf("deliveries = %v", got)
		}
	})
}
