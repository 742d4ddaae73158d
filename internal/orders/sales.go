package orders

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// SalesCell is what purchases came to on one day for one member and one
// channel. Member "" is nobody (the customer had no owner then); Channel is the owner follow's state, "" when the customer came
// through no channel.
type SalesCell struct {
	Day       string `json:"day"` // 2006-01-02 in the instance's zone; "" in totals over the range
	Member    string `json:"member"`
	Channel   string `json:"channel"`
	Purchases int    `json:"purchases"`
	AmountFen int64  `json:"amount_fen"` // net of refunds
}

// Sales are the purchases of some days attributed to members and channels
// (see SalesOf).
type Sales struct {
	From, To string      // first and last day, inclusive
	Cells    []SalesCell // by day, member, channel; only cells with purchases
}

// ByMember adds the cells up per day and member (Channel empty).
func (s *Sales) ByMember() []SalesCell {
	return s.group(func(c SalesCell) SalesCell { return SalesCell{Day: c.Day, Member: c.Member} })
}

// ByChannel adds the cells up per day and channel (Member empty).
func (s *Sales) ByChannel() []SalesCell {
	return s.group(func(c SalesCell) SalesCell { return SalesCell{Day: c.Day, Channel: c.Channel} })
}

// OfChannel returns the cells of one channel (a follow state), per day and
// member: the sales beside a channel's statistics.
func (s *Sales) OfChannel(state string) []SalesCell {
	var out []SalesCell
	for _, c := range s.Cells {
		if c.Channel == state {
			out = append(out, c)
		}
	}
	return out
}

// Total adds every cell up.
func (s *Sales) Total() SalesCell {
	var t SalesCell
	for _, c := range s.Cells {
		t.Purchases += c.Purchases
		t.AmountFen += c.AmountFen
	}
	return t
}

func (s *Sales) group(key func(SalesCell) SalesCell) []SalesCell {
	idx := map[SalesCell]int{}
	var out []SalesCell
	for _, c := range s.Cells {
		k := key(c)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, k)
		}
		out[i].Purchases += c.Purchases
		out[i].AmountFen += c.AmountFen
	}
	sortCells(out)
	return out
}

func sortCells(cs []SalesCell) {
	slices.SortFunc(cs, func(a, b SalesCell) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Member, b.Member), cmp.Compare(a.Channel, b.Channel))
	})
}

// Sales attributes the purchases of the days from and to (inclusive, in
// the instance's zone) to members and channels; see SalesOf.
func (s *Store) Sales(ctx context.Context, from, to time.Time) (*Sales, error) {
	return SalesOf(ctx, s.db.R, from, to, s.location())
}

// follow is one follow relation, for attribution.
type follow struct {
	member, state string
	added, ended  time.Time // ended zero: active
}

// SalesOf attributes customers' purchases of the days from and to
// (inclusive, days in loc, at most a year) to members and channels, per
// day. A purchase is a paid order (any status but pending and cancelled,
// on the day it was ordered) or a payment (on the day it was paid), its
// amount net of refunds, as in the customer facts; orders and payments
// that joined no customer are not counted (they have nobody to attribute
// to, and leaving them out keeps their import from paying for an index).
//
// Its owner is the follow relation that owned the customer at that
// moment: of the customer's follows added at or before it and not ended
// by then (active, or ended after it), the one added first (ties: the
// smaller member userid) — the earliest active follow, as segments' "added"
// reads it, when the purchase is recent. The purchase counts for that
// follow's member and for the channel its state names (acquisition's
// attribution). A payment counts for the member who collected it, when
// WeCom says who, and for the owner's channel. A purchase with no owner
// then (made before anyone followed the customer) counts for member "" and
// channel "".
//
// A follow deleted and added again keeps only its latest added_at, so the
// attribution of purchases between the two is lost with it.
func SalesOf(ctx context.Context, q Querier, from, to time.Time, loc *time.Location) (*Sales, error) {
	return salesOf(ctx, q, from, to, loc, nil)
}

// ChannelSalesOf returns the sales of one channel (a follow state), per
// day and member, as SalesOf attributes them; it reads only the purchases
// of customers with a follow of that state. Acquisition's channel
// statistics show them beside the new and lost customers.
func ChannelSalesOf(ctx context.Context, q Querier, state string, from, to time.Time, loc *time.Location) ([]SalesCell, error) {
	s, err := salesOf(ctx, q, from, to, loc, &state)
	if err != nil {
		return nil, err
	}
	return s.OfChannel(state), nil
}

