package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/store"
)

// Write is the database half of applying an event. It runs inside the
// transaction that marks the event applied; q prepares each statement once
// per transaction.
type Write func(ctx context.Context, q store.Querier) error

// Applier turns an event into its effects. Prepare may call the platform's
// API (it runs outside any transaction) and returns the Write to commit, or
// a nil Write for an event kind it only keeps (the event is then marked
// stored). An error is retried later.
type Applier interface {
	Prepare(ctx context.Context, source, kind string, body []byte) (Write, error)
}

// ApplyWorker works the jobs that retry events whose first attempt failed.
// Make it with Service.Worker, which also gives the service's drain loop
// its Applier.
type ApplyWorker struct {
	river.WorkerDefaults[ApplyArgs]
	Service *Service
	Applier Applier
}

// applyChunk is how many events one transaction applies.
const applyChunk = 100

// Worker returns the worker of retry jobs, to register with the job client,
// and makes a the Applier of the drain loop. Call it before the job client
// starts.
func (s *Service) Worker(a Applier) *ApplyWorker {
	s.applier = a
	return &ApplyWorker{Service: s, Applier: a}
}

// prepared is an event whose Write is ready to commit.
type prepared struct {
	ev    *Event
	write Write
}

// failure is an event that could not be applied this time.
type failure struct {
	id  int64
	err error
}

// Work implements river.Worker: a retry of one event (EventID) returns its
// failure, and River retries it with backoff; a batch from an older version
// (EventIDs) is applied like a drain, each failed event getting a job of
// its own.
func (w *ApplyWorker) Work(ctx context.Context, job *river.Job[ApplyArgs]) error {
	s := w.Service
	events, err := s.pending(ctx, job.Args.ids())
	if err != nil {
		return err
	}
	if job.Args.EventID != 0 && len(job.Args.EventIDs) == 0 {
		if len(events) == 0 {
			return nil // applied meanwhile
		}
		failures := s.applyChunk(ctx, w.Applier, events, false)
		if len(failures) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f := failures[0]
		_, failed, err := s.recordFailure(context.WithoutCancel(ctx), f.id, f.err, false)
		if err != nil {
			return err
		}
		if failed {
			return river.JobCancel(f.err) // recorded as failed; no more tries
		}
		return f.err
	}
	return s.applyEvents(ctx, w.Applier, events, false)
}

// applyEvents applies events in order, many per transaction. Each event
// that fails has its failure recorded and, in the same transaction, a job
// of its own that retries it, so it holds up no other and is never lost.
// When draining, the drain lease is renewed as the events are applied.
func (s *Service) applyEvents(ctx context.Context, a Applier, events []*Event, draining bool) error {
	for start := 0; start < len(events); start += applyChunk {
		chunk := events[start:min(start+applyChunk, len(events))]
		failures := s.applyChunk(ctx, a, chunk, draining)
		if ctx.Err() != nil {
			return ctx.Err() // stopping: what is not applied is still pending
		}
		for _, f := range failures {
			if errors.Is(f.err, errLeaseLost) {
				return f.err
			}
			if _, _, err := s.recordFailure(ctx, f.id, f.err, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyChunk prepares the events and commits their writes in one
// transaction; if that fails, each alone, to find which. It returns the
// events that could not be applied.
func (s *Service) applyChunk(ctx context.Context, a Applier, chunk []*Event, draining bool) []failure {
	var failures []failure
	var ready []prepared
	for _, ev := range chunk {
		write, err := prepare(ctx, a, ev)
		if err != nil {
			failures = append(failures, failure{ev.ID, err})
			continue
		}
		ready = append(ready, prepared{ev, write})
	}
	err := s.commitApplied(ctx, ready, draining)
	if err == nil || ctx.Err() != nil {
		return failures
	}
	if errors.Is(err, errLeaseLost) {
		return append(failures, failure{0, err})
	}
	for _, p := range ready {
		if err := s.commitApplied(ctx, []prepared{p}, draining); err != nil {
			failures = append(failures, failure{p.ev.ID, err})
		}
	}
	return failures
}

// prepare runs the Applier's first half, turning a panic into an error.
func prepare(ctx context.Context, a Applier, ev *Event) (write Write, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while applying: %v", r)
		}
	}()
	return a.Prepare(ctx, ev.Source, ev.Kind, []byte(ev.Body))
}

// runWrite runs an event's Write, turning a panic into an error (the
// transaction then rolls back).
func runWrite(ctx context.Context, w Write, q store.Querier) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while applying: %v", r)
		}
	}()
	return w(ctx, q)
}

