package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 << 20, 1600},       // the runtime's 4 MB minimum, times 16
		{1, 64 << 20, 1600},       // not more: the minimum would grow with it
		{3 << 20, 64 << 20, 1600}, //
		{4 << 20, 64 << 20, 1600}, // a small server: wait for 64 MB
		{5 << 20, 64 << 20, 1280}, //
		{6 << 20, 64 << 20, 1067}, // rounded up
		{1 << 20, 2 << 20, 100},   // a floor below the minimum
		{48 << 20, 64 << 20, 134}, // e.g. 3 MB live and 45 MB of goroutine stacks: 64 MB, not 16 × 48
		{32 << 20, 64 << 20, 200}, // 64 MB more
		{64 << 20, 64 << 20, 100}, // the default from the floor on
		{70 << 20, 64 << 20, 100}, // a large heap: twice its size, not more
		{1 << 30, 64 << 20, 100},
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// clearEnv leaves the collector to Keep (an operator's GOGC or GOMEMLIMIT
// would turn it off).
func clearEnv(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
}

// keep starts Keep(floor) for the test and ends it after (the returned stop
// may end it sooner).
func keep(t *testing.T, floor uint64) func() {
	clearEnv(t)
	stop := Keep(floor)
	t.Cleanup(stop)
	return stop
}

// percentNow returns the GC percentage in force (under mu, so that no
// adjustment lands between the two calls).
func percentNow() int {
	mu.Lock()
	defer mu.Unlock()
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// waitPercent collects until the tuner has set a percentage that ok
// accepts (its finalizer runs after a collection, on another goroutine).
func waitPercent(t *testing.T, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if p := percentNow(); ok(p) || time.Now().After(deadline) {
			return p
		}
	}
}

// The tuner follows the live heap from one collection to the next: high
// while the heap is small, the default once it holds more than the floor,
// and the percentage it found back when stopped.
func TestKeep(t *testing.T) {
	const floor = 16 << 20
	stop := keep(t, floor)
	if p := waitPercent(t, func(p int) bool { return p > 150 }); p <= 150 {
		t.Fatalf("with a small heap the percentage is %d", p)
	}
	held := make([]byte, 3*floor)
	for i := range held {
		held[i] = 1
	}
	if p := waitPercent(t, func(p int) bool { return p == 100 }); p != 100 {
		t.Fatalf("with %d MB held the percentage is %d", len(held)>>20, p)
	}
	runtime.KeepAlive(held)
	held = nil
	if p := waitPercent(t, func(p int) bool { return p > 150 }); p <= 150 {
		t.Fatalf("after the heap shrank the percentage is %d", p)
	}
	stop()
	if p := percentNow(); p != 100 {
		t.Errorf("after stop the percentage is %d, want the 100 it found", p)
	}
	stop() // a second stop does nothing
}

// An operator's GOGC or GOMEMLIMIT wins: Keep changes nothing.
func TestKeepLeavesOperatorSettings(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "100")
			before := debug.SetGCPercent(137)
			defer debug.SetGCPercent(before)
			stop := Keep(1 << 30)
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			if p := percentNow(); p != 137 {
				t.Errorf("with %s set the percentage became %d", env, p)
			}
			stop()
		})
	}
}

// Two Keeps in force share one tuner: the percentage found before the
// first comes back only when both have ended, whatever their order.
func TestKeepNested(t *testing.T) {
	clearEnv(t)
	before := debug.SetGCPercent(123)
	defer debug.SetGCPercent(before)
	stop1 := Keep(16 << 20)
	stop2 := Keep(16 << 20)
	if p := waitPercent(t, func(p int) bool { return p > 150 && p != 123 }); p <= 150 || p == 123 {
		t.Fatalf("with two Keeps the percentage is %d", p)
	}
	stop1()
	stop1() // once only: it must not end the other Keep
	if p := waitPercent(t, func(p int) bool { return p > 150 && p != 123 }); p <= 150 || p == 123 {
		t.Fatalf("with one Keep left the percentage is %d", p)
	}
	stop2()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if p := percentNow(); p != 123 {
		t.Errorf("after both ended the percentage is %d, want the 123 found", p)
	}
}

// Goroutine stacks count as the runtime counts them: many goroutines with
// a small live heap do not multiply the target by the floor's percentage
// (with the live heap alone, 5,000 goroutines of 9 KB stacks and 3 MB live
// made a target of 778 MB).
func TestKeepCountsStacks(t *testing.T) {
	const floor = 16 << 20
	keep(t, floor)
	release := make(chan struct{})
	var ready sync.WaitGroup
	for range 4000 {
		ready.Add(1)
		go func() {
			var deep func(n int) int
			deep = func(n int) int {
				var pad [256]byte
				if n == 0 {
					ready.Done()
					<-release
					return int(pad[0])
				}
				return deep(n-1) + int(pad[n%256])
			}
			deep(24) // about 8 KB of stack
		}()
	}
	ready.Wait()
	defer close(release)
	s := []metrics.Sample{{Name: "/gc/scan/stack:bytes"}}
	p := waitPercent(t, func(int) bool {
		metrics.Read(s)
		return s[0].Value.Uint64() > floor
	})
	if s[0].Value.Uint64() <= floor {
		t.Fatalf("the stacks scanned are %d bytes", s[0].Value.Uint64())
	}
	if p != 100 {
		t.Errorf("with %d MB of stacks the percentage is %d, want 100", s[0].Value.Uint64()>>20, p)
	}
}
