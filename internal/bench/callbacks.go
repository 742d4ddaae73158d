package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os/exec"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/store"
)

// The callback settings of the benchmark's own corp.
const (
	benchCorp  = "wwkithbench0001"
	benchToken = "kithbench"
	benchKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// CallbackOptions shape `kith bench callbacks`.
type CallbackOptions struct {
	Concurrency int           // senders at once; 0 means 32
	Duration    time.Duration // how long each side is loaded in all; 0 means 10 s
	// Rounds splits each side's Duration into that many turns, no-op
	// handler and Kith alternating, so that a change in what else runs on
	// the machine weighs on both sides alike; 0 means DefaultRounds, 1
	// loads the no-op handler, then Kith, once each.
	Rounds int
	// DataDir is where the measured Kith keeps its SQLite database (or
	// its lock and secrets with PostgreSQL); it should be an empty
	// temporary folder.
	DataDir string
	// DatabaseURL, if set, names a PostgreSQL server: the run creates a
	// database of its own there and drops it at the end.
	DatabaseURL string
	// Deliveries is how many distinct deliveries are sealed in advance;
	// 0 means DefaultDeliveries. Kith's run ends early if it takes them all.
	Deliveries int
	// Senders, if set, returns the command of a child process that runs
	// ServeSenders (`kith bench callback-senders`): the senders run there,
	// and each side's CPU per answer is its server's alone. Nil runs the
	// senders in this process, beside the servers.
	Senders func() *exec.Cmd
	// KithCPUProfile, if set, receives a CPU profile of this process while
	// Kith is loaded (go tool pprof).
	KithCPUProfile io.Writer
	Log            *slog.Logger
}

// CallbackReport is the outcome of `kith bench callbacks`.
type CallbackReport struct {
	Database    string `json:"database"` // sqlite or postgres
	Concurrency int    `json:"concurrency"`
	// Senders says where the senders ran: "process" (a child process of
	// their own) or "in-process".
	Senders  string `json:"senders"`
	Baseline Result `json:"noop_handler"`
	Kith     Result `json:"kith"`
	// Rounds is how many turns each side had (fewer than asked if Kith
	// took every sealed delivery before the last); RoundRatios the ratio of
	// the rates in each (Ratio is the ratio of the totals). Baseline's and
	// Kith's p50 are the median of the rounds' p50, their p99 the highest
	// round's p99.
	Rounds      int       `json:"rounds"`
	RoundRatios []float64 `json:"round_ratios"`
	// Ratio is Kith's accepted callbacks per second over the no-op
	// handler's answers per second.
	Ratio float64 `json:"ratio"`
	// CPURatio is the no-op handler's CPU time per answer over Kith's:
	// the ratio the rates would have on an otherwise idle machine where CPU
	// is the limit. On a busy shared host it is the steadier figure.
	// With the senders in a process of their own it compares the servers'
	// CPU alone.
	CPURatio float64 `json:"cpu_ratio"`
	// Distinct events among those sent (every tenth delivery repeats an
	// earlier event, as WeCom's retries do).
	Distinct int `json:"distinct_events"`
	Repeats  int `json:"repeated_deliveries"`
	Stored   int `json:"stored_events"`
	Applied  int `json:"applied_events"`
	// DedupeOK says every distinct event was stored and applied exactly
	// once, and no repeat was stored again.
	DedupeOK    bool    `json:"dedupe_ok"`
	RatioGoal   bool    `json:"ratio_goal_met"` // Ratio ≥ 0.40
	LatencyGoal bool    `json:"p99_goal_met"`   // Kith's p99 < 100 ms
	SecondsWait float64 `json:"apply_wait_seconds"`
	// LoadAverage is the machine's 1-minute load average at the end.
	LoadAverage float64 `json:"load_average"`
}

// DefaultDeliveries is how many distinct deliveries are sealed in advance:
// more than Kith takes in a 10-second run on this machine.
const DefaultDeliveries = 250_000

// DefaultRounds is how many turns each side gets by default.
const DefaultRounds = 5

// Goals of the benchmark.
const (
	GoalRatio = 0.40
	GoalP99   = 100 * time.Millisecond
)

// eventFor returns the plaintext of benchmark event i: a customer deleting
// a member, which applies without calling WeCom's API.
func eventFor(i int, created int64) []byte {
	return fmt.Appendf(nil, `<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[bench%02d]]></UserID><ExternalUserID><![CDATA[wmbench%08d]]></ExternalUserID></xml>`,
		benchCorp, created, i%50, i)
}

// eventIndex maps a delivery to the event it carries: every tenth delivery
// repeats the event of five deliveries before.
func eventIndex(i int) int {
	if i%10 == 9 {
		return i - 5
	}
	return i
}

// Callbacks measures how fast a Kith on SQLite (or PostgreSQL) accepts signed, encrypted
// WeCom callbacks over loopback HTTP, against a no-op handler loaded the
// same way in the same run, and checks that repeats are never stored or
// applied twice.
func Callbacks(ctx context.Context, o CallbackOptions) (*CallbackReport, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Rounds <= 0 {
		o.Rounds = DefaultRounds
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Deliveries <= 0 {
		o.Deliveries = DefaultDeliveries
	}
	// The deliveries are sealed before the clock starts, so the senders
	// measure the servers, not their own encryption. The no-op handler
	// cycles through them; Kith gets each once.
	setup := senderSetup{Concurrency: o.Concurrency, Deliveries: o.Deliveries, Created: time.Now().Unix()}
	var snd senders
	where := "in-process"
	if o.Senders != nil {
		c, err := startChildSenders(o.Senders(), setup)
		if err != nil {
			return nil, err
		}
		snd, where = c, "process"
	} else {
		l, err := newLocalSenders(setup)
		if err != nil {
			return nil, err
		}
		snd = l
	}
	defer snd.close()
	rep := &CallbackReport{Concurrency: o.Concurrency, Database: "sqlite", Senders: where, Rounds: o.Rounds}
	dbURL := ""
	if o.DatabaseURL != "" {
		u, drop, err := tempPostgres(ctx, o.DatabaseURL)
		if err != nil {
			return nil, err
		}
		defer drop()
		dbURL, rep.Database = u, "postgres"
	}

	// The baseline: a handler that reads the body and answers 200.
	noop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	noopSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})}
	// Profile labels (side = noop, kith or senders) let a CPU profile of
	// the run be split: go tool pprof -tagfocus side=kith.
	go pprof.Do(ctx, pprof.Labels("side", "noop"), func(context.Context) { noopSrv.Serve(noop) })
	defer noopSrv.Close()

	// Kith, with its own SQLite database in DataDir.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{
		Addr: ln.Addr().String(), DataDir: o.DataDir, DatabaseURL: dbURL, LogFormat: "text", CookieSecure: "auto", NodeName: "bench",
		AdminPassword: "kith bench password",
		WeComEnv: settings.WeCom{CorpID: benchCorp, Secret: "unused", CallbackToken: benchToken, CallbackAESKey: benchKey,
			APIBase: "http://127.0.0.1:1", FromEnv: map[string]bool{"corp_id": true, "secret": true, "callback_token": true, "callback_aes_key": true, "api_base": true}},
	}
	kctx, stop := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go pprof.Do(kctx, pprof.Labels("side", "kith"), func(kctx context.Context) {
		done <- app.Serve(kctx, cfg, ln, app.Options{Stdout: io.Discard, Log: o.Log, Ready: func() { close(ready) }})
	})
	select {
	case <-ready:
	case err := <-done:
		stop()
		return nil, fmt.Errorf("bench: start Kith: %w", err)
	}
	defer func() {
		stop()
		<-done
	}()
	db, err := store.Open(ctx, store.Options{DataDir: o.DataDir, URL: dbURL})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	svc := ingest.NewService(db, nil, kith.SystemClock{}, o.Log)
	// waitApplied waits until Kith applied every event it stored: before a
	// no-op round, so that Kith's applying (which yields to a burst of
	// callbacks and catches up after it) takes no CPU time from the no-op
	// handler; and at the end, to check the events.
	waitApplied := func() error {
		for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
			counts, err := svc.Counts(ctx)
			if err != nil {
				return err
			}
			rep.Applied = counts[ingest.StatusApplied]
			rep.Stored = rep.Applied + counts[ingest.StatusPending] + counts[ingest.StatusStored] + counts[ingest.StatusFailed]
			if counts[ingest.StatusPending] == 0 || time.Since(start) > 5*time.Minute || ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}

	if o.KithCPUProfile != nil {
		if err := pprof.StartCPUProfile(o.KithCPUProfile); err != nil {
			return nil, fmt.Errorf("bench: Kith's CPU profile: %w", err)
		}
	}
	turn := o.Duration / time.Duration(o.Rounds)
	var noopRounds, kithRounds []Result
	sent := 0 // Kith gets each delivery once, in order
	pprof.Do(ctx, pprof.Labels("side", "senders"), func(ctx context.Context) {
		for range o.Rounds {
			if sent >= o.Deliveries {
				break
			}
			if err = waitApplied(); err != nil {
				return
			}
			var b, k Result
			if b, err = snd.load(ctx, "http://"+noop.Addr().String(), turn, 0, math.MaxInt); err != nil {
				return
			}
			if k, err = snd.load(ctx, "http://"+ln.Addr().String(), turn, sent, o.Deliveries-sent); err != nil {
				return
			}
			noopRounds, kithRounds = append(noopRounds, b), append(kithRounds, k)
			sent += k.Sent
			if b.PerSecond > 0 {
				rep.RoundRatios = append(rep.RoundRatios, k.PerSecond/b.PerSecond)
			}
		}
	})
	if o.KithCPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	// Fewer turns than asked if Kith took every sealed delivery early.
	rep.Rounds = len(kithRounds)
	rep.Baseline, rep.Kith = mergeRounds(noopRounds), mergeRounds(kithRounds)
	if rep.Baseline.PerSecond > 0 {
		rep.Ratio = rep.Kith.PerSecond / rep.Baseline.PerSecond
	}
	if rep.Kith.CPUMicros > 0 {
		rep.CPURatio = rep.Baseline.CPUMicros / rep.Kith.CPUMicros
	}
	for i := range sent {
		if eventIndex(i) == i {
			rep.Distinct++
		} else {
			rep.Repeats++
		}
	}

	// Wait for the jobs to apply every stored event, then check that each
	// distinct event was stored and applied once.
	waitStart := time.Now()
	if err := waitApplied(); err != nil {
		return nil, err
	}
	rep.SecondsWait = time.Since(waitStart).Seconds()
	rep.LoadAverage = loadAverage()
	rep.DedupeOK = rep.Kith.Failed == 0 && rep.Stored == rep.Distinct && rep.Applied == rep.Stored
	rep.RatioGoal = rep.Ratio >= GoalRatio
	rep.LatencyGoal = rep.Kith.OK > 0 && rep.Kith.P99 < GoalP99
	if rep.Kith.OK == 0 {
		return rep, errors.New("bench: Kith accepted no callback: " + rep.Kith.FirstError)
	}
	return rep, nil
}

