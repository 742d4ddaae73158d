package campaign

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
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

// idTextSource is idSource for ids kept as text (protected_values.owner_id).
func idTextSource(d store.Dialect, n int) string {
	if d == store.Postgres {
		return fmt.Sprintf("(SELECT unnest($%d::text[]) AS value)", n)
	}
	return fmt.Sprintf("(SELECT value FROM json_each($%d))", n)
}

// idTextArg encodes ids as the parameter of idTextSource: on SQLite a
// JSON array of strings, so that json_each yields text.
func idTextArg(d store.Dialect, ids []int64) string {
	if d == store.Postgres {
		return idArg(d, ids)
	}
	b := make([]byte, 0, len(ids)*10+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '"')
	}
	return string(append(b, ']'))
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

// planStep is how many recipients planning reads, decides and writes at
// a time when Service.PlanStep is 0.
const planStep = 50000

// step returns the recipients planned at a time.
func (s *Service) step() int {
	if s.PlanStep > 0 {
		return s.PlanStep
	}
	return planStep
}

// addressed is a step of the audience with the addresses of its customers.
type addressed struct {
	ids   []int64
	addrs map[int64]Recipient
}

// planAll plans c in three stages that run at once, each a step of the
// audience behind the one before: reading (the audience snapshot, streamed
// in steps, and the step's addresses), deciding (the gate) and writing
// (the delivery rows, in one transaction per step). The channels between
// them hold one step each, so memory stays a few steps whatever the
// audience's size, and the reads, the gate's CPU work and the writes
// overlap on the machine's cores. The writer holds the write connection
// only for its own transaction, so the gate's records of its decisions
// interleave with it. Only the counts are kept.
func (s *Service) planAll(ctx context.Context, c Campaign, now time.Time) (Preview, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	step := s.step()
	read := make(chan addressed, 1)
	decided := make(chan []planned, 1)
	var readErr, writeErr error
	readDone, writeDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(read)
		readErr = s.streamAudience(ctx, c.Audience, step, func(ids []int64) error {
			addrs, err := s.addressesOf(ctx, c, ids)
			if err != nil {
				return err
			}
			select {
			case read <- addressed{ids, addrs}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if readErr != nil {
			cancel()
		}
	}()
	go func() {
		defer close(writeDone)
		for rows := range decided {
			if writeErr == nil {
				if writeErr = s.writePlan(ctx, c, rows, now); writeErr != nil {
					cancel()
				}
			}
		}
	}()
	p := Preview{Refused: map[string]int{}, BySender: map[string]int{}}
	var err error
	for a := range read {
		if err != nil || ctx.Err() != nil {
			continue // drain: the reader stops at the cancellation
		}
		var rows []planned
		if rows, err = s.decide(ctx, c, a.ids, a.addrs); err != nil {
			cancel()
			continue
		}
		p.add(rows)
		decided <- rows
	}
	close(decided)
	<-writeDone
	<-readDone
	// The first failure is the cause; the others may be its cancellation.
	for _, e := range []error{writeErr, err, readErr} {
		if e != nil && !errors.Is(e, context.Canceled) {
			return Preview{}, e
		}
	}
	if err := cmp.Or(writeErr, err, readErr); err != nil {
		return Preview{}, err
	}
	p.price(c, s.smsPricePerPart(ctx))
	return p, nil
}
