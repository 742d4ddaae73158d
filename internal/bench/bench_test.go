package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLoadCountsAndOrdersLatencies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") == "1" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	r := load(context.Background(), srv.Client(), 4, 10*time.Second, 200, func(i int) Request {
		if i%10 == 0 {
			return Request{URL: srv.URL + "?fail=1"}
		}
		return Request{URL: srv.URL}
	})
	if r.Sent != 200 || r.OK != 180 || r.Failed != 20 || r.FirstError == "" {
		t.Fatalf("result %+v", r)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.PerSecond <= 0 {
		t.Fatalf("latencies %+v", r)
	}
}

// TestMain lets the test binary be the senders' child process of
// TestCallbacksReportSendersProcess, as `kith bench callback-senders` is
// kith's.
func TestMain(m *testing.M) {
	if os.Getenv("KITH_BENCH_SENDERS_CHILD") == "1" {
		if err := ServeSenders(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestCallbacksReport(t *testing.T) {
	rep, err := Callbacks(context.Background(), CallbackOptions{Concurrency: 4, Duration: time.Second, Rounds: 1, DataDir: t.TempDir(), Deliveries: 20000})
	if err != nil {
		t.Fatal(err)
	}
	checkCallbacksReport(t, rep)
	if rep.Rounds != 1 {
		t.Fatalf("%d rounds, want 1", rep.Rounds)
	}
	if rep.Senders != "in-process" || rep.Kith.SenderCPUMicros != 0 {
		t.Fatalf("senders %q, sender CPU %v", rep.Senders, rep.Kith.SenderCPUMicros)
	}
}

// TestCallbacksReportSendersProcess runs the senders in a child process
// (this test binary, see TestMain): the report is as complete, and the
// senders' CPU is reported apart from the servers'.
func TestCallbacksReportSendersProcess(t *testing.T) {
	var profile bytes.Buffer
	rep, err := Callbacks(context.Background(), CallbackOptions{Concurrency: 4, Duration: time.Second, DataDir: t.TempDir(), Deliveries: 20000,
		KithCPUProfile: &profile,
		Senders: func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "KITH_BENCH_SENDERS_CHILD=1")
			cmd.Stderr = os.Stderr
			return cmd
		}})
	if err != nil {
		t.Fatal(err)
	}
	checkCallbacksReport(t, rep)
	if rep.Rounds != DefaultRounds {
		t.Fatalf("%d rounds, want %d", rep.Rounds, DefaultRounds)
	}
	if rep.Senders != "process" || rep.Kith.SenderCPUMicros <= 0 || rep.Baseline.SenderCPUMicros <= 0 || rep.Kith.CPUMicros <= 0 {
		t.Fatalf("senders %q: Kith %+v, no-op %+v", rep.Senders, rep.Kith, rep.Baseline)
	}
	if profile.Len() == 0 {
		t.Fatal("no CPU profile of the Kith side was written")
	}
}

// TestSendersChildRefusesBadSetup: a setup without senders or deliveries
// is answered with an error, not a hang.
func TestSendersChildRefusesBadSetup(t *testing.T) {
	var out bytes.Buffer
	if err := ServeSenders(context.Background(), strings.NewReader(`{"concurrency":0,"deliveries":10}`+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"ready":false`) || !strings.Contains(out.String(), "positive") {
		t.Fatalf("answer %q", out.String())
	}
}

func checkCallbacksReport(t *testing.T, rep *CallbackReport) {
	t.Helper()
	if rep.Kith.OK == 0 || rep.Baseline.OK == 0 || rep.Ratio <= 0 {
		t.Fatalf("report %+v", rep)
	}
	if !rep.DedupeOK || rep.Stored != rep.Distinct || rep.Applied != rep.Stored || rep.Repeats == 0 {
		t.Fatalf("dedupe check: %+v", rep)
	}
	if rep.Distinct+rep.Repeats != rep.Kith.Sent {
		t.Fatalf("%d distinct + %d repeats != %d sent", rep.Distinct, rep.Repeats, rep.Kith.Sent)
	}
	if len(rep.RoundRatios) != rep.Rounds {
		t.Fatalf("%d rounds but ratios %v", rep.Rounds, rep.RoundRatios)
	}
	for _, r := range rep.RoundRatios {
		if r <= 0 {
			t.Fatalf("round ratios %v", rep.RoundRatios)
		}
	}
}

// TestMergeRounds: counts, time and CPU time add up; p50 is the median
// round's, p99 the worst round's.
func TestMergeRounds(t *testing.T) {
	ms := time.Millisecond
	m := mergeRounds([]Result{
		{Sent: 110, OK: 100, Failed: 10, Seconds: 1, P50: 2 * ms, P99: 9 * ms, CPUMicros: 50, SenderCPUMicros: 30},
		{Sent: 300, OK: 300, Seconds: 2, P50: 1 * ms, P99: 4 * ms, CPUMicros: 10, SenderCPUMicros: 20, FirstError: "first"},
		{Sent: 100, OK: 100, Seconds: 1, P50: 3 * ms, P99: 5 * ms, CPUMicros: 30, SenderCPUMicros: 10, FirstError: "second"},
	})
	want := Result{Sent: 510, OK: 500, Failed: 10, Seconds: 4, PerSecond: 125, P50: 2 * ms, P99: 9 * ms, P50Millis: 2, P99Millis: 9,
		CPUMicros: (50*100 + 10*300 + 30*100) / 500.0, SenderCPUMicros: (30*100 + 20*300 + 10*100) / 500.0, FirstError: "first"}
	if m != want {
		t.Fatalf("merged\n%+v\nwant\n%+v", m, want)
	}
	if z := mergeRounds(nil); z != (Result{}) {
		t.Fatalf("no rounds: %+v", z)
	}
}

func TestEventIndexRepeatsEveryTenth(t *testing.T) {
	for i := range 100 {
		want := i
		if i%10 == 9 {
			want = i - 5
		}
		if got := eventIndex(i); got != want {
			t.Fatalf("eventIndex(%d) = %d, want %d", i, got, want)
		}
	}
}
