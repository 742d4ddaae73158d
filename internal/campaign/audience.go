package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
)

// Resolver turns an audience into customer ids, ascending: the snapshot a
// campaign is planned on. The segment index can replace SQLResolver.
type Resolver interface {
	Resolve(ctx context.Context, a Audience) ([]int64, error)
}

// SQLResolver resolves audiences with the segment language's reference SQL
// (segment.SQL): a saved segment's expression, or "tag:A or tag:B".
type SQLResolver struct {
	DB       *store.DB
	Location *time.Location
	Clock    kith.Clock
}

// Expression returns the segment expression of a.
func (r *SQLResolver) Expression(ctx context.Context, a Audience) (string, error) {
	if a.SegmentID != 0 {
		saved, err := segment.NewStore(r.DB, r.Clock).Get(ctx, a.SegmentID)
		if err != nil {
			return "", err
		}
		return saved.Expression, nil
	}
	terms := make([]string, len(a.Tags))
	for i, t := range a.Tags {
		terms[i] = "tag:" + segment.QuoteName(strings.TrimSpace(t))
	}
	return strings.Join(terms, " or "), nil
}

// Streamer is a Resolver that hands the snapshot over in parts as it
// reads it: fn gets the ids, ascending, at most step at a time (a new
// slice each call, which fn may keep), all from one read of the database.
// Planning uses it so that a million ids are never held at once and
// reading overlaps deciding. An error from fn stops the stream and is
// returned.
type Streamer interface {
	Resolver
	Stream(ctx context.Context, a Audience, step int, fn func(ids []int64) error) error
}

// Resolve implements Resolver.
func (r *SQLResolver) Resolve(ctx context.Context, a Audience) ([]int64, error) {
	var ids []int64
	err := r.Stream(ctx, a, 1<<16, func(part []int64) error {
		ids = append(ids, part...)
		return nil
	})
	return ids, err
}

// Stream implements Streamer.
func (r *SQLResolver) Stream(ctx context.Context, a Audience, step int, fn func(ids []int64) error) error {
	if step <= 0 {
		return fmt.Errorf("campaign: audience: step %d", step)
	}
	src, err := r.Expression(ctx, a)
	if err != nil {
		return err
	}
	e, err := segment.Parse(src)
	if err != nil {
		return err
	}
	q, args, err := segment.SQL(r.DB.Dialect, e, segment.SQLOptions{Location: r.Location, Now: r.Clock.Now()})
	if err != nil {
		return err
	}
	rows, err := r.DB.R.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("campaign: audience: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, min(step, 4096))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("campaign: audience: %w", err)
		}
		ids = append(ids, id)
		if len(ids) == step {
			if err := fn(ids); err != nil {
				return err
			}
			ids = make([]int64, 0, step)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("campaign: audience: %w", err)
	}
	if len(ids) > 0 {
		return fn(ids)
	}
	return nil
}

// streamAudience hands c's audience to fn step ids at a time: as it is
// read when the resolver is a Streamer, else from its whole snapshot.
func (s *Service) streamAudience(ctx context.Context, a Audience, step int, fn func(ids []int64) error) error {
	if st, ok := s.audience.(Streamer); ok {
		return st.Stream(ctx, a, step, fn)
	}
	ids, err := s.audience.Resolve(ctx, a)
	if err != nil {
		return err
	}
	for start := 0; start < len(ids); start += step {
		if err := fn(ids[start:min(start+step, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

// Recipient is one customer's identity on a channel, and for WeCom the
// member who sends to them.
type Recipient struct {
	CustomerID int64
	Person     consent.Person
	Sender     string
}

// Addresser finds, for customers, their identity on a channel. A customer
// it returns nothing for has no address there (refused as NO_ADDRESS).
type Addresser interface {
	Addresses(ctx context.Context, ch Channel, customers []int64) (map[int64]Recipient, error)
}

// addressChunk is how many customers one address query asks about.
const addressChunk = 10000

// DBAddresser answers for WeCom from the database: the customer's
// external_userid, sent by the member of its earliest active follow (the
// member who has known the customer longest). SMS and e-mail addresses
// are sealed: the application gives a Service an Addresser that opens
// them.
type DBAddresser struct{ DB *store.DB }

// Addresses implements Addresser.
func (d *DBAddresser) Addresses(ctx context.Context, ch Channel, customers []int64) (map[int64]Recipient, error) {
	if ch != WeCom && ch != WeComMoment {
		return nil, kith.Errorf(kith.EUNAVAILABLE, "campaign: no address book for %s is configured", ch)
	}
	return wecomAddresses(ctx, d.DB, customers, nil)
}

// wecomAddresses answers for WeCom from the database: each customer's
// external_userid, sent by the member of its earliest active follow —
// among members only, when members names some.
func wecomAddresses(ctx context.Context, db *store.DB, customers []int64, members []string) (map[int64]Recipient, error) {
	out := make(map[int64]Recipient, len(customers))
	only := ""
	args := []any{nil}
	for i, m := range members {
		if i == 0 {
			only = " AND f.member_userid IN ("
		} else {
			only += ","
		}
		only += fmt.Sprintf("$%d", i+2)
		args = append(args, m)
	}
	if only != "" {
		only += ")"
	}
	// The ids go as one parameter (idSource): thousands of numbered
	// parameters are slow to bind on SQLite.
	for start := 0; start < len(customers); start += addressChunk {
		part := customers[start:min(start+addressChunk, len(customers))]
		args[0] = idArg(db.Dialect, part)
		rows, err := db.R.QueryContext(ctx, `SELECT c.id, c.external_userid, f.member_userid FROM customers c
			JOIN follows f ON f.customer_id = c.id AND f.status = 'active'`+only+`
			WHERE c.id IN `+idSource(db.Dialect, 1)+` ORDER BY c.id, f.added_at, f.member_userid`, args...)
		if err != nil {
			return nil, fmt.Errorf("campaign: addresses: %w", err)
		}
		for rows.Next() {
			var r Recipient
			var ext string
			if err := rows.Scan(&r.CustomerID, &ext, &r.Sender); err != nil {
				rows.Close()
				return nil, err
			}
			if _, seen := out[r.CustomerID]; !seen {
				r.Person = consent.ExternalUser(ext)
				out[r.CustomerID] = r
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
