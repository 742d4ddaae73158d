package jst_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestPullWorkerKeepsTheSchedule(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
		f := newFixture(t, db, now)
		f.sb.Seed(2, 10, now)
		w := &jst.PullWorker{Service: f.s}
		job := func(trigger string) *river.Job[jst.PullArgs] {
			return &river.Job[jst.PullArgs]{JobRow: &rivertype.JobRow{}, Args: jst.PullArgs{Trigger: trigger}}
		}
		runs := func() int {
			r, err := f.s.Runs(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			return len(r)
		}
		// Not set up: the schedule does nothing, a button's pull is cancelled.
		if err := w.Work(ctx, job("schedule")); err != nil || runs() != 0 {
			t.Fatalf("schedule while not set up: %v, %d runs", err, runs())
		}
		if err := w.Work(ctx, job("console")); !errors.As(err, new(*rivertype.JobCancelError)) || runs() != 0 {
			t.Fatalf("console while not set up: %v", err)
		}
		st := f.sandboxSettings()
		st.Enabled = false
		if err := f.s.Save(ctx, st, "admin"); err != nil {
			t.Fatal(err)
		}
		if err := w.Work(ctx, job("schedule")); err != nil || runs() != 0 {
			t.Fatalf("schedule while off: %v, %d runs", err, runs())
		}
		st.Enabled = true
		if err := f.s.Save(ctx, st, "admin"); err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // the ticks of the next minutes: one pull per interval
			if err := w.Work(ctx, job("schedule")); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(time.Minute)
			if runs() != 1 {
				t.Fatalf("tick %d: %d runs", i, runs())
			}
		}
		f.clock.Add(jst.DefaultInterval)
		if err := w.Work(ctx, job("schedule")); err != nil || runs() != 2 {
			t.Fatalf("after the interval: %v, %d runs", err, runs())
		}
		// A pull running elsewhere: the job is cancelled, not retried.
		if _, err := db.W.Exec(`INSERT INTO erp_runs (connector, trigger, node, started_at) VALUES ('jst', 'schedule', 'node-b', $1)`, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		var cancel *rivertype.JobCancelError
		if err := w.Work(ctx, job("console")); !errors.As(err, &cancel) {
			t.Fatalf("while another runs: %v", err)
		}
	})
}
