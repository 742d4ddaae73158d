package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/secrets"
)

// cmdKeys looks after the field keys protected values are sealed under:
// list them, add one, re-seal every value under the current one, retire an
// old one. Keys themselves are never printed; only their ids.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{"say list, add, rotate or retire: kith keys rotate [--batch N] [--json]"}
	}
	switch args[0] {
	case "list":
		return keysList(ctx, args[1:], stdout, stderr, getenv)
	case "add":
		return keysAdd(ctx, args[1:], stdout, stderr, getenv)
	case "rotate":
		return keysRotate(ctx, args[1:], stdout, stderr, getenv)
	case "retire":
		return keysRetire(ctx, args[1:], stdout, stderr, getenv)
	}
	return usageError{fmt.Sprintf("unknown keys command %q; use list, add, rotate or retire", args[0])}
}

// openKeys opens the instance for a keys command; it needs the secrets.
func openKeys(ctx context.Context, name string, args []string, stdout, stderr io.Writer, getenv func(string) string, extra func(*flag.FlagSet), check func() error) (*app.App, error) {
	a, err := openData(ctx, name, args, stdout, stderr, getenv, extra, check)
	if err != nil {
		return nil, err
	}
	if a.Keys == nil {
		a.Close()
		return nil, errors.New("this instance has no secrets yet, so it has no field keys; start it once with kith serve")
	}
	return a, nil
}

