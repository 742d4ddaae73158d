package ingest

import (
	"context"
	"testing"
	"time"
)

// TestYieldWaitsOutABurstButNotForever: with callbacks arriving fast the
// drain loop waits, but no longer than maxYield; without them it goes on at
// once.
func TestYieldWaitsOutABurstButNotForever(t *testing.T) {
	var d drainer
	d.init()
	start := time.Now()
	d.yield(context.Background())
	if quiet := time.Since(start); quiet > 5*busyProbe {
		t.Fatalf("yielded %s with no callbacks arriving", quiet)
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				d.accepted.Add(busyRate) // far above busyRate, even if this goroutine runs rarely
			}
		}
	}()
	start = time.Now()
	d.yield(context.Background())
	close(stop)
	if busy := time.Since(start); busy < maxYield/2 || busy > 3*maxYield {
		t.Fatalf("yielded %s during a burst; want about %s", busy, maxYield)
	}
}
