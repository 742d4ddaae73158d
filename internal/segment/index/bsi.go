package index

import (
	"math"
	"slices"
	"sort"

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
// it), with the bitmap of the customers in each (fineBM[j][f], not
// accumulated: a customer is in one). A constant off the bounds then
// takes the fine buckets above (or below) it whole and checks the values
// of the one fine bucket it falls inside: about 1/(rangeBuckets·
// fineBuckets) of the customers instead of 1/rangeBuckets.
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
	// bounds), fineBM[j][f] the customers of bucket j in fine bucket f (the
	// number of fine[j] at or below the value); both nil for a bucket not
	// cut again.
	fine   [][]int64
	fineBM [][]*roaring.Bitmap
}

// rangeBuckets is about how many buckets a build makes per fact: each
// bucket then holds about 1/rangeBuckets of the customers with a value (a
// value held by many gets one of its own). More buckets make the exact
// checks smaller and cost a bitmap each (at most 8 KiB per 65,536
// customers).
const rangeBuckets = 32

// fineBuckets is about how many fine buckets each bucket is cut into. Fine
// buckets are not accumulated, so together they cost about one bitmap of
// the customers with a value, whatever their number.
const fineBuckets = 16

func newBSI() *bsi { return &bsi{has: roaring.New()} }

// set records value v for customer id, which must hold no value yet (the
// index clears changed customers before it sets them again).
func (b *bsi) set(id uint32, v int64) {
	b.vals.set(id, v)
	b.has.Add(id)
	j := b.bucket(v)
	for i := j; i < len(b.bounds); i++ {
		b.lt[i].Add(id)
	}
	if fb := b.fineOf(j); fb != nil {
		fb[b.fineBucket(j, v)].Add(id)
	}
}

// fineOf returns the fine buckets' bitmaps of bucket j, or nil.
func (b *bsi) fineOf(j int) []*roaring.Bitmap {
	if j < len(b.fineBM) {
		return b.fineBM[j]
	}
	return nil
}

// fineBucket returns the fine bucket of v in bucket j: the number of
// fine[j] at or below it.
func (b *bsi) fineBucket(j int, v int64) int {
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
	if len(b.fineBM) > 0 {
		if ids.GetCardinality() <= 4096 {
			// Each customer is in one fine bucket: the one of its value.
			it := ids.Iterator()
			for it.HasNext() {
				id := it.Next()
				if !b.has.Contains(id) {
					continue
				}
				v := b.vals.get(id)
				j := b.bucket(v)
				if fb := b.fineOf(j); fb != nil {
					fb[b.fineBucket(j, v)].Remove(id)
				}
			}
		} else {
			for _, fb := range b.fineBM {
				for _, bm := range fb {
					bm.AndNot(ids)
				}
			}
		}
	}
	removeFrom(b.has, ids)
	for _, bm := range b.lt {
		removeFrom(bm, ids)
	}
}

