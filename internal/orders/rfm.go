package orders

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// RFM is a customer's recency, frequency and monetary quintiles, each 1
// (lowest fifth) to 5 (highest), among every customer with at least one
// purchase; all 0 for a customer without one.
//
// R ranks the calendar day of the last purchase (in the instance's zone),
// F the number of purchases, M the amount spent net of refunds (all
// time). For a value v of one of them among the N customers who bought,
//
//	score(v) = 1 + floor(5 × L / N)
//
// where L is how many of the N have a value strictly less than v: equal
// values score the same whatever their number or order, so the score is a
// function of the facts alone.
type RFM struct {
	R, F, M int
}

// Score is 100 R + 10 F + M: 555 is the best, 111 the worst, 0 none.
func (r RFM) Score() int { return 100*r.R + 10*r.F + r.M }

// quintiles returns the score of each value (see RFM).
func quintiles(vs []int64) []int {
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	n := len(vs)
	out := make([]int, n)
	for i, v := range vs {
		less, _ := slices.BinarySearch(sorted, v) // the first index of v: how many are less
		out[i] = 1 + 5*less/n
	}
	return out
}

// ScoreRFM computes the RFM of customers from their last purchase, number
// of purchases and amount spent, as RefreshRFM does: the result's i-th
// entry is the i-th customer's. Customers without purchases (count 0) get
// no score and are not counted in N.
func ScoreRFM(last []time.Time, count []int, spent []int64, loc *time.Location) []RFM {
	var idx []int
	var rs, fs, ms []int64
	for i := range count {
		if count[i] <= 0 {
			continue
		}
		idx = append(idx, i)
		l := last[i].In(loc)
		day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		rs = append(rs, day.Unix()/86400)
		fs = append(fs, int64(count[i]))
		ms = append(ms, spent[i])
	}
	out := make([]RFM, len(count))
	if len(idx) == 0 {
		return out
	}
	r, f, m := quintiles(rs), quintiles(fs), quintiles(ms)
	for j, i := range idx {
		out[i] = RFM{R: r[j], F: f[j], M: m[j]}
	}
	return out
}

// RefreshRFM sets the RFM score of every customer (see RFM), writing only
// the rows whose score changed, in batches. The daily job runs it after
// the windows move on. It returns how many customers' scores changed.
func (s *Store) RefreshRFM(ctx context.Context) (int, error) {
	type row struct {
		id    int64
		old   RFM
		count int
		spent int64
		last  time.Time
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, rfm_r, rfm_f, rfm_m, order_count, spent_total_fen, last_order_at FROM customers
		WHERE order_count > 0 OR rfm_score <> 0 ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("orders: read customers for RFM: %w", err)
	}
	var all []row
	for rows.Next() {
		var r row
		var last sql.NullTime
		if err := rows.Scan(&r.id, &r.old.R, &r.old.F, &r.old.M, &r.count, &r.spent, &last); err != nil {
			rows.Close()
			return 0, fmt.Errorf("orders: read customers for RFM: %w", err)
		}
		if !last.Valid {
			r.count = 0 // no purchase time: nothing to rank
		}
		r.last = last.Time
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	last, count, spent := make([]time.Time, len(all)), make([]int, len(all)), make([]int64, len(all))
	for i, r := range all {
		last[i], count[i], spent[i] = r.last, r.count, r.spent
	}
	scores := ScoreRFM(last, count, spent, s.location())
	type change struct {
		id  int64
		rfm RFM
	}
	var changes []change
	for i, r := range all {
		if scores[i] != r.old {
			changes = append(changes, change{r.id, scores[i]})
		}
	}
	total := len(changes)
	for len(changes) > 0 {
		n := min(len(changes), 500)
		batch := changes[:n]
		changes = changes[n:]
		if err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			q := store.NewCachedTx(tx)
			defer q.Close()
			for _, c := range batch {
				// A customer whose purchases were all unlinked meanwhile
				// keeps no score.
				if _, err := q.ExecContext(ctx, `UPDATE customers SET rfm_r = $1, rfm_f = $2, rfm_m = $3, rfm_score = $4
					WHERE id = $5 AND (order_count > 0 OR $4 = 0)`, c.rfm.R, c.rfm.F, c.rfm.M, c.rfm.Score(), c.id); err != nil {
					return fmt.Errorf("orders: set RFM of customer %d: %w", c.id, err)
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
	}
	return total, nil
}
