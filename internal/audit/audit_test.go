package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var t0 = time.Date(2025, 6, 30, 2, 0, 0, 123456000, time.UTC)

// read is a valid entry: alice reads customer 42's profile.
func read(person string) audit.Entry {
	return audit.Entry{
		Actor:  audit.Actor{Kind: audit.ActorUser, Name: "alice"},
		Action: audit.ActionPIIRead, ObjectType: "customer", ObjectID: person, Person: person,
		Purpose: "customer_service", Outcome: audit.OutcomeOK, Detail: `{"fields":["name","remark"]}`,
	}
}

// MustRecord records e or fails the test.
func MustRecord(tb testing.TB, l *audit.Log, e audit.Entry) {
	tb.Helper()
	if err := l.Record(context.Background(), e); err != nil {
		tb.Fatalf("Record %s: %v", e.Action, err)
	}
}

// MustEntries returns the whole log, oldest first.
func MustEntries(tb testing.TB, l *audit.Log) []audit.Entry {
	tb.Helper()
	var all []audit.Entry
	var before int64
	for {
		page, next, err := l.List(context.Background(), audit.Filter{Before: before, Limit: 500})
		if err != nil {
			tb.Fatalf("List: %v", err)
		}
		all = append(all, page...)
		if next == 0 {
			break
		}
		before = next
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// MustVerify verifies the log or fails the test on a read error.
func MustVerify(tb testing.TB, l *audit.Log) audit.Report {
	tb.Helper()
	r, err := l.Verify(context.Background())
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return r
}

// seed writes n entries, one second apart, and returns them.
func seed(t *testing.T, db *store.DB, n int) (*audit.Log, *kith.FixedClock, []audit.Entry) {
	t.Helper()
	clock := kith.NewFixedClock(t0)
	l := audit.New(db, clock)
	for i := 1; i <= n; i++ {
		MustRecord(t, l, read(fmt.Sprint(40+i)))
		clock.Add(time.Second)
	}
	es := MustEntries(t, l)
	if len(es) != n {
		t.Fatalf("seeded %d entries, the log has %d", n, len(es))
	}
	return l, clock, es
}

func TestAppendChainsEntries(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		l, _, es := seed(t, db, 3)
		prev := audit.Genesis
		for i, e := range es {
			if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.ComputeHash() || len(e.Hash) != 64 {
				t.Errorf("entry %d: seq %d prev %s hash %s (computed %s), want seq %d after %s", i, e.Seq, e.PrevHash, e.Hash, e.ComputeHash(), i+1, prev)
			}
			if want := t0.Add(time.Duration(i) * time.Second); !e.At.Equal(want) || e.At.Location() != time.UTC {
				t.Errorf("entry %d: at %v, want %v in UTC", i, e.At, want)
			}
			prev = e.Hash
		}
		want := read("41")
		got := es[0]
		if got.Actor != want.Actor || got.Action != want.Action || got.ObjectType != want.ObjectType || got.ObjectID != want.ObjectID ||
			got.Person != want.Person || got.Purpose != want.Purpose || got.Outcome != want.Outcome || got.Detail != want.Detail {
			t.Errorf("stored %+v, appended %+v", got, want)
		}
		r := MustVerify(t, l)
		if !r.OK() || r.Entries != 3 || r.Last != 3 || r.Head != es[2].Hash {
			t.Errorf("Verify: %+v", r)
		}
		if s := r.String(); !strings.Contains(s, "intact: 3 entries") || !strings.Contains(s, es[2].Hash) {
			t.Errorf("report: %q", s)
		}
	})
}

func TestEmptyLog(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		l := audit.New(db, kith.NewFixedClock(t0))
		r := MustVerify(t, l)
		if !r.OK() || r.Entries != 0 || r.Head != audit.Genesis {
			t.Errorf("Verify of an empty log: %+v", r)
		}
		cp, err := l.Checkpoint(context.Background())
		if err != nil || cp.Seq != 0 || cp.Hash != audit.Genesis || !cp.At.Equal(t0) {
			t.Fatalf("Checkpoint of an empty log: %+v %v", cp, err)
		}
		MustRecord(t, l, read("1"))
		if r, err := l.VerifyCheckpoint(context.Background(), cp); err != nil || !r.OK() {
			t.Errorf("a log extends the empty checkpoint: %+v %v", r, err)
		}
	})
}

