package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The background checkpointer copies committed frames into the database
// file while the writer goes on, and stops with the DB.
func TestBackgroundCheckpointCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if db.ckpt == nil {
		t.Fatal("no checkpointer on SQLite")
	}
	if _, err := db.W.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	// Far fewer pages than walAutocheckpoint: only the checkpointer can
	// have copied them.
	pad := strings.Repeat("x", 1000)
	deadline := time.Now().Add(20 * time.Second)
	for db.ckpt.copied.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no background checkpoint within 20 s (last error %v)", db.ckpt.lastErr.Load())
		}
		if _, err := db.W.ExecContext(ctx, "INSERT INTO t (v) VALUES ($1)", pad); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e := db.ckpt.lastErr.Load(); e != nil {
		t.Fatalf("checkpoint failed: %v", *e)
	}
	// The data reads back now and after reopening.
	var n int
	if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n == 0 {
		t.Fatalf("count = %d, %v", n, err)
	}
	c := db.ckpt
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // a second Close is harmless
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("checkpointer still running after Close")
	}
	db2, err := Open(ctx, Options{DataDir: db.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var m int
	if err := db2.R.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&m); err != nil || m != n {
		t.Fatalf("after reopening: count = %d, %v; want %d", m, err, n)
	}
}
