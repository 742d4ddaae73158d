package index

import (
	"math"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
)

// bsi indexes one integer fact (a count, an amount in fen, a day) for
// comparisons with a constant. (The name stays from when it was a
// bit-sliced index; the API — newBSI, newDenseBSI, set, finish, compare,
// remove, merge — is what every numeric fact is built and asked through.)
//
// It is a coarse range encoding: a few ascending bounds chosen at the build
// from the values' quantiles (rounded to round numbers, which operators
// type, and with a bucket of its own for a value many customers share, such
// as 0), and for each bound the bitmap of the customers whose value is below
// it. A comparison is then one or two bitmap operations, plus an exact check
// against the value array of the customers in the one bucket the constant
// falls inside, when it is not on a bound. The bucket is narrowed to the
// customers still in question first, so in an "and" the check covers only
// the survivors of the terms before.
//
// Each bucket of more than one value is cut again into about fineBuckets
// fine buckets (fine[j], the same quantile cuts on round numbers within
// it). A customer's fine number, the fine bucket of its value within its
// bucket, is range-encoded over all the buckets at once: fineLv[f-1] holds
// the customers whose fine number is f or more, or, in the upper half of
// the levels, those whose fine number is below f (about fineBuckets
// bitmaps per fact; each holds about half of the customers or more, so
// that narrowing a few customers to it tests a bit per customer rather
// than merging two lists). A constant off the bounds then splits the customers in
// question of its bucket by fine number (outside: an operation over them
// and one over what it leaves) and checks the values of the one fine
// bucket it falls inside: about 1/(rangeBuckets·fineBuckets) of the
// customers instead of 1/rangeBuckets.
//
// A bsi built value by value (newBSI: the reload of a few changed
// customers) has no bounds: every comparison checks its values one by one.
// Merged into the index's bsi, its customers go into that one's buckets.
type bsi struct {
	has    *roaring.Bitmap
	vals   values
	bounds []int64           // ascending
	lt     []*roaring.Bitmap // lt[i]: the customers whose value is below bounds[i]
	// fine[j] are the ascending cuts inside bucket j (strictly between its
	// bounds), nil for a bucket not cut again. A customer's fine number is
	// the number of fine[j] at or below its value (0 in a bucket not cut);
	// fineLv[f-1] holds the customers whose fine number is f or more when
	// f is at most len(fineLv)/2 (geLevel), else those whose fine number
	// is below f.
	fine   [][]int64
	fineLv []*roaring.Bitmap
	// whole caches whether every customer of the index has a value
	// (covers): 0 not known yet, 1 yes, 2 no. Queries fill it in under
	// the index's read lock; a change forgets it under the write lock.
	whole atomic.Int32
}

// covers reports whether every customer of all has a value, so that a
// comparison need not narrow to the customers with one. The answer is
// kept until the values change.
func (b *bsi) covers(all *roaring.Bitmap) bool {
	switch b.whole.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	n := all.GetCardinality()
	ok := b.has.GetCardinality() >= n && b.has.AndCardinality(all) == n
	if ok {
		b.whole.Store(1)
	} else {
		b.whole.Store(2)
	}
	return ok
}

// rangeBuckets is about how many buckets a build makes per fact: each
// bucket then holds about 1/rangeBuckets of the customers with a value (a
// value held by many gets one of its own). More buckets make the exact
// checks smaller and cost a bitmap each (at most 8 KiB per 65,536
// customers).
const rangeBuckets = 32

// fineBuckets is about how many fine buckets each bucket is cut into. The
// fine numbers cost a bitmap per level (fineLv, most of them a bit per
// customer: ~1.2 MiB each at 10 M customers), and each level halves the
// values a comparison checks one by one.
const fineBuckets = 16

func newBSI() *bsi { return &bsi{has: roaring.New()} }