// TestAppendInCallersTransaction: an entry commits or rolls back with the
// change it records.
func TestAppendInCallersTransaction(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := audit.New(db, kith.NewFixedClock(t0))
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := l.Append(ctx, tx, read("1")); err != nil {
				return err
			}
			return fmt.Errorf("the change failed")
		})
		if err == nil || len(MustEntries(t, l)) != 0 {
			t.Fatalf("a rolled-back transaction left an entry (err %v)", err)
		}
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			c := store.NewCachedTx(tx)
			defer c.Close()
			if _, err := c.ExecContext(ctx, "INSERT INTO instance_meta (key, value) VALUES ('k', 'v')"); err != nil {
				return err
			}
			if err := l.Append(ctx, c, read("1")); err != nil {
				return err
			}
			return l.Append(ctx, c, read("2"))
		})
		if err != nil {
			t.Fatal(err)
		}
		// A *sql.DB is accepted and gets a transaction of its own.
		if err := l.Append(ctx, db.W, read("3")); err != nil {
			t.Fatal(err)
		}
		es := MustEntries(t, l)
		if len(es) != 3 || es[0].Person != "1" || es[2].Person != "3" || es[2].Seq != 3 {
			t.Errorf("entries: %+v", es)
		}
		if r := MustVerify(t, l); !r.OK() {
			t.Error(r)
		}
	})
}

func TestAppendRefusesBadEntries(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 201)
	tests := []struct {
		name string
		edit func(*audit.Entry)
		want string
	}{
		{"unknown actor kind", func(e *audit.Entry) { e.Actor.Kind = "robot" }, `actor kind "robot"`},
		{"no actor kind", func(e *audit.Entry) { e.Actor.Kind = "" }, "actor kind"},
		{"no action", func(e *audit.Entry) { e.Action = "" }, "action"},
		{"action in capitals", func(e *audit.Entry) { e.Action = "PII.Read" }, `"PII.Read"`},
		{"action with an empty part", func(e *audit.Entry) { e.Action = "pii..read" }, "lowercase words joined by dots"},
		{"action too long", func(e *audit.Entry) { e.Action = strings.Repeat("a", 65) }, "at most 64"},
		{"no outcome", func(e *audit.Entry) { e.Outcome = "" }, "outcome"},
		{"unknown outcome", func(e *audit.Entry) { e.Outcome = "maybe" }, `"maybe"`},
		{"detail not JSON", func(e *audit.Entry) { e.Detail = "rows=3" }, "JSON object"},
		{"detail a JSON array", func(e *audit.Entry) { e.Detail = "[1,2]" }, "JSON object"},
		{"detail too long", func(e *audit.Entry) { e.Detail = `{"x":"` + strings.Repeat("y", audit.MaxDetail) + `"}` }, "at most 2048"},
		{"detail invalid UTF-8", func(e *audit.Entry) { e.Detail = "{\"x\":\"\xff\"}" }, "JSON object"},
		{"NUL in actor", func(e *audit.Entry) { e.Actor.Name = "al\x00ice" }, "actor must be valid UTF-8"},
		{"newline in object id", func(e *audit.Entry) { e.ObjectID = "1\n2" }, "object id"},
		{"terminal escape in purpose", func(e *audit.Entry) { e.Purpose = "\x1b[31mred" }, "purpose"},
		{"invalid UTF-8 in person", func(e *audit.Entry) { e.Person = "\xff" }, "person"},
		{"person too long", func(e *audit.Entry) { e.Person = long }, "person is 201 bytes"},
		{"object type too long", func(e *audit.Entry) { e.ObjectType = strings.Repeat("t", 65) }, "object type"},
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := audit.New(db, kith.NewFixedClock(t0))
		for _, tc := range tests {
			e := read("1")
			tc.edit(&e)
			for what, err := range map[string]error{
				"Record": l.Record(ctx, e),
				"Append": db.InTx(ctx, func(tx *sql.Tx) error { return l.Append(ctx, tx, e) }),
			} {
				if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), tc.want) {
					t.Errorf("%s: %s: got %v, want EINVALID mentioning %q", tc.name, what, err, tc.want)
				}
			}
		}
		if es := MustEntries(t, l); len(es) != 0 {
			t.Errorf("refused entries were written: %+v", es)
		}
		// Chinese, quotes and an anonymous actor without a name are fine.
		e := read("顾客 7")
		e.Actor = audit.Actor{Kind: audit.ActorAnonymous}
		e.Detail = `{"备注":"他说 \"你好\""}`
		MustRecord(t, l, e)
	})
}

