package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/segment/index"
)

const segmentUsage = `kith segment count EXPR [--json] [--sql]    count the customers of an expression
kith segment explain EXPR [--json]          show the parsed tree and the reference SQL`

// cmdSegment runs `kith segment count|explain EXPR`.
func cmdSegment(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "count" && args[0] != "explain") {
		return usageError{"say count or explain:\n" + segmentUsage}
	}
	verb, rest := args[0], args[1:]
	// EXPR is one argument (quote it), before or after the flags.
	var expr string
	switch {
	case len(rest) > 0 && !strings.HasPrefix(rest[0], "-"):
		expr, rest = rest[0], rest[1:]
	case len(rest) > 0 && !strings.HasPrefix(rest[len(rest)-1], "-"):
		expr, rest = rest[len(rest)-1], rest[:len(rest)-1]
	}
	var asJSON, bySQL bool
	a, err := openData(ctx, "segment "+verb, rest, stdout, stderr, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		if verb == "count" {
			fs.BoolVar(&bySQL, "sql", false, "count with the reference SQL instead of building the bitmap index")
		}
	}, func() error {
		if strings.TrimSpace(expr) == "" {
			return usageError{"give the expression as one quoted argument, e.g. kith segment " + verb + " 'tag:VIP and reachable:wecom'"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	e, err := segment.Parse(expr)
	if err == nil {
		var cat segment.MapCatalog
		if cat, err = segment.LoadCatalog(ctx, a.DB.R, e); err == nil {
			err = segment.Check(e, cat)
		}
	}
	if err != nil {
		var se *segment.Error
		if errors.As(err, &se) {
			return fmt.Errorf("%s\n%s", se.Error(), se.Pointer(expr))
		}
		return err
	}
	if verb == "explain" {
		return segmentExplain(a, e, stdout, asJSON)
	}
	return segmentCount(ctx, a, e, stdout, asJSON, bySQL)
}

func segmentExplain(a *app.App, e segment.Expr, stdout io.Writer, asJSON bool) error {
	q, args, err := segment.SQL(a.DB.Dialect, e, segment.SQLOptions{Location: a.Config.Location, Now: a.Clock.Now()})
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"expression": segment.String(e), "tree": segment.Explain(e),
			"dialect": string(a.DB.Dialect), "sql": q, "args": args})
	}
	fmt.Fprintf(stdout, "Expression: %s\n\n%s\nReference SQL (%s):\n%s\n", segment.String(e), segment.Explain(e), a.DB.Dialect, q)
	for i, v := range args {
		fmt.Fprintf(stdout, "  $%d = %v\n", i+1, v)
	}
	return nil
}

func segmentCount(ctx context.Context, a *app.App, e segment.Expr, stdout io.Writer, asJSON, bySQL bool) error {
	out := map[string]any{"expression": segment.String(e)}
	var n uint64
	if bySQL {
		start := time.Now()
		var err error
		if n, err = segment.CountSQL(ctx, a.DB.R, a.DB.Dialect, e, segment.SQLOptions{Location: a.Config.Location, Now: a.Clock.Now()}); err != nil {
			return err
		}
		out["counted_by"], out["query_ms"] = "sql", ms(time.Since(start))
	} else {
		start := time.Now()
		ix, err := index.Open(ctx, a.DB, a.Config.Location, a.Clock)
		if err != nil {
			return err
		}
		built := time.Since(start)
		start = time.Now()
		if n, err = ix.Count(ctx, e); err != nil {
			return err
		}
		out["counted_by"], out["build_ms"], out["query_ms"] = "index", ms(built), ms(time.Since(start))
	}
	out["count"] = n
	if asJSON {
		return printJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%d customers match %s\n", n, out["expression"])
	if out["counted_by"] == "index" {
		fmt.Fprintf(stdout, "(index built in %v ms, answered in %v ms)\n", out["build_ms"], out["query_ms"])
	} else {
		fmt.Fprintf(stdout, "(reference SQL on %s, %v ms)\n", a.DB.Dialect, out["query_ms"])
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
