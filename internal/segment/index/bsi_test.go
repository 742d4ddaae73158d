package index

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// The numeric index against a plain map, for random values (negative,
// zero, huge, many sharing a value) and every operator, with and without a
// narrowing set: built value by value (no bounds) and densely (range
// buckets), then after customers are removed and merged back with new
// values as the tail does, and at constants on the bounds.
func TestBSICompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := map[uint32]int64{}
	sparse, dense := newBSI(), newDenseBSI(100)
	randomValue := func() int64 {
		switch r.IntN(4) {
		case 0:
			return r.Int64N(1000) - 500
		case 1:
			return 0 // a value most customers share
		}
		return []int64{0, 1, -1, 7, 100, -100, math.MaxInt64, math.MinInt64, 1 << 40, math.MaxInt32, math.MinInt32}[r.IntN(11)] + int64(r.IntN(5)-2)
	}
	for id := uint32(0); id < 3000; id++ {
		if r.IntN(5) == 0 {
			continue // no value
		}
		v := randomValue()
		values[id] = v
		sparse.set(id, v)
		dense.set(id, v) // grows past its first 100 ids
	}
	built := dense.finish()
	if len(built.bounds) < 4 {
		t.Fatalf("built with bounds %v: the range buckets are not exercised", built.bounds)
	}
	cut, most := 0, 0
	for _, cuts := range built.fine {
		cut += len(cuts)
		most = max(most, len(cuts))
	}
	if len(built.fineLv) != most {
		t.Fatalf("%d fine levels for fine numbers up to %d", len(built.fineLv), most)
	}
	if cut < 2*len(built.bounds) {
		t.Fatalf("%d fine cuts for %d bounds: the fine buckets are not exercised", cut, len(built.bounds))
	}
	checkCompare(t, r, values, map[string]*bsi{"sparse": sparse, "dense": built})

	// The tail's way: remove changed customers, merge their new values.
	for round := range 3 {
		gone := roaring.New()
		for range 50 + 200*round {
			gone.Add(uint32(r.IntN(3100)))
		}
		o := newBSI()
		it := gone.Iterator()
		for it.HasNext() {
			id := it.Next()
			delete(values, id)
			if r.IntN(4) > 0 {
				v := randomValue()
				values[id] = v
				o.set(id, v)
			}
		}
		for _, b := range []*bsi{sparse, built} {
			b.remove(gone)
			b.merge(o)
		}
		checkCompare(t, r, values, map[string]*bsi{"sparse after changes": sparse, "dense after changes": built})
	}
	for id := uint32(0); id < 3100; id++ {
		want, has := values[id]
		for name, b := range map[string]*bsi{"sparse": sparse, "dense": built} {
			if got, ok := b.get(id); ok != has || got != want {
				t.Fatalf("%s: get(%d) = %d, %v; want %d, %v", name, id, got, ok, want, has)
			}
		}
	}
	// A value set on the built index directly (set after the build).
	built.remove(roaring.BitmapOf(4))
	built.set(4, -9)
	if got := built.compare(cmpEq, -9, roaring.BitmapOf(4, 5, 6)); !got.Contains(4) {
		t.Fatalf("narrowed comparison after set: %v", got.ToArray())
	}
}

func checkCompare(t *testing.T, r *rand.Rand, values map[uint32]int64, bs map[string]*bsi) {
	t.Helper()
	// Both ways of answering within a bucket: checking its customers of
	// within one by one, and through the fine buckets.
	defer func(n uint64) { fewToCheck = n }(fewToCheck)
	for _, n := range []uint64{0, 1 << 30} {
		fewToCheck = n
		checkCompareOnce(t, r, values, bs)
	}
}

func checkCompareOnce(t *testing.T, r *rand.Rand, values map[uint32]int64, bs map[string]*bsi) {
	t.Helper()
	within, few := roaring.New(), roaring.New() // a large share and a small one
	for id := uint32(0); id < 3100; id += 3 {
		within.Add(id)
		if id%17 == 0 {
			few.Add(id)
		}
	}
	ops := map[cmp]func(a, b int64) bool{
		cmpEq: func(a, b int64) bool { return a == b }, cmpNe: func(a, b int64) bool { return a != b },
		cmpLt: func(a, b int64) bool { return a < b }, cmpLe: func(a, b int64) bool { return a <= b },
		cmpGt: func(a, b int64) bool { return a > b }, cmpGe: func(a, b int64) bool { return a >= b },
	}
	var consts []int64
	for _, b := range bs {
		for _, x := range b.bounds {
			if r.IntN(2) == 0 { // half of them, a different half each time
				consts = append(consts, x-1, x, x+1)
			}
		}
		for _, cuts := range b.fine {
			for _, x := range cuts {
				if r.IntN(4) == 0 {
					consts = append(consts, x-1, x, x+1)
				}
			}
		}
	}
	for i := range 60 + len(consts) {
		var k int64
		switch {
		case i < len(consts):
			k = consts[i]
		case r.IntN(2) == 0:
			k = r.Int64N(1000) - 500
		default:
			k = []int64{0, 1, -1, 7, 100, -100, math.MaxInt64, math.MinInt64, 1 << 40, 1 << 62, math.MaxInt32, math.MinInt32}[r.IntN(12)] + int64(r.IntN(3)-1)
		}
		for op, f := range ops {
			for _, w := range []*roaring.Bitmap{nil, within, few} {
				want := roaring.New()
				for id, v := range values {
					if f(v, k) && (w == nil || w.Contains(id)) {
						want.Add(id)
					}
				}
				for name, b := range bs {
					if got := b.compare(op, k, w); !got.Equals(want) {
						t.Fatalf("%s: op %d k %d within %v: got %d customers, want %d", name, op, k, w != nil, got.GetCardinality(), want.GetCardinality())
					}
					if w == nil && op != cmpNe {
						if est := b.estimate(op, k); est < want.GetCardinality() {
							t.Fatalf("%s: op %d k %d: estimate %d below the %d matches", name, op, k, est, want.GetCardinality())
						}
					}
				}
			}
		}
	}
}

