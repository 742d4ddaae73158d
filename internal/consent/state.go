package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// Indexer computes the blind index of a protected value, as
// protect.Protector.Index does: consent_state.person_index of a phone
// person is Index("phone", number), the value customer_phones.phone_index
// holds for the same number.
type Indexer interface {
	Index(field, value string) string
}

// UseIndexer makes the ledger fill consent_state.person_index of phone
// persons with ix; without one it stays empty. It returns l.
func (l *Ledger) UseIndexer(ix Indexer) *Ledger {
	l.ix = ix
	return l
}

// OnChange makes the ledger call fn after each write to consent_state it
// makes (inside the writing transaction: fn must only note that something
// changed, e.g. make the gate re-read consent_state at once). It returns l.
func (l *Ledger) OnChange(fn func()) *Ledger {
	l.onChange = append(l.onChange, fn)
	return l
}

func (l *Ledger) changed() {
	for _, fn := range l.onChange {
		fn()
	}
}

// personIndex returns consent_state.person_index of p.
func (l *Ledger) personIndex(p Person) string {
	if p.Kind != KindPhone || l.ix == nil {
		return ""
	}
	return l.ix.Index("phone", p.Key)
}

// nextSeq increments consent_state_seq in q's transaction and returns the
// new value. The row lock it takes orders every writer of consent_state, so
// the gate, tailing by seq, never misses a change committed late.
func nextSeq(ctx context.Context, q store.Querier) (int64, error) {
	var seq int64
	if err := q.QueryRowContext(ctx, "UPDATE consent_state_seq SET seq = seq + 1 WHERE one = 1 RETURNING seq").Scan(&seq); err != nil {
		return 0, fmt.Errorf("consent: state sequence: %w", err)
	}
	return seq, nil
}

// stateRow is what one consent_state row holds.
type stateRow struct {
	person       Person
	purpose      Purpose
	channel      Channel
	action       Action
	source       Source
	scope        string
	validUntil   *time.Time
	eventID      int64
	occurredAt   time.Time
	receivedAt   time.Time
	suppressed   bool
	suppressedAt *time.Time
}

// rowOf returns the state row an event makes when it decides.
func rowOf(c canonical) stateRow {
	r := stateRow{person: c.Person, purpose: c.Purpose, channel: c.Channel, action: c.Action, source: c.Source,
		eventID: c.ID, occurredAt: c.OccurredAt.UTC(), receivedAt: c.ReceivedAt.UTC()}
	if c.Action == Grant {
		r.scope = c.scope
		if c.Scope != nil && c.Scope.ValidUntil != nil {
			v := c.Scope.ValidUntil.UTC()
			r.validUntil = &v
		}
	}
	return r
}

// decides reports whether event (occurred, id) comes after (prevOccurred,
// prevID) in the fold's order: by occurred_at, then id.
func decides(occurred time.Time, id int64, prevOccurred time.Time, prevID int64) bool {
	if !occurred.Equal(prevOccurred) {
		return occurred.After(prevOccurred)
	}
	return id > prevID
}

// applyState folds the just-recorded event c (with its id) into
// consent_state.
func (l *Ledger) applyState(ctx context.Context, q store.Querier, c canonical, now time.Time) error {
	var prevID int64
	var prevOccurred time.Time
	err := q.QueryRowContext(ctx, "SELECT event_id, occurred_at FROM consent_state WHERE person_kind = $1 AND person_key = $2 AND purpose = $3 AND channel = $4",
		string(c.Person.Kind), c.Person.Key, string(c.Purpose), string(c.Channel)).Scan(&prevID, &prevOccurred)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("consent: state: %w", err)
	case !decides(c.OccurredAt, c.ID, prevOccurred.UTC(), prevID):
		return nil // an older event recorded late: the state rests on a newer one
	}
	r := rowOf(c)
	if err := l.suppression(ctx, q, &r); err != nil {
		return err
	}
	seq, err := nextSeq(ctx, q)
	if err != nil {
		return err
	}
	if err := l.putState(ctx, q, r, seq, now); err != nil {
		return err
	}
	l.changed()
	return nil
}

