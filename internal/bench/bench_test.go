package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
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

func TestCallbacksReport(t *testing.T) {
	rep, err := Callbacks(context.Background(), CallbackOptions{Concurrency: 4, Duration: time.Second, DataDir: t.TempDir(), Deliveries: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kith.OK == 0 || rep.Baseline.OK == 0 || rep.Ratio <= 0 {
		t.Fatalf("report %+v", rep)
	}
	if !rep.DedupeOK || rep.Stored != rep.Distinct || rep.Applied != rep.Stored || rep.Repeats == 0 {
		t.Fatalf("dedupe check: %+v", rep)
	}
	if rep.Distinct+rep.Repeats != rep.Kith.Sent {
		t.Fatalf("%d distinct + %d repeats != %d sent", rep.Distinct, rep.Repeats, rep.Kith.Sent)
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
