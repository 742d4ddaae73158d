package index

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/kith-scrm/kith/internal/store"
)

// tailState is where the index stands in the change sequence.
//
// On SQLite one writer at a time holds the database from BEGIN to COMMIT,
// so sequence numbers become visible in order and the watermark is simply
// the highest number read.
//
// On PostgreSQL a number is drawn when the row is inserted, not when its
// transaction commits: a reader can see 7 while 6 is still in flight. So
// the tail reads forward from the highest number it has read (top), and
// remembers the numbers it stepped over (holes): each poll reads the rows
// that have appeared in the holes since. Applying a change is idempotent
// (it reads the customer's current rows again), so reading one twice does
// no harm. The watermark w, below which nothing can appear any more, only
// moves to a number L once every transaction that could hold a number up to
// L has ended: each poll reads the sequence's last value L, then a snapshot;
// every transaction that drew a number up to L had its id before that
// snapshot (the triggers write after the row that fired them, which assigns
// the id), so has an id below the snapshot's xmax; once a later snapshot's
// xmin reaches that xmax, they have all ended, committed or not. Holes at
// or below w are forgotten, and so is everything when the index builds.
type tailState struct {
	db      *store.DB
	w       int64       // every change up to w is applied
	top     int64       // the highest number read
	holes   []seqRange  // PostgreSQL: numbers in (w, top] not read yet, in order
	pending []candidate // PostgreSQL: watermarks waiting for their transactions to end
	pruned  time.Time   // when Run last pruned
}

// seqRange is the numbers from lo to hi, both included.
type seqRange struct{ lo, hi int64 }

// maxHoleRanges bounds the ranges one poll asks about; beyond it, nearby
// ranges are merged (and rows between them read again).
const maxHoleRanges = 200

// candidate is a watermark that holds once no transaction older than xmax
// is running.
type candidate struct{ last, xmax int64 }

func (t *tailState) init(db *store.DB) { t.db = db }

// saw records that rows up to the new top were read, and that the numbers
// between them (seqs, in order, all above the old top) are holes.
func (t *tailState) saw(seqs []int64) {
	for _, s := range seqs {
		if s > t.top+1 && t.db.Dialect == store.Postgres {
			t.holes = append(t.holes, seqRange{t.top + 1, s - 1})
		}
		t.top = max(t.top, s)
	}
}

// filled removes numbers read inside holes.
func (t *tailState) filled(seqs []int64) {
	for _, s := range seqs {
		for i, h := range t.holes {
			if s < h.lo || s > h.hi {
				continue
			}
			var repl []seqRange
			if s > h.lo {
				repl = append(repl, seqRange{h.lo, s - 1})
			}
			if s < h.hi {
				repl = append(repl, seqRange{s + 1, h.hi})
			}
			t.holes = append(t.holes[:i], append(repl, t.holes[i+1:]...)...)
			break
		}
	}
}

// advance moves the watermark to w and forgets what lies at or below it.
func (t *tailState) advance(w int64) {
	if w <= t.w {
		return
	}
	t.w = w
	kept := t.holes[:0]
	for _, h := range t.holes {
		if h.hi > w {
			kept = append(kept, seqRange{max(h.lo, w+1), h.hi})
		}
	}
	t.holes = kept
}

// holeRanges returns at most maxHoleRanges ranges covering every hole.
func (t *tailState) holeRanges() []seqRange {
	rs := slices.Clone(t.holes)
	for len(rs) > maxHoleRanges {
		// Merge the two neighbours with the smallest gap between them.
		best := 0
		for i := 1; i < len(rs)-1; i++ {
			if rs[i+1].lo-rs[i].hi < rs[best+1].lo-rs[best].hi {
				best = i
			}
		}
		rs[best].hi = rs[best+1].hi
		rs = append(rs[:best+1], rs[best+2:]...)
	}
	return rs
}

func (t *tailState) postgres() bool { return t.db.Dialect == store.Postgres }

