// Package storetest opens fresh, migrated Kith databases for tests: SQLite
// always, and PostgreSQL when KITH_TEST_DATABASE_URL names a server. Each
// test gets a database of its own, dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kith-scrm/kith/internal/store"
)

// EnvURL is the environment variable that names the PostgreSQL server tests
// may create databases on.
const EnvURL = "KITH_TEST_DATABASE_URL"

// Run runs fn as a subtest on a fresh SQLite database, and again on a fresh
// PostgreSQL database when KITH_TEST_DATABASE_URL is set.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, MustSQLite(t)) })
	if os.Getenv(EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, MustPostgres(t)) })
	}
}

// MustSQLite opens a migrated SQLite database in a temporary folder.
func MustSQLite(tb testing.TB) *store.DB {
	tb.Helper()
	return mustOpen(tb, store.Options{DataDir: tb.TempDir()})
}

// MustPostgres creates a fresh database on the server that
// KITH_TEST_DATABASE_URL names, migrates it, and drops it when the test
// ends. It fails the test when the variable is unset.
func MustPostgres(tb testing.TB) *store.DB {
	tb.Helper()
	dbURL := NewPostgresDatabase(tb)
	return mustOpen(tb, store.Options{URL: dbURL, DataDir: tb.TempDir()})
}

// NewPostgresDatabase creates an empty database on the test server and
// returns its URL; the database is dropped when the test ends.
func NewPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		tb.Fatalf("storetest: %s is not set", EnvURL)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("storetest: connect to %s: %v", EnvURL, err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "kith_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("storetest: create database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("storetest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("storetest: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("storetest: %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func mustOpen(tb testing.TB, o store.Options) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, o)
	if err != nil {
		tb.Fatalf("storetest: open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return db
}

// MustExec runs a statement on the writer or fails the test.
func MustExec(tb testing.TB, db *store.DB, query string, args ...any) sql.Result {
	tb.Helper()
	res, err := db.W.ExecContext(context.Background(), query, args...)
	if err != nil {
		tb.Fatalf("storetest: exec %q: %v", query, err)
	}
	return res
}
