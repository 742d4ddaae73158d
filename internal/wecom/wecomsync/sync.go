package wecomsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
)

// Syncer pulls WeCom's state into Kith and writes changes through to WeCom.
type Syncer struct {
	db    *store.DB
	conn  *Conn
	clock kith.Clock
	log   *slog.Logger
	// protector seals the phone numbers members noted for customers; when
	// nil, phone numbers are not stored.
	protector *protect.Protector
	// ledger records opt-outs (a customer deleting the member); it needs
	// the instance's suppression key, so UseLedger must be called before
	// such an event is applied.
	ledger *consent.Ledger
}

// UseLedger makes the Syncer record consent events (opt-outs) through l.
func (s *Syncer) UseLedger(l *consent.Ledger) { s.ledger = l }

// UseProtector makes the Syncer store the phone numbers members noted for
// customers (remark_mobiles), sealed by p.
func (s *Syncer) UseProtector(p *protect.Protector) { s.protector = p }

// phones seals a relation's remark mobiles: nil (leave the stored ones)
// without a protector. Numbers that are not phone numbers are skipped and
// counted, never logged.
func (s *Syncer) phones(mobiles []string) []protect.Sealed {
	if s.protector == nil {
		return nil
	}
	out := []protect.Sealed{}
	skipped := 0
	for _, m := range mobiles {
		sealed, err := s.protector.Seal(protect.FieldPhone, m)
		if err != nil {
			skipped++
			continue
		}
		out = append(out, sealed)
	}
	if skipped > 0 {
		s.log.Warn("wecomsync: skipped remark mobiles that are not phone numbers", "count", skipped)
	}
	return out
}

// NewSyncer returns a Syncer.
func NewSyncer(db *store.DB, conn *Conn, clock kith.Clock, log *slog.Logger) *Syncer {
	return &Syncer{db: db, conn: conn, clock: clock, log: log}
}

// Run is one full sync.
type Run struct {
	ID         int64
	StartedAt  time.Time
	FinishedAt *time.Time
	Status     string // running, done, failed
	Trigger    string
	Members    int
	Tags       int
	Customers  int // customer records written (one per relation seen)
	Relations  int
	Ended      int // relations found gone
	Error      string
}

// staleRun is how long a run may say "running" before it is taken for one
// whose process died.
const staleRun = 2 * time.Hour

// batchSize is how many relations one transaction writes during a sync, so
// the SQLite write lock is held briefly and progress shows.
const batchSize = 200

// FullSync pulls every member with customer-contact permission, every corp
// tag and every customer relation, and ends the local relations WeCom no
// longer has. Only one runs at a time across the cluster; a second call
// gets ECONFLICT. progress, if set, is called after each batch.
func (s *Syncer) FullSync(ctx context.Context, trigger string, progress func(Run)) (*Run, error) {
	client, err := s.conn.Client(ctx)
	if err != nil {
		return nil, err
	}
	run, err := s.startRun(ctx, trigger)
	if err != nil {
		return nil, err
	}
	err = s.fullSync(ctx, client, run, progress)
	finish := s.clock.Now()
	run.FinishedAt = &finish
	run.Status = "done"
	if err != nil {
		run.Status, run.Error = "failed", err.Error()
	}
	if uerr := s.saveRun(context.WithoutCancel(ctx), run); uerr != nil {
		s.log.Error("record the end of a sync", "run", run.ID, "err", uerr)
	}
	if err != nil {
		return run, fmt.Errorf("wecomsync: full sync: %w", err)
	}
	s.log.Info("full sync done", "run", run.ID, "members", run.Members, "tags", run.Tags, "relations", run.Relations, "ended", run.Ended)
	return run, nil
}

func (s *Syncer) startRun(ctx context.Context, trigger string) (*Run, error) {
	now := s.clock.Now()
	run := &Run{StartedAt: now, Status: "running", Trigger: trigger}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE sync_runs SET status = 'failed', error = 'interrupted', finished_at = $1 WHERE status = 'running' AND started_at < $2",
			now, now.Add(-staleRun)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "INSERT INTO sync_runs (started_at, trigger) VALUES ($1, $2) RETURNING id", now, trigger).Scan(&run.ID)
	})
	if store.IsUniqueViolation(err) {
		return nil, kith.Errorf(kith.ECONFLICT, "A full sync is running already; wait for it to finish.")
	}
	if err != nil {
		return nil, fmt.Errorf("wecomsync: start run: %w", err)
	}
	return run, nil
}

