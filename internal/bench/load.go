package bench

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one prepared HTTP request of a load.
type Request struct {
	URL  string
	Body []byte
}

// Result is what a load measured.
type Result struct {
	Sent      int           `json:"sent"`
	OK        int           `json:"ok"` // answered 200
	Failed    int           `json:"failed"`
	Seconds   float64       `json:"seconds"`
	PerSecond float64       `json:"per_second"` // 200 answers per second
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	P50Millis float64       `json:"p50_ms"`
	P99Millis float64       `json:"p99_ms"`
	// CPUMicros is the CPU time the measuring process used per answered
	// request: unlike the rate, it hardly depends on what else runs on the
	// machine. With the senders in a child process it is the server's
	// alone, and SenderCPUMicros is the senders'; with the senders in the
	// same process it counts both, and SenderCPUMicros is 0.
	CPUMicros       float64 `json:"cpu_us_per_answer"`
	SenderCPUMicros float64 `json:"sender_cpu_us_per_answer,omitempty"`
	FirstError      string  `json:"first_error,omitempty"`
}

// load sends requests with the given number of concurrent senders until
// every request was sent or d passed, and measures each answer's latency.
// next(i) returns the i-th request; it must be safe for concurrent use.
func load(ctx context.Context, client *http.Client, concurrency int, d time.Duration, n int, next func(i int) Request) Result {
	var (
		idx      atomic.Int64
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, min(n, 1<<20))
		ok, fail int
		firstErr string
	)
	deadline := time.Now().Add(d)
	start, cpu0 := time.Now(), processCPU()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			var lok, lfail int
			var lerr string
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(idx.Add(1)) - 1
				if i >= n {
					break
				}
				r := next(i)
				t0 := time.Now()
				resp, err := client.Post(r.URL, "text/xml", bytes.NewReader(r.Body))
				elapsed := time.Since(t0)
				if err == nil {
					resp.Body.Close()
				}
				switch {
				case err != nil:
					lfail++
					if lerr == "" {
						lerr = err.Error()
					}
				case resp.StatusCode != http.StatusOK:
					lfail++
					if lerr == "" {
						lerr = resp.Status
					}
				default:
					lok++
					local = append(local, elapsed)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			ok += lok
			fail += lfail
			if firstErr == "" {
				firstErr = lerr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start).Seconds(), processCPU()-cpu0
	slices.Sort(lat)
	r := Result{Sent: ok + fail, OK: ok, Failed: fail, Seconds: elapsed, FirstError: firstErr}
	if elapsed > 0 {
		r.PerSecond = float64(ok) / elapsed
	}
	if ok > 0 {
		r.CPUMicros = float64(cpu.Microseconds()) / float64(ok)
	}
	if len(lat) > 0 {
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		r.P50Millis = float64(r.P50.Microseconds()) / 1000
		r.P99Millis = float64(r.P99.Microseconds()) / 1000
	}
	return r
}
