package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Log is the audit log of one Kith database.
type Log struct {
	db    *store.DB
	clock kith.Clock
}

// New returns the audit log kept in db, stamping entries with clock.
func New(db *store.DB, clock kith.Clock) *Log {
	return &Log{db: db, clock: clock}
}

// appendLockKey is the PostgreSQL advisory lock appends take, so that two
// transactions never read the same last entry and fork the chain.
var appendLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("kith.audit.append"))
	return int64(h.Sum64() >> 1)
}()

// Append writes e as the next entry, inside the transaction q, so the entry
// commits (or rolls back) with the change it records. The log sets the
// entry's Seq, At (from its clock), PrevHash and Hash.
//
// q should be a transaction (a *sql.Tx or *store.CachedTx) at PostgreSQL's
// default isolation, READ COMMITTED: Append takes a lock held until q
// commits, so concurrent appends queue instead of forking the chain. A
// *sql.DB is accepted too: Append then runs in a transaction of its own.
// Call it as the transaction's last statement: every other append waits
// for the lock until q commits.
func (l *Log) Append(ctx context.Context, q store.Querier, e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	if db, ok := q.(*sql.DB); ok {
		return l.inTx(ctx, db, func(tx *sql.Tx) error { return l.append(ctx, tx, &e) })
	}
	return l.append(ctx, q, &e)
}

// Record writes e as the next entry in a transaction of its own.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	return l.inTx(ctx, l.db.W, func(tx *sql.Tx) error { return l.append(ctx, tx, &e) })
}

func (l *Log) inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: commit: %w", err)
	}
	return nil
}

func (l *Log) append(ctx context.Context, q store.Querier, e *Entry) error {
	if l.db.Dialect == store.Postgres {
		// On SQLite the transaction holds the one write lock from BEGIN
		// (_txlock=immediate), which serializes appends across processes.
		if _, err := q.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", appendLockKey); err != nil {
			return fmt.Errorf("audit: lock the log: %w", err)
		}
	}
	var last int64
	prev := Genesis
	err := q.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: read the last entry: %w", err)
	}
	e.Seq = last + 1
	e.At = l.clock.Now().UTC().Truncate(time.Microsecond) // what both databases keep
	e.PrevHash = prev
	e.Hash = e.ComputeHash()
	_, err = q.ExecContext(ctx, `INSERT INTO audit_log
		(seq, at, actor_kind, actor, action, object_type, object_id, person, purpose, outcome, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		e.Seq, e.At, e.Actor.Kind, e.Actor.Name, e.Action, e.ObjectType, e.ObjectID, e.Person, e.Purpose, e.Outcome, e.Detail, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return nil
}
