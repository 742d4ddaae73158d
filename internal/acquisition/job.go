package acquisition

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// RefreshEvery is how often every channel's code is checked against its
// plan: shifts start and end on the minute, so a code changes at most this
// long after a boundary.
const RefreshEvery = time.Minute

// RefreshArgs is the job that keeps codes' member lists current: one
// channel (a cap was reached, its plan changed) or all (ChannelID 0: on
// schedule, after a member left).
type RefreshArgs struct {
	ChannelID int64 `json:"channel_id,omitempty"`
}

// Kind implements river.JobArgs.
func (RefreshArgs) Kind() string { return "acquisition.refresh" }

// InsertOpts: a refresh reads the newest state and is cheap when nothing
// changed, so jobs are not made unique (a unique one still running could
// have read the state before the arrival that asked for it).
func (RefreshArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// RefreshWorker runs RefreshArgs jobs. It is idempotent: it compares the
// plan with the code and calls WeCom only when they differ.
type RefreshWorker struct {
	river.WorkerDefaults[RefreshArgs]
	Service *Service
}

// Work implements river.Worker.
func (w *RefreshWorker) Work(ctx context.Context, job *river.Job[RefreshArgs]) error {
	if job.Args.ChannelID != 0 {
		_, err := w.Service.Refresh(ctx, job.Args.ChannelID)
		return err
	}
	_, err := w.Service.RefreshAll(ctx)
	return err
}
