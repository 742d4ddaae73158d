package wecomsync

import (
	"context"
	"errors"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/kith"
)

// SyncArgs is the job that runs a full sync: enqueued by the console's
// button, on a schedule, and at the first start in sandbox mode.
type SyncArgs struct {
	Trigger string `json:"trigger"`
}

// Kind implements river.JobArgs.
func (SyncArgs) Kind() string { return "wecom.full_sync" }

// InsertOpts keeps one full sync queued or running at a time: a second
// request while one waits or runs is dropped.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// SyncWorker runs SyncArgs jobs.
type SyncWorker struct {
	river.WorkerDefaults[SyncArgs]
	Syncer *Syncer
}

// Work implements river.Worker. A sync refused because another runs, or
// because WeCom is not configured, is not retried.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	_, err := w.Syncer.FullSync(ctx, job.Args.Trigger, nil)
	switch kith.ErrorCode(err) {
	case kith.ECONFLICT, kith.EUNAVAILABLE:
		w.Syncer.log.Info("full sync skipped", "reason", kith.ErrorMessage(err))
		return river.JobCancel(errors.New(kith.ErrorMessage(err)))
	}
	return err
}
