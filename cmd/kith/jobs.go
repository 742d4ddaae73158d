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
	}, func() error {
		if count < 1 || count > jobs.MaxProbes {
			return usageError{fmt.Sprintf("--count is %d; use a number from 1 to %d", count, jobs.MaxProbes)}
		}
		if timeout <= 0 {
			return usageError{fmt.Sprintf("--timeout is %s; use a positive duration such as 60s", timeout)}
		}
		return nil
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
	ids, err := j.EnqueueProbes(ctx, batch, count)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enqueued %d probe jobs (batch %s); waiting for running servers to work them…\n", count, batch)
	deadline := time.Now().Add(timeout)
	var rep jobs.ProbeReport
	for interrupted := false; !interrupted; {
		if rep, err = jobs.Probes(ctx, a.DB, batch); err != nil {
			return err
		}
		if rep.Distinct == count || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			interrupted = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	if rep.Distinct < count {
		// Leave no probe behind for a server that starts later.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if n, err := j.CancelUnrun(cleanup, batch, ids); err != nil {
			fmt.Fprintf(stderr, "could not cancel the probe jobs that did not run: %v\n", err)
		} else if n > 0 {
			fmt.Fprintf(stdout, "Cancelled %d probe jobs that did not run.\n", n)
		}
		if ctx.Err() != nil {
			return ctx.Err()
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