// commitApplied applies prepared events in one transaction, each exactly
// once: an event's status is claimed first, and one another run applied
// meanwhile is skipped with its write. When draining, the transaction also
// renews the drain lease, and fails if it was lost.
func (s *Service) commitApplied(ctx context.Context, ready []prepared, draining bool) error {
	if len(ready) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		q := store.NewCachedTx(tx)
		defer q.Close()
		if draining {
			if err := s.renewLease(ctx, q); err != nil {
				return err
			}
		}
		now := s.clock.Now()
		for _, p := range ready {
			status := StatusStored
			if p.write != nil {
				status = StatusApplied
			}
			res, err := q.ExecContext(ctx, `UPDATE inbound_events SET status = $1, attempts = attempts + 1, error = '', applied_at = $2
				WHERE id = $3 AND status NOT IN ('applied', 'stored')`, status, now, p.ev.ID)
			if err != nil {
				return fmt.Errorf("ingest: mark event %d: %w", p.ev.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 || p.write == nil {
				continue // applied by another run, or nothing to write
			}
			if err := runWrite(ctx, p.write, q); err != nil {
				return fmt.Errorf("ingest: apply event %d: %w", p.ev.ID, err)
			}
		}
		return nil
	})
}

// pending returns the events among ids that are not applied yet, in the
// order of ids.
func (s *Service) pending(ctx context.Context, ids []int64) ([]*Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	rows, err := s.db.R.QueryContext(ctx, "SELECT id, source, kind, body, received_at, status, attempts, error, applied_at FROM inbound_events WHERE id IN ("+strings.Join(marks, ",")+")", args...)
	if err != nil {
		return nil, fmt.Errorf("ingest: load events: %w", err)
	}
	defer rows.Close()
	byID := map[int64]*Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		byID[e.ID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ingest: load events: %w", err)
	}
	out := make([]*Event, 0, len(ids))
	for _, id := range ids {
		if e, ok := byID[id]; ok && e.Status != StatusApplied && e.Status != StatusStored {
			out = append(out, e)
		}
	}
	return out, nil
}

// recordFailure counts a failed attempt and, after the last one, marks the
// event failed. With retry, an event that may be tried again gets a job
// that retries it, in the same transaction. It returns the attempts so far
// and whether the event is failed (or was applied meanwhile: nothing more
// to do).
func (s *Service) recordFailure(ctx context.Context, id int64, cause error, retry bool) (attempts int, failed bool, err error) {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE inbound_events SET attempts = attempts + 1, error = $1,
			status = CASE WHEN attempts + 1 >= $2 THEN 'failed' ELSE 'pending' END
			WHERE id = $3 AND status NOT IN ('applied', 'stored') RETURNING attempts`, msg, s.maxAttempts(), id).Scan(&attempts)
		if errors.Is(err, sql.ErrNoRows) {
			failed = true // applied meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		failed = attempts >= s.maxAttempts()
		if !retry || failed {
			return nil
		}
		_, err = s.jobs.Client().InsertTx(ctx, tx, ApplyArgs{EventID: id}, &river.InsertOpts{MaxAttempts: s.maxAttempts() - attempts, Queue: jobs.QueueInbound})
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("ingest: record the failure of event %d: %w", id, err)
	}
	if attempts == 0 {
		return 0, true, nil
	}
	level := s.log.Warn
	if failed {
		level = s.log.Error
	}
	level("applying an inbound event failed", "event", id, "attempt", attempts, "of", s.maxAttempts(), "err", msg)
	return attempts, failed, nil
}
