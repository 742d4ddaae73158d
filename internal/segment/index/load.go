package index

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"golang.org/x/sync/errgroup"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// loader reads the tables the index is built from: all customers (the
// build), or a few (after changes). Filtered reads name the customers in
// an IN list of integers the index formats itself.
type loader struct {
	db  *store.DB
	loc *time.Location
	now time.Time // grants valid until later than this count

	phaseMu sync.Mutex
	phases  map[string]time.Duration // a build's reads: how long each took (they overlap)
}

// timed runs fn and records its wall time as the phase name.
func (l *loader) timed(name string, fn func() error) func() error {
	return func() error {
		start := time.Now()
		err := fn()
		l.phaseMu.Lock()
		if l.phases == nil {
			l.phases = map[string]time.Duration{}
		}
		l.phases[name] = time.Since(start)
		l.phaseMu.Unlock()
		return err
	}
}

// day returns t's calendar day in the instance's time zone, as days since
// 1970-01-01.
func (l *loader) day(t time.Time) int64 {
	y, m, d := t.In(l.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// dayer computes days fast: it remembers the time zone's offset over the
// period around the last instant it was asked about. One per goroutine.
type dayer struct {
	loc        *time.Location
	start, end int64 // the period the offset holds in, unix seconds
	offset     int64
}

func (l *loader) dayer() *dayer { return &dayer{loc: l.loc, start: 1, end: 0} }

// day returns t's calendar day in the time zone as days since 1970-01-01.
func (d *dayer) day(t time.Time) int64 { return d.dayUnix(t.Unix()) }

// dayUnix returns the calendar day of the instant u (unix seconds).
func (d *dayer) dayUnix(u int64) int64 {
	if u < d.start || u >= d.end {
		lt := time.Unix(u, 0).In(d.loc)
		_, off := lt.Zone()
		s, e := lt.ZoneBounds()
		d.offset, d.start, d.end = int64(off), math.MinInt64, math.MaxInt64
		if !s.IsZero() {
			d.start = s.Unix()
		}
		if !e.IsZero() {
			d.end = e.Unix()
		}
	}
	x := u + d.offset
	if x < 0 {
		return (x - 86399) / 86400
	}
	return x / 86400
}

// customerID checks that a database id fits the bitmaps.
func customerID(id int64) (uint32, error) {
	if id < 0 || id > math.MaxUint32 {
		return 0, kith.Errorf(kith.EINVALID, "segment index: customer id %d does not fit 32 bits; the index keys bitmaps by customer id and cannot hold it", id)
	}
	return uint32(id), nil
}

// inList is " AND col IN (…)" for the ids, or "" for every customer.
func inList(col string, ids []uint32) string {
	if ids == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(" AND ")
	b.WriteString(col)
	b.WriteString(" IN (")
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(id), 10))
	}
	if len(ids) == 0 {
		b.WriteString("NULL")
	}
	b.WriteByte(')')
	return b.String()
}

