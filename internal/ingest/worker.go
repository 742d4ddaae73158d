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

// ApplyWorker applies stored events.
type ApplyWorker struct {
	river.WorkerDefaults[ApplyArgs]
	Service *Service
	Applier Applier
}

// applyChunk is how many events one transaction applies.
const applyChunk = 100

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

// Work implements river.Worker. A batch applies its events in order, many
// per transaction; an event that fails is recorded and given a job of its
// own to be retried, so it holds up no other. A single-event job returns
// its failure, and River retries it with backoff.
func (w *ApplyWorker) Work(ctx context.Context, job *river.Job[ApplyArgs]) error {
	s := w.Service
	events, err := s.pending(ctx, job.Args.ids())
	if err != nil {
		return err
	}
	var failures []failure
	for start := 0; start < len(events); start += applyChunk {
		chunk := events[start:min(start+applyChunk, len(events))]
		var ready []prepared
		for _, ev := range chunk {
			write, err := w.prepare(ctx, ev)
			if err != nil {
				failures = append(failures, failure{ev.ID, err})
				continue
			}
			ready = append(ready, prepared{ev, write})
		}
		if err := s.commitApplied(ctx, ready); err != nil {
			if ctx.Err() != nil {
				return err // stopping: the job runs again and skips what is done
			}
			// One write failed: apply each alone, to find which.
			for _, p := range ready {
				if err := s.commitApplied(ctx, []prepared{p}); err != nil {
					failures = append(failures, failure{p.ev.ID, err})
				}
			}
		}
	}
	if len(failures) > 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	retry := job.Args.EventID != 0 && len(job.Args.EventIDs) == 0
	for _, f := range failures {
		attempts, failed, err := s.recordFailure(context.WithoutCancel(ctx), f.id, f.err)
		if err != nil {
			return err
		}
		if retry {
			if failed {
				return river.JobCancel(f.err) // recorded as failed; no more tries
			}
			return f.err
		}
		if !failed {
			if _, err := s.jobs.Client().Insert(ctx, ApplyArgs{EventID: f.id}, &river.InsertOpts{MaxAttempts: s.maxAttempts() - attempts, Queue: jobs.QueueInbound}); err != nil {
				return fmt.Errorf("ingest: enqueue a retry of event %d: %w", f.id, err)
			}
		}
	}
	return nil
}

// prepare runs the Applier's first half, turning a panic into an error.
func (w *ApplyWorker) prepare(ctx context.Context, ev *Event) (write Write, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while applying: %v", r)
		}
	}()
	return w.Applier.Prepare(ctx, ev.Source, ev.Kind, []byte(ev.Body))
}

// commitApplied applies prepared events in one transaction, each exactly
// once: an event's status is claimed first, and one another run applied
// meanwhile is skipped with its write.
func (s *Service) commitApplied(ctx context.Context, ready []prepared) error {
	if len(ready) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		q := store.NewCachedTx(tx)
		defer q.Close()
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
			if err := p.write(ctx, q); err != nil {
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
// event failed. It returns the attempts so far and whether it is failed.
func (s *Service) recordFailure(ctx context.Context, id int64, cause error) (attempts int, failed bool, err error) {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	err = s.db.W.QueryRowContext(ctx, `UPDATE inbound_events SET attempts = attempts + 1, error = $1,
		status = CASE WHEN attempts + 1 >= $2 THEN 'failed' ELSE 'pending' END
		WHERE id = $3 AND status NOT IN ('applied', 'stored') RETURNING attempts, status`, msg, s.maxAttempts(), id).Scan(&attempts, new(string))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, true, nil // applied meanwhile
	}
	if err != nil {
		return 0, false, fmt.Errorf("ingest: record the failure of event %d: %w", id, err)
	}
	failed = attempts >= s.maxAttempts()
	level := s.log.Warn
	if failed {
		level = s.log.Error
	}
	level("applying an inbound event failed", "event", id, "attempt", attempts, "of", s.maxAttempts(), "err", msg)
	return attempts, failed, nil
}
