package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// LeaseTTL is how long a runner holds a campaign without renewing. A
// runner renews its lease every LeaseRenew while it works and cancels its
// batch's call as soon as another runner took the lease, or when no
// renewal has succeeded for LeaseTTL/2 (a database too busy to answer). So
// a runner that lost its lease has stopped calling the platform at least
// LeaseTTL/2 (10 s, a WeCom client's round-trip timeout) before the lease
// runs out, and another runner that takes the campaign over may treat the
// batch it finds 'calling' as in doubt. Short, so a campaign whose runner
// was killed resumes within seconds. The nodes' clocks must agree to well
// within that margin (NTP).
const LeaseTTL = 20 * time.Second

// LeaseRenew is how often a runner renews its lease while it works.
const LeaseRenew = LeaseTTL / 5

// acquire takes campaign id's run lease for owner: it fails when another
// owner holds an unexpired one.
func (s *Service) acquire(ctx context.Context, id int64, owner string) (bool, error) {
	now := s.clock.Now().UTC()
	res, err := s.db.W.ExecContext(ctx, `UPDATE campaigns SET run_owner = $1, run_lease = $2 WHERE id = $3 AND state = 'running'
		AND (run_lease IS NULL OR run_lease < $4 OR run_owner = $1)`, owner, now.Add(LeaseTTL), id, now)
	if err != nil {
		return false, fmt.Errorf("campaign: lease %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// renew extends owner's lease on campaign id, whatever the campaign's state
// now (a campaign cancelled meanwhile lets its batch finish): it fails when
// another owner took the lease.
func (s *Service) renew(ctx context.Context, id int64, owner string) (bool, error) {
	res, err := s.db.W.ExecContext(ctx, "UPDATE campaigns SET run_lease = $1 WHERE id = $2 AND run_owner = $3", s.clock.Now().UTC().Add(LeaseTTL), id, owner)
	if err != nil {
		return false, fmt.Errorf("campaign: renew lease %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// keep renews owner's lease every LeaseRenew until the returned stop is
// called. It cancels ctx, so the batch's call stops, when the lease was
// taken by another owner or when no renewal succeeded for LeaseTTL/2.
func (s *Service) keep(ctx context.Context, cancel context.CancelCauseFunc, id int64, owner string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(LeaseRenew)
		defer t.Stop()
		last := time.Now() // Run acquired the lease just before
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			rctx, rcancel := context.WithDeadline(ctx, last.Add(LeaseTTL/2))
			ok, err := s.renew(rctx, id, owner)
			rcancel()
			switch {
			case err == nil && ok:
				last = start
			case err == nil:
				cancel(kith.Errorf(kith.EUNAVAILABLE, "campaign: %d: another runner took the run lease; the batch in flight stops", id))
				return
			case !time.Now().Before(last.Add(LeaseTTL / 2)):
				cancel(kith.Errorf(kith.EUNAVAILABLE, "campaign: %d: the run lease could not be renewed for %s (%v); the batch in flight stops", id, LeaseTTL/2, err))
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (s *Service) release(ctx context.Context, id int64, owner string) {
	s.db.W.ExecContext(ctx, "UPDATE campaigns SET run_lease = NULL WHERE id = $1 AND run_owner = $2", id, owner)
}

// Run advances campaign id for up to budget under a lease held by owner
// (the node's name): batch after batch, renewing the lease before each and
// every LeaseRenew while one is in flight. It returns the last Step: Held
// when another runner holds the campaign, Idle when it is not running.
func (s *Service) Run(ctx context.Context, id int64, owner string, budget time.Duration) (Step, error) {
	ok, err := s.acquire(ctx, id, owner)
	if err != nil {
		return Idle, err
	}
	if !ok {
		return s.held(ctx, id)
	}
	defer s.release(context.WithoutCancel(ctx), id, owner)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer s.keep(ctx, cancel, id, owner)()
	deadline := time.Now().Add(budget) // the job's running time, not the campaign's clock
	for {
		st, err := s.RunBatch(ctx, id)
		if cause := context.Cause(ctx); err != nil && cause != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		if err != nil || st != Progressed || time.Now().After(deadline) {
			return st, err
		}
		if ok, err := s.acquire(ctx, id, owner); err != nil || !ok {
			return Idle, err
		}
	}
}

// held tells a campaign another runner holds (Held) from one that is no
// longer running (Idle).
func (s *Service) held(ctx context.Context, id int64) (Step, error) {
	c, err := s.Get(ctx, id)
	if err != nil || c.State != Running {
		return Idle, err
	}
	return Held, nil
}

// StartDue starts every scheduled campaign whose time has come: a
// recurring one first makes its occurrence (a campaign of its own, named
// with the date) and moves on to its next time. It returns the ids of the
// campaigns planned and running.
func (s *Service) StartDue(ctx context.Context) ([]int64, error) {
	ids, err := s.Due(ctx)
	if err != nil {
		return nil, err
	}
	var started []int64
	var errs []error
	for _, id := range ids {
		c, err := s.Get(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.State == Scheduled && c.Schedule.Kind == Recurring {
			if id, err = s.occurrence(ctx, c); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if _, err := s.Plan(ctx, id); err != nil {
			switch kith.ErrorCode(err) {
			case kith.EINVALID, kith.ENOTFOUND, kith.EUNAVAILABLE:
				// It will not plan by waiting (its segment was deleted, its
				// channel has no addresses): it fails, saying why, and the
				// other campaigns go on.
				if ferr := s.transition(ctx, s.db.W, id, Running, Failed, kith.ErrorMessage(err)); ferr != nil {
					errs = append(errs, ferr)
				}
			default:
				errs = append(errs, err)
			}
			continue
		}
		started = append(started, id)
	}
	return started, errors.Join(errs...)
}

// occurrence copies recurring campaign c as a scheduled campaign for its
// current time and moves c to its rule's next time, in one transaction.
func (s *Service) occurrence(ctx context.Context, c Campaign) (int64, error) {
	r, err := ParseRule(c.Schedule.Rule)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now().UTC()
	content, _ := json.Marshal(c.Content)
	audience, _ := json.Marshal(c.Audience)
	var id int64
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE campaigns SET scheduled_at = $1, updated_at = $2 WHERE id = $3 AND state = 'scheduled' AND scheduled_at = $4",
			r.Next(now, s.loc), now, c.ID, c.Schedule.At.UTC())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("campaign: %d moved on meanwhile", c.ID)
		}
		name := c.Name + " " + c.Schedule.At.In(s.loc).Format("2006-01-02 15:04")
		return tx.QueryRowContext(ctx, `INSERT INTO campaigns (name, purpose, channel, msg_type, content, content_hash, audience, schedule_kind,
			scheduled_at, recurrence, state, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'at', $8, '', 'scheduled', $9, $10, $10) RETURNING id`,
			name, c.Purpose, c.Channel, c.Type, string(content), c.Content.Hash(), string(audience), c.Schedule.At.UTC(), c.CreatedBy, now).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("campaign: occurrence of %d: %w", c.ID, err)
	}
	return id, nil
}

// Unfinished returns the running campaigns with deliveries still to hand
// over or batches in doubt, and the campaigns with messages a platform has
// not reported on yet (younger than FollowFor).
func (s *Service) Unfinished(ctx context.Context) (run, poll []int64, err error) {
	q := func(query string, args ...any) ([]int64, error) {
		rows, err := s.db.R.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("campaign: unfinished: %w", err)
		}
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return ids, rows.Err()
	}
	if run, err = q("SELECT id FROM campaigns WHERE state = 'running' AND planned_at IS NOT NULL ORDER BY id"); err != nil {
		return nil, nil, err
	}
	poll, err = q(`SELECT DISTINCT b.campaign_id FROM campaign_batches b JOIN campaign_deliveries d ON d.batch_id = b.id
		WHERE d.state = 'sent' AND b.provider_id <> '' AND b.marked_at > $1 ORDER BY b.campaign_id`, s.clock.Now().UTC().Add(-FollowFor))
	return run, poll, err
}

// FollowFor is how long a platform's reports on a campaign are read.
const FollowFor = 7 * 24 * time.Hour
