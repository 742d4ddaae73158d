package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders/jst"
)

// cmdImportJST pulls orders from 聚水潭 now, with the settings saved in the
// console (/settings/orders), from the saved cursor: the same pull as the
// schedule's and the console's "pull now", recorded among their runs and
// refused while one of them runs.
func cmdImportJST(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var asJSON bool
	a, err := openData(ctx, "import source jst", args, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the run as JSON")
	}, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	os, err := ordersStore(a)
	if err != nil {
		return err
	}
	p, err := protectorFor(a)
	if err != nil {
		return err
	}
	svc := &jst.Service{DB: a.DB, Sealer: p.Sealer(), Orders: os, Clock: a.Clock, Audit: a.Audit, Log: a.Log,
		HTTP: &http.Client{Timeout: 30 * time.Second}, Node: a.Config.NodeName}
	run, err := svc.Pull(ctx, "cli", "")
	if run == nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(run); jerr != nil {
			return jerr
		}
		return err
	}
	r := run.Result
	fmt.Fprintf(stdout, "聚水潭 pull %d: %d orders read in %d calls: %d imported, %d updated, %d unchanged, %d conflicts, %d rejected\n",
		run.ID, r.Orders, r.Calls, r.Inserted, r.Updated, r.Unchanged, r.Conflicts, run.Rejected)
	if !run.Cursor.IsZero() {
		fmt.Fprintf(stdout, "Orders pulled up to %s\n", run.Cursor.In(jst.Beijing).Format(jst.TimeLayout+" (Beijing time)"))
	}
	if err != nil {
		return fmt.Errorf("%s", kith.ErrorMessage(err))
	}
	return nil
}
