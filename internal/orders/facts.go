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
// first_order_at, last_order_at, avg_order_fen, refund_count, refund_fen,
// rfm_*). A purchase is an order that was paid (any status but pending and
// cancelled) or a payment; its amount is net of refunds.
type Facts struct {
	Orders       int // purchases: paid orders and payments
	Spent30d     int64
	Spent90d     int64
	Spent365d    int64
	SpentTotal   int64
	FirstOrderAt time.Time // zero: never
	LastOrderAt  time.Time // zero: never
	AvgOrder     int64     // SpentTotal / Orders in fen, rounded half up; 0 without purchases
	Refunds      int       // purchases with money back (in part or in full)
	RefundFen    int64     // the money back, in fen
	RFM          RFM       // set by the daily job (Store.RefreshRFM)
}

// windowStarts returns the starts of the 30, 90 and 365-day windows at now:
// midnight in loc, 29, 89 and 364 days before today, so each window holds
// that many calendar days, today included.
func windowStarts(now time.Time, loc *time.Location) [3]time.Time {
	l := now.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	return [3]time.Time{today.AddDate(0, 0, -29).UTC(), today.AddDate(0, 0, -89).UTC(), today.AddDate(0, 0, -364).UTC()}
}

// finish recomputes the facts of every customer the writer touched, what
// they bought included.
func (w *Writer) finish(ctx context.Context) error {
	ids := make([]int64, 0, len(w.affected))
	for id := range w.affected {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a fixed order, so concurrent writers lock rows alike
	for _, id := range ids {
		if err := recompute(ctx, w.q, id, w.now, w.s.location(), true); err != nil {
			return err
		}
	}
	clear(w.affected) // a second call has nothing to do
	return nil
}

func (s *Store) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// purchases is every paid order and payment of one customer: when, the
// amount net of refunds, and the refund.
const purchases = `SELECT ordered_at, total_fen - refund_fen, refund_fen FROM orders WHERE customer_id = $1 AND status NOT IN ('pending', 'cancelled')
	UNION ALL SELECT paid_at, amount_fen - refunded_fen, refunded_fen FROM payments WHERE customer_id = $1`

// recompute sets one customer's facts from its orders and payments, and
// with skus what it bought (customer_skus). A customer left without
// purchases loses its RFM score at once; the daily job sets the others.
func recompute(ctx context.Context, q store.Querier, customerID int64, now time.Time, loc *time.Location, skus bool) error {
	f, err := computeFacts(ctx, q, customerID, now, loc)
	if err != nil {
		return err
	}
	if !skus {
		_, err := q.ExecContext(ctx, `UPDATE customers SET spent_30d_fen = $1, spent_90d_fen = $2, spent_365d_fen = $3 WHERE id = $4`,
			f.Spent30d, f.Spent90d, f.Spent365d, customerID)
		if err != nil {
			return fmt.Errorf("orders: set facts of customer %d: %w", customerID, err)
		}
		return nil
	}
	rfm := ""
	if f.Orders == 0 {
		rfm = ", rfm_r = 0, rfm_f = 0, rfm_m = 0, rfm_score = 0"
	}
	if _, err := q.ExecContext(ctx, `UPDATE customers SET order_count = $1, spent_30d_fen = $2, spent_90d_fen = $3, spent_365d_fen = $4,
		spent_total_fen = $5, first_order_at = $6, last_order_at = $7, avg_order_fen = $8, refund_count = $9, refund_fen = $10`+rfm+` WHERE id = $11`,
		f.Orders, f.Spent30d, f.Spent90d, f.Spent365d, f.SpentTotal, nullTime(f.FirstOrderAt), nullTime(f.LastOrderAt),
		f.AvgOrder, f.Refunds, f.RefundFen, customerID); err != nil {
		return fmt.Errorf("orders: set facts of customer %d: %w", customerID, err)
	}
	return recomputeSKUs(ctx, q, customerID)
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
		var net, refund int64
		if err := rows.Scan(&at, &net, &refund); err != nil {
			return Facts{}, fmt.Errorf("orders: read purchases of customer %d: %w", customerID, err)
		}
		f.Orders++
		f.SpentTotal += net
		if refund > 0 {
			f.Refunds++
			f.RefundFen += refund
		}
		if f.FirstOrderAt.IsZero() || at.Before(f.FirstOrderAt) {
			f.FirstOrderAt = at.UTC()
		}
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
	if f.Orders > 0 {
		f.AvgOrder = average(f.SpentTotal, f.Orders)
	}
	return f, rows.Err()
}

// average divides a non-negative amount by n > 0, rounding half up.
func average(total int64, n int) int64 {
	if total < 0 {
		return -average(-total, n)
	}
	return (2*total + int64(n)) / (2 * int64(n))
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
				if err := recompute(ctx, q, id, now, s.location(), false); err != nil {
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
	var first, last sql.NullTime
	err := s.db.R.QueryRowContext(ctx, `SELECT order_count, spent_30d_fen, spent_90d_fen, spent_365d_fen, spent_total_fen, first_order_at, last_order_at,
		avg_order_fen, refund_count, refund_fen, rfm_r, rfm_f, rfm_m FROM customers WHERE id = $1`, customerID).Scan(
		&f.Orders, &f.Spent30d, &f.Spent90d, &f.Spent365d, &f.SpentTotal, &first, &last, &f.AvgOrder, &f.Refunds, &f.RefundFen,
		&f.RFM.R, &f.RFM.F, &f.RFM.M)
	if err != nil {
		return Facts{}, fmt.Errorf("orders: read facts of customer %d: %w", customerID, err)
	}
	if first.Valid {
		f.FirstOrderAt = first.Time.UTC()
	}
	if last.Valid {
		f.LastOrderAt = last.Time.UTC()
	}
	return f, nil
}
