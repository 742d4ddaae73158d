package wecompay

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/wecom"
)

// PullArgs is the job that pulls external payments.
type PullArgs struct{}

// Kind implements river.JobArgs.
func (PullArgs) Kind() string { return "wecompay.pull" }

// PullWorker runs PullArgs jobs. A pull is idempotent (payments are keyed
// by transaction id), so a repeated run does no harm.
type PullWorker struct {
	river.WorkerDefaults[PullArgs]
	Store *orders.Store
	// Client returns the WeCom client of the configured corp, or an
	// EUNAVAILABLE error while WeCom is not configured (then the job does
	// nothing).
	Client func(ctx context.Context) (*wecom.Client, error)
	Clock  kith.Clock
}

// Work implements river.Worker.
func (w *PullWorker) Work(ctx context.Context, _ *river.Job[PullArgs]) error {
	c, err := w.Client(ctx)
	if kith.ErrorCode(err) == kith.EUNAVAILABLE {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = (&Puller{Store: w.Store, Lister: c}).Pull(ctx, w.Clock.Now())
	return err
}

// Timeout implements river.Worker: the first pull reads a year.
func (w *PullWorker) Timeout(*river.Job[PullArgs]) time.Duration { return 30 * time.Minute }

// PullEvery is how often payments are pulled.
const PullEvery = time.Hour