// set records value v for customer id, which must hold no value yet (the
// index clears changed customers before it sets them again).
func (b *bsi) set(id uint32, v int64) {
	b.whole.Store(0)
	b.vals.set(id, v)
	b.has.Add(id)
	j := b.bucket(v)
	for i := j; i < len(b.bounds); i++ {
		b.lt[i].Add(id)
	}
	n := b.fineBucket(j, v)
	for f, bm := range b.fineLv {
		if b.inLevel(f+1, n) {
			bm.Add(id)
		}
	}
}

// geLevel reports whether fineLv[f-1] holds the fine numbers at or above
// f (rather than those below it).
func (b *bsi) geLevel(f int) bool { return f <= len(b.fineLv)/2 }

// inLevel reports whether a customer of fine number n is in fineLv[f-1].
func (b *bsi) inLevel(f, n int) bool {
	if b.geLevel(f) {
		return n >= f
	}
	return n < f
}

// cutAgain reports whether bucket j has fine buckets.
func (b *bsi) cutAgain(j int) bool { return j < len(b.fine) && b.fine[j] != nil }

// fineBucket returns the fine number of v in bucket j: the number of
// fine[j] at or below it (0 when j is not cut again).
func (b *bsi) fineBucket(j int, v int64) int {
	if !b.cutAgain(j) {
		return 0
	}
	cuts := b.fine[j]
	return sort.Search(len(cuts), func(i int) bool { return cuts[i] > v })
}

// bucket returns the bucket of v: the number of bounds at or below it.
func (b *bsi) bucket(v int64) int {
	return sort.Search(len(b.bounds), func(i int) bool { return b.bounds[i] > v })
}

// get returns customer id's value and whether it has one.
func (b *bsi) get(id uint32) (int64, bool) {
	if !b.has.Contains(id) {
		return 0, false
	}
	return b.vals.get(id), true
}

// remove forgets the values of the customers in ids.
func (b *bsi) remove(ids *roaring.Bitmap) {
	b.whole.Store(0)
	removeFrom(b.has, ids)
	for _, bm := range b.lt {
		removeFrom(bm, ids)
	}
	for _, bm := range b.fineLv {
		removeFrom(bm, ids)
	}
}

// merge adds every value of o (whose customers hold no value in b), into
// b's buckets: one "or" per bound.
func (b *bsi) merge(o *bsi) {
	if o.has.IsEmpty() {
		return
	}
	b.whole.Store(0)
	byBucket := make([][]uint32, len(b.bounds)+1)
	byLevel := make([][]uint32, len(b.fineLv))
	it := o.has.Iterator()
	for it.HasNext() {
		id := it.Next()
		v := o.vals.get(id)
		b.vals.set(id, v)
		j := b.bucket(v)
		byBucket[j] = append(byBucket[j], id)
		n := b.fineBucket(j, v)
		for f := range byLevel {
			if b.inLevel(f+1, n) {
				byLevel[f] = append(byLevel[f], id)
			}
		}
	}
	for f, ids := range byLevel {
		b.fineLv[f].AddMany(ids)
	}
	b.has.Or(o.has)
	acc := roaring.New()
	for i := range b.bounds {
		acc.AddMany(byBucket[i])
		if !acc.IsEmpty() {
			b.lt[i].Or(acc)
		}
	}
}

func (b *bsi) sizeInBytes() uint64 {
	n := b.has.GetSizeInBytes() + b.vals.sizeInBytes()
	for _, bm := range b.lt {
		n += bm.GetSizeInBytes()
	}
	for _, bm := range b.fineLv {
		n += bm.GetSizeInBytes()
	}
	return n
}

// cmp is a comparison operator of the index.
type cmp int

