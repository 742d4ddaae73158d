package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kith-scrm/kith/internal/ingest"
)

func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "list" {
		return usageError{"say list: kith events list [--status failed] [--limit 50] [--json]"}
	}
	var status string
	var limit int
	var asJSON bool
	a, err := openData(ctx, "events list", args[1:], stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&status, "status", "", "only events in this status: pending, applied, stored or failed")
		fs.IntVar(&limit, "limit", 50, "how many, newest first (1 to 500)")
		fs.BoolVar(&asJSON, "json", false, "print JSON, one object per event")
	}, func() error {
		if limit < 1 || limit > 500 {
			return usageError{fmt.Sprintf("--limit is %d; use a number from 1 to 500", limit)}
		}
		switch status {
		case "", ingest.StatusPending, ingest.StatusApplied, ingest.StatusStored, ingest.StatusFailed:
			return nil
		}
		return usageError{fmt.Sprintf("--status is %q; use pending, applied, stored or failed", status)}
	})
	if err != nil {
		return err
	}
	defer a.Close()
	svc := ingest.NewService(a.DB, nil, a.Clock, a.Log)
	events, _, err := svc.List(ctx, ingest.ListFilter{Status: status, Limit: limit})
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range events {
			if err := enc.Encode(map[string]any{
				"id": e.ID, "source": e.Source, "kind": e.Kind, "status": e.Status, "attempts": e.Attempts,
				"error": e.Error, "received_at": e.ReceivedAt, "applied_at": e.AppliedAt,
			}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tSOURCE\tKIND\tSTATUS\tATTEMPTS\tERROR")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", e.ID, e.ReceivedAt.Format("2006-01-02 15:04:05"), e.Source, e.Kind, e.Status, e.Attempts, e.Error)
	}
	return tw.Flush()
}