// suppression sets r.suppressed and r.suppressedAt from consent_suppressions.
func (l *Ledger) suppression(ctx context.Context, q store.Querier, r *stateRow) error {
	var at time.Time
	err := q.QueryRowContext(ctx, "SELECT created_at FROM consent_suppressions WHERE subject_hash = $1 AND purpose = $2 AND channel = $3",
		subjectHash(l.key, r.person), string(r.purpose), string(r.channel)).Scan(&at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r.suppressed, r.suppressedAt = false, nil
	case err != nil:
		return fmt.Errorf("consent: state: suppression: %w", err)
	default:
		at = at.UTC()
		r.suppressed, r.suppressedAt = true, &at
	}
	return nil
}

// putState inserts or replaces r's row.
func (l *Ledger) putState(ctx context.Context, q store.Querier, r stateRow, seq int64, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO consent_state (person_kind, person_key, purpose, channel, action, valid_until, scope, event_id,
			suppressed, person_index, updated_at, occurred_at, received_at, source, suppressed_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (person_kind, person_key, purpose, channel) DO UPDATE SET action = excluded.action, valid_until = excluded.valid_until,
			scope = excluded.scope, event_id = excluded.event_id, suppressed = excluded.suppressed, person_index = excluded.person_index,
			updated_at = excluded.updated_at, occurred_at = excluded.occurred_at, received_at = excluded.received_at,
			source = excluded.source, suppressed_at = excluded.suppressed_at, seq = excluded.seq`,
		string(r.person.Kind), r.person.Key, string(r.purpose), string(r.channel), string(r.action), nullTime(r.validUntil), r.scope, r.eventID,
		r.suppressed, l.personIndex(r.person), now.UTC().Truncate(time.Microsecond), r.occurredAt, r.receivedAt, string(r.source),
		nullTime(r.suppressedAt), seq)
	if err != nil {
		return fmt.Errorf("consent: state %s/%s: %w", r.purpose, r.channel, err)
	}
	return nil
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// suppressState marks p's row for purpose and channel suppressed, as of the
// suppression entry's created_at.
func suppressState(ctx context.Context, q store.Querier, key []byte, p Person, purpose Purpose, ch Channel, now time.Time) (bool, error) {
	var at time.Time
	if err := q.QueryRowContext(ctx, "SELECT created_at FROM consent_suppressions WHERE subject_hash = $1 AND purpose = $2 AND channel = $3",
		subjectHash(key, p), string(purpose), string(ch)).Scan(&at); err != nil {
		return false, fmt.Errorf("consent: state: suppression: %w", err)
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM consent_state WHERE person_kind = $1 AND person_key = $2 AND purpose = $3 AND channel = $4 AND NOT suppressed",
		string(p.Kind), p.Key, string(purpose), string(ch)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // no state (nothing to mark) or already suppressed
	}
	if err != nil {
		return false, fmt.Errorf("consent: state: %w", err)
	}
	seq, err := nextSeq(ctx, q)
	if err != nil {
		return false, err
	}
	_, err = q.ExecContext(ctx, `UPDATE consent_state SET suppressed = TRUE, suppressed_at = $1, seq = $2, updated_at = $3
		WHERE person_kind = $4 AND person_key = $5 AND purpose = $6 AND channel = $7`,
		at.UTC(), seq, now.UTC().Truncate(time.Microsecond), string(p.Kind), p.Key, string(purpose), string(ch))
	if err != nil {
		return false, fmt.Errorf("consent: state: suppress: %w", err)
	}
	return true, nil
}

// eraseState deletes p's rows and notes the ids of every event of p in
// consent_state_erased, so that caches of consent_state drop whatever
// state of p they hold (which rests on one of them, however stale). Call
// it before the events are deleted.
func eraseState(ctx context.Context, q store.Querier, p Person) (bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT id FROM consent_events WHERE person_kind = $1 AND person_key = $2", string(p.Kind), p.Key)
	if err != nil {
		return false, fmt.Errorf("consent: erase state: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return false, fmt.Errorf("consent: erase state: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("consent: erase state: %w", err)
	}
	if len(ids) == 0 {
		return false, nil
	}
	seq, err := nextSeq(ctx, q)
	if err != nil {
		return false, err
	}
	if _, err := q.ExecContext(ctx, "DELETE FROM consent_state WHERE person_kind = $1 AND person_key = $2", string(p.Kind), p.Key); err != nil {
		return false, fmt.Errorf("consent: erase state: %w", err)
	}
	for _, id := range ids {
		if _, err := q.ExecContext(ctx, "INSERT INTO consent_state_erased (seq, event_id) VALUES ($1, $2)", seq, id); err != nil {
			return false, fmt.Errorf("consent: erase state: %w", err)
		}
	}
	return true, nil
}

// RebuildState recomputes every consent_state row from consent_events and
// consent_suppressions, inside q (a transaction on the writer), and returns
// how many rows it wrote. The ledger needs its suppression key, and its
// indexer for the phone index.
func (l *Ledger) RebuildState(ctx context.Context, q store.Querier, now time.Time) (int, error) {
	if err := checkKey(l.key); err != nil {
		return 0, err
	}
	if tx, ok := q.(*sql.Tx); ok {
		ct := store.NewCachedTx(tx) // one prepared INSERT for every row
		defer ct.Close()
		q = ct
	}
	type supKey struct{ subject, purpose, channel string }
	sups := map[supKey]time.Time{}
	srows, err := q.QueryContext(ctx, "SELECT subject_hash, purpose, channel, created_at FROM consent_suppressions")
	if err != nil {
		return 0, fmt.Errorf("consent: rebuild state: %w", err)
	}
	for srows.Next() {
		var k supKey
		var at time.Time
		if err := srows.Scan(&k.subject, &k.purpose, &k.channel, &at); err != nil {
			srows.Close()
			return 0, fmt.Errorf("consent: rebuild state: %w", err)
		}
		sups[k] = at.UTC()
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return 0, fmt.Errorf("consent: rebuild state: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, person_kind, person_key, purpose, channel, action, source, scope, occurred_at, received_at
		FROM consent_events ORDER BY person_kind, person_key, purpose, channel, occurred_at, id`)
	if err != nil {
		return 0, fmt.Errorf("consent: rebuild state: %w", err)
	}
	var last []canonical
	for rows.Next() {
		var c canonical
		var kind, purpose, channel, action, source string
		if err := rows.Scan(&c.ID, &kind, &c.Person.Key, &purpose, &channel, &action, &source, &c.scope, &c.OccurredAt, &c.ReceivedAt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("consent: rebuild state: %w", err)
		}
		c.Person.Kind, c.Purpose, c.Channel, c.Action, c.Source = PersonKind(kind), Purpose(purpose), Channel(channel), Action(action), Source(source)
		n := len(last)
		if n > 0 && last[n-1].Person == c.Person && last[n-1].Purpose == c.Purpose && last[n-1].Channel == c.Channel {
			last[n-1] = c // ordered: the later event decides
		} else {
			last = append(last, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("consent: rebuild state: %w", err)
	}
	seq, err := nextSeq(ctx, q)
	if err != nil {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, "DELETE FROM consent_state"); err != nil {
		return 0, fmt.Errorf("consent: rebuild state: %w", err)
	}
	for _, c := range last {
		if c.scope != "" {
			if err := decodeScope(&c); err != nil {
				return 0, err
			}
		}
		r := rowOf(c)
		if at, ok := sups[supKey{subjectHash(l.key, r.person), string(r.purpose), string(r.channel)}]; ok {
			r.suppressed, r.suppressedAt = true, &at
		}
		if err := l.putState(ctx, q, r, seq, now); err != nil {
			return 0, err
		}
	}
	l.changed()
	return len(last), nil
}

// BackfillState folds every consent event into consent_state once: the
// first time it runs on a database (after migration 00011 added the
// table), it rebuilds the table and notes that it did; after that it does
// nothing. It returns how many rows it wrote. app.Open runs it at start.
func (l *Ledger) BackfillState(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	n := 0
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		var built bool
		if err := tx.QueryRowContext(ctx, "SELECT built FROM consent_state_seq WHERE one = 1").Scan(&built); err != nil {
			return fmt.Errorf("consent: backfill state: %w", err)
		}
		if built {
			return nil
		}
		var err error
		if n, err = l.RebuildState(ctx, tx, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE consent_state_seq SET built = TRUE WHERE one = 1"); err != nil {
			return fmt.Errorf("consent: backfill state: %w", err)
		}
		return nil
	})
	return n, err
}

// decodeScope decodes c's stored scope.
func decodeScope(c *canonical) error {
	c.Scope = new(Scope)
	if err := json.Unmarshal([]byte(c.scope), c.Scope); err != nil {
		return fmt.Errorf("consent: scope of event %d: %w", c.ID, err)
	}
	return nil
}