// TestDatabaseRefusesChanges: UPDATE, DELETE (and TRUNCATE on PostgreSQL)
// through the normal connection fail with the trigger's message, and so
// does an INSERT that does not continue the chain.
func TestDatabaseRefusesChanges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _, es := seed(t, db, 3)
		refused := []string{
			"UPDATE audit_log SET detail = '{}' WHERE seq = 2",
			"UPDATE audit_log SET hash = hash",
			"DELETE FROM audit_log WHERE seq = 3",
			"DELETE FROM audit_log",
		}
		if db.Dialect == store.Postgres {
			refused = append(refused, "TRUNCATE audit_log")
		}
		for _, q := range refused {
			_, err := db.W.ExecContext(ctx, q)
			if err == nil || !strings.Contains(err.Error(), "audit_log is append-only") {
				t.Errorf("%s: got %v, want the trigger's refusal", q, err)
			}
		}
		// The same inside a transaction.
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM audit_log WHERE seq = 1")
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "audit_log is append-only") {
			t.Errorf("DELETE in a transaction: %v", err)
		}
		insert := `INSERT INTO audit_log (seq, at, actor_kind, actor, action, outcome, prev_hash, hash)
			VALUES ($1, $2, 'user', 'mallory', 'pii.read', 'ok', $3, $4)`
		forged := []struct {
			name      string
			seq       int64
			prev, sum string
		}{
			{"a seq beyond the next", 9, es[2].Hash, strings.Repeat("a", 64)},
			{"an old seq", 2, es[0].Hash, strings.Repeat("b", 64)},
			{"the next seq linked elsewhere", 4, es[0].Hash, strings.Repeat("c", 64)},
		}
		for _, f := range forged {
			_, err := db.W.ExecContext(ctx, insert, f.seq, t0, f.prev, f.sum)
			if err == nil || (!strings.Contains(err.Error(), "must continue the chain") && !store.IsUniqueViolation(err)) {
				t.Errorf("INSERT of %s: got %v, want a refusal", f.name, err)
			}
		}
		if r := MustVerify(t, l); !r.OK() || r.Entries != 3 {
			t.Errorf("after refused changes: %s", r)
		}
	})
}

// TestConcurrentAppends: many goroutines append at once, through Record
// and through Append in transactions that also change other rows; the chain
// stays one line.
func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		appendConcurrently(t, []*store.DB{db}, 16, 25)
	})
}

// TestConcurrentAppendsFromTwoOpens: two opens of the same database (two
// nodes, or a command beside the server) append at once.
func TestConcurrentAppendsFromTwoOpens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func(t *testing.T, o store.Options) *store.DB {
		db, err := store.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		appendConcurrently(t, []*store.DB{open(t, store.Options{DataDir: dir}), open(t, store.Options{DataDir: dir})}, 8, 20)
	})
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) {
			u := storetest.NewPostgresDatabase(t)
			appendConcurrently(t, []*store.DB{open(t, store.Options{URL: u}), open(t, store.Options{URL: u})}, 8, 20)
		})
	}
}

func appendConcurrently(t *testing.T, dbs []*store.DB, workers, each int) {
	t.Helper()
	ctx := context.Background()
	logs := make([]*audit.Log, len(dbs))
	for i, db := range dbs {
		logs[i] = audit.New(db, kith.SystemClock{})
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		db, l := dbs[w%len(dbs)], logs[w%len(dbs)]
		wg.Go(func() {
			for i := range each {
				e := read(fmt.Sprintf("w%d-%d", w, i))
				var err error
				if i%2 == 0 {
					err = l.Record(ctx, e)
				} else {
					err = db.InTx(ctx, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, "INSERT INTO instance_meta (key, value) VALUES ($1, 'x')", e.Person); err != nil {
							return err
						}
						return l.Append(ctx, tx, e)
					})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}
	n := int64(workers * each)
	r := MustVerify(t, logs[0])
	if !r.OK() || r.Entries != n || r.Last != n {
		t.Fatalf("after %d concurrent appends: %s (%d entries, last %d)", n, r, r.Entries, r.Last)
	}
	seen := map[string]bool{}
	for _, e := range MustEntries(t, logs[len(logs)-1]) {
		if seen[e.Person] {
			t.Errorf("%s logged twice", e.Person)
		}
		seen[e.Person] = true
	}
	if len(seen) != int(n) {
		t.Errorf("%d distinct entries, want %d", len(seen), n)
	}
}
