package index

import (
	"container/heap"
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Defaults of an Index.
const (
	// DefaultPollInterval is how often Run reads the change sequence: a
	// change is visible within about this long.
	DefaultPollInterval = 200 * time.Millisecond
	// DefaultRetention is how long a change row stays before Run prunes it.
	// An index that falls further behind rebuilds.
	DefaultRetention = time.Hour
	// StaleAfter is how long without a successful read of the change
	// sequence makes Ready false.
	StaleAfter = 10 * time.Second
	// rebuildShare: a batch that changes more than this share of the
	// customers is cheaper to apply by building again.
	rebuildShare = 0.05
	// batchRows is how many change rows one read takes at most.
	batchRows = 20000
)

// Index answers segment expressions from roaring bitmaps kept in memory.
// It is a cache of the database: built at Open, kept current by Run. Its
// methods are safe for concurrent use; a query sees one consistent state,
// never half of a batch of changes.
type Index struct {
	db    *store.DB
	loc   *time.Location
	clock kith.Clock

	// PollInterval, Retention and Log may be changed before Run starts.
	PollInterval time.Duration
	Retention    time.Duration
	Log          *slog.Logger // errors of Run and rebuilds; nil: none

	mu      sync.RWMutex
	st      *state
	cat     *catalog
	groups  map[string]*roaring.Bitmap // group id → customers with any of its tags
	expires expiryHeap                 // guarded by tailMu, not mu

	tailMu sync.Mutex // one tail step at a time
	tail   tailState

	stats    atomic.Pointer[Stats]
	lastPoll atomic.Int64 // unix nanos of the last successful read of the sequence
	running  atomic.Bool
}

// Stats describe the index for /readyz and /metrics.
type Stats struct {
	Customers   uint64        `json:"customers"`
	BuiltAt     time.Time     `json:"built_at"`
	BuildTime   time.Duration `json:"build_time_ns"`
	HeapBytes   int64         `json:"heap_bytes"`           // heap in use after the build minus before
	BitmapBytes uint64        `json:"bitmap_bytes"`         // serialised size of every bitmap
	Builds      int           `json:"builds"`               // 1 + rebuilds after a gap or a large batch
	AppliedSeq  int64         `json:"applied_seq"`          // every change up to this one is applied
	Lag         time.Duration `json:"lag_ns"`               // since the last successful read of the changes
	Applied     int64         `json:"applied"`              // change rows applied since the build
	LastError   string        `json:"last_error,omitempty"` // of the last read of the changes that failed
	// BuildPhases are the wall times of the last build's reads, by table
	// (they run side by side, so they overlap).
	BuildPhases map[string]time.Duration `json:"build_phases_ns,omitempty"`
}

// Open builds an index of the database: it reads every customer, so at
// millions of customers it takes seconds. loc is the instance's time zone
// (days of added and last_order); clock says what "now" is for grants with
// an end.
func Open(ctx context.Context, db *store.DB, loc *time.Location, clock kith.Clock) (*Index, error) {
	if loc == nil {
		loc = time.UTC
	}
	ix := &Index{db: db, loc: loc, clock: clock, PollInterval: DefaultPollInterval, Retention: DefaultRetention}
	ix.tail.init(db)
	if err := ix.build(ctx); err != nil {
		return nil, err
	}
	return ix, nil
}

// build reads everything and replaces the state. The watermark is taken
// first: any change after it is read again by the tail.
func (ix *Index) build(ctx context.Context) error {
	start := time.Now()
	w, err := ix.tail.startWatermark(ctx)
	if err != nil {
		return err
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := &loader{db: ix.db, loc: ix.loc, now: ix.clock.Now()}
	cat, err := l.loadCatalog(ctx)
	if err != nil {
		return err
	}
	st, err := l.load(ctx, nil)
	if err != nil {
		return err
	}
	// No RunOptimize: roaring's run containers make "and" with array
	// containers slow (each run is inserted into a new array), and dense
	// bitmaps cost little: 8 KiB per 65,536 customers.
	groups := cat.groupBitmaps(st.tags)
	exp := expiryHeap(st.expiries)
	st.expiries = nil
	heap.Init(&exp)

	ix.mu.Lock()
	ix.st, ix.cat, ix.groups = st, cat, groups
	ix.mu.Unlock()
	ix.expires = exp
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	prev := ix.stats.Load()
	s := &Stats{
		Customers:   st.all.GetCardinality(),
		BuiltAt:     ix.clock.Now(),
		BuildTime:   time.Since(start),
		HeapBytes:   int64(after.HeapInuse) - int64(before.HeapInuse),
		BitmapBytes: st.sizeInBytes() + groupsSize(groups),
		Builds:      1,
		AppliedSeq:  w,
		BuildPhases: l.phases,
	}
	if prev != nil {
		s.Builds = prev.Builds + 1
	}
	ix.stats.Store(s)
	ix.lastPoll.Store(time.Now().UnixNano())
	return nil
}

func groupsSize(groups map[string]*roaring.Bitmap) uint64 {
	var n uint64
	for _, bm := range groups {
		n += bm.GetSizeInBytes()
	}
	return n
}

// Stats returns the index's figures now.
func (ix *Index) Stats() Stats {
	s := *ix.stats.Load()
	ix.mu.RLock()
	s.Customers = ix.st.all.GetCardinality()
	ix.mu.RUnlock()
	s.Lag = time.Since(time.Unix(0, ix.lastPoll.Load()))
	return s
}

// Ready reports whether the index answers with current data: it is built,
// and when Run is tailing, it read the change sequence within StaleAfter.
func (ix *Index) Ready() bool {
	if ix.stats.Load() == nil {
		return false
	}
	if !ix.running.Load() {
		return true
	}
	return time.Since(time.Unix(0, ix.lastPoll.Load())) < StaleAfter
}