// Bounds: a shared value gets a bucket of its own, cuts land on round
// numbers, and extreme values do not overflow.
func TestChooseBounds(t *testing.T) {
	var sample []int64
	for i := range 10000 {
		if i%2 == 0 {
			sample = append(sample, 0)
		} else {
			sample = append(sample, int64(i*37%100000))
		}
	}
	b := chooseBounds(sample)
	if !slices.Contains(b, 0) || !slices.Contains(b, 1) {
		t.Fatalf("bounds %v: no bucket [0, 1) for the half of the customers at 0", b)
	}
	round := 0
	for _, x := range b {
		if x%1000 == 0 {
			round++
		}
	}
	if round < len(b)/2 {
		t.Fatalf("bounds %v: few on round numbers", b)
	}
	if !slices.IsSorted(b) {
		t.Fatalf("bounds %v not ascending", b)
	}
	ext := make([]int64, 1000)
	for i := range ext {
		ext[i] = []int64{math.MinInt64, math.MaxInt64, -1, 1}[i%4]
	}
	if b := chooseBounds(ext); !slices.IsSorted(b) || len(b) == 0 {
		t.Fatalf("extreme bounds %v", b)
	}
	if got := roundest(1234, 1890); got != 1300 {
		t.Fatalf("roundest(1234, 1890) = %d, want 1300", got)
	}
	if got := roundest(-1890, -1234); got != -1800 {
		t.Fatalf("roundest(-1890, -1234) = %d, want -1800", got)
	}
}

// The fast day computation agrees with the calendar, across zones with
// daylight saving time and before 1970.
func TestDayer(t *testing.T) {
	for _, name := range []string{"Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		l := &loader{loc: loc}
		d := l.dayer()
		r := rand.New(rand.NewPCG(3, 4))
		for range 20000 {
			at := time.Unix(r.Int64N(4e9)-1e9, 0)
			if got, want := d.day(at), l.day(at); got != want {
				t.Fatalf("%s %v: day %d, want %d", name, at, got, want)
			}
		}
	}
}

