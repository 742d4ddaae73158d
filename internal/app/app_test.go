package app_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/secrets"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func cfgFor(dir string) *config.Config {
	return &config.Config{DataDir: dir, LogFormat: "text", CookieSecure: "auto", NodeName: "t"}
}

func TestOpenCreatesAPrivateDataFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	a, err := app.Open(context.Background(), cfgFor(dir), quiet, app.ForServe)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data folder: %v %v", fi.Mode(), err)
	}
	if a.Keys == nil {
		t.Fatal("no secrets after a first start")
	}
}

func TestFailedFirstStartLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "new", "data")
	cfg := cfgFor(dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the database cannot even be opened with a dead context
	if _, err := app.Open(ctx, cfg, quiet, app.ForServe); err == nil {
		t.Fatal("Open succeeded with a cancelled context")
	}
	if _, err := os.Stat(filepath.Join(parent, "new")); !os.IsNotExist(err) {
		t.Fatalf("a failed first start left %s behind", filepath.Join(parent, "new"))
	}
}

func TestCommandsNeedAnInstanceAndMakeNoSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	_, err := app.Open(context.Background(), cfgFor(dir), quiet, app.ForCommand)
	if err == nil || !strings.Contains(err.Error(), "--data-dir") || !strings.Contains(err.Error(), "kith serve") {
		t.Fatalf("command on a missing instance: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("a command created a data folder")
	}
	// kith migrate makes the database but no secrets; commands after it
	// still make none; only serve does.
	m, err := app.Open(context.Background(), cfgFor(dir), quiet, app.ForMigrate)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	c, err := app.Open(context.Background(), cfgFor(dir), quiet, app.ForCommand)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(dir, secrets.FileName)); !os.IsNotExist(err) {
		t.Fatal("migrate or a command generated secrets")
	}
}

func TestOtherSecretsAreRefused(t *testing.T) {
	dir := t.TempDir()
	a, err := app.Open(context.Background(), cfgFor(dir), quiet, app.ForServe)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	other := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	env := map[string]string{secrets.EnvSessionKey: other, secrets.EnvFieldKey: other, secrets.EnvBlindIndexKey: other}
	keys, err := secrets.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg := cfgFor(dir)
	cfg.EnvKeys = keys
	for _, p := range []app.Purpose{app.ForServe, app.ForCommand} {
		_, err := app.Open(context.Background(), cfg, quiet, p)
		if err == nil || !strings.Contains(err.Error(), "not the ones this database was set up with") {
			t.Fatalf("purpose %d with other keys: %v", p, err)
		}
	}
	// Losing the secrets file is reported, not papered over with new keys.
	os.Remove(filepath.Join(dir, secrets.FileName))
	_, err = app.Open(context.Background(), cfgFor(dir), quiet, app.ForServe)
	if err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("missing secrets file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, secrets.FileName)); !os.IsNotExist(err) {
		t.Fatal("new secrets were generated for a database that had others")
	}
}

func TestPostgresInstanceKeepsItsSecretsFolder(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		t.Skip(storetest.EnvURL + " is not set; this test needs PostgreSQL")
	}
	cfg := cfgFor(filepath.Join(t.TempDir(), "pgdata"))
	cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
	a, err := app.Open(context.Background(), cfg, quiet, app.ForServe)
	if err != nil {
		t.Fatal(err)
	}
	// Even if the start failed now, the database names these keys, so the
	// folder holding them must stay.
	a.Discard()
	if _, err := os.Stat(filepath.Join(cfg.DataDir, secrets.FileName)); err != nil {
		t.Fatalf("the secrets of a PostgreSQL instance were removed: %v", err)
	}
	b, err := app.Open(context.Background(), cfg, quiet, app.ForServe)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	b.Close()
}