// load reads everything about the customers in ids (every customer when ids
// is nil) into a new state. The reads run side by side on the read pool.
func (l *loader) load(ctx context.Context, ids []uint32) (*state, error) {
	s := newState()
	var maxID int64
	if ids == nil {
		// (No COUNT(*): SQLite counts by reading a whole index, before
		// anything else can start.)
		if err := l.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM customers`).Scan(&maxID); err != nil {
			return nil, fmt.Errorf("segment index: count customers: %w", err)
		}
		if _, err := customerID(maxID); err != nil {
			return nil, err
		}
	}
	var reachExp [2][]expiry
	g, gctx := errgroup.WithContext(ctx)
	g.Go(l.timed("customers", func() error { return l.customers(gctx, ids, maxID, s) }))
	g.Go(l.timed("follows", func() error { return l.follows(gctx, ids, newEarliest(ids == nil, maxID), s) }))
	g.Go(l.timed("follow_tags", func() error { return l.tags(gctx, ids, s) }))
	g.Go(l.timed("order_facts", func() error { return l.orderFacts(gctx, ids, maxID, s) }))
	g.Go(l.timed("skus", func() error { return l.boughtSKUs(gctx, ids, s) }))
	g.Go(l.timed("consent_wecom", func() error {
		var err error
		reachExp[0], err = l.reachable(gctx, ids, s.reach[0], wecomQuery)
		return err
	}))
	g.Go(l.timed("consent_sms", func() error {
		var err error
		reachExp[1], err = l.reachable(gctx, ids, s.reach[1], smsQuery)
		return err
	}))
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s.expiries = append(reachExp[0], reachExp[1]...)
	return s, nil
}

// factColumns are the customers' columns of the numeric facts, in the
// order of numOrders….
var factColumns = [numFacts]string{"order_count", "spent_30d_fen", "spent_90d_fen", "spent_365d_fen", "spent_total_fen"}

// customers reads the universe and the facts on customers.
func (l *loader) customers(ctx context.Context, ids []uint32, maxID int64, s *state) error {
	// A build sets bits in plain arrays and compresses them at the end.
	var sinks [numFacts + 1]valueSink
	var dense [numFacts + 1]*denseBSI
	for i := range sinks {
		if ids == nil {
			dense[i] = newDenseBSI(uint32(maxID))
			sinks[i] = dense[i]
		} else if i < numFacts {
			sinks[i] = s.nums[i]
		} else {
			sinks[i] = s.last
		}
	}
	var all []uint64
	if ids == nil {
		all = make([]uint64, maxID/64+1)
	}
	var (
		v    [numFacts]int64
		days = l.dayer()
	)
	q := `SELECT id, ` + strings.Join(factColumns[:], ", ") + `, ` + epoch(l.db.Dialect, "last_order_at") + ` FROM customers WHERE TRUE` + inList("id", ids)
	err := l.read(ctx, ids, q, func(row []driver.Value) error {
		id, err := asInt64(row[0])
		if err != nil {
			return err
		}
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		for i := range v {
			if v[i], err = asInt64(row[1+i]); err != nil {
				return fmt.Errorf("%s: %w", factColumns[i], err)
			}
		}
		last, hasLast, err := days.asDay(row[1+numFacts])
		if err != nil {
			return fmt.Errorf("last_order_at: %w", err)
		}
		if all != nil {
			all = growWords(all, int(cid>>6)+1) // a customer added since the count
			all[cid>>6] |= 1 << (cid & 63)
		} else {
			s.all.Add(cid)
		}
		for i, x := range v {
			sinks[i].set(cid, x)
		}
		if hasLast {
			sinks[numFacts].set(cid, last)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("segment index: read customers: %w", err)
	}
	if ids == nil {
		s.all = roaring.FromDense(all, false)
		for i := range numFacts {
			s.nums[i] = dense[i].finish()
		}
		s.last = dense[numFacts].finish()
	}
	return nil
}

// followKey names one follow.
type followKey struct {
	customer uint32
	member   string
}

// follows reads members, channels and the added day from active follows.
func (l *loader) follows(ctx context.Context, ids []uint32, added *earliest, s *state) error {
	days := l.dayer()
	q := `SELECT customer_id, member_userid, state, ` + epoch(l.db.Dialect, "added_at") + ` FROM follows WHERE status = 'active'` + inList("customer_id", ids)
	err := l.read(ctx, ids, q, func(row []driver.Value) error {
		id, err := asInt64(row[0])
		if err != nil {
			return err
		}
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		member, err := asString(row[1])
		if err != nil {
			return err
		}
		state, err := asString(row[2])
		if err != nil {
			return err
		}
		day, ok, err := days.asDay(row[3])
		if err != nil || !ok {
			return fmt.Errorf("added_at %v: %w", row[3], err)
		}
		bitmapOf(s.members, member).Add(cid)
		bitmapOf(s.channels, state).Add(cid)
		added.offer(cid, int32(day))
		return nil
	})
	if err != nil {
		return fmt.Errorf("segment index: read follows: %w", err)
	}
	var sink valueSink = s.added
	var dense *denseBSI
	if added.arr != nil {
		dense = newDenseBSI(uint32(len(added.arr)))
		sink = dense
	}
	added.each(func(cid uint32, day int32) { sink.set(cid, int64(day)) })
	if dense != nil {
		s.added = dense.finish()
	}
	return nil
}

// inactive returns the follows that are not active: their tags do not
// count. (Few, so a set; the tags are then read without a join.) Their
// members and channels go to the catalog.
func (l *loader) inactive(ctx context.Context, ids []uint32, s *state) (map[followKey]bool, error) {
	rows, err := l.db.R.QueryContext(ctx, `SELECT customer_id, member_userid, state FROM follows WHERE status <> 'active'`+inList("customer_id", ids))
	if err != nil {
		return nil, fmt.Errorf("segment index: read follows: %w", err)
	}
	defer rows.Close()
	out := map[followKey]bool{}
	for rows.Next() {
		var id int64
		var member, channel string
		if err := rows.Scan(&id, &member, &channel); err != nil {
			return nil, fmt.Errorf("segment index: read follows: %w", err)
		}
		cid, err := customerID(id)
		if err != nil {
			return nil, err
		}
		out[followKey{cid, member}] = true
		s.otherMembers[member] = true
		s.otherChannels[channel] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment index: read follows: %w", err)
	}
	return out, nil
}

// tags reads the tags on active follows.
func (l *loader) tags(ctx context.Context, ids []uint32, s *state) error {
	inactive, err := l.inactive(ctx, ids, s)
	if err != nil {
		return err
	}
	parts, err := l.halves(ctx, ids, "follow_tags", "follow_tags")
	if err != nil {
		return err
	}
	found := make([]map[string]*roaring.Bitmap, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	for i, part := range parts {
		found[i] = map[string]*roaring.Bitmap{}
		g.Go(func() error {
			q := `SELECT customer_id, member_userid, tag_id FROM follow_tags WHERE TRUE` + inList("customer_id", ids) + part
			return l.read(gctx, ids, q, func(row []driver.Value) error {
				id, err := asInt64(row[0])
				if err != nil {
					return err
				}
				cid, err := customerID(id)
				if err != nil {
					return err
				}
				tag, err := asString(row[2])
				if err != nil {
					return err
				}
				if len(inactive) > 0 {
					member, err := asString(row[1])
					if err != nil {
						return err
					}
					if inactive[followKey{cid, member}] {
						return nil
					}
				}
				bitmapOf(found[i], tag).Add(cid)
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("segment index: read tags: %w", err)
	}
	for _, m := range found {
		for tag, bm := range m {
			if old, ok := s.tags[tag]; ok {
				old.Or(bm)
			} else {
				s.tags[tag] = bm
			}
		}
	}
	return nil
}

// reachQuery reads the marketing grants that make a customer reachable on
// one channel (CONTRACTS.md) and the customers they reach; valid_until is
// compared in Go.
type reachQuery struct {
	sql string // PostgreSQL, and SQLite for a few customers (with an IN list on col)
	col string // the customer id's column
	// build is SQLite's read of every customer, through the channel's
	// partial covering index of the grants (migration 00029) in key order:
	// either joined by SQLite (join) or, when merge is set, read alone and
	// merged in Go with merge, a read of the person's table in the same
	// key order. The merge reads both indexes from end to end instead of
	// seeking the person's key once per grant: at 10 M customers, beside
	// the build's other reads, those seeks cost four times what they cost
	// alone (mostly page reads) and the whole read four times the merge.
	build string
	merge string
}

var (
	wecomGrants = ` cs.person_kind = 'external_userid' AND cs.purpose = 'marketing' AND cs.channel = 'wecom' AND cs.action = 'grant' AND cs.suppressed = FALSE`
	smsGrants   = ` cs.person_kind = 'phone' AND cs.purpose = 'marketing' AND cs.channel = 'sms' AND cs.action = 'grant' AND cs.suppressed = FALSE`

	wecomQuery = reachQuery{
		sql: `SELECT c.id, cs.valid_until FROM consent_state cs JOIN customers c ON c.external_userid = cs.person_key WHERE` + wecomGrants,
		col: "c.id",
		// (external_userid is unique, and so is person_key among these
		// grants: the merge pairs them one to one.)
		build: `SELECT cs.person_key, cs.valid_until FROM consent_state cs INDEXED BY consent_state_wecom_grants WHERE` + wecomGrants + ` ORDER BY cs.person_key`,
		merge: `SELECT external_userid, id FROM customers ORDER BY external_userid`,
	}
	smsQuery = reachQuery{
		sql:   `SELECT p.customer_id, cs.valid_until FROM customer_phones p JOIN consent_state cs ON cs.person_index = p.phone_index WHERE` + smsGrants,
		col:   "p.customer_id",
		build: `SELECT p.customer_id, cs.valid_until FROM consent_state cs INDEXED BY consent_state_sms_grants CROSS JOIN customer_phones p INDEXED BY customer_phones_index ON p.phone_index = cs.person_index WHERE` + smsGrants,
	}
)

// reachable adds the customers a grant reaches to bm and returns the grants
// that expire later.
func (l *loader) reachable(ctx context.Context, ids []uint32, bm *roaring.Bitmap, rq reachQuery) ([]expiry, error) {
	var exps []expiry
	add := func(id int64, validUntil driver.Value) error {
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		switch until := validUntil.(type) {
		case nil:
		case time.Time:
			if !until.After(l.now) {
				return nil
			}
			exps = append(exps, expiry{at: until, id: cid})
		default:
			return fmt.Errorf("valid_until %T %v is not a time", until, until)
		}
		bm.Add(cid)
		return nil
	}
	var err error
	switch {
	case ids != nil || l.db.Dialect != store.SQLite:
		err = l.read(ctx, ids, rq.sql+inList(rq.col, ids), func(row []driver.Value) error {
			id, err := asInt64(row[0])
			if err != nil {
				return err
			}
			return add(id, row[1])
		})
	case rq.merge == "":
		err = l.read(ctx, nil, rq.build, func(row []driver.Value) error {
			id, err := asInt64(row[0])
			if err != nil {
				return err
			}
			return add(id, row[1])
		})
	default:
		err = l.mergeByKey(ctx, rq.build, rq.merge, add)
	}
	if err != nil {
		return nil, fmt.Errorf("segment index: read consent: %w", err)
	}
	return exps, nil
}

// mergeByKey walks two queries ordered by their first column, a text key
// unique within each: grants (key, value) and people (key, customer id),
// and calls fn with the id and value of each key both hold. (Go compares
// strings byte by byte, as SQLite's BINARY collation orders them.)
func (l *loader) mergeByKey(ctx context.Context, grants, people string, fn func(id int64, value driver.Value) error) error {
	return pullRows(ctx, l.db, grants, mapBuild, func(nextGrant func() ([]driver.Value, error)) error {
		return pullRows(ctx, l.db, people, mapBuild, func(nextPerson func() ([]driver.Value, error)) error {
			var person string
			p, err := nextPerson()
			if err != nil || p == nil {
				return err
			}
			if person, err = asString(p[0]); err != nil {
				return err
			}
			for {
				g, err := nextGrant()
				if err != nil || g == nil {
					return err
				}
				key, err := asString(g[0])
				if err != nil {
					return err
				}
				for person < key {
					if p, err = nextPerson(); err != nil || p == nil {
						return err
					}
					if person, err = asString(p[0]); err != nil {
						return err
					}
				}
				if person != key {
					continue
				}
				id, err := asInt64(p[1])
				if err != nil {
					return err
				}
				if err := fn(id, g[1]); err != nil {
					return err
				}
			}
		})
	})
}

// splitAbove is the table size (in rowids) from which halves splits.
var splitAbove int64 = 100_000

// halves splits a build's read of a large table in two by rowid, so the
// two halves run side by side (SQLite: one read is one goroutine's work).
// (The reads of the grants go through an index, in its order: not split.)
// It returns the conditions to append to the query: one empty one when the
// read is not a build on SQLite, or the table is small.
func (l *loader) halves(ctx context.Context, ids []uint32, table, alias string) ([]string, error) {
	if ids != nil || l.db.Dialect != store.SQLite {
		return []string{""}, nil
	}
	var top int64
	if err := l.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(rowid), 0) FROM `+table).Scan(&top); err != nil {
		return nil, fmt.Errorf("segment index: size of %s: %w", table, err)
	}
	if top < splitAbove {
		return []string{""}, nil
	}
	mid := strconv.FormatInt(top/2, 10)
	return []string{" AND " + alias + ".rowid <= " + mid, " AND " + alias + ".rowid > " + mid}, nil
}

