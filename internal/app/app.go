package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/secrets"
	"github.com/kith-scrm/kith/internal/store"
)

// Version is set at build time with -ldflags "-X …/internal/app.Version=v1.2.3";
// otherwise it comes from the module's build information.
var Version = ""

// BuildVersion returns the version of this binary.
func BuildVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// App is an opened Kith instance: its database, secrets and services.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	DB     *store.DB
	Keys   *secrets.Keys
	Auth   *auth.Service
	Audit  *audit.Log
	Clock  kith.Clock

	createdDir string // the folder Open created, removed again if the start fails
}

// NewLogger returns the structured logger the configuration asks for.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Purpose says what an opened instance is for, which decides what Open may
// create.
type Purpose int

const (
	// ForServe may create the data folder and generate the secrets of a new
	// database.
	ForServe Purpose = iota
	// ForMigrate may create the data folder; it leaves the secrets alone.
	ForMigrate
	// ForCommand needs an existing instance (on SQLite, its database file);
	// it loads the secrets when they exist and never makes new ones.
	ForCommand
)

// Open prepares the instance: it creates the data folder (mode 0700) if the
// purpose allows, opens and migrates the database, and loads (or, to serve,
// generates) the secrets. On failure it closes what it opened and removes
// what it created, so a failed first start leaves nothing half-made.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, purpose Purpose) (a *App, err error) {
	a = &App{Config: cfg, Log: log, Clock: kith.SystemClock{}}
	defer func() {
		if err != nil {
			a.Discard()
			a = nil
		}
	}()
	if purpose == ForCommand && !cfg.Postgres() {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, store.SQLiteFile)); err != nil {
			return a, fmt.Errorf("--data-dir %s holds no Kith database (%s); start Kith there first (kith serve or kith migrate) or point --data-dir or KITH_DATA_DIR at its data folder", cfg.DataDir, store.SQLiteFile)
		}
	}
	if !cfg.Postgres() || (purpose == ForServe && cfg.EnvKeys == nil) {
		if err := a.prepareDataDir(); err != nil {
			return a, err
		}
	}
	a.DB, err = store.Open(ctx, store.Options{DataDir: cfg.DataDir, URL: cfg.DatabaseURL})
	if err != nil {
		return a, err
	}
	n, err := a.DB.Migrate(ctx)
	if err != nil {
		return a, err
	}
	if n > 0 {
		log.Info("applied migrations", "count", n)
	}
	if purpose != ForMigrate {
		if err := a.loadSecrets(ctx, purpose == ForServe); err != nil {
			return a, err
		}
		if err := a.backfillConsentState(ctx); err != nil {
			return a, err
		}
	}
	a.Audit = audit.New(a.DB, a.Clock)
	a.Auth = auth.NewService(a.DB, a.Clock, auth.HashParams{}, log)
	a.Auth.UseAudit(a.Audit)
	return a, nil
}

// prepareDataDir makes sure the data folder exists and is writable.
func (a *App) prepareDataDir() error {
	dir := a.Config.DataDir
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("--data-dir %s: %v", dir, err)
	}
	// Find the first folder that does not exist yet: that is what to remove
	// if the start fails.
	first := ""
	for p := abs; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		first = p
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("--data-dir %s cannot be created (%v); choose a folder you may write to with --data-dir or KITH_DATA_DIR", dir, unwrapPathErr(err))
	}
	a.createdDir = first
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("--data-dir %s is not a folder; choose another with --data-dir or KITH_DATA_DIR", dir)
	}
	probe, err := os.CreateTemp(abs, ".write-test-*")
	if err != nil {
		return fmt.Errorf("--data-dir %s is not writable (%v); fix its permissions or choose another folder", dir, unwrapPathErr(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadSecrets loads the keys, or makes them for a database that has none
// yet when generate is set, and refuses keys that differ from those the
// database was set up with.
func (a *App) loadSecrets(ctx context.Context, generate bool) error {
	keys, src, err := secrets.Load(a.Config.DataDir, a.Config.EnvKeys)
	if err != nil {
		return err
	}
	var stored string
	err = a.DB.R.QueryRowContext(ctx, "SELECT value FROM instance_meta WHERE key = 'secrets_fingerprint'").Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("app: read secrets fingerprint: %w", err)
	}
	if keys == nil {
		if stored != "" {
			return fmt.Errorf("the secrets file %s is missing but this database was set up with secrets; restore the file from a backup or set %s, %s and %s",
				filepath.Join(a.Config.DataDir, secrets.FileName), secrets.EnvSessionKey, secrets.EnvFieldKey, secrets.EnvBlindIndexKey)
		}
		if !generate {
			return nil // a command on an instance not yet served: nothing to check
		}
		if keys, err = secrets.Create(a.Config.DataDir); err != nil {
			return err
		}
		src = secrets.Generated
		a.Log.Info("generated instance secrets", "file", filepath.Join(a.Config.DataDir, secrets.FileName))
	}
	fp := keys.Fingerprint()
	if stored == "" && generate {
		if _, err := a.DB.W.ExecContext(ctx, "INSERT INTO instance_meta (key, value) VALUES ('secrets_fingerprint', $1) ON CONFLICT (key) DO NOTHING", fp); err != nil {
			return fmt.Errorf("app: store secrets fingerprint: %w", err)
		}
		// Another node may have won the race with other keys: read again.
		if err := a.DB.W.QueryRowContext(ctx, "SELECT value FROM instance_meta WHERE key = 'secrets_fingerprint'").Scan(&stored); err != nil {
			return fmt.Errorf("app: read secrets fingerprint: %w", err)
		}
		if a.DB.Dialect == store.Postgres {
			// The database outlives this process and now names these keys:
			// the folder holding them must survive a failed start.
			a.Keep()
		}
	}
	if stored != "" && stored != fp {
		return fmt.Errorf("the instance secrets (from %s) are not the ones this database was set up with; every node must use the same secrets: copy %s from the first node or set %s, %s and %s to its keys",
			src, secrets.FileName, secrets.EnvSessionKey, secrets.EnvFieldKey, secrets.EnvBlindIndexKey)
	}
	a.Keys = keys
	return nil
}

// Close closes the database.
func (a *App) Close() error {
	if a.DB == nil {
		return nil
	}
	return a.DB.Close()
}

// Discard closes the instance and removes the data folder if this process
// created it: the cleanup of a failed first start.
func (a *App) Discard() {
	a.Close()
	if a.createdDir != "" {
		os.RemoveAll(a.createdDir)
		a.createdDir = ""
	}
}

// Keep marks the instance as started successfully, so its data folder is no
// longer removed by Discard.
func (a *App) Keep() { a.createdDir = "" }

// backfillConsentState folds the consent events recorded before migration
// 00011 into consent_state, once (consent.Ledger.BackfillState).
func (a *App) backfillConsentState(ctx context.Context) error {
	if a.Keys == nil {
		return nil
	}
	protector, err := protect.New(a.Keys.Field, a.Keys.BlindIndex)
	if err != nil {
		return err
	}
	n, err := consent.NewLedger(a.DB.R, a.Keys.BlindIndex).UseIndexer(protector).BackfillState(ctx, a.DB, a.Clock.Now())
	if err != nil {
		return err
	}
	if n > 0 {
		a.Log.Info("folded consent events into consent_state", "rows", n)
	}
	return nil
}