// merge adds every value of o (whose customers hold no value in b), into
// b's buckets: one "or" per bound.
func (b *bsi) merge(o *bsi) {
	if o.has.IsEmpty() {
		return
	}
	byBucket := make([][]uint32, len(b.bounds)+1)
	byFine := map[[2]int][]uint32{}
	it := o.has.Iterator()
	for it.HasNext() {
		id := it.Next()
		v := o.vals.get(id)
		b.vals.set(id, v)
		j := b.bucket(v)
		byBucket[j] = append(byBucket[j], id)
		if b.fineOf(j) != nil {
			k := [2]int{j, b.fineBucket(j, v)}
			byFine[k] = append(byFine[k], id)
		}
	}
	for k, ids := range byFine {
		b.fineBM[k[0]][k[1]].AddMany(ids)
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
	for _, fb := range b.fineBM {
		for _, bm := range fb {
			n += bm.GetSizeInBytes()
		}
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
	switch op {
	case cmpGe:
		return b.atLeast(k, within)
	case cmpGt:
		if k == math.MaxInt64 {
			return roaring.New()
		}
		return b.atLeast(k+1, within)
	case cmpLt:
		return b.below(k, within)
	case cmpLe:
		if k == math.MaxInt64 {
			return narrow(b.has, within)
		}
		return b.below(k+1, within)
	case cmpEq:
		return b.equal(k, within)
	}
	r := narrow(b.has, within)
	r.AndNot(b.equal(k, within))
	return r
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
// bounds[j-1] <= v < bounds[j].
func (b *bsi) edge(j int, within *roaring.Bitmap) *roaring.Bitmap {
	r := narrow(b.ltOr(j), within)
	if lo := b.ltOr(j - 1); lo != nil {
		r.AndNot(lo)
	}
	return r
}

// atLeast returns the customers of within with v >= k.
func (b *bsi) atLeast(k int64, within *roaring.Bitmap) *roaring.Bitmap {
	j := b.bucket(k)
	if j > 0 && b.bounds[j-1] == k { // on a bound: no check
		r := narrow(b.has, within)
		r.AndNot(b.lt[j-1])
		return r
	}
	var r *roaring.Bitmap
	if j < len(b.bounds) { // every bucket above j
		r = narrow(b.has, within)
		r.AndNot(b.lt[j])
	} else {
		r = roaring.New()
	}
	fb, e := b.fineOrEdge(j, within)
	if fb != nil {
		f := b.fineBucket(j, k)
		if f > 0 && b.fine[j][f-1] == k { // on a fine cut: no check
			r.Or(union(fb[f:], e))
			return r
		}
		r.Or(union(fb[f+1:], e))
		r.Or(b.check(narrow(fb[f], e), func(v int64) bool { return v >= k }))
		return r
	}
	r.Or(b.check(e, func(v int64) bool { return v >= k }))
	return r
}

// below returns the customers of within with v < k.
func (b *bsi) below(k int64, within *roaring.Bitmap) *roaring.Bitmap {
	j := b.bucket(k)
	if j > 0 && b.bounds[j-1] == k {
		return narrow(b.lt[j-1], within)
	}
	var r *roaring.Bitmap
	if j > 0 {
		r = narrow(b.lt[j-1], within)
	} else {
		r = roaring.New()
	}
	fb, e := b.fineOrEdge(j, within)
	if fb != nil {
		f := b.fineBucket(j, k)
		r.Or(union(fb[:f], e))
		if f > 0 && b.fine[j][f-1] == k { // on a fine cut: no check
			return r
		}
		r.Or(b.check(narrow(fb[f], e), func(v int64) bool { return v < k }))
		return r
	}
	r.Or(b.check(e, func(v int64) bool { return v < k }))
	return r
}

// equal returns the customers of within with v == k.
func (b *bsi) equal(k int64, within *roaring.Bitmap) *roaring.Bitmap {
	j := b.bucket(k)
	fb, e := b.fineOrEdge(j, within)
	if fb != nil {
		return b.check(narrow(fb[b.fineBucket(j, k)], e), func(v int64) bool { return v == k })
	}
	if j > 0 && b.bounds[j-1] == k && j < len(b.bounds) && b.bounds[j] == k+1 {
		return e // a bucket of this one value
	}
	return b.check(e, func(v int64) bool { return v == k })
}

// fewToCheck is how many customers of a bucket are checked one by one
// rather than through its fine buckets (a check is a look-up in the value
// array; the fine buckets cost a few bitmap operations each). A variable
// so that the tests can take either path.
var fewToCheck uint64 = 4096

// fineOrEdge returns what a comparison in bucket j works on: the fine
// buckets' bitmaps (nil when j has none, or when few customers of within
// are in j) and the customers to narrow them to — nil for everyone, else
// the customers of within in bucket j — or, without fine buckets, the
// customers of within in bucket j to check one by one.
func (b *bsi) fineOrEdge(j int, within *roaring.Bitmap) ([]*roaring.Bitmap, *roaring.Bitmap) {
	fb := b.fineOf(j)
	if fb == nil {
		return nil, b.edge(j, within)
	}
	if within == nil {
		return fb, nil
	}
	e := b.edge(j, within)
	if e.GetCardinality() <= fewToCheck {
		return nil, e
	}
	return fb, e
}

// union returns the union of bms, narrowed to within when it is not nil.
func union(bms []*roaring.Bitmap, within *roaring.Bitmap) *roaring.Bitmap {
	if within == nil {
		return roaring.FastOr(bms...)
	}
	r := roaring.New()
	for _, bm := range bms {
		r.Or(roaring.And(bm, within))
	}
	return r
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
