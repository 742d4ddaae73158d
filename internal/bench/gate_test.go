package bench

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

func TestGateBench(t *testing.T) {
	rep, err := Gate(context.Background(), GateOptions{Customers: 2000, Duration: 200 * time.Millisecond, Batch: 200, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ConsentEvents != 1400+200 || rep.Suppressed != 20 || rep.NearCap != 60 {
		t.Errorf("state: %+v", rep)
	}
	if rep.Baseline.PerSecond <= 0 || rep.Database.Decisions == 0 || rep.Single.Decisions == 0 || rep.Concurrent.Decisions == 0 ||
		rep.Batched.Decisions == 0 || rep.BatchRatio <= 0 {
		t.Errorf("measurements: %+v", rep)
	}
	if !rep.Agree {
		t.Error("the in-memory and database paths decided differently")
	}
	// The mix of state shows in the reasons.
	for _, r := range []gate.Reason{gate.OK, gate.NoConsent, gate.ConsentWithdrawn, gate.ConsentFrequency} {
		if rep.Reasons[r] == 0 {
			t.Errorf("no %s decision among %v", r, rep.Reasons)
		}
	}
}

// BenchmarkGatePaths measures the gate's calls on 100,000 customers
// (go test -bench GatePaths -cpuprofile …) to profile one path at a time.
func BenchmarkGatePaths(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	var rep GateReport
	if err := loadGateState(ctx, db, n, &rep); err != nil {
		b.Fatal(err)
	}
	g := gate.New(db, benchKeyBytes, kith.NewFixedClock(benchNow))
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]gate.Request, 1000)
	if _, err := g.Decide(ctx, benchRequest(0)); err != nil { // loads the gate's state
		b.Fatal(err)
	}
	b.Run("DecideBatch", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			for j := range reqs {
				reqs[j] = benchRequest(rng.IntN(n))
			}
			if _, err := g.DecideBatch(ctx, reqs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(reqs))/b.Elapsed().Seconds(), "decisions/s")
		b.ReportMetric(float64(b.N*len(reqs))/(processCPU()-cpu0).Seconds(), "decisions/cpu-s")
	})
	b.Run("Decide", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			if _, err := g.Decide(ctx, benchRequest(rng.IntN(n))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/(processCPU()-cpu0).Seconds(), "decisions/cpu-s")
	})
	b.Run("DecideParallel", func(b *testing.B) {
		cpu0 := processCPU()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 5))
			for pb.Next() {
				if _, err := g.Decide(ctx, benchRequest(rng.IntN(n))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		b.ReportMetric(float64(b.N)/(processCPU()-cpu0).Seconds(), "decisions/cpu-s")
	})
}