// mergeRounds adds up one side's rounds: counts, time and CPU time add up;
// the p50 is the median of the rounds' p50 and the p99 the highest round's
// p99 (each round's latencies are summarised where they are measured).
func mergeRounds(rounds []Result) Result {
	var m Result
	var cpu, senderCPU float64
	p50s := make([]time.Duration, 0, len(rounds))
	for _, r := range rounds {
		m.Sent += r.Sent
		m.OK += r.OK
		m.Failed += r.Failed
		m.Seconds += r.Seconds
		cpu += r.CPUMicros * float64(r.OK)
		senderCPU += r.SenderCPUMicros * float64(r.OK)
		m.P99 = max(m.P99, r.P99)
		p50s = append(p50s, r.P50)
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
	}
	if len(p50s) > 0 {
		slices.Sort(p50s)
		m.P50 = p50s[len(p50s)/2]
	}
	m.P50Millis = float64(m.P50.Microseconds()) / 1000
	m.P99Millis = float64(m.P99.Microseconds()) / 1000
	if m.Seconds > 0 {
		m.PerSecond = float64(m.OK) / m.Seconds
	}
	if m.OK > 0 {
		m.CPUMicros = cpu / float64(m.OK)
		m.SenderCPUMicros = senderCPU / float64(m.OK)
	}
	return m
}
