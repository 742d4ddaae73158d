// Package gcfloor keeps the garbage collector from running more often than
// once per Floor bytes of new allocation, without raising the target of a
// large heap.
//
// A serving process with a few MB of live data collects after every few MB
// of allocation: under a burst of callbacks (each some tens of KB of
// short-lived garbage) the collector ran several times a second and took
// about a tenth of the server's CPU (`kith bench callbacks
// --kith-cpuprofile`, docs/operations.md). Kith first fixed that with a 64
// MB ballast — allocated, never touched, counted as live — which also
// raised a large heap's target by twice its size: at 1 M campaign
// recipients (about 70 MB live, the gate's tables) the heap could grow to
// 270 MB before a collection instead of 140. Keep instead sets the GC
// percentage after each collection from the live heap it found: the
// Go default of 100 once the live heap is Floor or more, and enough more
// below that for the next collection to wait for Floor bytes of
// allocation.
//
// An operator who sets GOGC or GOMEMLIMIT tunes the collector himself:
// Keep then does nothing.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the allocation a collection waits for at least.
const Floor = 64 << 20

// minHeap is the Go runtime's smallest heap target at GOGC=100 (4 MB); it
// scales with the percentage, so a percentage above floor/minHeap×100 would
// raise it above the floor (at 100,000 the first collection of a busy
// process waited for 4 GB).
const minHeap = 4 << 20

// Percent is the GC percentage that makes the next collection wait for
// max(work, floor) bytes of new allocation, work being what the runtime
// scales the percentage by: the live heap, the goroutine stacks and the
// globals it scanned (Go's target is live + work × percentage / 100). For
// work below minHeap it is floor×100/minHeap: the minimum target is then
// the floor.
func Percent(work, floor uint64) int {
	maxPercent := max(100, floor*100/minHeap)
	if work >= floor {
		return 100
	}
	if work == 0 {
		return int(maxPercent)
	}
	return int(min(maxPercent, (floor*100+work-1)/work))
}

// The collector's percentage is the process's: one tuner runs while any
// Keep is in force (tests serve several instances in one process), from
// the first Keep to the last stop. mu makes Keep, the stops and the
// adjustments one at a time, so none lands after the last stop.
var (
	mu     sync.Mutex
	keeps  int
	active *tuner
)

// Keep starts tuning the collector with floor (Floor in the server; while
// one Keep is in force, later ones share its tuner and floor) and returns
// the function that ends this Keep; the last one ended restores the
// percentage the first found. It does nothing when GOGC or GOMEMLIMIT is
// set.
func Keep(floor uint64) (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	if keeps == 0 {
		active = &tuner{floor: floor, before: debug.SetGCPercent(100)}
		active.adjust()
		active.arm()
	}
	keeps++
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if keeps--; keeps == 0 {
				active.stopped = true
				debug.SetGCPercent(active.before)
				active = nil
			}
		})
	}
}

type tuner struct {
	floor   uint64
	before  int
	stopped bool // under mu
	sample  [3]metrics.Sample
}

// sentinel is an object the collector finds unreachable once per cycle;
// its finalizer adjusts the percentage and arms a new one. It holds a
// pointer so that it is not placed in a tiny block with other objects
// (whose finalizers may then never run).
type sentinel struct{ _ *int }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		mu.Lock()
		defer mu.Unlock()
		if t.stopped {
			return
		}
		t.adjust()
		t.arm()
	})
}

// adjust sets the percentage from what the last collection found (runs
// on the finalizer goroutine, and once in Keep).
func (t *tuner) adjust() {
	t.sample[0].Name = "/gc/heap/live:bytes"
	t.sample[1].Name = "/gc/scan/stack:bytes"
	t.sample[2].Name = "/gc/scan/globals:bytes"
	metrics.Read(t.sample[:])
	var work uint64
	for _, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			work += s.Value.Uint64()
		}
	}
	debug.SetGCPercent(Percent(work, t.floor))
}
