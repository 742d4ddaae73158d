package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// tamper runs statements on the audit log past its append-only triggers, as
// someone with direct access to the database could: on SQLite by dropping
// the triggers, on PostgreSQL on a connection with triggers disabled
// (session_replication_role = replica, which needs a superuser).
func tamper(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	tamperArgs(t, db, func(exec func(string, ...any)) {
		for _, s := range stmts {
			exec(s)
		}
	})
}

func tamperArgs(t *testing.T, db *store.DB, fn func(exec func(q string, args ...any))) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.W.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if db.Dialect == store.SQLite {
		for _, trig := range []string{"audit_log_no_update", "audit_log_no_delete", "audit_log_linear"} {
			if _, err := conn.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+trig); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		if _, err := conn.ExecContext(ctx, "SET session_replication_role = replica"); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(ctx, "RESET session_replication_role")
	}
	fn(func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("tamper: %s: %v", q, err)
		}
	})
}

const insertRow = `INSERT INTO audit_log (seq, at, actor_kind, actor, action, object_type, object_id, person, purpose, outcome, detail, prev_hash, hash)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

func rowArgs(e audit.Entry) []any {
	return []any{e.Seq, e.At, e.Actor.Kind, e.Actor.Name, e.Action, e.ObjectType, e.ObjectID, e.Person, e.Purpose, e.Outcome, e.Detail, e.PrevHash, e.Hash}
}

// TestVerifyFindsTampering: every change made directly in the database is
// found, at the right seq and of the right kind.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *store.DB, es []audit.Entry)
		seq    int64
		kind   string
		reason string // in Break.Reason
	}{
		{"detail of a middle entry updated", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamper(t, db, `UPDATE audit_log SET detail = '{"fields":[]}' WHERE seq = 5`)
		}, 5, audit.BreakChanged, "its fields hash to"},
		{"actor of a middle entry updated", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamper(t, db, `UPDATE audit_log SET actor = 'bob' WHERE seq = 6`)
		}, 6, audit.BreakChanged, "entry 6 was changed"},
		{"time of an entry moved", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamperArgs(t, db, func(exec func(string, ...any)) {
				exec("UPDATE audit_log SET at = $1 WHERE seq = 8", es[7].At.Add(-time.Hour))
			})
		}, 8, audit.BreakChanged, "entry 8 was changed"},
		{"entry changed and its hash recomputed", func(t *testing.T, db *store.DB, es []audit.Entry) {
			e := es[4]
			e.Purpose = "marketing"
			e.Hash = e.ComputeHash()
			tamperArgs(t, db, func(exec func(string, ...any)) {
				exec("UPDATE audit_log SET purpose = $1, hash = $2 WHERE seq = 5", e.Purpose, e.Hash)
			})
		}, 5, audit.BreakChanged, "hash recomputed"},
		{"middle entry deleted", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamper(t, db, "DELETE FROM audit_log WHERE seq = 4")
		}, 4, audit.BreakRemoved, "entry 4 is missing"},
		{"several entries deleted", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamper(t, db, "DELETE FROM audit_log WHERE seq BETWEEN 3 AND 6")
		}, 3, audit.BreakRemoved, "entries 3 to 6 are missing"},
		{"first entry deleted", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamper(t, db, "DELETE FROM audit_log WHERE seq = 1")
		}, 1, audit.BreakRemoved, "after seq 0 comes seq 2"},
		{"two entries' hashes swapped", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamperArgs(t, db, func(exec func(string, ...any)) {
				// hash is unique, so through a placeholder
				exec("UPDATE audit_log SET hash = 'x' WHERE seq = 3")
				exec("UPDATE audit_log SET hash = $1 WHERE seq = 7", es[2].Hash)
				exec("UPDATE audit_log SET hash = $1 WHERE seq = 3", es[6].Hash)
			})
		}, 3, audit.BreakChanged, "entry 3 was changed"},
		{"entry inserted in the middle", func(t *testing.T, db *store.DB, es []audit.Entry) {
			forged := audit.Entry{Seq: 6, At: es[4].At, Actor: audit.Actor{Kind: audit.ActorUser, Name: "alice"},
				Action: audit.ActionPIIRead, Person: "99", Outcome: audit.OutcomeOK, PrevHash: es[4].Hash}
			forged.Hash = forged.ComputeHash()
			tamperArgs(t, db, func(exec func(string, ...any)) {
				// Make room at seq 6 (in two steps: seq is the primary key).
				exec("UPDATE audit_log SET seq = seq + 1000 WHERE seq > 5")
				exec("UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
				exec(insertRow, rowArgs(forged)...)
			})
		}, 6, audit.BreakInserted, "entry 6 was inserted"},
		{"entry inserted before the start", func(t *testing.T, db *store.DB, es []audit.Entry) {
			forged := es[0]
			forged.Seq, forged.Hash = 0, strings.Repeat("e", 64)
			tamperArgs(t, db, func(exec func(string, ...any)) { exec(insertRow, rowArgs(forged)...) })
		}, 0, audit.BreakInserted, "before the start"},
		{"forged entry appended without the right hash", func(t *testing.T, db *store.DB, es []audit.Entry) {
			forged := es[9]
			forged.Seq, forged.PrevHash, forged.Hash = 11, es[9].Hash, strings.Repeat("f", 64)
			tamperArgs(t, db, func(exec func(string, ...any)) { exec(insertRow, rowArgs(forged)...) })
		}, 11, audit.BreakChanged, "entry 11 was changed"},
		{"prev_hash of an entry changed", func(t *testing.T, db *store.DB, es []audit.Entry) {
			tamper(t, db, "UPDATE audit_log SET prev_hash = '"+strings.Repeat("0", 64)+"' WHERE seq = 9")
		}, 9, audit.BreakChanged, "prev_hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				l, _, es := seed(t, db, 10)
				if r := MustVerify(t, l); !r.OK() {
					t.Fatalf("before tampering: %s", r)
				}
				tc.tamper(t, db, es)
				r := MustVerify(t, l)
				b := r.Break
				if b == nil {
					t.Fatalf("tampering not found: %s", r)
				}
				if b.Seq != tc.seq || b.Kind != tc.kind || !strings.Contains(b.Reason, tc.reason) {
					t.Errorf("got break %+v, want seq %d %s with %q", b, tc.seq, tc.kind, tc.reason)
				}
				if s := r.String(); !strings.HasPrefix(s, "audit log broken at seq ") || strings.Contains(s, "\n") {
					t.Errorf("report: %q", s)
				}
				if _, err := l.Checkpoint(context.Background()); kith.ErrorCode(err) != kith.ECONFLICT {
					t.Errorf("Checkpoint of a broken log: %v, want ECONFLICT", err)
				}
			})
		})
	}
}

// TestVerifyTimeNotReadable: a time edited into text that is no time is
// reported, not a failure to read the log.
func TestVerifyTimeNotReadable(t *testing.T) {
	t.Parallel()
	db := storetest.MustSQLite(t)
	l, _, _ := seed(t, db, 4)
	tamper(t, db, "UPDATE audit_log SET at = 'yesterday' WHERE seq = 3")
	r := MustVerify(t, l)
	if r.Break == nil || r.Break.Seq != 3 || r.Break.Kind != audit.BreakChanged || !strings.Contains(r.Break.Reason, `"yesterday"`) {
		t.Errorf("got %s", r)
	}
}

// TestCheckpoints: a checkpoint catches what the chain alone cannot — a log
// cut short, and a log rewritten from the start.
func TestCheckpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("extended", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			l, clock, es := seed(t, db, 5)
			cp, err := l.Checkpoint(ctx)
			if err != nil || cp.Seq != 5 || cp.Hash != es[4].Hash || !cp.At.Equal(clock.Now()) {
				t.Fatalf("Checkpoint: %+v %v", cp, err)
			}
			MustRecord(t, l, read("77"))
			r, err := l.VerifyCheckpoint(ctx, cp)
			if err != nil || !r.OK() || r.Entries != 6 || !strings.Contains(r.String(), "extends the checkpoint at seq 5") {
				t.Errorf("VerifyCheckpoint after one more entry: %s %v", r, err)
			}
		})
	})
	t.Run("tail truncated", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			l, _, _ := seed(t, db, 10)
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tamper(t, db, "DELETE FROM audit_log WHERE seq > 7")
			if r := MustVerify(t, l); !r.OK() || r.Last != 7 {
				t.Fatalf("a cut-short chain is still a chain: %s", r)
			}
			r, err := l.VerifyCheckpoint(ctx, cp)
			if err != nil {
				t.Fatal(err)
			}
			if b := r.Break; b == nil || b.Seq != 8 || b.Kind != audit.BreakTruncated || !strings.Contains(b.Reason, "entries 8 to 10 were removed") {
				t.Errorf("got %s", r)
			}
		})
	})
	t.Run("tail truncated and appended again", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			l, _, _ := seed(t, db, 10)
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tamper(t, db, "DELETE FROM audit_log WHERE seq > 7")
			for range 3 {
				MustRecord(t, l, read("other"))
			}
			r, err := l.VerifyCheckpoint(ctx, cp)
			if err != nil {
				t.Fatal(err)
			}
			if b := r.Break; b == nil || b.Seq != 10 || b.Kind != audit.BreakRewritten || b.Expected != cp.Hash {
				t.Errorf("got %s", r)
			}
		})
	})
	t.Run("rewritten from the start", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			l, _, _ := seed(t, db, 10)
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Empty the log and write a history of one's liking, with
			// every hash right.
			tamper(t, db, "DELETE FROM audit_log")
			clock := kith.NewFixedClock(t0)
			forger := audit.New(db, clock)
			for i := range 12 {
				e := read("41")
				if i == 3 {
					e.Purpose = "marketing"
				}
				MustRecord(t, forger, e)
				clock.Add(time.Second)
			}
			if r := MustVerify(t, l); !r.OK() {
				t.Fatalf("a rewritten chain is still a chain: %s", r)
			}
			r, err := l.VerifyCheckpoint(ctx, cp)
			if err != nil {
				t.Fatal(err)
			}
			if b := r.Break; b == nil || b.Seq != 10 || b.Kind != audit.BreakRewritten || !strings.Contains(b.Reason, "rewritten") {
				t.Errorf("got %s", r)
			}
		})
	})
	t.Run("bad checkpoint", func(t *testing.T) {
		t.Parallel()
		l := audit.New(storetest.MustSQLite(t), kith.NewFixedClock(t0))
		for _, cp := range []audit.Checkpoint{
			{Seq: -1, Hash: audit.Genesis},
			{Seq: 3, Hash: "abc"},
			{Seq: 3, Hash: strings.Repeat("A", 64)},
			{Seq: 0, Hash: strings.Repeat("a", 64)},
		} {
			if _, err := l.VerifyCheckpoint(ctx, cp); kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("VerifyCheckpoint(%+v): %v, want EINVALID", cp, err)
			}
		}
	})
}
