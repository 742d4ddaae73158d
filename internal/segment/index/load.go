package index

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
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
func (d *dayer) day(t time.Time) int64 {
	u := t.Unix()
	if u < d.start || u >= d.end {
		lt := t.In(d.loc)
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
	var maxID, n int64
	if ids == nil {
		if err := l.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0), COUNT(*) FROM customers`).Scan(&maxID, &n); err != nil {
			return nil, fmt.Errorf("segment index: count customers: %w", err)
		}
		if _, err := customerID(maxID); err != nil {
			return nil, err
		}
	}
	var reachExp [2][]expiry
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.customers(gctx, ids, maxID, s) })
	g.Go(func() error { return l.follows(gctx, ids, newEarliest(ids == nil, maxID, n), s) })
	g.Go(func() error { return l.tags(gctx, ids, s) })
	g.Go(func() error { return l.orderFacts(gctx, ids, maxID, s) })
	g.Go(func() error { return l.boughtSKUs(gctx, ids, s) })
	g.Go(func() error {
		var err error
		reachExp[0], err = l.reachable(gctx, ids, s.reach[0], wecomQuery)
		return err
	})
	g.Go(func() error {
		var err error
		reachExp[1], err = l.reachable(gctx, ids, s.reach[1], smsQuery)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s.expiries = append(reachExp[0], reachExp[1]...)
	return s, nil
}

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
	rows, err := l.db.R.QueryContext(ctx, `SELECT id, order_count, spent_30d_fen, spent_90d_fen, spent_365d_fen, spent_total_fen, last_order_at
FROM customers WHERE TRUE`+inList("id", ids))
	if err != nil {
		return fmt.Errorf("segment index: read customers: %w", err)
	}
	defer rows.Close()
	var (
		id   int64
		v    [numFacts]int64
		last sql.NullTime
		days = l.dayer()
	)
	for rows.Next() {
		if err := rows.Scan(&id, &v[0], &v[1], &v[2], &v[3], &v[4], &last); err != nil {
			return fmt.Errorf("segment index: read customers: %w", err)
		}
		cid, err := customerID(id)
		if err != nil {
			return err
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
		if last.Valid {
			sinks[numFacts].set(cid, days.day(last.Time))
		}
	}
	if err := rows.Err(); err != nil {
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
	rows, err := l.db.R.QueryContext(ctx, `SELECT customer_id, member_userid, state, added_at FROM follows WHERE status = 'active'`+inList("customer_id", ids))
	if err != nil {
		return fmt.Errorf("segment index: read follows: %w", err)
	}
	defer rows.Close()
	var (
		id            int64
		member, state sql.RawBytes
		at            time.Time
		days          = l.dayer()
	)
	for rows.Next() {
		if err := rows.Scan(&id, &member, &state, &at); err != nil {
			return fmt.Errorf("segment index: read follows: %w", err)
		}
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		// Indexing a map with string(bytes) does not allocate; the key is
		// copied only when the entry is new.
		if bm, ok := s.members[string(member)]; ok {
			bm.Add(cid)
		} else {
			bitmapOf(s.members, string(member)).Add(cid)
		}
		if bm, ok := s.channels[string(state)]; ok {
			bm.Add(cid)
		} else {
			bitmapOf(s.channels, string(state)).Add(cid)
		}
		added.offer(cid, int32(days.day(at)))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("segment index: read follows: %w", err)
	}
	rows.Close()
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
	rows, err := l.db.R.QueryContext(ctx, `SELECT customer_id, member_userid, tag_id FROM follow_tags WHERE TRUE`+inList("customer_id", ids))
	if err != nil {
		return fmt.Errorf("segment index: read tags: %w", err)
	}
	defer rows.Close()
	var (
		id          int64
		member, tag sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&id, &member, &tag); err != nil {
			return fmt.Errorf("segment index: read tags: %w", err)
		}
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		if len(inactive) > 0 && inactive[followKey{cid, string(member)}] {
			continue
		}
		if bm, ok := s.tags[string(tag)]; ok {
			bm.Add(cid)
		} else {
			bitmapOf(s.tags, string(tag)).Add(cid)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("segment index: read tags: %w", err)
	}
	return nil
}

// The marketing grants that make a customer reachable (CONTRACTS.md), by
// channel; valid_until is compared in Go.
const (
	wecomQuery = `SELECT c.id, cs.valid_until FROM consent_state cs JOIN customers c ON c.external_userid = cs.person_key
WHERE cs.person_kind = 'external_userid' AND cs.purpose = 'marketing' AND cs.channel = 'wecom' AND cs.action = 'grant' AND cs.suppressed = FALSE`
	smsQuery = `SELECT p.customer_id, cs.valid_until FROM customer_phones p JOIN consent_state cs ON cs.person_index = p.phone_index
WHERE cs.person_kind = 'phone' AND cs.purpose = 'marketing' AND cs.channel = 'sms' AND cs.action = 'grant' AND cs.suppressed = FALSE`
)

// reachable adds the customers a grant reaches to bm and returns the grants
// that expire later.
func (l *loader) reachable(ctx context.Context, ids []uint32, bm *roaring.Bitmap, query string) ([]expiry, error) {
	col := "c.id"
	if query == smsQuery {
		col = "p.customer_id"
	}
	rows, err := l.db.R.QueryContext(ctx, query+inList(col, ids))
	if err != nil {
		return nil, fmt.Errorf("segment index: read consent: %w", err)
	}
	defer rows.Close()
	var (
		exp   []expiry
		id    int64
		until sql.NullTime
	)
	for rows.Next() {
		if err := rows.Scan(&id, &until); err != nil {
			return nil, fmt.Errorf("segment index: read consent: %w", err)
		}
		cid, err := customerID(id)
		if err != nil {
			return nil, err
		}
		if until.Valid {
			if !until.Time.After(l.now) {
				continue
			}
			exp = append(exp, expiry{at: until.Time, id: cid})
		}
		bm.Add(cid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment index: read consent: %w", err)
	}
	return exp, nil
}

// earliest keeps the earliest day offered per customer: in an array by id
// for a build over dense ids, in a map otherwise.
type earliest struct {
	arr []int32
	m   map[uint32]int32
}

const noDay = math.MaxInt32

func newEarliest(all bool, maxID, count int64) *earliest {
	if all && maxID <= 4*count+1<<20 {
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
