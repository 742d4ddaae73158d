package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
)

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{"say verify, checkpoint or export: kith audit verify [--checkpoint FILE]"}
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr, getenv)
	case "checkpoint":
		return auditCheckpoint(ctx, args[1:], stdout, stderr, getenv)
	case "export":
		return auditExport(ctx, args[1:], stdout, stderr, getenv)
	}
	return usageError{fmt.Sprintf("unknown audit command %q; use verify, checkpoint or export", args[0])}
}

// auditVerify walks the chain (and checks it against a checkpoint file):
// exit 0 with one line when intact, exit 1 naming the first broken link.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var file string
	var cp *audit.Checkpoint
	a, err := openData(ctx, "audit verify", args, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "checkpoint", "", "a checkpoint file from `kith audit checkpoint` the log must still extend")
	}, func() error {
		if file == "" {
			return nil
		}
		c, err := readCheckpoint(file)
		cp = c
		return err
	})
	if err != nil {
		return err
	}
	defer a.Close()
	log := audit.New(a.DB, a.Clock)
	var rep audit.Report
	if cp != nil {
		rep, err = log.VerifyCheckpoint(ctx, *cp)
	} else {
		rep, err = log.Verify(ctx)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return kith.Errorf(kith.ECONFLICT, "%s", rep)
	}
	fmt.Fprintln(stdout, rep)
	return nil
}

// readCheckpoint reads a checkpoint file; anything wrong with it is a wrong
// call (exit 2).
func readCheckpoint(file string) (*audit.Checkpoint, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--checkpoint: %v", err)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var cp audit.Checkpoint
	if err := dec.Decode(&cp); err != nil {
		return nil, usageError{fmt.Sprintf("--checkpoint: %s is not a checkpoint written by kith audit checkpoint: %v", file, err)}
	}
	if cp.Hash == "" {
		return nil, usageError{fmt.Sprintf("--checkpoint: %s has no hash; it is not a checkpoint written by kith audit checkpoint", file)}
	}
	if err := cp.Check(); err != nil {
		return nil, usageError{fmt.Sprintf("--checkpoint: %s: %s", file, kith.ErrorMessage(err))}
	}
	return &cp, nil
}

// auditCheckpoint verifies the log and prints (or writes) a checkpoint of
// its last entry as JSON. It never overwrites a file: an earlier checkpoint
// is evidence.
func auditCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var out string
	a, err := openData(ctx, "audit checkpoint", args, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "write the checkpoint to this new file instead of printing it")
	}, func() error {
		if out == "" {
			return nil
		}
		if _, err := os.Lstat(out); err == nil {
			return usageError{fmt.Sprintf("--out: %s exists; a checkpoint is never overwritten, choose a new file name", out)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	cp, err := audit.New(a.DB, a.Clock).Checkpoint(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = stdout.Write(b)
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Checkpoint at seq %d written to %s; keep it where this server's administrators cannot change it.\n", cp.Seq, out)
	return nil
}

// auditExport writes the entries that match the flags to stdout, oldest
// first, and logs the export itself.
func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var f audit.Filter
	var since, until, format string
	a, err := openData(ctx, "audit export", args, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&f.Person, "person", "", "only entries about this person (a customer id)")
		fs.StringVar(&f.Actor, "actor", "", "only entries by this actor: a name, or kind:name such as user:alice or token:erp-sync")
		fs.StringVar(&f.Action, "action", "", "only this action, such as pii.read, or a prefix such as auth.*")
		fs.StringVar(&since, "since", "", "only entries at or after this time (RFC 3339, such as 2025-06-01T00:00:00+08:00)")
		fs.StringVar(&until, "until", "", "only entries before this time (RFC 3339)")
		fs.StringVar(&format, "format", audit.FormatCSV, "csv or jsonl (JSON Lines, exact enough to recompute every hash)")
	}, func() error {
		if format != audit.FormatCSV && format != audit.FormatJSONL {
			return usageError{fmt.Sprintf("--format is %q; use csv or jsonl", format)}
		}
		for name, v := range map[string]string{"--person": f.Person, "--actor": f.Actor, "--action": f.Action} {
			if len(v) > 200 {
				return usageError{fmt.Sprintf("%s is longer than 200 characters", name)}
			}
			if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
				return usageError{fmt.Sprintf("%s must be text without control characters", name)}
			}
		}
		var err error
		if f.Since, err = parseTimeFlag("--since", since); err != nil {
			return err
		}
		if f.Until, err = parseTimeFlag("--until", until); err != nil {
			return err
		}
		if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
			return usageError{"--until must be after --since"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	log := audit.New(a.DB, a.Clock)
	w := bufio.NewWriter(stdout)
	n, err := log.Export(ctx, w, f, format)
	if err == nil {
		err = w.Flush()
	}
	if kith.ErrorCode(err) == kith.EINVALID {
		return err // nothing was exported
	}
	// The export is itself an access to the log, and to a person's trail
	// when --person is given.
	outcome := audit.OutcomeOK
	if err != nil {
		outcome = audit.OutcomeFailed
	}
	d := map[string]any{"format": format, "entries": n}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "since": timeOrEmpty(f.Since), "until": timeOrEmpty(f.Until)} {
		if v != "" {
			d[k] = v
		}
	}
	detail, _ := json.Marshal(d) // sorted keys; at most ~700 bytes with the flags' bounds
	rerr := log.Record(ctx, audit.Entry{
		Actor:  audit.Actor{Kind: audit.ActorSystem, Name: "cli"},
		Action: audit.ActionAuditExport, ObjectType: "audit_log", Person: f.Person,
		Outcome: outcome, Detail: string(detail),
	})
	return errors.Join(err, rerr)
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageError{fmt.Sprintf("%s is %q; use an RFC 3339 time such as 2025-06-01T00:00:00+08:00", name, v)}
	}
	return t, nil
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