// startWatermark is called before a build reads anything: it returns a
// number w such that the build will see every change up to w, and resets
// the tail to read everything after it.
func (t *tailState) startWatermark(ctx context.Context) (int64, error) {
	t.pending, t.holes = nil, nil
	horizon, err := t.horizon(ctx)
	if err != nil {
		return 0, err
	}
	if !t.postgres() {
		var top int64
		if err := t.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM segment_changes`).Scan(&top); err != nil {
			return 0, fmt.Errorf("segment index: read the change sequence: %w", err)
		}
		t.w = max(top, horizon)
		t.top = t.w
		return t.w, nil
	}
	last, err := t.lastDrawn(ctx)
	if err != nil {
		return 0, err
	}
	_, xmax, err := t.snapshot(ctx)
	if err != nil {
		return 0, err
	}
	// Usually no transaction is older than a moment; wait for those that
	// are, a little, so the build covers everything up to last.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		xmin, _, err := t.snapshot(ctx)
		if err != nil {
			return 0, err
		}
		if xmin >= xmax {
			t.w, t.top = last, last
			return t.w, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// A long transaction is running: start from the horizon and let the
	// tail read (and apply again) everything after it.
	t.w, t.top = horizon, horizon
	t.pending = []candidate{{last, xmax}}
	return t.w, nil
}

func (t *tailState) horizon(ctx context.Context) (int64, error) {
	var h int64
	if err := t.db.R.QueryRowContext(ctx, `SELECT pruned_through FROM segment_change_horizon WHERE id = 1`).Scan(&h); err != nil {
		return 0, fmt.Errorf("segment index: read the change horizon: %w", err)
	}
	return h, nil
}

// lastDrawn is the last number the sequence handed out (PostgreSQL).
func (t *tailState) lastDrawn(ctx context.Context) (int64, error) {
	var last int64
	err := t.db.R.QueryRowContext(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM segment_changes_seq_seq`).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("segment index: read the change sequence: %w", err)
	}
	return last, nil
}

// snapshot returns the xmin and xmax of a fresh snapshot (PostgreSQL).
func (t *tailState) snapshot(ctx context.Context) (xmin, xmax int64, err error) {
	err = t.db.R.QueryRowContext(ctx, `SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint FROM pg_current_snapshot() AS s`).Scan(&xmin, &xmax)
	if err != nil {
		return 0, 0, fmt.Errorf("segment index: read a snapshot: %w", err)
	}
	return xmin, xmax, nil
}

// change is one row of the sequence.
type change struct {
	seq      int64
	customer sql.NullInt64
}

// Run tails the change sequence until ctx is done, applying changes every
// PollInterval and pruning rows older than Retention. Errors are kept in
// Stats and retried on the next tick; Run returns nil when ctx ends.
func (ix *Index) Run(ctx context.Context) error {
	ix.running.Store(true)
	defer ix.running.Store(false)
	interval := ix.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := ix.Step(ctx); err != nil && ctx.Err() == nil {
			ix.noteError(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (ix *Index) noteError(err error) {
	if ix.Log != nil {
		ix.Log.Warn("segment index: reading changes failed; retrying", "err", err)
	}
	s := *ix.stats.Load()
	s.LastError = err.Error()
	ix.stats.Store(&s)
}

// Step reads the changes since the last step once and applies them; Run
// calls it every PollInterval. Tests and tools may call it directly.
func (ix *Index) Step(ctx context.Context) error {
	ix.tailMu.Lock()
	defer ix.tailMu.Unlock()
	t := &ix.tail
	final := int64(-1)
	if t.postgres() {
		last, err := t.lastDrawn(ctx)
		if err != nil {
			return err
		}
		xmin, xmax, err := t.snapshot(ctx)
		if err != nil {
			return err
		}
		if n := len(t.pending); n == 0 || t.pending[n-1].last != last {
			t.pending = append(t.pending, candidate{last, xmax})
		} // else the older candidate, with its smaller xmax, holds sooner
		for len(t.pending) > 0 && t.pending[0].xmax <= xmin {
			final = t.pending[0].last
			t.pending = t.pending[1:]
		}
	}
	from := t.w
	var changes []change
	if ranges := t.holeRanges(); len(ranges) > 0 {
		late, err := ix.readChanges(ctx, holeQuery(ranges), nil)
		if err != nil {
			return err
		}
		t.filled(seqsOf(late))
		changes = late
	}
	fresh, err := ix.readChanges(ctx, `seq > $1 ORDER BY seq LIMIT `+strconv.Itoa(batchRows), []any{t.top})
	if err != nil {
		return err
	}
	changes = append(changes, fresh...)
	horizon, err := t.horizon(ctx)
	if err != nil {
		return err
	}
	if horizon > from {
		// Changes this index never read were pruned: only a build is sure.
		if ix.Log != nil {
			ix.Log.Info("segment index: changes were pruned before this node read them; building again", "applied", from, "pruned_through", horizon)
		}
		return ix.build(ctx)
	}
	changed, catalogChanged := roaring.New(), false
	for _, c := range changes {
		if !c.customer.Valid {
			catalogChanged = true
			continue
		}
		id, err := customerID(c.customer.Int64)
		if err != nil {
			return err
		}
		changed.Add(id)
	}
	changed.Or(ix.expires.due(ix.clock.Now()))
	rebuilt, err := ix.apply(ctx, changed, catalogChanged)
	if err != nil {
		return err
	}
	ix.lastPoll.Store(time.Now().UnixNano())
	if rebuilt {
		return nil // the build set the watermark
	}
	t.saw(seqsOf(fresh))
	if !t.postgres() {
		t.advance(t.top)
	} else if final >= 0 {
		t.advance(min(final, t.top)) // numbers above top are not read yet
	}
	s := *ix.stats.Load()
	s.AppliedSeq = t.w
	s.Applied += int64(len(changes))
	s.LastError = ""
	ix.stats.Store(&s)
	return ix.maybePrune(ctx)
}

// holeQuery is the condition that reads the rows in some ranges.
func holeQuery(rs []seqRange) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "seq BETWEEN %d AND %d", r.lo, r.hi)
	}
	return "(" + b.String() + ") ORDER BY seq"
}

