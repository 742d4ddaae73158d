package ingest

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/jobs"
)

// Write is the database half of applying an event. It runs inside the
// transaction that marks the event applied.
type Write func(ctx context.Context, tx *sql.Tx) error

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

// Work implements river.Worker.
func (w *ApplyWorker) Work(ctx context.Context, job *river.Job[ApplyArgs]) (err error) {
	s := w.Service
	ev, err := s.Get(ctx, job.Args.EventID)
	if err != nil {
		return err
	}
	if ev.Status == StatusApplied || ev.Status == StatusStored {
		return nil // a retry after the effects committed: nothing to do twice
	}
	defer func() {
		// Record why an attempt failed, and give up visibly after the last.
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while applying: %v", r)
		}
		if err != nil {
			s.recordFailure(context.WithoutCancel(ctx), ev.ID, job.Attempt, job.MaxAttempts, err)
		}
	}()
	write, err := w.Applier.Prepare(ctx, ev.Source, ev.Kind, []byte(ev.Body))
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		status := StatusStored
		if write != nil {
			if err := write(ctx, tx); err != nil {
				return err
			}
			status = StatusApplied
		}
		if _, err := tx.ExecContext(ctx, "UPDATE inbound_events SET status = $1, attempts = $2, error = '', applied_at = $3 WHERE id = $4",
			status, job.Attempt, s.clock.Now(), ev.ID); err != nil {
			return fmt.Errorf("ingest: mark event %d: %w", ev.ID, err)
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

func (s *Service) recordFailure(ctx context.Context, id int64, attempt, maxAttempts int, cause error) {
	status := StatusPending
	if attempt >= maxAttempts {
		status = StatusFailed
	}
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	s.log.Warn("applying an inbound event failed", "event", id, "attempt", attempt, "of", maxAttempts, "err", msg)
	// Best effort: River keeps the job's errors too.
	_, err := s.db.W.ExecContext(ctx, "UPDATE inbound_events SET status = $1, attempts = $2, error = $3 WHERE id = $4 AND status NOT IN ('applied', 'stored')",
		status, attempt, msg, id)
	if err != nil {
		s.log.Error("recording an event's failure", "event", id, "err", err)
	}
}
