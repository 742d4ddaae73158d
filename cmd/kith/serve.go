package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/config"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags := config.Bind(fs, config.Data|config.Server)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	cfg, err := flags.Load(getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	// Take the port before creating anything, so a port in use leaves no
	// data folder behind.
	ln, err := app.Listen(cfg.Addr)
	if err != nil {
		return err
	}
	return app.Serve(ctx, cfg, ln, app.Options{Stdout: stdout, Log: app.NewLogger(cfg, stderr)})
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	flags := config.Bind(fs, config.Data)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	cfg, err := flags.Load(getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(cfg, stderr), app.ForMigrate)
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.DB.Migrations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d of %d; %s\n", st.Version, st.Latest, a.DB.Describe())
	return nil
}

// openData loads the data options and opens the instance for commands that
// read or change data beside a running server. check, if set, validates the
// command's own flags before anything is opened or created, so a wrong flag
// leaves no data folder behind.
func openData(ctx context.Context, name string, args []string, stdout, stderr io.Writer, getenv func(string) string, extra func(*flag.FlagSet), check func() error) (*app.App, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	flags := config.Bind(fs, config.Data)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	cfg, err := flags.Load(getenv)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return app.Open(ctx, cfg, app.NewLogger(cfg, stderr), app.ForCommand)
}
