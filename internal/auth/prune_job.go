package auth

import (
	"context"

	"github.com/riverqueue/river"
)

// PruneArgs is the periodic job that deletes ended sessions and old failed
// sign-ins.
type PruneArgs struct{}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return "auth.prune" }

// PruneWorker runs PruneArgs jobs. Deleting what has expired is idempotent,
// so a repeated run does no harm.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	Service *Service
}

// Work implements river.Worker.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	_, err := w.Service.PruneExpired(ctx)
	return err
}