// Querier runs a query: a *sql.DB, a *sql.Tx or a store.Querier.
type Querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

func salesOf(ctx context.Context, q Querier, from, to time.Time, loc *time.Location, state *string) (*Sales, error) {
	lf, lt := from.In(loc), to.In(loc)
	start := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
	end := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
	if !end.After(start) {
		return nil, kith.Errorf(kith.EINVALID, "to: the last day is before the first")
	}
	if end.Sub(start) > 367*24*time.Hour {
		return nil, kith.Errorf(kith.EINVALID, "to: at most a year at a time")
	}
	args := []any{start.UTC(), end.UTC()}
	only := ""
	if state != nil {
		// Only customers who came through the channel can have an owner
		// of its state.
		args = append(args, *state)
		only = " AND customer_id IN (SELECT customer_id FROM follows WHERE state = $3)"
	}
	follows := map[int64][]follow{}
	rows, err := q.QueryContext(ctx, `SELECT customer_id, member_userid, state, added_at, status, ended_at FROM follows WHERE customer_id IN (
		SELECT customer_id FROM orders WHERE ordered_at >= $1 AND ordered_at < $2 AND customer_id IS NOT NULL
		UNION SELECT customer_id FROM payments WHERE paid_at >= $1 AND paid_at < $2 AND customer_id IS NOT NULL)`+only, args...)
	if err != nil {
		return nil, fmt.Errorf("orders: sales: read follows: %w", err)
	}
	for rows.Next() {
		var id int64
		var f follow
		var status string
		var ended sql.NullTime
		if err := rows.Scan(&id, &f.member, &f.state, &f.added, &status, &ended); err != nil {
			rows.Close()
			return nil, fmt.Errorf("orders: sales: read follows: %w", err)
		}
		switch {
		case status == "active":
		case ended.Valid:
			f.ended = ended.Time
		default:
			continue // ended, nobody knows when: it owns nothing
		}
		follows[id] = append(follows[id], f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, fs := range follows {
		slices.SortFunc(fs, func(a, b follow) int { return cmp.Or(a.added.Compare(b.added), cmp.Compare(a.member, b.member)) })
	}
	owner := func(customerID int64, at time.Time) (follow, bool) {
		for _, f := range follows[customerID] {
			if !f.added.After(at) && (f.ended.IsZero() || f.ended.After(at)) {
				return f, true
			}
		}
		return follow{}, false
	}
	rows, err = q.QueryContext(ctx, `SELECT customer_id, ordered_at, total_fen - refund_fen, '' FROM orders
		WHERE ordered_at >= $1 AND ordered_at < $2 AND customer_id IS NOT NULL AND status NOT IN ('pending', 'cancelled')`+only+`
		UNION ALL SELECT customer_id, paid_at, amount_fen - refunded_fen, member_userid FROM payments
		WHERE paid_at >= $1 AND paid_at < $2 AND customer_id IS NOT NULL`+only, args...)
	if err != nil {
		return nil, fmt.Errorf("orders: sales: read purchases: %w", err)
	}
	defer rows.Close()
	cells := map[SalesCell]*SalesCell{}
	for rows.Next() {
		var cust int64
		var at time.Time
		var net int64
		var collector string
		if err := rows.Scan(&cust, &at, &net, &collector); err != nil {
			return nil, fmt.Errorf("orders: sales: read purchases: %w", err)
		}
		k := SalesCell{Day: at.In(loc).Format(time.DateOnly)}
		if f, ok := owner(cust, at); ok {
			k.Member, k.Channel = f.member, f.state
		}
		if collector != "" {
			k.Member = collector
		}
		c := cells[k]
		if c == nil {
			c = &SalesCell{Day: k.Day, Member: k.Member, Channel: k.Channel}
			cells[k] = c
		}
		c.Purchases++
		c.AmountFen += net
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := &Sales{From: start.Format(time.DateOnly), To: end.AddDate(0, 0, -1).Format(time.DateOnly)}
	for _, c := range cells {
		out.Cells = append(out.Cells, *c)
	}
	sortCells(out.Cells)
	return out, nil
}