// earliest keeps the earliest day offered per customer: in an array by id
// for a build over dense ids, in a map otherwise.
type earliest struct {
	arr []int32
	m   map[uint32]int32
}

const noDay = math.MaxInt32

// maxDenseID is the largest customer id for which a build keeps the
// earliest follow day in an array by id (4 bytes per id, like the facts'
// value arrays) rather than a map.
const maxDenseID = 1 << 28

func newEarliest(all bool, maxID int64) *earliest {
	if all && maxID <= maxDenseID {
		arr := make([]int32, maxID+1)
		for i := range arr {
			arr[i] = noDay
		}
		return &earliest{arr: arr}
	}
	return &earliest{m: map[uint32]int32{}}
}

func (e *earliest) offer(id uint32, day int32) {
	if e.arr != nil && int(id) < len(e.arr) {
		if day < e.arr[id] {
			e.arr[id] = day
		}
		return
	}
	if e.m == nil {
		e.m = map[uint32]int32{}
	}
	if old, ok := e.m[id]; !ok || day < old {
		e.m[id] = day
	}
}

// each calls fn for every customer offered a day: in ascending id order
// from the array, then in any order from the map.
func (e *earliest) each(fn func(id uint32, day int32)) {
	for id, d := range e.arr {
		if d != noDay {
			fn(uint32(id), d)
		}
	}
	for id, d := range e.m {
		fn(id, d)
	}
}
