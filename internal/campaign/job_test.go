package campaign_test

import (
	"context"
	"io"
	"log/slog"
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

// TestJobs: with River working the jobs, a campaign scheduled for later
// starts at its time (the tick), runs to done (the run job) and nobody
// gets it twice; a recurring one makes an occurrence and moves on.
func TestJobs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 12)
		w.svc.BatchSize = 2
		ft := &fakeTransport{svc: w.svc, sent: map[string]int{}}
		w.svc.Register(campaign.WeCom, ft, nil)
		var j *jobs.Jobs
		workers := river.NewWorkers()
		river.AddWorker(workers, &campaign.TickWorker{Service: w.svc, Jobs: func() campaign.Inserter { return j.Client() }})
		river.AddWorker(workers, &campaign.RunWorker{Service: w.svc, Node: "n1"})
		river.AddWorker(workers, &campaign.PollWorker{Service: w.svc})
		j, err := jobs.New(db, jobs.Config{Node: "n1", Workers: workers, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			j.Stop(stop)
		})
		in := wecomInput(campaign.Audience{Tags: []string{"vip"}})
		in.Schedule = campaign.Schedule{Kind: campaign.At, At: wed10.Add(time.Hour)}
		c := w.create(t, in)
		if _, err := w.svc.Schedule(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		rec := wecomInput(campaign.Audience{Tags: []string{"vip"}})
		rec.Name = "weekly"
		rec.Schedule = campaign.Schedule{Kind: campaign.Recurring, Rule: "daily 10:30"}
		r := w.create(t, rec)
		if _, err := w.svc.Schedule(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		tick := func() {
			if _, err := j.Client().Insert(ctx, campaign.TickArgs{}, nil); err != nil {
				t.Fatal(err)
			}
		}
		tick()
		time.Sleep(300 * time.Millisecond)
		if c, _ := w.svc.Get(ctx, c.ID); c.State != campaign.Scheduled {
			t.Fatalf("started before its time: %s", c.State)
		}
		w.clock.Add(time.Hour)
		tick()
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, _ = w.svc.Get(ctx, c.ID)
			list, _ := w.svc.List(ctx, 10)
			done := 0
			for _, x := range list {
				if x.State == campaign.Done {
					done++
				}
			}
			if done == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("campaigns: %+v", list)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// vip (6) minus 6 and 12 (no consent): 4, by each of two campaigns.
		if got := w.deliveries(t, c.ID); got["sent"] != 4 {
			t.Errorf("deliveries = %v", got)
		}
		for k, n := range ft.sent {
			if n != 2 {
				t.Errorf("%s got %d messages, want 2 (one per campaign)", k, n)
			}
		}
		r, _ = w.svc.Get(ctx, r.ID)
		if r.State != campaign.Scheduled || !r.Schedule.At.After(w.clock.Now()) {
			t.Errorf("recurring after its occurrence: %s at %v", r.State, r.Schedule.At)
		}
	})
}

// TestLease: a second runner does not run a campaign another holds; it
// may once the holder's lease ran out.
func TestLease(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 12)
		w.svc.BatchSize = 2
		hold := &holdTransport{fakeTransport: fakeTransport{svc: w.svc, sent: map[string]int{}}, in: make(chan struct{}), out: make(chan struct{})}
		w.svc.Register(campaign.WeCom, hold, nil)
		c := started(t, w)
		done := make(chan error)
		go func() {
			_, err := w.svc.Run(ctx, c.ID, "n1", time.Minute)
			done <- err
		}()
		<-hold.in // n1 is in a call
		if st, err := w.svc.Run(ctx, c.ID, "n2", time.Minute); st != campaign.Held || err != nil {
			t.Errorf("n2 while n1 holds the lease: %v %v", st, err)
		}
		close(hold.out)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := w.deliveries(t, c.ID); got["sent"] != 4 {
			t.Errorf("deliveries = %v", got)
		}
	})
}

type holdTransport struct {
	fakeTransport
	in, out chan struct{}
	once    bool
}

func (h *holdTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	if !h.once {
		h.once = true
		h.in <- struct{}{}
		<-h.out
	}
	return h.fakeTransport.Send(ctx, permits, b)
}

// TestKilledPollDoesNotDelayPolls: the ticks of one period queue one poll
// of a campaign; a poll left "running" by a killed node (until River
// rescues it, an hour later) does not keep the next period's poll out.
func TestKilledPollDoesNotDelayPolls(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 12)
		w.svc.BatchSize = 2
		w.svc.Register(campaign.WeCom, &fakeTransport{svc: w.svc, sent: map[string]int{}}, nil)
		c := started(t, w)
		runAll(t, w.svc, c.ID)
		workers := river.NewWorkers()
		river.AddWorker(workers, &campaign.PollWorker{Service: w.svc})
		j, err := jobs.New(db, jobs.Config{Node: "n1", Workers: workers, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		tick := &campaign.TickWorker{Service: w.svc, Jobs: func() campaign.Inserter { return j.Client() }}
		polls := func() []int64 {
			t.Helper()
			if err := tick.Work(ctx, &river.Job[campaign.TickArgs]{}); err != nil {
				t.Fatal(err)
			}
			rows, err := db.R.QueryContext(ctx, "SELECT id FROM river_job WHERE kind = 'campaign.poll' ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var ids []int64
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				ids = append(ids, id)
			}
			return ids
		}
		polls()
		if ids := polls(); len(ids) != 1 {
			t.Fatalf("two ticks of one period queued %d polls, want 1", len(ids))
		}
		// The poll's node is killed while it runs.
		mustExec(t, db, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1", time.Now().UTC())
		w.clock.Add(campaign.PollEvery)
		if ids := polls(); len(ids) != 2 {
			t.Fatalf("after a killed poll, the next period has %d polls in all, want 2: the killed one delays the next", len(ids))
		}
		w.clock.Add(time.Minute)
		if ids := polls(); len(ids) != 2 {
			t.Errorf("a tick a minute later queued another poll of the same period: %d in all", len(ids))
		}
	})
}
