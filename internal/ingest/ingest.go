package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Event statuses.
const (
	StatusPending = "pending" // waiting to be applied, or being retried
	StatusApplied = "applied" // its effects are in the database
	StatusStored  = "stored"  // kept and shown, but nothing applies it (unknown or later kinds)
	StatusFailed  = "failed"  // every attempt failed; Error says why
)

// MaxAttempts is how often applying an event is tried before it is marked
// failed. River's backoff spreads the attempts over about a day.
const MaxAttempts = 12

// Inbound is a verified event to store.
type Inbound struct {
	Source string // "wecom"
	// DedupeKey identifies the event among the source's: any bytes (stored
	// as a BLOB), best starting with something that grows with time, such
	// as the event's own time, so that the keys of events arriving together
	// are stored next to each other (see callback.DedupeKey).
	DedupeKey string
	Kind      string
	Body      []byte
}

// Event is a stored inbound event.
type Event struct {
	ID         int64
	Source     string
	Kind       string
	Body       string
	ReceivedAt time.Time
	Status     string
	Attempts   int
	Error      string
	AppliedAt  *time.Time
}

// Service stores, applies and lists inbound events.
type Service struct {
	// MaxAttempts overrides the package's MaxAttempts when set.
	MaxAttempts int

	db    *store.DB
	jobs  *jobs.Jobs
	clock kith.Clock
	log   *slog.Logger
	group groupCommit
	drain drainer
	// applier applies events for the drain loop; set by Worker.
	applier Applier

	stmtMu sync.Mutex
	insert *sql.Stmt // prepared once: parsing is most of a small insert's cost on SQLite
	lookup *sql.Stmt
}

// NewService returns a Service. With a job client that works jobs, the
// service also applies the events it stores: it registers its drain loop
// with j (see jobs.Jobs.Go), which j.Start starts; j may be nil for a
// service that only lists events.
func NewService(db *store.DB, j *jobs.Jobs, clock kith.Clock, log *slog.Logger) *Service {
	s := &Service{db: db, jobs: j, clock: clock, log: log}
	s.drain.init()
	if j != nil {
		j.Go(s.drainLoop)
	}
	return s
}

// ApplyArgs is the job that gives a stored event another try after applying
// it failed (EventID), or, from older versions, applies the events one group
// commit stored (EventIDs). New events need no job: the events table is the
// queue, drained in order by the drain loop.
type ApplyArgs struct {
	EventIDs []int64 `json:"event_ids,omitempty"`
	EventID  int64   `json:"event_id,omitempty"`
}

// Kind implements river.JobArgs.
func (ApplyArgs) Kind() string { return "ingest.apply" }

func (a ApplyArgs) ids() []int64 {
	if a.EventID != 0 {
		return append([]int64{a.EventID}, a.EventIDs...)
	}
	return a.EventIDs
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return MaxAttempts
}

// Accept stores an event and returns once the transaction that stored it
// committed: the event is then durable and queued to be applied (pending
// with no attempt yet; the drain loop applies such events in order, and
// finds them again after a crash). An event seen before (same source and
// dedupe key) is not stored again: Accept returns its id and duplicate = true.
//
// Concurrent calls share transactions (group commit): while one caller
// commits, the others queue, and the next committer writes them all at once.
// That keeps the single SQLite writer from being the limit of how many
// callbacks a second Kith can take, without answering any before its event
// is durable.
func (s *Service) Accept(ctx context.Context, in Inbound) (id int64, duplicate bool, err error) {
	if in.Source == "" || in.DedupeKey == "" || in.Kind == "" {
		return 0, false, kith.Errorf(kith.EINVALID, "an inbound event needs a source, a dedupe key and a kind")
	}
	r := &acceptReq{in: in, done: make(chan struct{})}
	// The batch is committed even if this caller's context ends meanwhile:
	// others wait on the same transaction.
	s.group.submit(r, func(batch []*acceptReq) { s.commit(context.WithoutCancel(ctx), batch) })
	if r.err != nil {
		return 0, false, fmt.Errorf("ingest: accept %s event: %w", in.Source, r.err)
	}
	return r.id, r.dup, nil
}

