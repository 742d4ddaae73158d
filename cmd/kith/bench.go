package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/kith-scrm/kith/internal/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "gate" {
		return cmdBenchGate(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "smtpsink" {
		return cmdBenchSMTPSink(os.Stdin, stdout)
	}
	if len(args) > 0 && args[0] == "campaign" {
		return cmdBenchCampaign(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "callback-senders" {
		// Hidden: the senders' child process of `kith bench callbacks`.
		return bench.ServeSenders(ctx, os.Stdin, stdout)
	}
	if len(args) > 0 && args[0] == "segments" {
		return cmdBenchSegments(ctx, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "callbacks" {
		return usageError{"say what to measure: kith bench callbacks [--json] [--duration 10s] [--rounds 5] [--concurrency 32] [--senders process|in-process] [--kith-cpuprofile FILE] [--database-url URL], or kith bench gate [--json] [--customers 1000000]"}
	}
	fs := flag.NewFlagSet("bench callbacks", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	duration := fs.Duration("duration", 10*time.Second, "how long to load each side in all")
	rounds := fs.Int("rounds", bench.DefaultRounds, "turns each side gets, no-op handler and Kith alternating (1: one after the other)")
	concurrency := fs.Int("concurrency", 32, "concurrent senders")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	kithProfile := fs.String("kith-cpuprofile", "", "write a CPU profile of the Kith side alone (while Kith is loaded) to this file")
	sendersWhere := fs.String("senders", "process", "where the senders run: process (a child process of their own, so their CPU does not count as the servers') or in-process")
	databaseURL := fs.String("database-url", getenv("KITH_BENCH_DATABASE_URL"), "measure Kith on PostgreSQL: a server URL on which the run may create (and then drops) a database of its own; default $KITH_BENCH_DATABASE_URL, empty for SQLite")
	if err := parseFlags(fs, args[1:], stdout); err != nil {
		return err
	}
	if *duration < time.Second || *duration > 10*time.Minute {
		return usageError{fmt.Sprintf("--duration is %s; use 1s to 10m", *duration)}
	}
	if *rounds < 1 || *rounds > 100 || *duration/time.Duration(*rounds) < 200*time.Millisecond {
		return usageError{fmt.Sprintf("--rounds is %d; use 1 to 100, with turns of at least 200ms (--duration / --rounds)", *rounds)}
	}
	if *concurrency < 1 || *concurrency > 1024 {
		return usageError{fmt.Sprintf("--concurrency is %d; use 1 to 1024", *concurrency)}
	}
	if *sendersWhere != "process" && *sendersWhere != "in-process" {
		return usageError{fmt.Sprintf("--senders is %q; use process or in-process", *sendersWhere)}
	}
	if *cpuProfile != "" && *kithProfile != "" {
		return usageError{"use --cpuprofile or --kith-cpuprofile, not both (a process has one CPU profile at a time)"}
	}
	o := bench.CallbackOptions{Concurrency: *concurrency, Duration: *duration, Rounds: *rounds, DatabaseURL: *databaseURL,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	if *sendersWhere == "process" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find this program to start the senders (or use --senders in-process): %w", err)
		}
		o.Senders = func() *exec.Cmd {
			cmd := exec.CommandContext(ctx, exe, "bench", "callback-senders")
			cmd.Stderr = stderr
			return cmd
		}
	}
	if *kithProfile != "" {
		f, err := os.Create(*kithProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.KithCPUProfile = f
	}
	dir, done, err := benchSetup("kith-bench-", *cpuProfile)
	if err != nil {
		return err
	}
	defer done()
	o.DataDir = dir
	if !*asJSON {
		where := "SQLite (" + dir + ")"
		if *databaseURL != "" {
			where = "PostgreSQL (a database of its own)"
		}
		if *rounds == 1 {
			fmt.Fprintf(stdout, "Loading a no-op handler, then Kith on %s, with %d senders (%s) for %s each…\n", where, *concurrency, *sendersWhere, *duration)
		} else {
			fmt.Fprintf(stdout, "Loading a no-op handler and Kith on %s in turn, with %d senders (%s), %d turns of %s each…\n",
				where, *concurrency, *sendersWhere, *rounds, *duration/time.Duration(*rounds))
		}
	}
	rep, err := bench.Callbacks(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	row := func(name string, r bench.Result) {
		fmt.Fprintf(stdout, "  %-26s %10.0f/s   p50 %7.2f ms   p99 %7.2f ms   %6.1f µs CPU each   (%d answered, %d failed)\n", name, r.PerSecond, r.P50Millis, r.P99Millis, r.CPUMicros, r.OK, r.Failed)
	}
	row("no-op handler", rep.Baseline)
	row("Kith (accepted callbacks)", rep.Kith)
	yes := map[bool]string{true: "met", false: "NOT met"}
	fmt.Fprintf(stdout, "  ratio %.2f of the no-op handler (goal ≥ %.2f: %s); p99 goal < %s: %s\n",
		rep.Ratio, bench.GoalRatio, yes[rep.RatioGoal], bench.GoalP99, yes[rep.LatencyGoal])
	if len(rep.RoundRatios) > 1 {
		fmt.Fprint(stdout, "  ratio in each turn:")
		for _, r := range rep.RoundRatios {
			fmt.Fprintf(stdout, " %.2f", r)
		}
		fmt.Fprintln(stdout, "  (p50: the turns' median; p99: the highest turn's)")
	}
	if rep.Senders == "process" {
		fmt.Fprintf(stdout, "  server CPU per answer: no-op %.1f µs, Kith %.1f µs (ratio %.2f); senders' CPU per answer (their own process): %.1f µs to the no-op, %.1f µs to Kith\n",
			rep.Baseline.CPUMicros, rep.Kith.CPUMicros, rep.CPURatio, rep.Baseline.SenderCPUMicros, rep.Kith.SenderCPUMicros)
	} else {
		fmt.Fprintf(stdout, "  CPU per answer (servers and senders in one process): no-op %.1f µs, Kith %.1f µs (the rates' ratio on an idle machine where CPU is the limit: %.2f)\n",
			rep.Baseline.CPUMicros, rep.Kith.CPUMicros, rep.CPURatio)
	}
	fmt.Fprintf(stdout, "  load average at the end %.1f on %d CPUs (other processes share them)\n", rep.LoadAverage, runtime.NumCPU())
	fmt.Fprintf(stdout, "  %d distinct events and %d repeated deliveries sent; %d stored, %d applied (after %.1f s) — duplicates applied twice: %s\n",
		rep.Distinct, rep.Repeats, rep.Stored, rep.Applied, rep.SecondsWait, map[bool]string{true: "none", false: "CHECK FAILED"}[rep.DedupeOK])
	return nil
}

// cmdBenchGate runs `kith bench gate`.
func cmdBenchGate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench gate", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	customers := fs.Int("customers", 1_000_000, "customers in the consent ledger")
	duration := fs.Duration("duration", 5*time.Second, "how long each measurement runs")
	batch := fs.Int("batch", 1000, "requests per DecideBatch call")
	concurrency := fs.Int("concurrency", 64, "goroutines calling Decide at once in the concurrent measurement")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *customers < 100 || *customers > 10_000_000 {
		return usageError{fmt.Sprintf("--customers is %d; use 100 to 10000000", *customers)}
	}
	if *duration < 100*time.Millisecond || *duration > 10*time.Minute {
		return usageError{fmt.Sprintf("--duration is %s; use 100ms to 10m", *duration)}
	}
	if *batch < 1 || *batch > 100_000 {
		return usageError{fmt.Sprintf("--batch is %d; use 1 to 100000", *batch)}
	}
	dir, done, err := benchSetup("kith-bench-gate-", *cpuProfile)
	if err != nil {
		return err
	}
	defer done()
	if *concurrency < 1 || *concurrency > 4096 {
		return usageError{fmt.Sprintf("--concurrency is %d; use 1 to 4096", *concurrency)}
	}
	o := bench.GateOptions{Customers: *customers, Duration: *duration, Batch: *batch, Concurrency: *concurrency, DataDir: dir}
	if !*asJSON {
		o.Progress = func(s string) { fmt.Fprintf(stdout, "%s (SQLite in %s)\n", s, dir) }
	}
	rep, err := bench.Gate(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "  state: %d customers, %d consent events, %d suppressed, %d near a cap; built in %.1f s\n",
		rep.Customers, rep.ConsentEvents, rep.Suppressed, rep.NearCap, rep.LoadSeconds)
	row := func(name string, r bench.GateResult, ratio float64) {
		fmt.Fprintf(stdout, "  %-34s %10.0f/s  %10.0f/CPU-s   (%d in %.1f s)   ratio %.2f\n", name, r.PerSecond, r.PerCPUSecond, r.Decisions, r.Seconds, ratio)
	}
	fmt.Fprintf(stdout, "  the gate loaded its state in %.1f s; in-memory and database paths agree: %v\n", rep.StateSeconds, rep.Agree)
	row("consent lookup alone", rep.Baseline, rep.Baseline.PerSecond/max(rep.Database.PerSecond, 1))
	row(fmt.Sprintf("DecideBatch from the database, %d", rep.Batch), rep.Database, 1)
	row("Decide, one at a time", rep.Single, rep.SingleRatio)
	row(fmt.Sprintf("Decide, %d goroutines", rep.Concurrency), rep.Concurrent, rep.ConcurrentRatio)
	row(fmt.Sprintf("DecideBatch, %d a call", rep.Batch), rep.Batched, rep.BatchRatio)
	fmt.Fprintf(stdout, "  load average at the end %.1f on %d CPUs (other processes share them)\n", rep.LoadAverage, runtime.NumCPU())
	fmt.Fprintf(stdout, "  goal ≥ %d decisions/s: %s; reasons %v\n", bench.GoalDecisions, map[bool]string{true: "met", false: "NOT met"}[rep.GoalMet], rep.Reasons)
	return nil
}

// benchSetup makes the temporary folder a benchmark's database lives in and
// starts a CPU profile when asked; done stops the profile and removes the
// folder.
func benchSetup(prefix, cpuProfile string) (dir string, done func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	done = func() { os.RemoveAll(dir) }
	if cpuProfile == "" {
		return dir, done, nil
	}
	f, err := os.Create(cpuProfile)
	if err != nil {
		done()
		return "", nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		done()
		return "", nil, err
	}
	return dir, func() {
		pprof.StopCPUProfile()
		f.Close()
		os.RemoveAll(dir)
	}, nil
}

// printJSON writes a report as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
