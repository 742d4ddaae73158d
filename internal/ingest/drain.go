package ingest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// The events table is the queue of events to apply: an event that is
// pending with no attempt yet is waiting for the drain loop. Each Kith node
// runs one drain loop (registered with the job client, which starts and
// stops it). The loop wakes when the node commits new events and every
// SweepEvery besides, so events stored by a node that crashed before
// applying them are found by any node; a lease in instance_meta lets one
// node at a time drain, so no event is prepared (which may call the
// platform's API) by two nodes at once. An event that fails is given a
// River job of its own, in the same transaction that records the failure,
// and River retries it with backoff.

// SweepEvery is how often the drain loop looks for pending events even when
// nothing woke it.
const SweepEvery = 10 * time.Second

// drainLeaseKey is the instance_meta row of the drain lease. Its value is
// the expiry in Unix nanoseconds, zero-padded to 20 digits so that strings
// compare as numbers, a space, and the holder's token.
const drainLeaseKey = "ingest.drain_lease"

// leaseTTL is how long a lease lasts unless renewed; the holder renews it
// whenever a third of it passed, and a lease of a node that died lapses
// after it.
const leaseTTL = 30 * time.Second

// drainChunk is how many events the drain loop reads and applies at once.
const drainChunk = 100

// While callbacks arrive faster than busyRate, the drain loop yields to
// them: answering within WeCom's 5 seconds matters, applying seconds later
// does not. It still applies a chunk at least every maxYield, so a long
// burst delays events but never starves them, and it runs at full speed as
// soon as the burst ends. Each chunk applied during a burst holds the one
// SQLite writer for a while (a read, a lease, a transaction of up to
// drainChunk events), which the callbacks queued behind it wait out; every
// 3 s rather than every second keeps that to a third (the intake's p99 and
// CPU per answer in `kith bench callbacks`, docs/operations.md).
const (
	busyRate   = 500 // accepted callbacks per second
	busyWindow = 100 * time.Millisecond
	busyHold   = 300 * time.Millisecond
	busyProbe  = 20 * time.Millisecond
	maxYield   = 3 * time.Second
)

// drainer is the state of a node's drain loop.
type drainer struct {
	wake   chan struct{} // a buffered signal: new events were committed
	holder string        // this node's lease token

	// The callback rate (see note): events committed in the window that
	// began at windowAt, and until when the current burst lasts.
	mu        sync.Mutex
	windowAt  time.Time
	windowN   int
	busyUntil atomic.Int64 // Unix nanoseconds
	// leaseAt is when the lease was last taken or renewed (drain loop only).
	leaseAt time.Time
}

func (d *drainer) init() {
	d.wake = make(chan struct{}, 1)
	d.holder = rand.Text()
}

