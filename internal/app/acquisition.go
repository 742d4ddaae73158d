package app

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/channel/wecomwelcome"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
)

// newAcquisition wires customer acquisition (issue 4): the service, the
// welcome sender, the event hooks, the refresh worker and its schedule.
// jobs points at the River client made later; the hooks only run once it
// is there.
func newAcquisition(db *store.DB, g *gate.Gate, conn *wecomsync.Conn, syncer *wecomsync.Syncer, clock kith.Clock, loc *time.Location,
	log *slog.Logger, workers *river.Workers, j **jobs.Jobs) (*acquisition.Service, *river.PeriodicJob) {
	svc := acquisition.NewService(acquisition.Deps{
		DB: db, Platform: syncer.Acquisition(), Gate: g, Clock: clock, Location: loc, Log: log,
		Welcomer: wecomwelcome.New(db, g, conn.Client, clock, log),
	})
	refresh := func(ctx context.Context, q store.Querier, id int64) error {
		args := acquisition.RefreshArgs{ChannelID: id}
		if tx := sqlTx(q); tx != nil {
			_, err := (*j).Client().InsertTx(ctx, tx, args, nil)
			return err
		}
		_, err := (*j).Client().Insert(ctx, args, nil)
		return err
	}
	svc.OnCapReached = refresh
	syncer.OnArrival(svc.Arrive)
	syncer.OnMemberLeft(func(ctx context.Context, q store.Querier, userID string, at time.Time) error {
		changed, err := acquisition.MemberLeft(ctx, q, userID, at)
		if err != nil || len(changed) == 0 {
			return err
		}
		return refresh(ctx, q, 0) // every channel, in this transaction
	})
	river.AddWorker(workers, &acquisition.RefreshWorker{Service: svc})
	periodic := river.NewPeriodicJob(river.PeriodicInterval(acquisition.RefreshEvery), func() (river.JobArgs, *river.InsertOpts) {
		return acquisition.RefreshArgs{}, nil
	}, nil)
	return svc, periodic
}

// sqlTx returns the transaction behind q, or nil.
func sqlTx(q store.Querier) *sql.Tx {
	switch v := q.(type) {
	case *sql.Tx:
		return v
	case *store.CachedTx:
		return v.Tx
	}
	return nil
}
