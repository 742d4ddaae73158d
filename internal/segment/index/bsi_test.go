package index

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// The bit-sliced index against a plain map, for random values (negative,
// zero, huge) and every operator, with and without a narrowing set; built
// value by value and densely.
func TestBSICompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := map[uint32]int64{}
	sparse, dense := newBSI(), newDenseBSI(100)
	for id := uint32(0); id < 3000; id++ {
		if r.IntN(5) == 0 {
			continue // no value
		}
		v := []int64{0, 1, -1, 7, 100, -100, math.MaxInt64, math.MinInt64, 1 << 40}[r.IntN(9)] + int64(r.IntN(5)-2)
		if r.IntN(3) == 0 {
			v = r.Int64N(1000) - 500
		}
		values[id] = v
		sparse.set(id, v)
		dense.set(id, v) // grows past its first 100 ids
	}
	built := dense.finish()
	within, few := roaring.New(), roaring.New() // a large share and a small one
	for id := uint32(0); id < 3000; id += 3 {
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
	for range 300 {
		k := []int64{0, 1, -1, 7, 100, -100, math.MaxInt64, math.MinInt64, 1 << 40, 1 << 62}[r.IntN(10)] + int64(r.IntN(3)-1)
		if r.IntN(2) == 0 {
			k = r.Int64N(1000) - 500
		}
		for op, f := range ops {
			for _, w := range []*roaring.Bitmap{nil, within, few} {
				want := roaring.New()
				for id, v := range values {
					if f(v, k) && (w == nil || w.Contains(id)) {
						want.Add(id)
					}
				}
				for name, b := range map[string]*bsi{"sparse": sparse, "dense": built} {
					if got := b.compare(op, k, w); !got.Equals(want) {
						t.Fatalf("%s: op %d k %d within %v: got %d customers, want %d", name, op, k, w != nil, got.GetCardinality(), want.GetCardinality())
					}
				}
			}
		}
	}
	for id, v := range values {
		if got, ok := sparse.get(id); !ok || got != v {
			t.Fatalf("get(%d) = %d, %v; want %d", id, got, ok, v)
		}
	}
	// Removing and merging keeps the values of the others.
	gone := roaring.BitmapOf(3, 4, 5, 6)
	sparse.remove(gone)
	if _, ok := sparse.get(4); ok {
		t.Fatal("removed value still there")
	}
	o := newBSI()
	o.set(4, -9)
	sparse.merge(o)
	if v, ok := sparse.get(4); !ok || v != -9 {
		t.Fatalf("merged value %d, %v", v, ok)
	}
	// The value array (what a narrowed comparison reads) follows too.
	if got := sparse.compare(cmpEq, -9, roaring.BitmapOf(4, 5, 6)); !got.Equals(roaring.BitmapOf(4)) {
		t.Fatalf("narrowed comparison after merge: %v", got.ToArray())
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
