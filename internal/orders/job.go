package orders

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// RefreshArgs is the daily job that joins pending orders to customers that
// appeared since (Store.LinkPending), moves the customer facts' 30, 90
// and 365-day windows on (Store.RefreshWindows) and ranks every customer's
// RFM score (Store.RefreshRFM).
type RefreshArgs struct{}

// Kind implements river.JobArgs.
func (RefreshArgs) Kind() string { return "orders.refresh_windows" }

// RefreshWorker runs RefreshArgs jobs. A repeated run recomputes the same
// numbers, so it does no harm.
type RefreshWorker struct {
	river.WorkerDefaults[RefreshArgs]
	Store *Store
}

// Work implements river.Worker.
func (w *RefreshWorker) Work(ctx context.Context, _ *river.Job[RefreshArgs]) error {
	if _, err := w.Store.LinkPending(ctx); err != nil {
		return err
	}
	if _, err := w.Store.RefreshWindows(ctx); err != nil {
		return err
	}
	_, err := w.Store.RefreshRFM(ctx)
	return err
}

// Timeout implements river.Worker: a refresh of a million customers takes
// minutes, more than River's default minute.
func (w *RefreshWorker) Timeout(*river.Job[RefreshArgs]) time.Duration { return time.Hour }

// DailyAt is a periodic schedule that fires once a day at hour:minute in
// Loc: the windows start at midnight there.
type DailyAt struct {
	Loc          *time.Location
	Hour, Minute int
}

// Next implements river.PeriodicSchedule.
func (d DailyAt) Next(t time.Time) time.Time {
	l := t.In(d.Loc)
	n := time.Date(l.Year(), l.Month(), l.Day(), d.Hour, d.Minute, 0, 0, d.Loc)
	if !n.After(l) {
		n = time.Date(l.Year(), l.Month(), l.Day()+1, d.Hour, d.Minute, 0, 0, d.Loc)
	}
	return n.UTC()
}

// RefreshJob is the periodic job to give the job runner: daily, five
// minutes after midnight in loc.
func RefreshJob(loc *time.Location) *river.PeriodicJob {
	return river.NewPeriodicJob(DailyAt{Loc: loc, Hour: 0, Minute: 5}, func() (river.JobArgs, *river.InsertOpts) {
		return RefreshArgs{}, nil
	}, nil)
}