// keyAudit records a keys command in the audit log: it reads and rewrites
// every protected value, so it is an access to personal data (P-45).
func keyAudit(ctx context.Context, a *app.App, command, action, keyID, outcome string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return audit.New(a.DB, a.Clock).Record(ctx, audit.Entry{
		Actor:  audit.Actor{Kind: audit.ActorSystem, Name: "kith keys " + command},
		Action: action, ObjectType: "field_key", ObjectID: keyID, Outcome: outcome, Detail: string(b),
	})
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var asJSON bool
	a, err := openKeys(ctx, "keys list", args, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	}, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	keys, err := protect.ListKeys(ctx, a.DB, a.Keys.FieldKeyIDs())
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"field_keys": keys})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tSTATE\tIN SECRETS\tVALUES\tFIRST USED\tRETIRED")
	for _, k := range keys {
		state := "previous"
		switch {
		case k.Current:
			state = "current"
		case k.RetiredAt != nil:
			state = "retired"
		case k.ID == "":
			state = "(not sealed)"
		}
		loaded := "no"
		if k.Loaded {
			loaded = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", orDash(k.ID), state, loaded, k.Values, dateOrDash(k.FirstUsedAt), dateOrDash(k.RetiredAt))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dateOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keysAdd makes a new current field key in the secrets file. Keys given in
// the environment are changed there, by the operator.
func keysAdd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a, err := openKeys(ctx, "keys add", args, stdout, stderr, getenv, nil, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.Config.EnvKeys != nil {
		return kith.Errorf(kith.EINVALID, "the instance secrets come from the environment: generate a key with `openssl rand -base64 32`, "+
			"add it to %s on every node and restart them, then make it %s with the old key in %s and restart again (see docs/operations.md)",
			secrets.EnvPreviousFieldKeys, secrets.EnvFieldKey, secrets.EnvPreviousFieldKeys)
	}
	old := a.Keys.FieldKeyIDs()[0]
	_, id, err := secrets.AddFieldKey(a.Config.DataDir)
	if err != nil {
		return err
	}
	if err := keyAudit(ctx, a, "add", "field_key.add", id, audit.OutcomeOK, map[string]string{"previous": old}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added field key %s; it is now the current key (%s stays to open older values).\n", id, old)
	fmt.Fprintln(stdout, "Restart Kith now (every node that uses this secrets file), then run: kith keys rotate")
	return nil
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var asJSON bool
	var batch int
	a, err := openKeys(ctx, "keys rotate", args, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print progress to stderr and the summary as JSON on stdout")
		fs.IntVar(&batch, "batch", protect.DefaultBatch, "values re-sealed per transaction")
	}, func() error {
		if batch < 1 {
			return usageError{fmt.Sprintf("--batch is %d; it must be at least 1", batch)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	p, err := protect.FromKeys(a.Keys)
	if err != nil {
		return err
	}
	progressOut := stdout
	if asJSON {
		progressOut = stderr
	}
	cur := p.CurrentKey()
	fmt.Fprintf(progressOut, "Re-sealing protected values under field key %s, %d per transaction…\n", cur, batch)
	start := time.Now()
	rep, rerr := protect.Rotate(ctx, a.DB, p.Sealer(), batch, func(r protect.RotateReport) {
		fmt.Fprintf(progressOut, "  %s: %d re-sealed, %d failed so far (%d batches)\n", r.Column, r.Resealed, r.Failed, r.Batches)
	})
	outcome := audit.OutcomeOK
	if rerr != nil || rep.Failed > 0 {
		outcome = audit.OutcomeFailed
	}
	// Record even a stopped run: it rewrote values. A cancelled ctx must not
	// stop the record, so it gets a context of its own.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := keyAudit(actx, a, "rotate", "field_key.rotate", cur, outcome,
		map[string]int64{"resealed": rep.Resealed, "already_current": rep.AlreadyCurrent, "failed": rep.Failed, "batches": int64(rep.Batches)}); err != nil {
		return errors.Join(rerr, err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			CurrentKey string `json:"current_key"`
			Complete   bool   `json:"complete"`
			protect.RotateReport
			Seconds float64 `json:"seconds"`
		}{cur, rerr == nil, rep, time.Since(start).Seconds()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Summary: %d values re-sealed, %d already current, %d failed", rep.Resealed, rep.AlreadyCurrent, rep.Failed)
		if rep.Changed > 0 {
			fmt.Fprintf(stdout, ", %d changed by someone else meanwhile", rep.Changed)
		}
		fmt.Fprintf(stdout, " (%d batches, %s).\n", rep.Batches, time.Since(start).Round(time.Millisecond))
		for _, f := range rep.Failures {
			fmt.Fprintf(stdout, "  failed: %s row %s (sealed under key %s)\n", f.Column, f.Row, orDash(f.KeyID))
		}
	}
	switch {
	case rerr != nil && ctx.Err() != nil:
		return fmt.Errorf("stopped before the end (%v); every value is still readable; run kith keys rotate again to carry on", rerr)
	case rerr != nil:
		return rerr
	case rep.Failed > 0:
		return fmt.Errorf("%d values could not be opened with any field key (the key they name is missing, or they were tampered with); they were left as they are", rep.Failed)
	}
	return nil
}

func keysRetire(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && strings.HasPrefix(args[len(args)-1], "-")) {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: kith keys retire KEY_ID [flags]\n\nRetires a field key no value is sealed under any more; `kith keys list` shows the ids.")
			return flag.ErrHelp
		}
		return usageError{"say which key: kith keys retire KEY_ID (`kith keys list` shows the ids)"}
	}
	id, rest := args[0], args[1:]
	if strings.HasPrefix(id, "-") && len(args) > 1 && !strings.HasPrefix(args[len(args)-1], "-") {
		id, rest = args[len(args)-1], args[:len(args)-1] // kith keys retire --data-dir D KEY_ID
	}
	a, err := openKeys(ctx, "keys retire", rest, stdout, stderr, getenv, nil, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	ids := a.Keys.FieldKeyIDs()
	if err := protect.RetireKey(ctx, a.DB, ids[0], id, a.Clock.Now()); err != nil {
		return err
	}
	if err := keyAudit(ctx, a, "retire", "field_key.retire", id, audit.OutcomeOK, map[string]string{"current": ids[0]}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Retired field key %s: no value is sealed under it.\n", id)
	if a.Config.EnvKeys != nil {
		fmt.Fprintf(stdout, "Remove it from %s on every node.\n", secrets.EnvPreviousFieldKeys)
		return nil
	}
	dropped, err := secrets.DropPreviousFieldKey(a.Config.DataDir, id)
	if err != nil {
		return err
	}
	if dropped {
		fmt.Fprintf(stdout, "Removed it from %s; copy the file to every other node that uses it.\n", secrets.FileName)
	}
	return nil
}
