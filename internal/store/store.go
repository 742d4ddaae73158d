package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names the SQL database behind a DB.
type Dialect string

// The dialects Kith runs on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// SQLiteFile is the name of the embedded database inside the data folder.
const SQLiteFile = "kith.db"

// DB is an open Kith database.
type DB struct {
	Dialect Dialect
	// W runs writes and every transaction. On SQLite it has one connection.
	W *sql.DB
	// R runs reads outside transactions. On PostgreSQL it is W.
	R *sql.DB
	// Pgx is the native pool behind W on PostgreSQL (nil on SQLite); River
	// uses it to LISTEN for new jobs.
	Pgx *pgxpool.Pool

	sqlitePath string // the database file, on SQLite
	dataDir    string
	ckpt       *checkpointer // on SQLite
}

// Options say which database to open.
type Options struct {
	// DataDir is the data folder; the SQLite file and the migration lock
	// live there.
	DataDir string
	// URL is empty for embedded SQLite, or a postgres:// URL.
	URL string
}

// Open connects to the database the options name and checks that it answers.
// It creates nothing but the SQLite file (in an existing DataDir).
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.URL == "" {
		return openSQLite(ctx, o.DataDir)
	}
	return openPostgres(ctx, o)
}

// walAutocheckpoint is how many pages the WAL grows to before a commit
// copies them back into the database file (and syncs it) itself. Normally
// the background checkpointer (checkpoint.go) has copied and synced all but
// the last second's pages by then, so the commit that callbacks wait behind
// copies little and syncs little; it is the bound on the WAL's size while
// writes never pause (a passive checkpoint cannot catch up with a writer
// that never stops, so the WAL is restarted only from a writer's own
// checkpoint). 20,000 pages is a WAL of up to 80 MB (docs/operations.md has
// the measurements).
const walAutocheckpoint = 20_000

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	// WAL lets readers run beside the one writer; the busy timeout makes a
	// second process (kith migrate beside kith serve) wait instead of failing.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_time_format", "sqlite")
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	} else {
		// Take the write lock at BEGIN, so a read-then-write transaction
		// never fails halfway with SQLITE_BUSY.
		q.Set("_txlock", "immediate")
		// Checkpoint the WAL every walAutocheckpoint pages, not SQLite's
		// 1,000 (see the constant).
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutocheckpoint))
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, dataDir string) (*DB, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("store: data folder %q: %w", dataDir, err)
	}
	path := filepath.Join(abs, SQLiteFile)
	w, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open SQLite database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	ckpt, err := startCheckpointer(path)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return &DB{Dialect: SQLite, W: w, R: r, sqlitePath: path, dataDir: abs, ckpt: ckpt}, nil
}

func openPostgres(ctx context.Context, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("store: the PostgreSQL URL cannot be parsed: %w", redactErr(err, o.URL))
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if cfg.MaxConns < 10 {
		cfg.MaxConns = 10
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", redactErr(err, o.URL))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: cannot reach PostgreSQL at %s: %s", net.JoinHostPort(cfg.ConnConfig.Host, fmt.Sprint(cfg.ConnConfig.Port)), describePgErr(err))
	}
	db := stdlib.OpenDBFromPool(pool)
	dataDir := ""
	if o.DataDir != "" {
		dataDir, _ = filepath.Abs(o.DataDir)
	}
	return &DB{Dialect: Postgres, W: db, R: db, Pgx: pool, dataDir: dataDir}, nil
}

// describePgErr turns a connection error into a short sentence with advice.
func describePgErr(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "3D000":
			return pgErr.Message + "; create it (createdb) or fix the database name in --database-url"
		case "28P01", "28000":
			return pgErr.Message + "; check the user and password in --database-url"
		}
		return pgErr.Message
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return "connection refused; check that PostgreSQL runs and the host and port in --database-url are right"
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline"):
		return "no answer within 10 s; check the host in --database-url and the network"
	case strings.Contains(msg, "no such host"):
		return "unknown host; check the host in --database-url"
	}
	return msg
}

// redactErr removes a URL's password from an error message.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// Close closes every pool.
func (db *DB) Close() error {
	var errs []error
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.close())
	}
	if db.R != db.W {
		errs = append(errs, db.R.Close())
	}
	errs = append(errs, db.W.Close())
	if db.Pgx != nil {
		db.Pgx.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers. It asks the read pool: on
// SQLite the writer is one connection, and a long write (a sandbox's demo
// data, an import) holding it is not the database failing to answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.R.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Describe says in a few words where the data is, for the console and logs;
// it never includes a password.
func (db *DB) Describe() string {
	if db.Dialect == SQLite {
		return "SQLite " + db.sqlitePath
	}
	c := db.Pgx.Config().ConnConfig
	return fmt.Sprintf("PostgreSQL %s/%s", net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), c.Database)
}

// InTx runs fn in a transaction on the writer and commits it if fn returns
// nil; otherwise it rolls back. fn must use tx, never db, for every query:
// on SQLite the writer has one connection, and a query on db would wait for
// the transaction forever.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation in
// either dialect.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
