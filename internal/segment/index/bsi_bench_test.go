package index

import (
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// benchFacts builds the five order facts of `kith bench segments`'s
// generator (orders, spent 30/90/365 days and in total, in fen) for n
// customers: 45% with orders, the others at 0.
func benchFacts(n int) [5]*bsi {
	var ds [5]*denseBSI
	for i := range ds {
		ds[i] = newDenseBSI(uint32(n))
	}
	for id := 1; id <= n; id++ {
		r := rand.New(rand.NewPCG(uint64(id), 0x6b697468))
		var orders int64
		var spent [4]int64
		if r.Float64() < 0.45 {
			orders = 1 + int64(r.ExpFloat64()*3)
			total := orders * (5000 + r.Int64N(50000))
			spent[3] = total
			spent[2] = total * r.Int64N(101) / 100
			spent[1] = spent[2] * r.Int64N(101) / 100
			spent[0] = spent[1] * r.Int64N(101) / 100
		}
		ds[0].set(uint32(id), orders)
		for i, v := range spent {
			ds[1+i].set(uint32(id), v)
		}
	}
	var out [5]*bsi
	for i, d := range ds {
		out[i] = d.finish()
	}
	return out
}

// benchTerm is one comparison of the off-round all-numeric expression.
type benchTerm struct {
	fact int
	op   cmp
	k    int64
}

// BenchmarkOffRound evaluates `orders >= 2 and spent_30d >= 13.7 and
// spent_90d >= 53.1 and spent_365d >= 107 and spent_total < 1930` as an
// "and" does (most selective first, each term narrowed by the ones
// before), over KITH_BENCH_CUSTOMERS customers (default 1 M), and reports
// the heap the five facts hold.
func BenchmarkOffRound(b *testing.B) {
	n := 1000000
	if s := os.Getenv("KITH_BENCH_CUSTOMERS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	facts := benchFacts(n)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	var bitmaps uint64
	for _, f := range facts {
		bitmaps += f.sizeInBytes()
	}
	terms := []benchTerm{{0, cmpGe, 2}, {1, cmpGe, 1370}, {2, cmpGe, 5310}, {3, cmpGe, 10700}, {4, cmpLt, 193000}}
	slices.SortStableFunc(terms, func(a, c benchTerm) int {
		ea, ec := facts[a.fact].estimate(a.op, a.k), facts[c.fact].estimate(c.op, c.k)
		switch {
		case ea < ec:
			return -1
		case ea > ec:
			return 1
		}
		return 0
	})
	var matches uint64
	cpus := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for range b.N {
		c0 := threadCPU()
		var cur *roaring.Bitmap
		for _, t := range terms {
			f := facts[t.fact]
			cur = f.compareIn(t.op, t.k, scope{within: cur, owned: cur != nil, valued: cur != nil && f.covers(facts[0].has)})
		}
		matches = cur.GetCardinality()
		cpus = append(cpus, threadCPU()-c0)
	}
	b.StopTimer()
	if testing.Verbose() { // each term's share, and what it leaves
		var cur *roaring.Bitmap
		for _, t := range terms {
			per := make([]time.Duration, 0, 50)
			var r *roaring.Bitmap
			for range 50 {
				c0 := threadCPU()
				r = facts[t.fact].compare(t.op, t.k, cur) // not owned: within is used again
				per = append(per, threadCPU()-c0)
			}
			slices.Sort(per)
			b.Logf("fact %d op %d k %d: %v, %d left", t.fact, t.op, t.k, per[len(per)/2], r.GetCardinality())
			cur = r
		}
	}
	slices.Sort(cpus)
	b.ReportMetric(float64(cpus[len(cpus)/2].Microseconds())/1000, "cpu-p50-ms")
	b.ReportMetric(float64(matches), "matches")
	b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse)/(1<<20), "heapMiB")
	b.ReportMetric(float64(bitmaps)/(1<<20), "sizeMiB")
}
