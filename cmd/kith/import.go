package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/protect"
)

const importUsage = "say what to import: kith import orders FILE [--mapping NAME] [--dry-run] [--json], kith import categories FILE, or kith import source add|list NAME, or kith import source jst"

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{importUsage}
	}
	switch args[0] {
	case "orders":
		return cmdImportOrders(ctx, args[1:], stdout, stderr, getenv)
	case "source":
		return cmdImportSource(ctx, args[1:], stdout, stderr, getenv)
	case "categories":
		return cmdImportCategories(ctx, args[1:], stdout, stderr, getenv)
	}
	return usageError{importUsage}
}

// splitFile takes the one argument that is not a flag or a flag's value
// out of args, so FILE may come before or after the flags.
func splitFile(args []string, boolFlags ...string) (string, []string) {
	isBool := func(a string) bool {
		name := strings.TrimLeft(a, "-")
		for _, b := range append(boolFlags, "h", "help") {
			if name == b {
				return true
			}
		}
		return false
	}
	for i, a := range args {
		if a == "--" && i+1 < len(args) {
			return args[i+1], append(args[:i:i], args[i+2:]...)
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		prev := ""
		if i > 0 {
			prev = args[i-1]
		}
		if prev != "" && strings.HasPrefix(prev, "-") && !strings.Contains(prev, "=") && !isBool(prev) {
			continue // the value of the flag before it
		}
		return a, append(args[:i:i], args[i+1:]...)
	}
	return "", args
}

// protectorFor builds the protector of an opened instance's keys.
func protectorFor(a *app.App) (*protect.Protector, error) {
	if a.Keys == nil {
		return nil, errors.New("this instance has no secrets yet, so protected fields cannot be sealed; start it once with kith serve")
	}
	return protect.FromKeys(a.Keys)
}

func ordersStore(a *app.App) (*orders.Store, error) {
	p, err := protectorFor(a)
	if err != nil {
		return nil, err
	}
	s := orders.NewStore(a.DB, p, a.Clock)
	s.Location = a.Config.Location
	if s.Location == nil {
		s.Location, _ = time.LoadLocation("Asia/Shanghai")
	}
	return s, nil
}

func cmdImportOrders(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	file, rest := splitFile(args, "dry-run", "json")
	var mapping, shop, columns, saveAs, platform, errorsFile, cpuProfile string
	var dryRun, asJSON bool
	var maxMB int64
	a, err := openData(ctx, "import orders", rest, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&mapping, "mapping", "", "a preset (taobao, jd, pdd, douyin, youzan, kith) or a saved mapping; default: recognised from the header row")
		fs.StringVar(&shop, "shop", "", "the shop's name, when the file has no shop column")
		fs.StringVar(&columns, "columns", "", "a custom mapping: field=Header|Other,… (e.g. order_no=单号,total=实付,ordered_at=下单时间)")
		fs.StringVar(&saveAs, "save-mapping", "", "remember the --columns mapping under this name")
		fs.StringVar(&platform, "platform", "shop", "the platform of a custom mapping (the shop key's prefix)")
		fs.StringVar(&errorsFile, "errors", "", "write the refused rows to this CSV file (row, column, reason, message)")
		fs.BoolVar(&dryRun, "dry-run", false, "read and check everything, show the first orders and every problem, write nothing")
		fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
		fs.Int64Var(&maxMB, "max-size", orders.DefaultMaxBytes>>20, "the largest file read, in MB")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the import to this file (go tool pprof)")
	}, func() error {
		switch {
		case file == "":
			return usageError{"name the file: kith import orders FILE [--mapping NAME] [--dry-run] [--json]"}
		case columns != "" && mapping != "":
			return usageError{"give --mapping or --columns, not both"}
		case saveAs != "" && columns == "":
			return usageError{"--save-mapping remembers a --columns mapping; give --columns too"}
		case maxMB < 1 || maxMB > 64<<10:
			return usageError{fmt.Sprintf("--max-size is %d MB; use 1 to 65536", maxMB)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := ordersStore(a)
	if err != nil {
		return err
	}
	opt := orders.ImportOptions{Shop: shop, DryRun: dryRun, MaxBytes: maxMB << 20}
	switch {
	case columns != "":
		name := saveAs
		if name == "" {
			name = "custom"
		}
		m, err := orders.ParseColumns(name, platform, columns)
		if err != nil {
			return err
		}
		if saveAs != "" && !dryRun {
			if err := s.SaveMapping(ctx, m); err != nil {
				return err
			}
		}
		opt.Mapping = &m
	case mapping != "":
		m, err := s.Mapping(ctx, mapping)
		if err != nil {
			return err
		}
		opt.Mapping = &m
	}
	f, err := os.Open(file)
	if err != nil {
		return usageError{fmt.Sprintf("cannot open %s: %v", file, errors.Unwrap(err))}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	started := time.Now()
	if !asJSON {
		opt.Progress = func(p orders.Progress) {
			if p.Bytes > 0 && p.Total > 0 {
				fmt.Fprintf(stderr, "\r  %3d%%  %d rows", p.Bytes*100/p.Total, p.Rows)
			} else {
				fmt.Fprintf(stderr, "\r  %d rows", p.Rows)
			}
		}
	}
	rep, err := s.Import(ctx, f, st.Size(), opt)
	if opt.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	elapsed := time.Since(started)
	if !dryRun {
		detail, _ := json.Marshal(map[string]any{"file": baseName(file), "rows": rep.Rows, "inserted": rep.Inserted, "updated": rep.Updated, "rejected": rep.RejectedRows})
		if err := a.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem, Name: "kith import orders"}, Action: audit.ActionPIIWrite,
			ObjectType: "orders", ObjectID: rep.Mapping, Purpose: "order import", Outcome: audit.OutcomeOK, Detail: string(detail)}); err != nil {
			return err
		}
	}
	if errorsFile != "" {
		if err := writeErrors(errorsFile, rep); err != nil {
			return err
		}
	}
	if asJSON {
		return printJSON(stdout, rep)
	}
	printImportReport(stdout, rep, elapsed)
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// writeErrors writes the refused rows as CSV (orders.WriteErrors, which
// neutralises spreadsheet formulas).
func writeErrors(path string, rep *orders.Report) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write the error file: %w", err)
	}
	if err := orders.WriteErrors(f, rep.Errors); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printImportReport(w io.Writer, rep *orders.Report, elapsed time.Duration) {
	enc := ""
	if rep.Encoding != "" {
		enc = ", " + rep.Encoding
	}
	verb := "Imported"
	if rep.DryRun {
		verb = "Dry run (nothing written) — would import"
		if len(rep.Sample) > 0 {
			fmt.Fprintln(w, "First orders:")
			for _, o := range rep.Sample {
				fmt.Fprintf(w, "  row %-6d %s %s  %s  %s yuan  %s  %d items  %s %s\n", o.Row, o.Shop, o.OrderNo, o.Status, o.Total,
					o.OrderedAt.Format("2006-01-02 15:04"), o.Items, o.Phone, o.Address)
			}
		}
	}
	fmt.Fprintf(w, "File: %s%s, mapping %s. %d rows read in %.1f s.\n", rep.Format, enc, rep.Mapping, rep.Rows, elapsed.Seconds())
	fmt.Fprintf(w, "%s: %d new orders, %d updated; %d unchanged; %d rows rejected.\n", verb, rep.Inserted, rep.Updated, rep.Unchanged, rep.RejectedRows)
	if len(rep.Rejected) > 0 {
		reasons := make([]string, 0, len(rep.Rejected))
		for r := range rep.Rejected {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool { return rep.Rejected[reasons[i]] > rep.Rejected[reasons[j]] })
		fmt.Fprintln(w, "Rejected by reason:")
		for _, r := range reasons {
			fmt.Fprintf(w, "  %-20s %d\n", r, rep.Rejected[r])
		}
		shown := min(len(rep.Errors), 20)
		fmt.Fprintf(w, "Problems (first %d; --errors FILE writes all %d):\n", shown, len(rep.Errors))
		for _, e := range rep.Errors[:shown] {
			fmt.Fprintf(w, "  row %d: %s\n", e.Row, e.Message)
		}
		if rep.ErrorsDropped > 0 {
			fmt.Fprintf(w, "  … and %d more not listed\n", rep.ErrorsDropped)
		}
	}
	if len(rep.NotRead) > 0 {
		fmt.Fprintf(w, "Columns not read or stored: %s\n", strings.Join(rep.NotRead, ", "))
	}
}

// cmdImportSource manages webhook sources: kith import source add NAME
// prints a new signing secret once; list names them.
func cmdImportSource(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "jst" {
		return cmdImportJST(ctx, args[1:], stdout, stderr, getenv)
	}
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		return usageError{"kith import source add NAME (prints its webhook secret once), kith import source list, or kith import source jst [--json]"}
	}
	verb := args[0]
	name, rest := splitFile(args[1:])
	a, err := openData(ctx, "import source "+verb, rest, stdout, stderr, getenv, nil, func() error {
		if verb == "add" && name == "" {
			return usageError{"name the source: kith import source add NAME"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := ordersStore(a)
	if err != nil {
		return err
	}
	if verb == "list" {
		names, err := s.Sources(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	secret, err := s.AddSource(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Webhook source %s: POST signed orders to /api/v1/orders/webhook/%s\nSecret (shown once; keep it in the sender's settings):\n%s\n", name, name, secret)
	return nil
}

// cmdImportCategories puts SKU codes in categories from a catalogue file
// (sku,category): what customers bought follows in the same transaction.
func cmdImportCategories(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	file, rest := splitFile(args)
	a, err := openData(ctx, "import categories", rest, stdout, stderr, getenv, nil, func() error {
		if file == "" {
			return usageError{"name the file: kith import categories FILE (CSV: sku,category)"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := ordersStore(a)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return usageError{fmt.Sprintf("cannot open %s: %v", file, errors.Unwrap(err))}
	}
	defer f.Close()
	cats, err := orders.ReadCategories(f, 256<<20)
	if err != nil {
		return err
	}
	if err := s.SetCategories(ctx, cats); err != nil {
		return err
	}
	set := 0
	for _, c := range cats {
		if c != "" {
			set++
		}
	}
	fmt.Fprintf(stdout, "Catalogue: %d SKU codes in categories, %d taken out.\n", set, len(cats)-set)
	return nil
}
