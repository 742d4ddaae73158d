package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kith-scrm/kith/internal/bench"
)

// cmdBenchSegments runs `kith bench segments`.
func cmdBenchSegments(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench segments", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	customers := fs.Int("customers", 1_000_000, "customers to generate")
	keep := fs.String("keep", "", "build the SQLite database in this (new or empty) folder and leave it there")
	dbURL := fs.String("database-url", "", "also load the customers into a new database on this PostgreSQL server and time the reference SQL there (the database is dropped at the end)")
	reuse := fs.String("reuse", "", "measure the customers a --keep run left in this folder instead of generating them")
	sqlRuns := fs.Int("sql-runs", 3, "runs of the reference SQL per expression at most")
	sqlTimeout := fs.Duration("sql-timeout", 2*time.Minute, "stop a run of the reference SQL after this long (its ratio is then a lower bound)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *customers < 1000 || *customers > 50_000_000 {
		return usageError{fmt.Sprintf("--customers is %d; use 1000 to 50000000", *customers)}
	}
	if *sqlRuns < 1 || *sqlRuns > 100 {
		return usageError{fmt.Sprintf("--sql-runs is %d; use 1 to 100", *sqlRuns)}
	}
	dir, done, err := benchSetup("kith-bench-segments-", *cpuProfile)
	if err != nil {
		return err
	}
	defer done()
	if *keep != "" && *reuse != "" {
		return usageError{"--keep and --reuse exclude each other"}
	}
	if *reuse != "" {
		if _, err := os.Stat(filepath.Join(*reuse, "kith.db")); err != nil {
			return usageError{fmt.Sprintf("--reuse %s holds no kith.db from an earlier --keep", *reuse)}
		}
		dir = *reuse
	}
	if *keep != "" {
		if entries, err := os.ReadDir(*keep); err == nil && len(entries) > 0 {
			return usageError{fmt.Sprintf("--keep %s is not empty; name a new or empty folder", *keep)}
		}
		if err := os.MkdirAll(*keep, 0o700); err != nil {
			return err
		}
		dir = *keep
	}
	o := bench.SegmentOptions{Customers: *customers, DataDir: dir, DatabaseURL: *dbURL, SQLRuns: *sqlRuns, SQLTimeout: *sqlTimeout, Reuse: *reuse != ""}
	if !*asJSON {
		start := time.Now()
		o.Progress = func(s string) { fmt.Fprintf(stdout, "[%5.1fs] %s\n", time.Since(start).Seconds(), s) }
	}
	rep, err := bench.Segments(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "\n%d customers, %d follows, %d follow tags; loaded into SQLite in %.1f s\n", rep.Customers, rep.Follows, rep.FollowTags, rep.LoadSeconds)
	fmt.Fprintf(stdout, "index built in %.1f s (%.1f s of CPU); heap %.0f MiB, bitmaps %.0f MiB\n", rep.BuildSeconds, rep.BuildCPU, float64(rep.HeapBytes)/(1<<20), float64(rep.BitmapBytes)/(1<<20))
	if rep.PostgresLoad > 0 {
		fmt.Fprintf(stdout, "PostgreSQL: loaded in %.1f s, index built from it in %.1f s\n", rep.PostgresLoad, rep.PostgresBuild)
	}
	fmt.Fprintf(stdout, "\n%5s %10s %9s %9s %9s %11s %8s", "terms", "matches", "index p50", "p99", "CPU p50", "SQLite p50", "ratio")
	if rep.PostgresLoad > 0 {
		fmt.Fprintf(stdout, " %9s %8s", "PG p50", "ratio")
	}
	fmt.Fprintln(stdout, "  expression")
	for _, r := range rep.Results {
		fmt.Fprintf(stdout, "%5d %10d %7.2fms %7.2fms %7.2fms %9.0fms %7.0f×", r.Terms, r.Matches, r.IndexP50, r.IndexP99, r.IndexCPU, r.SQLiteP50, r.SQLiteRatio)
		if rep.PostgresLoad > 0 {
			fmt.Fprintf(stdout, " %7.0fms %7.0f×", r.PostgresP50, r.PostgresRatio)
		}
		agree := ""
		if r.SQLTimedOut {
			agree = "  (reference stopped at --sql-timeout: ratio is at least this)"
		}
		if !r.Agree {
			agree = "  (SQL FOUND A DIFFERENT COUNT)"
		}
		fmt.Fprintf(stdout, "  %s%s\n", r.Expression, agree)
	}
	yes := map[bool]string{true: "met", false: "NOT met"}
	fmt.Fprintf(stdout, "\ngoals (at 10 M customers): 5-term p50 < %s %s; ≥ %d× the reference SQL %s; build < %s %s; heap < 1.5 GiB %s\n",
		bench.GoalSegmentP50, yes[rep.P50Goal], bench.GoalSegmentRatio, yes[rep.RatioGoal], bench.GoalSegmentBuild, yes[rep.BuildGoal], yes[rep.MemoryGoal])
	return nil
}
