package bench

import (
	"context"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/gate"
)

func TestGateBench(t *testing.T) {
	rep, err := Gate(context.Background(), GateOptions{Customers: 2000, Duration: 200 * time.Millisecond, Batch: 200, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ConsentEvents != 1400+200 || rep.Suppressed != 20 || rep.NearCap != 60 {
		t.Errorf("state: %+v", rep)
	}
	if rep.Baseline.PerSecond <= 0 || rep.Single.Decisions == 0 || rep.Batched.Decisions == 0 || rep.BatchRatio <= 0 {
		t.Errorf("measurements: %+v", rep)
	}
	// The mix of state shows in the reasons.
	for _, r := range []gate.Reason{gate.OK, gate.NoConsent, gate.ConsentWithdrawn, gate.ConsentFrequency} {
		if rep.Reasons[r] == 0 {
			t.Errorf("no %s decision among %v", r, rep.Reasons)
		}
	}
}