func seqsOf(cs []change) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.seq
	}
	return out
}

func (ix *Index) readChanges(ctx context.Context, where string, args []any) ([]change, error) {
	rows, err := ix.db.R.QueryContext(ctx, `SELECT seq, customer_id FROM segment_changes WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("segment index: read changes: %w", err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var c change
		if err := rows.Scan(&c.seq, &c.customer); err != nil {
			return nil, fmt.Errorf("segment index: read changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment index: read changes: %w", err)
	}
	return out, nil
}

// apply reads the changed customers again and swaps them in, under the
// write lock, in one go. A batch touching a large share of the customers
// is cheaper as a build.
func (ix *Index) apply(ctx context.Context, changed *roaring.Bitmap, catalogChanged bool) (rebuilt bool, err error) {
	n := changed.GetCardinality()
	if n == 0 && !catalogChanged {
		return false, nil
	}
	ix.mu.RLock()
	universe := ix.st.all.GetCardinality()
	ix.mu.RUnlock()
	if n > 10_000 && float64(n) > rebuildShare*float64(universe) {
		return true, ix.build(ctx)
	}
	l := &loader{db: ix.db, loc: ix.loc, now: ix.clock.Now()}
	var cat *catalog
	if catalogChanged {
		if cat, err = l.loadCatalog(ctx); err != nil {
			return false, err
		}
	}
	part := newState()
	ids := changed.ToArray()
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 2000)]
		ids = ids[len(chunk):]
		p, err := l.load(ctx, chunk)
		if err != nil {
			return false, err
		}
		chunkBM := roaring.BitmapOf(chunk...)
		part.replace(chunkBM, p) // chunks are disjoint: this only adds
		part.expiries = append(part.expiries, p.expiries...)
	}

	ix.mu.Lock()
	ix.st.replace(changed, part)
	if cat != nil {
		ix.cat = cat
		ix.groups = cat.groupBitmaps(ix.st.tags)
	} else {
		for g, bm := range ix.groups {
			removeFrom(bm, changed)
			if bm.IsEmpty() {
				delete(ix.groups, g)
			}
		}
		ix.cat.addToGroups(ix.groups, part.tags)
	}
	ix.mu.Unlock()
	ix.expires.add(part.expiries)
	return false, nil
}

// maybePrune deletes change rows older than Retention that this index has
// applied, at most once a minute (every step when Retention is zero, for
// tests), and records how far it pruned.
func (ix *Index) maybePrune(ctx context.Context) error {
	t := &ix.tail
	now := time.Now()
	if ix.Retention > 0 && now.Sub(t.pruned) < time.Minute {
		return nil
	}
	t.pruned = now
	secs := int64(ix.Retention / time.Second)
	var q []string
	if ix.db.Dialect == store.Postgres {
		q = []string{
			`UPDATE segment_change_horizon SET pruned_through = GREATEST(pruned_through, COALESCE(
    (SELECT MAX(seq) FROM segment_changes WHERE seq <= $1 AND created_at <= now() - make_interval(secs => $2)), 0)) WHERE id = 1`,
			`DELETE FROM segment_changes WHERE seq <= (SELECT pruned_through FROM segment_change_horizon WHERE id = 1)`,
		}
	} else {
		q = []string{
			`UPDATE segment_change_horizon SET pruned_through = MAX(pruned_through, COALESCE(
    (SELECT MAX(seq) FROM segment_changes WHERE seq <= $1 AND created_at <= datetime('now', '-' || $2 || ' seconds')), 0)) WHERE id = 1`,
			`DELETE FROM segment_changes WHERE seq <= (SELECT pruned_through FROM segment_change_horizon WHERE id = 1)`,
		}
	}
	return ix.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, q[0], t.w, secs); err != nil {
			return fmt.Errorf("segment index: prune changes: %w", err)
		}
		if _, err := tx.ExecContext(ctx, q[1]); err != nil {
			return fmt.Errorf("segment index: prune changes: %w", err)
		}
		return nil
	})
}
