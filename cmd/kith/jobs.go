package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/kith-scrm/kith/internal/jobs"
)

func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{"say check: kith jobs check [--count N] [--timeout 60s]"}
	}
	var count int
	var timeout time.Duration
	a, err := openData(ctx, "jobs check", args[1:], stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.IntVar(&count, "count", 20, fmt.Sprintf("probe jobs to enqueue (1 to %d)", jobs.MaxProbes))
		fs.DurationVar(&timeout, "timeout", time.Minute, "how long to wait for running servers to work them")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	j, err := jobs.New(a.DB, jobs.Config{Node: "cli-" + rand.Text()[:8], Logger: a.Log})
	if err != nil {
		return err
	}
	batch := "cli-" + rand.Text()
	if _, err := j.EnqueueProbes(ctx, batch, count); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enqueued %d probe jobs (batch %s); waiting for running servers to work them…\n", count, batch)
	deadline := time.Now().Add(timeout)
	var rep jobs.ProbeReport
	for {
		if rep, err = jobs.Probes(ctx, a.DB, batch); err != nil {
			return err
		}
		if rep.Distinct == count || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	nodes := make([]string, 0, len(rep.ByNode))
	for n := range rep.ByNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		fmt.Fprintf(stdout, "  %-40s %d\n", n, rep.ByNode[n])
	}
	switch {
	case rep.Distinct < count:
		return fmt.Errorf("only %d of %d probe jobs ran within %s; is a kith serve running on this database?", rep.Distinct, count, timeout)
	case rep.Runs > rep.Distinct:
		return fmt.Errorf("%d probe jobs ran more than once (%d runs)", rep.Runs-rep.Distinct, rep.Runs)
	}
	fmt.Fprintf(stdout, "All %d probe jobs ran exactly once.\n", count)
	return nil
}
