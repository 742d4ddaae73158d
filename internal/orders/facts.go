package orders

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// Facts are what a customer's orders and payments add up to; they are kept
// on the customers row for segments (order_count, spent_*_fen,
// last_order_at).
type Facts struct {
	Orders      int // paid orders and payments
	Spent30d    int64
	Spent90d    int64
	Spent365d   int64
	SpentTotal  int64
	LastOrderAt time.Time // zero: never
}

// windowStarts returns the starts of the 30, 90 and 365-day windows at now:
// midnight in loc, 29, 89 and 364 days before today, so each window holds
// that many calendar days, today included.
func windowStarts(now time.Time, loc *time.Location) [3]time.Time {
	l := now.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	return [3]time.Time{today.AddDate(0, 0, -29).UTC(), today.AddDate(0, 0, -89).UTC(), today.AddDate(0, 0, -364).UTC()}
}

// finish recomputes the facts of every customer the writer touched.
func (w *Writer) finish(ctx context.Context) error {
	ids := make([]int64, 0, len(w.affected))
	for id := range w.affected {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a fixed order, so concurrent writers lock rows alike
	for _, id := range ids {
		if err := recompute(ctx, w.q, id, w.now, w.s.location()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// purchases is every paid order and payment of one customer: when, and the
// amount net of refunds.
const purchases = `SELECT ordered_at, total_fen - refund_fen FROM orders WHERE customer_id = $1 AND status NOT IN ('pending', 'cancelled')
	UNION ALL SELECT paid_at, amount_fen - refunded_fen FROM payments WHERE customer_id = $1`

// recompute sets one customer's facts from its orders and payments.
func recompute(ctx context.Context, q store.Querier, customerID int64, now time.Time, loc *time.Location) error {
	f, err := computeFacts(ctx, q, customerID, now, loc)
	if err != nil {
		return err
	}
	var last sql.NullTime
	if !f.LastOrderAt.IsZero() {
		last = sql.NullTime{Time: f.LastOrderAt.UTC(), Valid: true}
	}
	if _, err := q.ExecContext(ctx, `UPDATE customers SET order_count = $1, spent_30d_fen = $2, spent_90d_fen = $3, spent_365d_fen = $4,
		spent_total_fen = $5, last_order_at = $6 WHERE id = $7`,
		f.Orders, f.Spent30d, f.Spent90d, f.Spent365d, f.SpentTotal, last, customerID); err != nil {
		return fmt.Errorf("orders: set facts of customer %d: %w", customerID, err)
	}
	return nil
}

// computeFacts adds up one customer's orders and payments.
func computeFacts(ctx context.Context, q store.Querier, customerID int64, now time.Time, loc *time.Location) (Facts, error) {
	starts := windowStarts(now, loc)
	rows, err := q.QueryContext(ctx, purchases, customerID)
	if err != nil {
		return Facts{}, fmt.Errorf("orders: read purchases of customer %d: %w", customerID, err)
	}
	defer rows.Close()
	var f Facts
	for rows.Next() {
		var at time.Time
		var net int64
		if err := rows.Scan(&at, &net); err != nil {
			return Facts{}, fmt.Errorf("orders: read purchases of customer %d: %w", customerID, err)
		}
		f.Orders++
		f.SpentTotal += net
		if !at.Before(starts[0]) {
			f.Spent30d += net
		}
		if !at.Before(starts[1]) {
			f.Spent90d += net
		}
		if !at.Before(starts[2]) {
			f.Spent365d += net
		}
		if at.After(f.LastOrderAt) {
			f.LastOrderAt = at.UTC()
		}
	}
	return f, rows.Err()
}

// RefreshWindows recomputes the 30, 90 and 365-day amounts of every
// customer who bought within the last 366 days or still shows an amount in
// a window, as days pass without new orders. Run it daily, soon after
// midnight in the instance's time zone. It returns how many customers it
// looked at.
func (s *Store) RefreshWindows(ctx context.Context) (int, error) {
	now := s.clock.Now()
	starts := windowStarts(now, s.location())
	var ids []int64
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM customers WHERE spent_365d_fen <> 0 OR spent_90d_fen <> 0 OR spent_30d_fen <> 0
		OR last_order_at >= $1 ORDER BY id`, starts[2].AddDate(0, 0, -1))
	if err != nil {
		return 0, fmt.Errorf("orders: refresh windows: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := len(ids)
	// Batches keep each transaction (and SQLite's write lock) short.
	for len(ids) > 0 {
		n := min(len(ids), 500)
		batch := ids[:n]
		ids = ids[n:]
		if err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			q := store.NewCachedTx(tx)
			defer q.Close()
			for _, id := range batch {
				if err := recompute(ctx, q, id, now, s.location()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// FactsOf reads a customer's facts as stored on the customers row.
func (s *Store) FactsOf(ctx context.Context, customerID int64) (Facts, error) {
	var f Facts
	var last sql.NullTime
	err := s.db.R.QueryRowContext(ctx, `SELECT order_count, spent_30d_fen, spent_90d_fen, spent_365d_fen, spent_total_fen, last_order_at
		FROM customers WHERE id = $1`, customerID).Scan(&f.Orders, &f.Spent30d, &f.Spent90d, &f.Spent365d, &f.SpentTotal, &last)
	if err != nil {
		return Facts{}, fmt.Errorf("orders: read facts of customer %d: %w", customerID, err)
	}
	if last.Valid {
		f.LastOrderAt = last.Time.UTC()
	}
	return f, nil
}
