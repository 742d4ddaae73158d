package campaign

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// Writing a plan fast. A campaign of a million recipients writes a million
// delivery rows, almost all alike: the same campaign, channel, state and
// time, a handful of senders, a handful of refusal reasons. So the rows are
// grouped by (state, sender, reason, detail) and each group is written by
// one statement whose only variable part is a list of customer ids, bound
// as one parameter: a JSON array read by json_each on SQLite, a bigint[]
// unnested on PostgreSQL. That binds three or four values per statement
// instead of eight per row, and SQLite's parser never sees thousands of
// numbered parameters (modernc's binder looks each one's name up, which is
// quadratic in their number).

// planChunk is the most customer ids one statement writes.
const planChunk = 20000

// deliveryGroup is the rows of a plan that differ only by customer.
type deliveryGroup struct {
	state, sender, reason, detail string
	customers                     []int64
}

// groupDeliveries sorts rows into groups, in a stable order.
func groupDeliveries(rows []planned) []deliveryGroup {
	type key struct{ state, sender, reason, detail string }
	idx := map[key]int{}
	var out []deliveryGroup
	for i := range rows {
		r := &rows[i]
		k := key{state: DeliveryPlanned, sender: r.sender}
		if r.deferred {
			k.reason, k.detail = r.reason, r.detail
		}
		if !r.allowed {
			k.state, k.reason, k.detail = DeliveryRefused, r.reason, r.detail
		}
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, deliveryGroup{state: k.state, sender: k.sender, reason: k.reason, detail: clip(k.detail)})
		}
		out[j].customers = append(out[j].customers, r.customer)
	}
	slices.SortFunc(out, func(a, b deliveryGroup) int {
		return cmp.Or(cmp.Compare(a.state, b.state), cmp.Compare(a.sender, b.sender), cmp.Compare(a.reason, b.reason), cmp.Compare(a.detail, b.detail))
	})
	return out
}

// idSource is the row source of the ids bound as parameter n, one column
// named value.
func idSource(d store.Dialect, n int) string {
	if d == store.Postgres {
		return fmt.Sprintf("(SELECT unnest($%d::bigint[]) AS value)", n)
	}
	return fmt.Sprintf("(SELECT value FROM json_each($%d))", n)
}

// idArg encodes ids as the parameter of idSource.
func idArg(d store.Dialect, ids []int64) string {
	open, close := byte('['), byte(']')
	if d == store.Postgres {
		open, close = '{', '}'
	}
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, open)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, close))
}

// writePlan writes rows as delivery rows of c, in one transaction.
// Existing rows are kept (planning again is harmless).
func (s *Service) writePlan(ctx context.Context, c Campaign, rows []planned, now time.Time) error {
	groups := groupDeliveries(rows)
	q := `INSERT INTO campaign_deliveries (campaign_id, customer_id, channel, sender, state, reason, detail, updated_at)
		SELECT $1, ids.value, $2, $3, $4, $5, $6, $7 FROM ` + idSource(s.db.Dialect, 8) + ` AS ids
		ON CONFLICT (campaign_id, customer_id, channel) DO NOTHING`
	if s.db.Dialect == store.SQLite {
		// SQLite reads "ON CONFLICT" after a SELECT as the start of a join's
		// constraint unless the SELECT has a WHERE (an upsert rule).
		q = `INSERT INTO campaign_deliveries (campaign_id, customer_id, channel, sender, state, reason, detail, updated_at)
		SELECT $1, ids.value, $2, $3, $4, $5, $6, $7 FROM ` + idSource(s.db.Dialect, 8) + ` AS ids WHERE true
		ON CONFLICT (campaign_id, customer_id, channel) DO NOTHING`
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, g := range groups {
			for start := 0; start < len(g.customers); start += planChunk {
				part := g.customers[start:min(start+planChunk, len(g.customers))]
				if _, err := stmt.ExecContext(ctx, c.ID, string(c.Channel), g.sender, g.state, g.reason, g.detail, now, idArg(s.db.Dialect, part)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("campaign: plan %d: write deliveries: %w", c.ID, err)
	}
	return nil
}

// planStep is how many recipients are evaluated before their rows are
// handed to the writer.
const planStep = 50000

// planAll snapshots c's audience, evaluates it planStep recipients at a
// time and writes each step's rows while the next is evaluated (the
// addresses and the gate read; the writer holds the write connection only
// for its own transaction, so the gate's records of its decisions
// interleave with it). Only the counts are kept: a million recipients'
// rows are never held at once.
func (s *Service) planAll(ctx context.Context, c Campaign, now time.Time) (Preview, error) {
	ids, err := s.audience.Resolve(ctx, c.Audience)
	if err != nil {
		return Preview{}, err
	}
	p := Preview{Refused: map[string]int{}, BySender: map[string]int{}}
	work := make(chan []planned, 1)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var werr error
		for rows := range work {
			if werr == nil {
				werr = s.writePlan(ctx, c, rows, now)
				failed.Store(werr != nil)
			}
		}
		done <- werr
	}()
	for start := 0; start < len(ids) && err == nil && !failed.Load(); start += planStep {
		var rows []planned
		if rows, err = s.evaluateIDs(ctx, c, ids[start:min(start+planStep, len(ids))]); err == nil {
			p.add(rows)
			work <- rows
		}
	}
	close(work)
	if werr := <-done; err == nil {
		err = werr
	}
	if err != nil {
		return Preview{}, err
	}
	p.price(c, SMSPricePerPartFen)
	return p, nil
}