// Every comparison at and around every bound and fine cut of a built
// index (values negative, zero, shared and spread, extremes), through
// both ways of answering within a bucket, and in every scope an "and"
// hands a comparison: nobody, a narrowing set it must leave alone, one it
// may change (owned), and one of customers with a value (valued).
func TestBSIBoundaries(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	values := map[uint32]int64{}
	d := newDenseBSI(6000)
	for id := uint32(1); id <= 6000; id++ {
		var v int64
		switch x := r.IntN(20); {
		case x == 0:
			continue // no value
		case x < 8:
			v = 0
		case x < 10:
			v = -r.Int64N(5000)
		case x == 10:
			v = []int64{math.MinInt64, math.MaxInt64, math.MinInt32, math.MaxInt32, 1 << 40, -1 << 40}[r.IntN(6)]
		default:
			v = r.Int64N(100000)
		}
		values[id] = v
		d.set(id, v)
	}
	b := d.finish()
	extremes := []int64{math.MinInt64, math.MinInt64 + 1, math.MaxInt64, math.MaxInt64 - 1, -1, 0, 1, -5000, 99999, 100000}
	var consts, fineConsts []int64
	for _, x := range b.bounds {
		consts = append(consts, x-1, x, x+1)
	}
	fineCuts := 0
	for _, cuts := range b.fine {
		for _, x := range cuts {
			fineConsts = append(fineConsts, x-1, x, x+1)
			fineCuts++
		}
	}
	consts = append(consts, extremes...)
	if len(b.bounds) < 16 || fineCuts < 8*len(b.bounds) {
		t.Fatalf("%d bounds, %d fine cuts: the buckets are not exercised", len(b.bounds), fineCuts)
	}
	has := roaring.New()
	type idValue struct {
		id uint32
		v  int64
	}
	var list []idValue
	for id, v := range values {
		has.Add(id)
		list = append(list, idValue{id, v})
	}
	within := roaring.New() // two thirds of the customers, some without a value
	for id := uint32(0); id <= 6100; id++ {
		if id%3 != 0 {
			within.Add(id)
		}
	}
	valued := roaring.And(within, has)
	within0, valued0 := within.Clone(), valued.Clone()
	ops := map[cmp]func(a, b int64) bool{
		cmpEq: func(a, b int64) bool { return a == b }, cmpNe: func(a, b int64) bool { return a != b },
		cmpLt: func(a, b int64) bool { return a < b }, cmpLe: func(a, b int64) bool { return a <= b },
		cmpGt: func(a, b int64) bool { return a > b }, cmpGe: func(a, b int64) bool { return a >= b },
	}
	defer func(n uint64) { fewToCheck = n }(fewToCheck)
	for _, few := range []uint64{0, 1 << 30} { // split by fine number, or check every value
		fewToCheck = few
		ks := consts
		if few == 0 {
			ks = slices.Concat(consts, fineConsts)
		}
		for _, k := range ks {
			for op, f := range ops {
				var ids []uint32
				for _, x := range list {
					if f(x.v, k) {
						ids = append(ids, x.id)
					}
				}
				all := roaring.BitmapOf(ids...)
				in := roaring.And(all, within)
				for name, c := range map[string]struct {
					s    scope
					want *roaring.Bitmap
				}{
					"everyone":          {scope{}, all},
					"within":            {scope{within: within}, in},
					"owned":             {scope{within: within.Clone(), owned: true}, in},
					"valued":            {scope{within: valued.Clone(), owned: true, valued: true}, in},
					"valued, not owned": {scope{within: valued, valued: true}, in},
				} {
					if got := b.compareIn(op, k, c.s); !got.Equals(c.want) {
						t.Fatalf("fewToCheck %d, %s: op %d k %d: got %d customers, want %d", few, name, op, k, got.GetCardinality(), c.want.GetCardinality())
					}
				}
				if !within.Equals(within0) || !valued.Equals(valued0) {
					t.Fatalf("op %d k %d changed a set it does not own", op, k)
				}
			}
		}
	}
}

// A chain of comparisons as an "and" runs them, each on what the ones
// before left (owned, valued when the fact covers every customer), agrees
// with the values; covers forgets its answer when the values change.
func TestBSIChain(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 20000
	all := roaring.New()
	all.AddRange(1, n+1)
	facts := make([]map[uint32]int64, 3)
	bs := make([]*bsi, 3)
	for i := range facts {
		facts[i] = map[uint32]int64{}
		d := newDenseBSI(n)
		for id := uint32(1); id <= n; id++ {
			if i == 2 && id%7 == 0 {
				continue // a fact some customers lack
			}
			v := r.Int64N(50000) - 1000
			if r.IntN(3) == 0 {
				v = 0
			}
			facts[i][id] = v
			d.set(id, v)
		}
		bs[i] = d.finish()
	}
	if !bs[0].covers(all) || bs[2].covers(all) {
		t.Fatal("covers: fact 0 covers every customer, fact 2 does not")
	}
	defer func(n uint64) { fewToCheck = n }(fewToCheck)
	fewToCheck = 0
	for range 300 {
		type term struct {
			fact int
			op   cmp
			k    int64
		}
		terms := make([]term, 2+r.IntN(4))
		for i := range terms {
			terms[i] = term{r.IntN(3), cmp(r.IntN(6)), r.Int64N(52000) - 1500}
			if r.IntN(3) == 0 { // on or next to a cut of that fact
				cuts := slices.Concat(bs[terms[i].fact].fine...)
				terms[i].k = cuts[r.IntN(len(cuts))] + int64(r.IntN(3)-1)
			}
		}
		var cur *roaring.Bitmap
		for _, x := range terms {
			b := bs[x.fact]
			cur = b.compareIn(x.op, x.k, scope{within: cur, owned: cur != nil, valued: cur != nil && b.covers(all)})
		}
		want := roaring.New()
	next:
		for id := uint32(1); id <= n; id++ {
			for _, x := range terms {
				v, ok := facts[x.fact][id]
				if !ok || !holds(x.op, v, x.k) {
					continue next
				}
			}
			want.Add(id)
		}
		if !cur.Equals(want) {
			t.Fatalf("%v: got %d customers, want %d", terms, cur.GetCardinality(), want.GetCardinality())
		}
	}
	// A customer without a value for fact 0 (as after the tail reads a
	// new customer whose facts are not set yet): covers must say so.
	bs[0].remove(roaring.BitmapOf(5))
	if bs[0].covers(all) {
		t.Fatal("covers: still true after a customer lost its value")
	}
}

// holds reports whether "v op k".
func holds(op cmp, v, k int64) bool {
	switch op {
	case cmpEq:
		return v == k
	case cmpNe:
		return v != k
	case cmpLt:
		return v < k
	case cmpLe:
		return v <= k
	case cmpGt:
		return v > k
	}
	return v >= k
}
