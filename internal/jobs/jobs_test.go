package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/obs"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startJobs(t *testing.T, db *store.DB, node string, m *obs.Metrics) *jobs.Jobs {
	t.Helper()
	w := river.NewWorkers()
	river.AddWorker(w, &jobs.ProbeWorker{DB: db, Node: node, Clock: kith.SystemClock{}})
	j, err := jobs.New(db, jobs.Config{Node: node, Workers: w, Logger: quiet, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := j.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return j
}

func waitProbes(t *testing.T, db *store.DB, batch string, want int) jobs.ProbeReport {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := jobs.Probes(context.Background(), db, batch)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Distinct >= want || time.Now().After(deadline) {
			return rep
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProbesRunExactlyOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		m := obs.New()
		j := startJobs(t, db, "node-a", m)
		if !j.Running() {
			t.Fatal("Running() = false after Start")
		}
		ids, err := j.EnqueueProbes(context.Background(), "b1", 40)
		if err != nil || len(ids) != 40 {
			t.Fatalf("EnqueueProbes: %d ids, %v", len(ids), err)
		}
		rep := waitProbes(t, db, "b1", 40)
		if rep.Distinct != 40 || rep.Runs != 40 || rep.ByNode["node-a"] != 40 {
			t.Fatalf("report %+v, want 40 jobs each run once on node-a", rep)
		}
		// Completion is in the probe's own transaction: the jobs are
		// completed, not left running or retried.
		deadline := time.Now().Add(10 * time.Second)
		for {
			counts, err := j.CountByState(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if counts["completed"] == 40 || time.Now().After(deadline) {
				if counts["completed"] != 40 {
					t.Fatalf("job states %v, want 40 completed", counts)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		deadline = time.Now().Add(10 * time.Second)
		for testutil.ToFloat64(m.JobsFinished.WithLabelValues("kith.probe", "completed")) < 40 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := testutil.ToFloat64(m.JobsFinished.WithLabelValues("kith.probe", "completed")); got != 40 {
			t.Fatalf("kith_jobs_finished_total{completed} = %v, want 40", got)
		}
	})
}

func TestTwoClientsShareTheWork(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		a := startJobs(t, db, "node-a", nil)
		startJobs(t, db, "node-b", nil)
		if _, err := a.EnqueueProbes(context.Background(), "shared", 60); err != nil {
			t.Fatal(err)
		}
		rep := waitProbes(t, db, "shared", 60)
		if rep.Distinct != 60 || rep.Runs != 60 {
			t.Fatalf("report %+v, want 60 jobs run once in total", rep)
		}
	})
}

func TestInsertOnlyClientWorksNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		j, err := jobs.New(db, jobs.Config{Node: "cli", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if j.Running() {
			t.Fatal("an insert-only client says it runs")
		}
		if _, err := j.EnqueueProbes(context.Background(), "idle", 3); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		counts, _ := j.CountByState(context.Background())
		if counts["available"] != 3 {
			t.Fatalf("states %v, want 3 available", counts)
		}
		// A worker started later picks them up.
		startJobs(t, db, "late", nil)
		if rep := waitProbes(t, db, "idle", 3); rep.Runs != 3 {
			t.Fatalf("report %+v", rep)
		}
	})
}

func TestEnqueueProbesValidates(t *testing.T) {
	db := storetest.MustSQLite(t)
	j, _ := jobs.New(db, jobs.Config{Node: "cli", Logger: quiet})
	for _, c := range []struct {
		batch string
		n     int
	}{{"b", 0}, {"b", jobs.MaxProbes + 1}, {"", 1}} {
		if _, err := j.EnqueueProbes(context.Background(), c.batch, c.n); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("EnqueueProbes(%q, %d) = %v, want EINVALID", c.batch, c.n, err)
		}
	}
}

// TestLoopsRunBetweenStartAndStop: a loop registered with Go starts with the
// client, and Stop cancels it and waits for it to return.
func TestLoopsRunBetweenStartAndStop(t *testing.T) {
	db := storetest.MustSQLite(t)
	w := river.NewWorkers()
	river.AddWorker(w, &jobs.ProbeWorker{DB: db, Node: "n", Clock: kith.SystemClock{}})
	j, err := jobs.New(db, jobs.Config{Node: "n", Workers: w, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	started, returned := make(chan struct{}), make(chan struct{})
	j.Go(func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // Stop must wait for this
		close(returned)
	})
	select {
	case <-started:
		t.Fatal("the loop ran before Start")
	case <-time.After(50 * time.Millisecond):
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the loop did")
	}
}

func TestNodeQueue(t *testing.T) {
	long := strings.Repeat("node-name ", 30)
	for node, want := range map[string]string{
		"web-1":                     "node-web-1",
		"test-TestBrowser/Sub_case": "node-test-testbrowser-sub-case",
		"  Kith 节点 2  ":             "node-kith-2",
		"":                          "node",
		long:                        "",
		long[:len(long)-1] + "x":    "",
	} {
		got := jobs.NodeQueue(node)
		if !regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`).MatchString(got) || len(got) > 128 {
			t.Errorf("NodeQueue(%q) = %q: not a River queue name", node, got)
		}
		if want != "" && got != want {
			t.Errorf("NodeQueue(%q) = %q, want %q", node, got, want)
		}
	}
	if jobs.NodeQueue(long) == jobs.NodeQueue(long[:len(long)-1]+"x") {
		t.Error("two long names share a queue")
	}
}
