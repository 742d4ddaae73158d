package index

import (
	"math"
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"
)

// bsi is a bit-sliced index of one integer fact: slice i holds the
// customers whose |value| has bit i set, neg those whose value is negative,
// and has those that have a value at all. A comparison with a constant costs
// two bitmap operations per slice (O'Neil and Quass, "Improved query
// performance with variant indexes", 1997), on bitmaps already narrowed to
// the customers still in question.
//
// The values are also kept in a plain array by customer id: when an "and"
// has already narrowed the customers to a small share, looking each one's
// value up is cheaper than an operation per slice over every container.
type bsi struct {
	has    *roaring.Bitmap
	neg    *roaring.Bitmap
	slices []*roaring.Bitmap
	vals   []int64 // by customer id; meaningful where has holds the id
}

func newBSI() *bsi { return &bsi{has: roaring.New(), neg: roaring.New()} }

// set records value v for customer id, which must hold no value yet (the
// index clears changed customers before it sets them again).
func (b *bsi) set(id uint32, v int64) {
	b.setVal(id, v)
	b.has.Add(id)
	m := uint64(v)
	if v < 0 {
		b.neg.Add(id)
		m = -m // two's complement: also right for math.MinInt64
	}
	for n := bits.Len64(m); len(b.slices) < n; {
		b.slices = append(b.slices, roaring.New())
	}
	for m != 0 {
		i := bits.TrailingZeros64(m)
		b.slices[i].Add(id)
		m &= m - 1
	}
}

func (b *bsi) setVal(id uint32, v int64) {
	if int(id) >= len(b.vals) {
		b.vals = growVals(b.vals, int(id)+1)
	}
	b.vals[id] = v
}

func growVals(vs []int64, n int) []int64 {
	if n <= cap(vs) {
		return vs[:n]
	}
	grown := make([]int64, n, n+n/4)
	copy(grown, vs)
	return grown
}

// get returns customer id's value and whether it has one.
func (b *bsi) get(id uint32) (int64, bool) {
	if !b.has.Contains(id) {
		return 0, false
	}
	var m uint64
	for i, s := range b.slices {
		if s.Contains(id) {
			m |= 1 << i
		}
	}
	if b.neg.Contains(id) {
		return -int64(m), true
	}
	return int64(m), true
}

// remove forgets the values of the customers in ids.
func (b *bsi) remove(ids *roaring.Bitmap) {
	removeFrom(b.has, ids)
	removeFrom(b.neg, ids)
	for _, s := range b.slices {
		removeFrom(s, ids)
	}
}

// merge adds every value of o (whose customers hold no value in b).
func (b *bsi) merge(o *bsi) {
	it := o.has.Iterator()
	for it.HasNext() {
		id := it.Next()
		b.setVal(id, o.vals[id])
	}
	b.has.Or(o.has)
	b.neg.Or(o.neg)
	for i, s := range o.slices {
		if i == len(b.slices) {
			b.slices = append(b.slices, roaring.New())
		}
		b.slices[i].Or(s)
	}
}

