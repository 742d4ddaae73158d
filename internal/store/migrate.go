package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// MigrationState says how far the schema is behind this binary.
type MigrationState struct {
	Version       int64 // Kith's schema version in the database
	Latest        int64 // the newest Kith migration this binary has
	RiverCurrent  bool  // River's tables are at this binary's version
	RiverMessages []string
}

// Current reports whether nothing is left to apply.
func (s MigrationState) Current() bool { return s.Version >= s.Latest && s.RiverCurrent }

func (db *DB) migrationFolder() fs.FS {
	sub, err := fs.Sub(migrationFS, "migrations/"+string(db.Dialect))
	if err != nil {
		panic(err) // the folders are embedded at build time
	}
	return sub
}

// withMigrationConn runs fn with a *sql.DB to migrate through (or, when
// readOnly, to read the schema's state). On SQLite it is a connection of its
// own, because goose and River both hold a connection while asking for
// another, which the one-connection writer cannot give; a read-only one
// begins deferred transactions, so reading the state never waits for the
// write lock.
func (db *DB) withMigrationConn(ctx context.Context, readOnly bool, fn func(*sql.DB) error) error {
	if db.Dialect != SQLite {
		return fn(db.W)
	}
	m, err := sql.Open("sqlite", sqliteDSN(db.sqlitePath, readOnly))
	if err != nil {
		return fmt.Errorf("store: open for migration: %w", err)
	}
	defer m.Close()
	m.SetMaxOpenConns(4)
	return fn(m)
}

func (db *DB) goose(conn *sql.DB) (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, conn, db.migrationFolder(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

func riverMigrator(d Dialect, conn *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	var driver riverdriver.Driver[*sql.Tx]
	if d == SQLite {
		driver = riversqlite.New(conn)
	} else {
		driver = riverdatabasesql.New(conn)
	}
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("store: river migrations: %w", err)
	}
	return m, nil
}

// Migrate applies every pending migration, Kith's and River's. Several
// processes may call it at once: a lock (a PostgreSQL advisory lock, or a
// file lock beside the SQLite file) lets one apply while the others wait.
// It returns the number of Kith migrations applied.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	err = db.withMigrationLock(ctx, func() error {
		return db.withMigrationConn(ctx, false, func(conn *sql.DB) error {
			p, err := db.goose(conn)
			if err != nil {
				return err
			}
			res, err := p.Up(ctx)
			if err != nil {
				return fmt.Errorf("store: apply migrations: %w", err)
			}
			applied = len(res)
			rm, err := riverMigrator(db.Dialect, conn)
			if err != nil {
				return err
			}
			if _, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
				return fmt.Errorf("store: apply River migrations: %w", err)
			}
			return nil
		})
	})
	return applied, err
}

// Migrations reports the schema's state without changing it.
func (db *DB) Migrations(ctx context.Context) (MigrationState, error) {
	var st MigrationState
	err := db.withMigrationConn(ctx, true, func(conn *sql.DB) error {
		p, err := db.goose(conn)
		if err != nil {
			return err
		}
		cur, latest, err := p.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		st.Version, st.Latest = cur, latest
		rm, err := riverMigrator(db.Dialect, conn)
		if err != nil {
			return err
		}
		res, err := rm.Validate(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: read River schema version: %w", err)
		}
		st.RiverCurrent, st.RiverMessages = res.OK, res.Messages
		return nil
	})
	return st, err
}

// migrationLockKey is the PostgreSQL advisory lock Kith migrates under.
var migrationLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("kith.migrate"))
	return int64(h.Sum64() >> 1)
}()

func (db *DB) withMigrationLock(ctx context.Context, fn func() error) error {
	if db.Dialect == SQLite {
		unlock, err := lockFile(filepath.Join(filepath.Dir(db.sqlitePath), "migrate.lock"))
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer unlock()
		return fn()
	}
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	return fn()
}