// kick wakes the drain loop. If the loop is draining, the signal makes it
// look again once it is done, so an event committed before kick is always
// seen by a drain that starts after it.
func (d *drainer) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// drainLoop applies pending events until ctx ends.
func (s *Service) drainLoop(ctx context.Context) {
	if s.applier == nil {
		s.log.Error("inbound events are stored but not applied: the ingest service has no Applier (use Service.Worker)")
		return
	}
	tick := time.NewTicker(SweepEvery)
	defer tick.Stop()
	for {
		if err := s.drainAll(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("applying inbound events failed; trying again soon", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.drain.wake:
		case <-tick.C:
		}
	}
}

// drainAll applies pending events until none is left. Another node holding
// the lease drains them instead; this one waits while it does, and goes on
// if that node stops (its lease lapses).
func (s *Service) drainAll(ctx context.Context) error {
	for {
		ok, err := s.acquireLease(ctx)
		if err != nil {
			return err
		}
		if ok {
			err := s.drainHeld(ctx)
			// Release even when stopping, so another node need not wait.
			if rerr := s.releaseLease(context.WithoutCancel(ctx)); err == nil {
				err = rerr
			}
			if err != nil {
				return err
			}
		}
		// Look again after releasing: an event committed while this node or
		// another one held the lease, after its last read, is found here.
		more, err := s.hasPending(ctx)
		if err != nil || !more {
			return err
		}
		if !ok {
			// Another node drains; check back soon.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// drainHeld applies pending events, oldest first, while this node holds
// the lease.
func (s *Service) drainHeld(ctx context.Context) error {
	for ctx.Err() == nil {
		s.drain.yield(ctx)
		events, err := s.nextPending(ctx)
		if err != nil || len(events) == 0 {
			return err
		}
		if err := s.applyEvents(ctx, s.applier, events, true); err != nil {
			return err
		}
	}
	return nil
}

// note counts n events just committed together. Each busyWindow (or
// longer, between commits) whose rate was above busyRate marks a burst that
// lasts busyHold past it, so short gaps between commits do not end it. So
// does a commit of several events: they arrived while another commit ran,
// which single callbacks trickling in never do, and on a loaded machine the
// rate of a burst can stay under busyRate while applying events takes the
// CPU time answering needs.
func (d *drainer) note(n int) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if n > 1 {
		d.busyUntil.Store(now.Add(busyHold).UnixNano())
	}
	if span := now.Sub(d.windowAt); span >= busyWindow {
		if float64(d.windowN) > busyRate*span.Seconds() {
			d.busyUntil.Store(now.Add(busyHold).UnixNano())
		}
		d.windowAt, d.windowN = now, 0
	}
	d.windowN += n
}

// yield waits while a burst of callbacks lasts, up to maxYield.
func (d *drainer) yield(ctx context.Context) {
	for waited := time.Duration(0); waited < maxYield && time.Now().UnixNano() < d.busyUntil.Load(); waited += busyProbe {
		select {
		case <-ctx.Done():
			return
		case <-time.After(busyProbe):
		}
	}
}

// selectEvent reads the columns scanEvent expects.
const selectEvent = "SELECT id, source, kind, body, received_at, status, attempts, error, applied_at FROM inbound_events"

// nextPending returns the oldest events waiting for their first attempt.
func (s *Service) nextPending(ctx context.Context) ([]*Event, error) {
	rows, err := s.db.R.QueryContext(ctx, selectEvent+" WHERE status = 'pending' AND attempts = 0 ORDER BY id LIMIT $1", drainChunk)
	if err != nil {
		return nil, fmt.Errorf("ingest: read pending events: %w", err)
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ingest: read pending events: %w", err)
	}
	return out, nil
}

// hasPending reports whether an event waits for its first attempt.
func (s *Service) hasPending(ctx context.Context) (bool, error) {
	var id int64
	err := s.db.R.QueryRowContext(ctx, "SELECT id FROM inbound_events WHERE status = 'pending' AND attempts = 0 LIMIT 1").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ingest: look for pending events: %w", err)
	}
	return true, nil
}

func (s *Service) leaseValue(expiry time.Time) string {
	return fmt.Sprintf("%020d %s", expiry.UnixNano(), s.drain.holder)
}

// acquireLease takes the drain lease if it is free, lapsed or already this
// node's, and reports whether this node holds it now.
func (s *Service) acquireLease(ctx context.Context) (bool, error) {
	now := s.clock.Now()
	var n int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO instance_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
			drainLeaseKey, s.leaseValue(now.Add(leaseTTL)))
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 1 {
			return nil
		}
		res, err = tx.ExecContext(ctx, "UPDATE instance_meta SET value = $1 WHERE key = $2 AND (value < $3 OR substr(value, 22) = $4)",
			s.leaseValue(now.Add(leaseTTL)), drainLeaseKey, fmt.Sprintf("%020d", now.UnixNano()), s.drain.holder)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ingest: take the drain lease: %w", err)
	}
	if n == 1 {
		s.drain.leaseAt = now
	}
	return n == 1, nil
}

// renewLease extends the lease inside q when a third of it has passed. It
// fails if the lease was lost (it lapsed and another node took it).
func (s *Service) renewLease(ctx context.Context, q store.Querier) error {
	now := s.clock.Now()
	if now.Sub(s.drain.leaseAt) < leaseTTL/3 {
		return nil
	}
	res, err := q.ExecContext(ctx, "UPDATE instance_meta SET value = $1 WHERE key = $2 AND substr(value, 22) = $3",
		s.leaseValue(now.Add(leaseTTL)), drainLeaseKey, s.drain.holder)
	if err != nil {
		return fmt.Errorf("ingest: renew the drain lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errLeaseLost
	}
	s.drain.leaseAt = now
	return nil
}

// errLeaseLost stops a drain whose lease another node took.
var errLeaseLost = errors.New("ingest: the drain lease lapsed and another node took it")

// releaseLease gives the lease up, if this node still holds it.
func (s *Service) releaseLease(ctx context.Context) error {
	_, err := s.db.W.ExecContext(ctx, "UPDATE instance_meta SET value = $1 WHERE key = $2 AND substr(value, 22) = $3",
		fmt.Sprintf("%020d ", 0), drainLeaseKey, s.drain.holder)
	if err != nil {
		return fmt.Errorf("ingest: release the drain lease: %w", err)
	}
	return nil
}
