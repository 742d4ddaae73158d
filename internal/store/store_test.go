package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestMigrationsAreCurrentAndIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, err := db.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Current() || st.Latest < 1 || st.Version != st.Latest {
			t.Fatalf("after Migrate: state %+v, want current", st)
		}
		n, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("second Migrate applied %d migrations, want 0", n)
		}
	})
}

func TestConcurrentMigrateOnSQLite(t *testing.T) {
	// Two processes (kith serve and kith migrate) may migrate one data
	// folder at the same time; the file lock must let exactly one apply.
	dir := t.TempDir()
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, store.Options{DataDir: dir})
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			applied[i], errs[i] = db.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range 4 {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := migrationFiles(t, "sqlite"); total != want || !st.Current() {
		t.Fatalf("migrations applied in total = %d, want %d (each once); state %+v", total, want, st)
	}
}

// migrationFiles counts Kith's migrations of a dialect: the files, not the
// latest version, since version numbers are taken by work in progress and
// may leave gaps until it lands.
func migrationFiles(t *testing.T, dialect string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", dialect, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations of %s: %v", dialect, err)
	}
	return len(files)
}

func TestConcurrentMigrateOnPostgres(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		t.Skip(storetest.EnvURL + " is not set; this test needs PostgreSQL")
	}
	dbURL := storetest.NewPostgresDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	applied := make([]int, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, store.Options{URL: dbURL})
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			applied[i], errs[i] = db.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total < 1 {
		t.Fatal("no migration was applied")
	}
	db, err := store.Open(ctx, store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total != migrationFiles(t, "postgres") || !st.Current() {
		t.Fatalf("applied %d in total, state %+v", total, st)
	}
}

func TestTimesRoundTripAndCompare(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
		// Fractions of different lengths must still order correctly.
		times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(450 * time.Millisecond), base.Add(time.Second + 123456*time.Microsecond)}
		for i, at := range times {
			storetest.MustExec(t, db, "INSERT INTO login_failures (username, ip, at) VALUES ($1, $2, $3)", "u", string(rune('a'+i)), at)
		}
		var got time.Time
		if err := db.R.QueryRowContext(ctx, "SELECT at FROM login_failures WHERE ip = 'd'").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(times[3]) {
			t.Fatalf("read back %v, want %v", got, times[3])
		}
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM login_failures WHERE at > $1", base.Add(450*time.Millisecond)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("rows after base+450ms = %d, want 2", n)
		}
	})
}

func TestInTxRollsBackOnError(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO instance_meta (key, value) VALUES ('k', 'v')"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v, want boom", err)
		}
		var n int
		db.R.QueryRowContext(ctx, "SELECT count(*) FROM instance_meta WHERE key = 'k'").Scan(&n)
		if n != 0 {
			t.Fatal("the failed transaction's row survived")
		}
	})
}

func TestIsUniqueViolation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		storetest.MustExec(t, db, "INSERT INTO instance_meta (key, value) VALUES ('k', 'v')")
		_, err := db.W.Exec("INSERT INTO instance_meta (key, value) VALUES ('k', 'w')")
		if !store.IsUniqueViolation(err) {
			t.Fatalf("IsUniqueViolation(%v) = false", err)
		}
		if store.IsUniqueViolation(errors.New("other")) {
			t.Fatal("IsUniqueViolation(other) = true")
		}
	})
}

func TestSQLiteReaderIsReadOnly(t *testing.T) {
	db := storetest.MustSQLite(t)
	_, err := db.R.Exec("INSERT INTO instance_meta (key, value) VALUES ('k', 'v')")
	if err == nil {
		t.Fatal("a write through the read pool succeeded")
	}
	if !strings.Contains(db.Describe(), filepath.Join("", store.SQLiteFile)) {
		t.Fatalf("Describe() = %q", db.Describe())
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	_, err := store.Open(context.Background(), store.Options{URL: "postgres://kith:secretpw@127.0.0.1:1/kith"})
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "--database-url") || strings.Contains(msg, "secretpw") {
		t.Fatalf("error %q should name the address and the flag and hide the password", msg)
	}
}

func TestMigrationStateIsReadWhileAWriterHoldsTheLock(t *testing.T) {
	// /readyz reads the schema state while jobs write: on SQLite that read
	// must not wait for the write lock.
	db := storetest.MustSQLite(t)
	ctx := context.Background()
	tx, err := db.W.BeginTx(ctx, nil) // immediate: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO instance_meta (key, value) VALUES ('held', 'x')"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := db.Migrations(short)
	if err != nil || !st.Current() {
		t.Fatalf("Migrations while the writer is busy: %+v %v", st, err)
	}
}

// migrationFiles counts a dialect's migrations (their numbers may have gaps
// while branches that take numbers are merged).