func (s *Syncer) saveRun(ctx context.Context, r *Run) error {
	_, err := s.db.W.ExecContext(ctx, `UPDATE sync_runs SET status = $1, finished_at = $2, members = $3, tags = $4, customers = $5, relations = $6, ended = $7, error = $8 WHERE id = $9`,
		r.Status, r.FinishedAt, r.Members, r.Tags, r.Customers, r.Relations, r.Ended, r.Error, r.ID)
	return err
}

func (s *Syncer) fullSync(ctx context.Context, client *wecom.Client, run *Run, progress func(Run)) error {
	report := func() {
		if err := s.saveRun(ctx, run); err != nil {
			s.log.Warn("record sync progress", "err", err)
		}
		if progress != nil {
			progress(*run)
		}
	}
	userIDs, err := client.FollowUserList(ctx)
	if err != nil {
		return fmt.Errorf("members with customer contact: %w", err)
	}
	var members []customer.Member
	for _, id := range userIDs {
		u, err := client.GetUser(ctx, id)
		if wecom.ErrorCode(err) == wecom.CodeUserNotFound {
			continue // listed but gone since: it comes back as left through events
		}
		if err != nil {
			return fmt.Errorf("member %s: %w", id, err)
		}
		members = append(members, toMember(u))
	}
	groups, err := client.CorpTagList(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("corp tags: %w", err)
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, m := range members {
			if err := customer.ApplyMember(ctx, tx, m, now); err != nil {
				return err
			}
		}
		var local []customer.TagGroup
		for _, g := range groups {
			if g.Deleted {
				continue
			}
			local = append(local, toTagGroup(g))
			run.Tags += len(local[len(local)-1].Tags)
		}
		return customer.ReplaceTags(ctx, tx, local, now)
	})
	if err != nil {
		return err
	}
	run.Members = len(members)
	report()

	var batch []wecom.ExternalContactWithFollow
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		now := s.clock.Now()
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			for _, item := range batch {
				id, err := customer.ApplyCustomer(ctx, tx, toCustomer(item.ExternalContact), now)
				if err != nil {
					return err
				}
				f := followFromInfo(item.FollowInfo)
				f.Synced = true
				f.Phones = s.phones(item.FollowInfo.RemarkMobiles)
				if err := customer.ApplyFollow(ctx, tx, id, f, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		run.Relations += len(batch)
		run.Customers += len(batch)
		batch = batch[:0]
		report()
		return nil
	}
	// batch/get_by_user takes at most 100 members at a time.
	var unlicensed []string
	for start := 0; start < len(userIDs); start += 100 {
		chunk := userIDs[start:min(start+100, len(userIDs))]
		err := client.AllByUser(ctx, chunk, func(item wecom.ExternalContactWithFollow) error {
			batch = append(batch, item)
			if len(batch) >= batchSize {
				return flush()
			}
			return nil
		})
		var ue *wecom.UnlicensedError
		if errors.As(err, &ue) {
			// WeCom left out members without an interop licence; the rest
			// was read. Their relations are kept as they were.
			unlicensed = append(unlicensed, ue.UserIDs...)
			continue
		}
		if err != nil {
			return fmt.Errorf("customers of members %d–%d: %w", start+1, start+len(chunk), err)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(unlicensed) > 0 {
		// Without every member's relations, "not seen" does not mean gone.
		run.Error = fmt.Sprintf("%d members have no interop licence, so WeCom did not list their customers: %v; their relations were left as they were", len(unlicensed), unlicensed)
		s.log.Warn("full sync: members without licence", "members", unlicensed)
		return nil
	}
	ended, err := customer.EndUnseenFollows(ctx, s.db.W, run.StartedAt, s.clock.Now())
	if err != nil {
		return err
	}
	run.Ended = int(ended)
	return nil
}

// LastRun returns the newest sync run, or nil if none ran.
func (s *Syncer) LastRun(ctx context.Context) (*Run, error) {
	var r Run
	var finished sql.NullTime
	err := s.db.R.QueryRowContext(ctx, `SELECT id, started_at, finished_at, status, trigger, members, tags, customers, relations, ended, error
		FROM sync_runs ORDER BY id DESC LIMIT 1`).
		Scan(&r.ID, &r.StartedAt, &finished, &r.Status, &r.Trigger, &r.Members, &r.Tags, &r.Customers, &r.Relations, &r.Ended, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wecomsync: last run: %w", err)
	}
	if finished.Valid {
		r.FinishedAt = &finished.Time
	}
	return &r, nil
}