func (b *bsi) sizeInBytes() uint64 {
	n := b.has.GetSizeInBytes() + b.neg.GetSizeInBytes()
	for _, s := range b.slices {
		n += s.GetSizeInBytes()
	}
	return n + uint64(8*cap(b.vals))
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
// nil) whose value v satisfies "v op k". Customers without a value never
// match, not even "!=".
func (b *bsi) compare(op cmp, k int64, within *roaring.Bitmap) *roaring.Bitmap {
	if within != nil {
		// A slice operation costs about 1 µs per container of 65,536
		// customers; a look-up about 10 ns per customer.
		containers := b.has.GetCardinality()/65536 + 1
		if within.GetCardinality() < uint64(len(b.slices)+1)*containers*85 {
			return b.scan(op, k, within)
		}
		// Over a large share of the customers, one pass over the whole
		// slices and one "and" at the end.
		r := b.compare(op, k, nil)
		r.And(within)
		return r
	}
	var base *roaring.Bitmap
	all := within == nil // base is exactly the customers with a value
	if all {
		base = b.has.Clone()
	} else {
		base = roaring.And(b.has, within)
	}
	if base.IsEmpty() {
		return base
	}
	pos, negs := base, roaring.New()
	if !b.neg.IsEmpty() {
		negs = roaring.And(base, b.neg)
		if !negs.IsEmpty() {
			pos = roaring.AndNot(base, b.neg)
			all = false
		}
	}
	// ge(k) and gt(k) are the customers with v >= k and v > k; the other
	// operators follow from them.
	ge := func(k int64) *roaring.Bitmap {
		if k >= 0 {
			return b.magnitudeGE(uint64(k), pos, all) // every negative value is below k
		}
		// v >= k for negative v is |v| <= |k|, so |v| < |k|+1.
		r := roaring.AndNot(negs, b.magnitudeGE(-uint64(k)+1, negs, false))
		r.Or(pos)
		return r
	}
	gt := func(k int64) *roaring.Bitmap {
		if k == math.MaxInt64 {
			return roaring.New()
		}
		return ge(k + 1)
	}
	switch op {
	case cmpGe:
		return ge(k)
	case cmpGt:
		return gt(k)
	case cmpLt:
		base.AndNot(ge(k))
		return base
	case cmpLe:
		base.AndNot(gt(k))
		return base
	}
	var eq *roaring.Bitmap
	if k >= 0 {
		eq = b.magnitudeEq(uint64(k), pos)
	} else {
		eq = b.magnitudeEq(-uint64(k), negs)
	}
	if op == cmpEq {
		return eq
	}
	base.AndNot(eq)
	return base
}

// scan answers compare for the customers of within by looking their
// values up one by one.
func (b *bsi) scan(op cmp, k int64, within *roaring.Bitmap) *roaring.Bitmap {
	cand := roaring.And(b.has, within)
	var out []uint32
	buf := make([]uint32, 256)
	it := cand.ManyIterator()
	for n := it.NextMany(buf); n > 0; n = it.NextMany(buf) {
		for _, id := range buf[:n] {
			v := b.vals[id]
			var ok bool
			switch op {
			case cmpEq:
				ok = v == k
			case cmpNe:
				ok = v != k
			case cmpLt:
				ok = v < k
			case cmpLe:
				ok = v <= k
			case cmpGt:
				ok = v > k
			default:
				ok = v >= k
			}
			if ok {
				out = append(out, id)
			}
		}
	}
	return roaring.BitmapOf(out...)
}

// magnitudeGE returns the customers of set whose |value| is at least k.
// Reading the bits from the lowest up, "the low i+1 bits of v are at least
// those of k" is B_i and the same for i bits where k has a one, B_i or it
// where k has a zero: one bitmap operation per slice (Rinfret, O'Neil and
// O'Neil, "Bit-sliced index arithmetic", 2001). all says set is every
// customer with a value, so slices need no narrowing.
func (b *bsi) magnitudeGE(k uint64, set *roaring.Bitmap, all bool) *roaring.Bitmap {
	if bits.Len64(k) > len(b.slices) {
		return roaring.New() // above every stored magnitude
	}
	var r *roaring.Bitmap // nil: all of set (the condition holds so far for everyone)
	for i, s := range b.slices {
		switch {
		case k&(1<<i) != 0 && r == nil:
			r = roaring.And(s, set)
		case k&(1<<i) != 0:
			r.And(s)
		case r == nil:
			// B_i or everyone: still everyone.
		case all:
			r.Or(s)
		default:
			r.Or(roaring.And(s, set))
		}
	}
	if r == nil {
		return set.Clone()
	}
	return r
}

// magnitudeEq returns the customers of set whose |value| is k.
func (b *bsi) magnitudeEq(k uint64, set *roaring.Bitmap) *roaring.Bitmap {
	if bits.Len64(k) > len(b.slices) {
		return roaring.New()
	}
	r := set.Clone()
	for i := len(b.slices) - 1; i >= 0 && !r.IsEmpty(); i-- {
		if k&(1<<i) != 0 {
			r.And(b.slices[i])
		} else {
			r.AndNot(b.slices[i])
		}
	}
	return r
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

// valueSink takes one value per customer: a bsi directly, or a denseBSI
// during a build.
type valueSink interface{ set(id uint32, v int64) }

// denseBSI builds a bsi for customers with ids up to a known maximum in
// plain bit arrays (a bit costs a store instead of a roaring insert), and
// compresses them once at the end. A slice of 10 M customers is 1.25 MB.
type denseBSI struct {
	vals   []int64
	words  int
	has    []uint64
	neg    []uint64
	slices [][]uint64
}

func newDenseBSI(maxID uint32) *denseBSI {
	w := int(maxID)/64 + 1
	return &denseBSI{words: w, has: make([]uint64, w), vals: make([]int64, w*64)}
}

func (d *denseBSI) set(id uint32, v int64) {
	w, bit := id>>6, uint64(1)<<(id&63)
	if int(w) >= d.words {
		d.grow(int(w) + 1) // a customer added since the build counted them
	}
	d.vals[id] = v
	d.has[w] |= bit
	m := uint64(v)
	if v < 0 {
		if d.neg == nil {
			d.neg = make([]uint64, d.words)
		}
		d.neg[w] |= bit
		m = -m
	}
	for n := bits.Len64(m); len(d.slices) < n; {
		d.slices = append(d.slices, make([]uint64, d.words))
	}
	for m != 0 {
		i := bits.TrailingZeros64(m)
		d.slices[i][w] |= bit
		m &= m - 1
	}
}

func (d *denseBSI) grow(words int) {
	d.words = max(words, d.words+d.words/4)
	d.vals = growVals(d.vals, d.words*64)
	d.has = growWords(d.has, d.words)
	if d.neg != nil {
		d.neg = growWords(d.neg, d.words)
	}
	for i := range d.slices {
		d.slices[i] = growWords(d.slices[i], d.words)
	}
}

func growWords(ws []uint64, n int) []uint64 {
	if len(ws) >= n {
		return ws
	}
	return append(ws, make([]uint64, n-len(ws))...)
}

// finish returns the compressed bsi; d is not used after.
func (d *denseBSI) finish() *bsi {
	b := &bsi{has: roaring.FromDense(d.has, false), neg: roaring.New(), vals: d.vals}
	if d.neg != nil {
		b.neg = roaring.FromDense(d.neg, false)
	}
	for _, s := range d.slices {
		b.slices = append(b.slices, roaring.FromDense(s, false))
	}
	return b
}
