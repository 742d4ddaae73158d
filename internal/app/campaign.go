package app

import (
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/wecomgroup"
	"github.com/kith-scrm/kith/internal/channel/wecommoment"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
)

// newCampaigns wires campaigns (issue 7): the service, the WeCom
// group-message channel, the tick, run and poll workers and the tick's
// schedule. SMS and e-mail campaigns plan (numbers and addresses are
// opened with prot) and send through the providers configured in the
// console (providerChannels, registered by the caller). jobs points at the
// River client made later.
func newCampaigns(db *store.DB, g *gate.Gate, conn *wecomsync.Conn, prot *protect.Protector, clock kith.Clock, loc *time.Location, node string,
	workers *river.Workers, j **jobs.Jobs) (*campaign.Service, *river.PeriodicJob) {
	svc := campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock, Location: loc,
		Addresses: &campaign.EmailAddresser{DB: db, Opener: prot, Next: &campaign.PhoneAddresser{DB: db, Opener: prot}}})
	// SMS and e-mail: each step hands over up to 4 batches, the next one
	// prepared and claimed while the one before sends (WeCom, which has a
	// reconciler, goes one batch at a time).
	svc.Overlap = campaign.ServerOverlap
	svc.Register(campaign.WeCom, wecomgroup.New(svc.Claimer(), conn.Client, clock), wecomgroup.NewReconciler(conn.Client, clock))
	svc.RegisterFollower(campaign.WeCom, wecomgroup.NewFollower(conn.Client))
	// Customer moments: each batch's own tag on the permitted customers, one
	// moment task per member and batch (internal/channel/wecommoment).
	svc.Register(campaign.WeComMoment, wecommoment.New(svc.Claimer(), conn.Client, db, clock), wecommoment.NewReconciler(conn.Client, db, clock))
	svc.RegisterFollower(campaign.WeComMoment, wecommoment.NewFollower(conn.Client, db, clock))
	river.AddWorker(workers, &campaign.TickWorker{Service: svc, Jobs: func() campaign.Inserter { return (*j).Client() }})
	river.AddWorker(workers, &campaign.RunWorker{Service: svc, Node: node})
	river.AddWorker(workers, &campaign.PollWorker{Service: svc})
	tick := river.NewPeriodicJob(river.PeriodicInterval(campaign.TickEvery), func() (river.JobArgs, *river.InsertOpts) {
		return campaign.TickArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
	return svc, tick
}

// newMomentStats wires the periodic read of the moments' likes and comments
// (read-only; Kith never likes or comments).
func newMomentStats(db *store.DB, conn *wecomsync.Conn, clock kith.Clock, workers *river.Workers) *river.PeriodicJob {
	river.AddWorker(workers, &wecommoment.StatsWorker{Follower: wecommoment.NewFollower(conn.Client, db, clock)})
	return river.NewPeriodicJob(river.PeriodicInterval(wecommoment.StatsEvery), func() (river.JobArgs, *river.InsertOpts) {
		return wecommoment.StatsArgs{}, nil
	}, nil)
}
