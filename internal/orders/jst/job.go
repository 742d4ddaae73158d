package jst

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/kith"
)

// PullArgs is the job that pulls orders with the saved settings: enqueued
// every TickEvery by the cluster's leader (Trigger "schedule", which pulls
// only when the connector is on and its interval has passed), and by the
// console's "pull now" button (Trigger "console").
type PullArgs struct {
	Trigger string `json:"trigger"`
	By      string `json:"by,omitempty"` // the user who asked
}

// Kind implements river.JobArgs.
func (PullArgs) Kind() string { return "jst.pull" }

// InsertOpts implements river.JobArgsWithInsertOpts: a failed pull is not
// tried again by River — the next scheduled one picks up from the cursor.
func (PullArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// TickEvery is how often the schedule is looked at; the connector's own
// interval (Settings.Interval) decides when a pull runs.
const TickEvery = time.Minute

// PullWorker runs PullArgs jobs.
type PullWorker struct {
	river.WorkerDefaults[PullArgs]
	Service *Service
}

// Work implements river.Worker. A pull refused because another node runs
// one, or because the connector is not set up, ends the job quietly; a
// failed pull is recorded in its run and the job cancelled.
func (w *PullWorker) Work(ctx context.Context, job *river.Job[PullArgs]) error {
	if job.Args.Trigger == "schedule" {
		due, err := w.Service.Due(ctx)
		if err != nil || !due {
			return err
		}
	}
	_, err := w.Service.Pull(ctx, job.Args.Trigger, job.Args.By)
	switch {
	case err == nil:
		return nil
	case kith.ErrorCode(err) == kith.ECONFLICT || kith.ErrorCode(err) == kith.EUNAVAILABLE:
		return river.JobCancel(errors.New(kith.ErrorMessage(err)))
	}
	return err
}

// Timeout implements river.Worker: a first pull reads 90 days, seven at a
// time.
func (w *PullWorker) Timeout(*river.Job[PullArgs]) time.Duration { return 30 * time.Minute }

// Tick is the periodic job to give the job runner.
func Tick() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(TickEvery), func() (river.JobArgs, *river.InsertOpts) {
		return PullArgs{Trigger: "schedule"}, nil
	}, nil)
}
