package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// TickEvery is how often due campaigns are started and unfinished ones
// picked up again (after a crash, a campaign resumes within LeaseTTL plus
// this).
const TickEvery = time.Minute

// queued are the states a poll is deduplicated in (within its period,
// see PollArgs.InsertOpts): a finished one does not stop the next.
var queued = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// TickArgs is the periodic job that starts due campaigns and queues the
// run and poll jobs of unfinished ones; it also prunes SMS delivery reports
// older than KeepSMSReports.
type TickArgs struct{}

// Kind implements river.JobArgs.
func (TickArgs) Kind() string { return "campaign.tick" }

// InsertOpts: ticks are not unique. A tick that was running when its node
// was killed stays "running" until River rescues it (an hour later); a
// unique tick would wait for it, and no campaign would start or resume
// meanwhile. Two ticks that overlap are harmless: a campaign moves to
// running once, planning again inserts nothing twice, and the run lease
// keeps runners apart.
func (TickArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// RunArgs is the job that hands a campaign's batches over.
type RunArgs struct {
	CampaignID int64 `json:"campaign_id"`
}

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return "campaign.run" }

// InsertOpts: run jobs are not unique. A runner that died holds its job
// "running" until River rescues it, which a unique job would wait for; the
// campaign's lease, not River, keeps two runners apart, and a second job
// finds the lease held and ends at once.
func (RunArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// PollArgs is the job that reads a campaign's results from the platform.
type PollArgs struct {
	CampaignID int64 `json:"campaign_id"`
}

// Kind implements river.JobArgs.
func (PollArgs) Kind() string { return "campaign.poll" }

// InsertOpts makes a campaign's polls unique per PollEvery period of the
// time they are scheduled for (the tick schedules each one PollEvery
// ahead): the ticks of one period insert one poll. Unique by campaign
// alone, a poll whose node was killed would hold the campaign's only
// place — it stays "running" until River rescues it, an hour later — and
// no poll would run meanwhile; here it holds its own period only, and the
// next period's poll is inserted and runs on time.
func (PollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: PollEvery, ByState: queued}}
}

// Inserter enqueues jobs (a River client).
type Inserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// TickWorker runs TickArgs.
type TickWorker struct {
	river.WorkerDefaults[TickArgs]
	Service *Service
	Jobs    func() Inserter
}

// Work implements river.Worker.
func (w *TickWorker) Work(ctx context.Context, job *river.Job[TickArgs]) error {
	started, err := w.Service.StartDue(ctx)
	ins := w.Jobs()
	for _, id := range started {
		if _, ierr := ins.Insert(ctx, RunArgs{CampaignID: id}, nil); ierr != nil {
			return ierr
		}
	}
	if err != nil {
		return err
	}
	run, poll, err := w.Service.Unfinished(ctx)
	if err != nil {
		return err
	}
	for _, id := range run {
		if _, err := ins.Insert(ctx, RunArgs{CampaignID: id}, nil); err != nil {
			return err
		}
	}
	for _, id := range poll {
		if _, err := ins.Insert(ctx, PollArgs{CampaignID: id}, &river.InsertOpts{ScheduledAt: w.Service.clock.Now().Add(PollEvery)}); err != nil {
			return err
		}
	}
	_, err = w.Service.PruneSMSReports(ctx)
	return err
}

// PollEvery is the pause between two reads of a campaign's results.
const PollEvery = 5 * time.Minute

// RunWorker runs RunArgs: batches for up to RunBudget under the
// campaign's lease, then again a little later until the campaign is done.
type RunWorker struct {
	river.WorkerDefaults[RunArgs]
	Service *Service
	Node    string // this node's name; the lease's owner is it and the job's id
}

// RunBudget is how long one run job hands batches over before it makes
// room for other jobs.
const RunBudget = time.Minute

// Work implements river.Worker.
func (w *RunWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	st, err := w.Service.Run(ctx, job.Args.CampaignID, fmt.Sprintf("%s/%d", w.Node, job.ID), RunBudget)
	switch {
	case err != nil:
		return err
	case st == Progressed:
		return river.JobSnooze(time.Second)
	case st == Held && time.Since(job.CreatedAt) < 3*LeaseTTL:
		// Another runner holds the campaign, or held it and died (kill -9,
		// a lost machine): look again once its lease could have run out, so
		// a restarted node resumes the campaign without waiting for the
		// next tick. A live holder keeps renewing; then this job ends.
		return river.JobSnooze(LeaseTTL / 2)
	case st == InDoubt:
		return river.JobSnooze(30 * time.Second)
	case st == Waiting:
		c, err := w.Service.Get(ctx, job.Args.CampaignID)
		if err != nil {
			return err
		}
		return river.JobSnooze(max(time.Second, c.ResumeAt.Sub(w.Service.clock.Now())))
	}
	return nil
}

// PollWorker runs PollArgs.
type PollWorker struct {
	river.WorkerDefaults[PollArgs]
	Service *Service
}

// Work implements river.Worker: the next tick polls again while some wait.
func (w *PollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	_, err := w.Service.Poll(ctx, job.Args.CampaignID)
	return err
}