// commit writes a batch in one transaction; if that fails, each request is
// tried alone so one bad request fails no other. The drain loop is woken
// once the events are committed.
func (s *Service) commit(ctx context.Context, batch []*acceptReq) {
	// Prepared before the transaction: on SQLite it holds the one connection.
	_, _, err := s.statements(ctx)
	if err == nil {
		err = s.db.InTx(ctx, func(tx *sql.Tx) error { return s.insertBatch(ctx, tx, batch) })
	}
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			if err != nil {
				r.id, r.dup = 0, false
			}
			r.err = err
			close(r.done)
		}
	} else {
		for _, r := range batch {
			r.err = s.db.InTx(ctx, func(tx *sql.Tx) error { return s.insertBatch(ctx, tx, []*acceptReq{r}) })
			close(r.done)
		}
	}
	s.drain.note(len(batch))
	s.drain.kick()
}

// statements returns the insert and lookup statements, prepared on first
// use; never call it first inside a transaction.
func (s *Service) statements(ctx context.Context) (insert, lookup *sql.Stmt, err error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.insert == nil {
		// On SQLite the insert is executed, not queried: RowsAffected tells
		// a repeat, LastInsertId the new id, without a result set to read.
		q := `INSERT INTO inbound_events (source, dedupe_key, kind, body, received_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, dedupe_key) DO NOTHING`
		if s.db.Dialect == store.Postgres {
			q += " RETURNING id"
		}
		ins, err := s.db.W.PrepareContext(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		sel, err := s.db.W.PrepareContext(ctx, "SELECT id FROM inbound_events WHERE source = $1 AND dedupe_key = $2")
		if err != nil {
			ins.Close()
			return nil, nil, err
		}
		s.insert, s.lookup = ins, sel
	}
	return s.insert, s.lookup, nil
}

func (s *Service) insertBatch(ctx context.Context, tx *sql.Tx, batch []*acceptReq) error {
	if s.db.Dialect == store.Postgres && len(batch) > 1 {
		return s.insertBatchPostgres(ctx, tx, batch)
	}
	now := s.clock.Now()
	insert, lookup, err := s.statements(ctx)
	if err != nil {
		return err
	}
	// Statements prepared on the DB are reused by every transaction on the
	// same connection (on SQLite there is one), so no batch parses SQL.
	ins := tx.StmtContext(ctx, insert)
	defer ins.Close()
	var sel *sql.Stmt
	for _, r := range batch {
		var err error
		if s.db.Dialect == store.Postgres {
			err = ins.QueryRowContext(ctx, r.in.Source, []byte(r.in.DedupeKey), r.in.Kind, string(r.in.Body), now).Scan(&r.id)
		} else {
			err = insertSQLite(ctx, ins, r, now)
		}
		if errors.Is(err, sql.ErrNoRows) {
			r.dup = true
			if sel == nil {
				sel = tx.StmtContext(ctx, lookup)
				defer sel.Close()
			}
			err = sel.QueryRowContext(ctx, r.in.Source, []byte(r.in.DedupeKey)).Scan(&r.id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// insertSQLite stores one event; sql.ErrNoRows means it was there already.
func insertSQLite(ctx context.Context, ins *sql.Stmt, r *acceptReq, now time.Time) error {
	res, err := ins.ExecContext(ctx, r.in.Source, []byte(r.in.DedupeKey), r.in.Kind, string(r.in.Body), now)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = sql.ErrNoRows
		}
		return err
	}
	r.id, err = res.LastInsertId()
	return err
}

// ListFilter narrows an event list.
type ListFilter struct {
	Status string // one of the statuses, or "" for all
	Before int64  // keyset: events with a smaller id; 0 from the newest
	Limit  int    // 1–500; 0 means 50
}

// List returns events, newest first, and the Before of the next page (0 at
// the end).
func (s *Service) List(ctx context.Context, f ListFilter) ([]Event, int64, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 500 {
		return nil, 0, kith.Errorf(kith.EINVALID, "limit must be from 1 to 500, not %d", f.Limit)
	}
	switch f.Status {
	case "", StatusPending, StatusApplied, StatusStored, StatusFailed:
	default:
		return nil, 0, kith.Errorf(kith.EINVALID, "unknown status %q; use pending, applied, stored or failed", f.Status)
	}
	var where []string
	var args []any
	if f.Status != "" {
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	if f.Before > 0 {
		args = append(args, f.Before)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	q := "SELECT id, source, kind, body, received_at, status, attempts, error, applied_at FROM inbound_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("ingest: list: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("ingest: list: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// Get returns one event.
func (s *Service) Get(ctx context.Context, id int64) (*Event, error) {
	row := s.db.R.QueryRowContext(ctx, "SELECT id, source, kind, body, received_at, status, attempts, error, applied_at FROM inbound_events WHERE id = $1", id)
	e, err := scanEvent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kith.Errorf(kith.ENOTFOUND, "no event %d", id)
	}
	return e, err
}

// Counts returns the number of events in each status.
func (s *Service) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT status, count(*) FROM inbound_events GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("ingest: counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("ingest: counts: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanEvent(r scanner) (*Event, error) {
	var e Event
	var applied sql.NullTime
	if err := r.Scan(&e.ID, &e.Source, &e.Kind, &e.Body, &e.ReceivedAt, &e.Status, &e.Attempts, &e.Error, &applied); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("ingest: read event: %w", err)
	}
	if applied.Valid {
		e.AppliedAt = &applied.Time
	}
	return &e, nil
}

// eventKey identifies an event for deduplication.
type eventKey struct{ source, dedupe string }

// insertBatchPostgres stores a batch with one statement, and finds the ids
// of repeats with a second: on PostgreSQL each statement is a round trip,
// which would otherwise be paid per event.
func (s *Service) insertBatchPostgres(ctx context.Context, tx *sql.Tx, batch []*acceptReq) error {
	n := len(batch)
	sources, kinds, bodies := make([]string, n), make([]string, n), make([]string, n)
	keys := make([][]byte, n)
	for i, r := range batch {
		sources[i], keys[i], kinds[i], bodies[i] = r.in.Source, []byte(r.in.DedupeKey), r.in.Kind, string(r.in.Body)
	}
	// Rows go in in the batch's order, so ids follow arrival; a repeat
	// within the batch conflicts with its first delivery and is skipped.
	rows, err := tx.QueryContext(ctx, `INSERT INTO inbound_events (source, dedupe_key, kind, body, received_at)
		SELECT u.s, u.k, u.t, u.b, $5 FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[]) WITH ORDINALITY AS u(s, k, t, b, n)
		ORDER BY u.n
		ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id, source, dedupe_key`, sources, keys, kinds, bodies, s.clock.Now())
	if err != nil {
		return err
	}
	fresh, err := scanKeys(rows)
	if err != nil {
		return err
	}
	claimed := make(map[eventKey]bool, len(fresh))
	var missing []*acceptReq
	for _, r := range batch {
		k := eventKey{r.in.Source, r.in.DedupeKey}
		id, ok := fresh[k]
		switch {
		case ok && !claimed[k]:
			r.id, r.dup, claimed[k] = id, false, true
		case ok:
			r.id, r.dup = id, true
		default:
			r.dup = true
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sources, keys = sources[:0], keys[:0]
	for _, r := range missing {
		sources, keys = append(sources, r.in.Source), append(keys, []byte(r.in.DedupeKey))
	}
	rows, err = tx.QueryContext(ctx, `SELECT e.id, e.source, e.dedupe_key FROM inbound_events e
		JOIN unnest($1::text[], $2::bytea[]) AS u(s, k) ON e.source = u.s AND e.dedupe_key = u.k`, sources, keys)
	if err != nil {
		return err
	}
	known, err := scanKeys(rows)
	if err != nil {
		return err
	}
	for _, r := range missing {
		id, ok := known[eventKey{r.in.Source, r.in.DedupeKey}]
		if !ok {
			return fmt.Errorf("ingest: event %s/%s neither stored nor found", r.in.Source, r.in.DedupeKey)
		}
		r.id = id
	}
	return nil
}

// scanKeys reads rows of (id, source, dedupe_key).
func scanKeys(rows *sql.Rows) (map[eventKey]int64, error) {
	defer rows.Close()
	out := map[eventKey]int64{}
	for rows.Next() {
		var id int64
		var source string
		var dedupe []byte
		if err := rows.Scan(&id, &source, &dedupe); err != nil {
			return nil, err
		}
		out[eventKey{source, string(dedupe)}] = id
	}
	return out, rows.Err()
}