const (
	cmpEq cmp = iota
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// compare returns the customers of within (every customer when within is
// nil) whose value v satisfies "v op k", as a new bitmap. Customers without
// a value never match, not even "!=".
func (b *bsi) compare(op cmp, k int64, within *roaring.Bitmap) *roaring.Bitmap {
	return b.compareIn(op, k, scope{within: within})
}

// scope is what a comparison narrows to: the customers of within (every
// customer when nil). When owned, within is the caller's to change: the
// comparison works on it in place (an "and" hands each term what the
// terms before left, which it no longer needs) and may return it. When
// valued, every customer of within has a value, so within need not be
// narrowed to them.
type scope struct {
	within        *roaring.Bitmap
	owned, valued bool
}

// compareIn is compare within s.
func (b *bsi) compareIn(op cmp, k int64, s scope) *roaring.Bitmap {
	switch op {
	case cmpGe:
		return b.atLeast(k, s)
	case cmpGt:
		if k == math.MaxInt64 {
			return roaring.New()
		}
		return b.atLeast(k+1, s)
	case cmpLt:
		return b.below(k, s)
	case cmpLe:
		if k == math.MaxInt64 {
			return b.withValue(s)
		}
		return b.below(k+1, s)
	case cmpEq:
		return b.equal(k, s.within)
	}
	eq := b.equal(k, s.within)
	r := b.withValue(s)
	r.AndNot(eq)
	return r
}

// withValue returns the customers of s with a value: s.within itself
// when it is owned and valued.
func (b *bsi) withValue(s scope) *roaring.Bitmap {
	switch {
	case s.within == nil:
		return b.has.Clone()
	case !s.valued:
		if s.owned {
			s.within.And(b.has)
			return s.within
		}
		return roaring.And(s.within, b.has)
	case s.owned:
		return s.within
	}
	return s.within.Clone()
}

// without returns the customers of s with a value, less those of bm (a
// bitmap of customers with a value).
func (b *bsi) without(bm *roaring.Bitmap, s scope) *roaring.Bitmap {
	switch {
	case s.within == nil:
		return roaring.AndNot(b.has, bm)
	case s.owned:
		s.within.AndNot(bm)
		if !s.valued {
			s.within.And(b.has)
		}
		return s.within
	}
	r := roaring.AndNot(s.within, bm)
	if !s.valued {
		r.And(b.has)
	}
	return r
}

// in returns the customers of s in bm (a bitmap of customers with a
// value).
func in(bm *roaring.Bitmap, s scope) *roaring.Bitmap {
	switch {
	case s.within == nil:
		return bm.Clone()
	case s.owned:
		s.within.And(bm)
		return s.within
	}
	return roaring.And(s.within, bm)
}

// atLeast returns the customers of s with v >= k: those from k's bucket
// up, less those of its bucket below k. In an "and", within is what the
// terms before left and is changed in place, so a comparison is two
// operations over it (an "and not" and an "and" that leaves the few of
// k's bucket) and a few over the customers of k's bucket.
func (b *bsi) atLeast(k int64, s scope) *roaring.Bitmap {
	j := b.bucket(k)
	var r *roaring.Bitmap // from bucket j up
	if j == 0 {
		r = b.withValue(s)
	} else {
		r = b.without(b.lt[j-1], s)
		if b.bounds[j-1] == k { // on a bound: no check
			return r
		}
	}
	e := r // the customers of bucket j
	if j < len(b.bounds) {
		e = roaring.And(r, b.lt[j])
	}
	r.AndNot(b.outside(j, e, k, false))
	return r
}

// below returns the customers of s with v < k: those up to k's bucket,
// less those of its bucket at or above k.
func (b *bsi) below(k int64, s scope) *roaring.Bitmap {
	j := b.bucket(k)
	if j > 0 && b.bounds[j-1] == k { // on a bound: no check
		return in(b.lt[j-1], s)
	}
	var r *roaring.Bitmap // up to bucket j
	if j < len(b.bounds) {
		r = in(b.lt[j], s)
	} else {
		r = b.withValue(s)
	}
	e := r // the customers of bucket j
	if j > 0 {
		e = roaring.AndNot(r, b.lt[j-1])
	}
	r.AndNot(b.outside(j, e, k, true))
	return r
}

// outside returns the customers of e, customers of bucket j, whose value
// is at or above k (when atOrAbove) or below k (otherwise): those to take
// out of an answer that holds bucket j whole. e is not changed. Split by
// fine number, that is one operation over e (the fine buckets on the far
// side of k's and k's own), one over what it leaves (k's own) and a check
// of the values of those.
func (b *bsi) outside(j int, e *roaring.Bitmap, k int64, atOrAbove bool) *roaring.Bitmap {
	if !b.split(j, e) {
		if atOrAbove {
			return b.check(e, func(v int64) bool { return v >= k })
		}
		return b.check(e, func(v int64) bool { return v < k })
	}
	f := b.fineBucket(j, k)
	onCut := f > 0 && b.fine[j][f-1] == k // k's fine bucket is at or above k
	if atOrAbove {
		out := b.fineAtLeast(e, f) // fine buckets f and up
		if onCut {
			return out
		}
		eq := b.fineBelow(out, f+1) // f alone
		out.AndNot(b.check(eq, func(v int64) bool { return v < k }))
		return out
	}
	if onCut {
		return b.fineBelow(e, f)
	}
	out := b.fineBelow(e, f+1) // fine buckets up to f
	eq := b.fineAtLeast(out, f)
	out.AndNot(b.check(eq, func(v int64) bool { return v >= k }))
	return out
}

// fineAtLeast returns the customers of e whose fine number is f or more,
// as a new bitmap.
func (b *bsi) fineAtLeast(e *roaring.Bitmap, f int) *roaring.Bitmap {
	switch {
	case f <= 0:
		return e.Clone()
	case f > len(b.fineLv):
		return roaring.New()
	case b.geLevel(f):
		return roaring.And(e, b.fineLv[f-1])
	}
	return roaring.AndNot(e, b.fineLv[f-1])
}

// fineBelow returns the customers of e whose fine number is below f, as a
// new bitmap.
func (b *bsi) fineBelow(e *roaring.Bitmap, f int) *roaring.Bitmap {
	switch {
	case f <= 0:
		return roaring.New()
	case f > len(b.fineLv):
		return e.Clone()
	case b.geLevel(f):
		return roaring.AndNot(e, b.fineLv[f-1])
	}
	return roaring.And(e, b.fineLv[f-1])
}

// equal returns the customers of within (every customer when nil) with
// v == k, as a new bitmap.
func (b *bsi) equal(k int64, within *roaring.Bitmap) *roaring.Bitmap {
	j := b.bucket(k)
	e := b.edge(j, within)
	if b.split(j, e) {
		f := b.fineBucket(j, k)
		e = b.fineBelow(b.fineAtLeast(e, f), f+1)
	} else if j > 0 && b.bounds[j-1] == k && j < len(b.bounds) && b.bounds[j] == k+1 {
		return e // a bucket of this one value
	}
	return b.check(e, func(v int64) bool { return v == k })
}

// ltOr returns lt[i], the customers below bounds[i], counting lt[-1] as
// nobody and lt[len(bounds)] as everyone with a value.
func (b *bsi) ltOr(i int) *roaring.Bitmap {
	switch {
	case i < 0:
		return nil
	case i >= len(b.bounds):
		return b.has
	}
	return b.lt[i]
}

// edge returns the customers of within in bucket j:
// bounds[j-1] <= v < bounds[j], as a new bitmap.
func (b *bsi) edge(j int, within *roaring.Bitmap) *roaring.Bitmap {
	r := narrow(b.ltOr(j), within)
	if lo := b.ltOr(j - 1); lo != nil {
		r.AndNot(lo)
	}
	return r
}

// fewToCheck is how many customers of a bucket are checked one by one
// rather than split by their fine numbers first (a check is a look-up in
// the value array, a cache miss each over a large index; a split costs
// two bitmap operations). A variable so that the tests can take either
// path.
var fewToCheck uint64 = 4096

// split reports whether e, customers of bucket j, are to be split by
// their fine numbers before the check: j is cut again and they are many.
func (b *bsi) split(j int, e *roaring.Bitmap) bool {
	return b.cutAgain(j) && e.GetCardinality() > fewToCheck
}

// estimate is how many customers "v op k" may match at most, from the
// bounds alone (a few cardinalities, no bitmap operation): to order the
// terms of an "and".
func (b *bsi) estimate(op cmp, k int64) uint64 {
	card := func(i int) uint64 {
		if bm := b.ltOr(i); bm != nil {
			return bm.GetCardinality()
		}
		return 0
	}
	n := b.has.GetCardinality()
	switch op {
	case cmpGe, cmpGt:
		return n - card(b.bucket(k)-1)
	case cmpLt, cmpLe:
		return card(b.bucket(k))
	case cmpEq:
		j := b.bucket(k)
		return card(j) - card(j-1)
	}
	return n
}

// check returns the customers of cand whose value passes ok, looking each
// one's value up.
func (b *bsi) check(cand *roaring.Bitmap, ok func(int64) bool) *roaring.Bitmap {
	n := cand.GetCardinality()
	if n == 0 {
		return cand
	}
	out := make([]uint32, 0, min(n, 1<<16))
	var buf [512]uint32
	it := cand.ManyIterator()
	if arr := b.vals.arr; arr != nil {
		for m := it.NextMany(buf[:]); m > 0; m = it.NextMany(buf[:]) {
			for _, id := range buf[:m] {
				v := int64(wideMark)
				if int(id) < len(arr) {
					v = int64(arr[id])
				}
				if v == wideMark {
					v = b.vals.get(id)
				}
				if ok(v) {
					out = append(out, id)
				}
			}
		}
	} else {
		for m := it.NextMany(buf[:]); m > 0; m = it.NextMany(buf[:]) {
			for _, id := range buf[:m] {
				if ok(b.vals.get(id)) {
					out = append(out, id)
				}
			}
		}
	}
	r := roaring.New()
	r.AddMany(out)
	return r
}

// narrow returns bm ∩ within as a new bitmap (a copy of bm when within is nil).
func narrow(bm, within *roaring.Bitmap) *roaring.Bitmap {
	if within == nil {
		return bm.Clone()
	}
	return roaring.And(bm, within)
}

// removeFrom removes ids from bm: one by one when they are few, which is
// cheaper than a merge over every container of a large bitmap.
func removeFrom(bm, ids *roaring.Bitmap) {
	if ids.GetCardinality() <= 64 {
		it := ids.Iterator()
		for it.HasNext() {
			bm.Remove(it.Next())
		}
		return
	}
	bm.AndNot(ids)
}

// values holds one value per customer: in an array by id (4 bytes each)
// once built over every customer, with the few that do not fit 32 bits in
// a map; in the map alone for a bsi of a few customers.
type values struct {
	arr  []int32
	wide map[uint32]int64 // where arr holds wideMark, or every value when arr is nil
}

// wideMark in arr says the value is in wide.
const wideMark = math.MinInt32

func (vs *values) get(id uint32) int64 {
	if int(id) < len(vs.arr) {
		if v := vs.arr[id]; v != wideMark {
			return int64(v)
		}
	}
	return vs.wide[id]
}

func (vs *values) set(id uint32, v int64) {
	if vs.arr == nil {
		if vs.wide == nil {
			vs.wide = map[uint32]int64{}
		}
		vs.wide[id] = v
		return
	}
	if int(id) >= len(vs.arr) {
		vs.arr = growInt32(vs.arr, int(id)+1)
	}
	if v > wideMark && v <= math.MaxInt32 {
		if vs.arr[id] == wideMark {
			delete(vs.wide, id)
		}
		vs.arr[id] = int32(v)
		return
	}
	vs.arr[id] = wideMark
	if vs.wide == nil {
		vs.wide = map[uint32]int64{}
	}
	vs.wide[id] = v
}

func (vs *values) sizeInBytes() uint64 {
	return uint64(4*cap(vs.arr) + 16*len(vs.wide))
}

func growInt32(vs []int32, n int) []int32 {
	if n <= cap(vs) {
		return vs[:n]
	}
	grown := make([]int32, n, n+n/4)
	copy(grown, vs)
	return grown
}

func growWords(ws []uint64, n int) []uint64 {
	if len(ws) >= n {
		return ws
	}
	return append(ws, make([]uint64, n-len(ws))...)
}

// sortedUnique sorts xs and drops repeats.
func sortedUnique(xs []int64) []int64 {
	slices.Sort(xs)
	return slices.Compact(xs)
}
