package index

import (
	"math"
	"math/bits"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// valueSink takes one value per customer: a bsi directly, or a denseBSI
// during a build.
type valueSink interface{ set(id uint32, v int64) }

// denseBSI builds a bsi for customers with ids up to a known maximum: the
// values go into the array by id and "has" into a plain bit array; finish
// chooses the bounds and makes the bitmaps in one pass.
type denseBSI struct {
	vals  values
	words int
	has   []uint64
}

func newDenseBSI(maxID uint32) *denseBSI {
	w := int(maxID)/64 + 1
	return &denseBSI{words: w, has: make([]uint64, w), vals: values{arr: make([]int32, w*64)}}
}

func (d *denseBSI) set(id uint32, v int64) {
	w := int(id >> 6)
	if w >= d.words {
		d.words = max(w+1, d.words+d.words/4) // a customer added since the build counted them
		d.has = growWords(d.has, d.words)
	}
	d.has[w] |= 1 << (id & 63)
	d.vals.set(id, v)
}

// finish returns the built bsi; d is not used after.
func (d *denseBSI) finish() *bsi {
	b := &bsi{has: roaring.FromDense(d.has, false), vals: d.vals}
	sample := d.sample()
	b.bounds = chooseBounds(sample) // sorts sample
	if len(b.bounds) == 0 {
		return b
	}
	b.fine = chooseFine(b.bounds, sample)
	// One bit array per fine number but 0, then the levels accumulated
	// from the top (fineLv).
	most := 0
	for _, cuts := range b.fine {
		most = max(most, len(cuts))
	}
	fineIs := make([][]uint64, most)
	// One bit array per bucket, then lt[i] = buckets 0..i, accumulated.
	m := len(b.bounds)
	buckets := make([][]uint64, m)
	arr := d.vals.arr
	for w, word := range d.has {
		for word != 0 {
			id := uint32(w<<6 + bits.TrailingZeros64(word))
			word &= word - 1
			v := int64(wideMark)
			if int(id) < len(arr) {
				v = int64(arr[id])
			}
			if v == wideMark {
				v = d.vals.get(id)
			}
			j := b.bucket(v)
			if f := b.fineBucket(j, v); f > 0 {
				if fineIs[f-1] == nil {
					fineIs[f-1] = make([]uint64, len(d.has))
				}
				fineIs[f-1][w] |= 1 << (id & 63)
			}
			if j == m {
				continue // above every bound: in no lt
			}
			if buckets[j] == nil {
				buckets[j] = make([]uint64, len(d.has))
			}
			buckets[j][w] |= 1 << (id & 63)
		}
	}
	acc := make([]uint64, len(d.has))
	b.lt = make([]*roaring.Bitmap, m)
	for i, bk := range buckets {
		for w, x := range bk {
			acc[w] |= x
		}
		b.lt[i] = roaring.FromDense(acc, true)
	}
	b.fineLv = make([]*roaring.Bitmap, most)
	clear(acc)
	below := make([]uint64, len(acc))
	for f := most; f >= 1; f-- {
		for w, x := range fineIs[f-1] {
			acc[w] |= x // fine number f or more
		}
		fineIs[f-1] = nil
		if b.geLevel(f) {
			b.fineLv[f-1] = roaring.FromDense(acc, true)
			continue
		}
		for w, x := range acc {
			below[w] = d.has[w] &^ x
		}
		b.fineLv[f-1] = roaring.FromDense(below, true)
	}
	return b
}

// chooseFine picks the cuts of the fine buckets inside each of the
// len(bounds)+1 buckets from the sorted sample, as chooseBounds picks the
// bounds: nil for a bucket of one value or with too few sampled values to
// cut.
func chooseFine(bounds, sample []int64) [][]int64 {
	out := make([][]int64, len(bounds)+1)
	for j := range out {
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		from, to := 0, len(sample)
		if j > 0 {
			lo = bounds[j-1]
			from, _ = slices.BinarySearch(sample, lo)
		}
		if j < len(bounds) {
			hi = bounds[j]
			to, _ = slices.BinarySearch(sample, hi)
		}
		if j > 0 && j < len(bounds) && hi-lo == 1 {
			continue // one value
		}
		if to-from < 2 {
			continue
		}
		var cuts []int64
		for _, c := range cutsOf(sample[from:to], fineBuckets) {
			if c > lo && (c < hi || j == len(bounds)) {
				cuts = append(cuts, c)
			}
		}
		if len(cuts) > 0 {
			out[j] = cuts
		}
	}
	return out
}

// sample returns up to 1<<16 values spread evenly over the customers.
func (d *denseBSI) sample() []int64 {
	n := 0
	for _, w := range d.has {
		n += bits.OnesCount64(w)
	}
	step := max(1, n>>16)
	out := make([]int64, 0, min(n, 1<<16+1))
	i := 0
	for w, word := range d.has {
		for word != 0 {
			if i%step == 0 {
				out = append(out, d.vals.get(uint32(w<<6+bits.TrailingZeros64(word))))
			}
			i++
			word &= word - 1
		}
	}
	return out
}

// chooseBounds picks the bounds of the buckets from a sample of the values:
// a value that more than 1/(2·rangeBuckets) of the sample holds gets a
// bucket of its own ([v, v+1)); the other values are cut at their
// quantiles (so a fact most customers hold at 0 still gets rangeBuckets
// buckets for the others), each
// cut moved to the roundest number near it (operators compare with round
// numbers, which then fall on a bound and need no check).
func chooseBounds(sample []int64) []int64 {
	if len(sample) < 2*rangeBuckets {
		return nil // a few customers: checking each is cheap
	}
	slices.Sort(sample)
	return cutsOf(sample, rangeBuckets)
}

// cutsOf returns about parts ascending cuts of the sorted sample, as
// chooseBounds describes.
func cutsOf(sample []int64, parts int) []int64 {
	var out []int64
	heavy := len(sample) / (2 * parts)
	rest := make([]int64, 0, len(sample)) // the values of no bucket of their own
	for i := 0; i < len(sample); {
		j := i
		for j < len(sample) && sample[j] == sample[i] {
			j++
		}
		if j-i > heavy {
			out = append(out, sample[i])
			if sample[i] < math.MaxInt64 {
				out = append(out, sample[i]+1)
			}
		} else {
			rest = append(rest, sample[i:j]...)
		}
		i = j
	}
	n := len(rest)
	if n == 0 {
		return sortedUnique(out)
	}
	q := func(i int) int64 { return rest[min(max(i, 0), n-1)] }
	for i := 1; i < parts; i++ {
		at := i * n / parts
		// Any cut within half a bucket of the quantile: a bucket is then
		// at most twice the size of another.
		lo, hi := q(at-n/(2*parts)), q(at+n/(2*parts))
		out = append(out, roundest(lo, hi))
	}
	return sortedUnique(out)
}

// roundest returns the number in [lo, hi] with the most trailing decimal
// zeros (the smallest such one), or lo.
func roundest(lo, hi int64) int64 {
	if lo > hi {
		return lo
	}
	if lo <= 0 && hi >= 0 {
		return 0
	}
	best := lo
	for p := int64(10); p <= 1e17; p *= 10 {
		c := lo / p * p // toward zero
		if c < lo {
			if c > math.MaxInt64-p {
				break
			}
			c += p
		}
		if c > hi {
			break
		}
		best = c
	}
	return best
}

// mid returns the number halfway between a and b (a <= b), without overflow.
func mid(a, b int64) int64 { return int64(uint64(a) + (uint64(b)-uint64(a))/2) }
