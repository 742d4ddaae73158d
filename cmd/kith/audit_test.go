package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// auditInstance is a migrated instance with n audit entries, the third
// about person "p3" and every other by user:alice.
type auditInstance struct {
	env map[string]string
	pg  bool
}

func newAuditInstance(t *testing.T, pg bool, n int) *auditInstance {
	t.Helper()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	if pg {
		env = with(env, "KITH_DATABASE_URL", storetest.NewPostgresDatabase(t))
	}
	if r := runKith(t, env, "migrate"); r.code != 0 {
		t.Fatalf("kith migrate: %s", r)
	}
	in := &auditInstance{env: env, pg: pg}
	db := in.open(t)
	defer db.Close()
	l := audit.New(db, kith.SystemClock{})
	for i := 1; i <= n; i++ {
		e := audit.Entry{Actor: audit.Actor{Kind: audit.ActorUser, Name: "bob"}, Action: audit.ActionPIIRead,
			ObjectType: "customer", ObjectID: fmt.Sprint(i), Person: fmt.Sprintf("p%d", i), Outcome: audit.OutcomeOK,
			Purpose: "客服, \"售后\"", Detail: `{"fields":["name"]}`}
		if i%2 == 1 {
			e.Actor.Name = "alice"
		}
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func (in *auditInstance) open(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: in.env["KITH_DATA_DIR"], URL: in.env["KITH_DATABASE_URL"]})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// tamper changes the audit log behind Kith's back, as someone with the
// database in hand could: on SQLite it opens the file with database/sql
// and drops the triggers; on PostgreSQL it disables triggers for its
// session.
func (in *auditInstance) tamper(t *testing.T, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	var conn *sql.Conn
	if in.pg {
		db := in.open(t)
		defer db.Close()
		c, err := db.W.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conn = c
		if _, err := conn.ExecContext(ctx, "SET session_replication_role = replica"); err != nil {
			t.Fatal(err)
		}
	} else {
		raw, err := sql.Open("sqlite", filepath.Join(in.env["KITH_DATA_DIR"], store.SQLiteFile))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		c, err := raw.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conn = c
		// Through the normal path the database refuses.
		_, err = conn.ExecContext(ctx, "UPDATE audit_log SET detail = '{}' WHERE seq = 1")
		if err == nil || !strings.Contains(err.Error(), "audit_log is append-only") {
			t.Fatalf("UPDATE with the triggers in place: %v", err)
		}
		for _, trig := range []string{"audit_log_no_update", "audit_log_no_delete"} {
			if _, err := conn.ExecContext(ctx, "DROP TRIGGER "+trig); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("tamper: %s: %v", s, err)
		}
	}
}

func TestAuditCommands(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testAuditCommands(t, false)
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.EnvURL) == "" {
			t.Skipf("set %s to run on PostgreSQL", storetest.EnvURL)
		}
		t.Parallel()
		testAuditCommands(t, true)
	})
}

func testAuditCommands(t *testing.T, pg bool) {
	in := newAuditInstance(t, pg, 6)
	env := in.env
	var s *proc
	if !pg {
		// The commands work beside a running server.
		s = startServer(t, with(env, "KITH_ADMIN_PASSWORD", "a long enough password"))
	}

	r := runKith(t, env, "audit", "verify")
	if r.code != 0 {
		t.Fatalf("kith audit verify: %s", r)
	}
	oneLine(t, "kith audit verify", r.stdout, []string{"intact", "6 entries"}, nil)

	r = runKith(t, env, "audit", "checkpoint")
	var cp audit.Checkpoint
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &cp) != nil || cp.Seq != 6 || len(cp.Hash) != 64 || cp.At.IsZero() {
		t.Fatalf("kith audit checkpoint: %+v %s", cp, r)
	}
	cpFile := filepath.Join(t.TempDir(), "cp-6.json")
	r = runKith(t, env, "audit", "checkpoint", "--out", cpFile)
	if r.code != 0 || !strings.Contains(r.stdout, "seq 6") {
		t.Fatalf("kith audit checkpoint --out: %s", r)
	}
	if raw, err := os.ReadFile(cpFile); err != nil || !strings.Contains(string(raw), cp.Hash) {
		t.Fatalf("checkpoint file: %q %v", raw, err)
	}
	r = runKith(t, env, "audit", "checkpoint", "--out", cpFile)
	if r.code != 2 {
		t.Errorf("checkpoint over an existing file: want exit 2; got %s", r)
	}
	oneLine(t, "checkpoint over an existing file", r.stderr, []string{cpFile, "exists"}, nil)

	// Exports, filtered; each export is logged.
	r = runKith(t, env, "audit", "export", "--person", "p3", "--format", "jsonl")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"person":"p3"`) || !strings.Contains(r.stdout, `"actor":"alice"`) {
		t.Errorf("kith audit export --person p3: %s", r)
	}
	r = runKith(t, env, "audit", "export", "--actor", "user:alice")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != 0 || err != nil || len(recs) != 4 || recs[0][0] != "seq" || recs[1][8] != `客服, "售后"` {
		t.Errorf("kith audit export --actor user:alice: %v %q\n%s", err, recs, r)
	}
	r = runKith(t, env, "audit", "export", "--action", "audit.*", "--since", "2000-01-01T00:00:00+08:00", "--format", "jsonl")
	if r.code != 0 || strings.Count(r.stdout, `"action":"audit.export"`) != 2 || !strings.Contains(r.stdout, `"person":"p3"`) {
		t.Errorf("the exports should be in the log: %s", r)
	}
	r = runKith(t, env, "audit", "verify", "--checkpoint", cpFile)
	if r.code != 0 {
		t.Fatalf("kith audit verify --checkpoint: %s", r)
	}
	oneLine(t, "verify --checkpoint", r.stdout, []string{"intact", "9 entries", "extends the checkpoint at seq 6"}, nil)

	// Someone edits an entry in the database: verify names it.
	in.tamper(t, `UPDATE audit_log SET purpose = 'marketing' WHERE seq = 3`)
	r = runKith(t, env, "audit", "verify")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("verify after tampering: want exit 1; got %s", r)
	}
	oneLine(t, "verify after tampering", r.stderr, []string{"kith audit:", "broken at seq 3", "changed"}, []string{"kith: conflict"})
	r = runKith(t, env, "audit", "checkpoint")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("checkpoint of a broken log: want exit 1; got %s", r)
	}
	oneLine(t, "checkpoint of a broken log", r.stderr, []string{"no checkpoint", "seq 3"}, nil)

	if s != nil {
		if code := s.sigterm(t); code != 0 {
			t.Errorf("SIGTERM: exit %d", code)
		}
	}
}

// TestAuditTruncation: entries deleted from the end leave a whole chain;
// the checkpoint taken before catches it.
func TestAuditTruncation(t *testing.T) {
	t.Parallel()
	in := newAuditInstance(t, false, 8)
	cpFile := filepath.Join(t.TempDir(), "cp.json")
	if r := runKith(t, in.env, "audit", "checkpoint", "--out", cpFile); r.code != 0 {
		t.Fatalf("kith audit checkpoint: %s", r)
	}
	in.tamper(t, "DELETE FROM audit_log WHERE seq > 5")
	if r := runKith(t, in.env, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "5 entries") {
		t.Errorf("verify without the checkpoint cannot see a cut: %s", r)
	}
	r := runKith(t, in.env, "audit", "verify", "--checkpoint", cpFile)
	if r.code != 1 {
		t.Errorf("verify --checkpoint after truncation: want exit 1; got %s", r)
	}
	oneLine(t, "verify --checkpoint after truncation", r.stderr, []string{"seq 6", "truncated", "6 to 8 were removed"}, nil)
}

func TestAuditBadUsage(t *testing.T) {
	t.Parallel()
	in := newAuditInstance(t, false, 1)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "not.json")
	os.WriteFile(notJSON, []byte("seq=3"), 0o644)
	badHash := filepath.Join(dir, "bad.json")
	os.WriteFile(badHash, []byte(`{"seq":3,"hash":"xyz"}`), 0o644)
	extra := filepath.Join(dir, "extra.json")
	os.WriteFile(extra, []byte(`{"seq":3,"hash":"`+strings.Repeat("a", 64)+`","signed":true}`), 0o644)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"audit"}, []string{"verify, checkpoint or export"}},
		{[]string{"audit", "erase"}, []string{`"erase"`, "verify, checkpoint or export"}},
		{[]string{"audit", "verify", "--nope"}, []string{"nope", `"kith audit verify -h"`}},
		{[]string{"audit", "verify", "--checkpoint", filepath.Join(dir, "missing.json")}, []string{"--checkpoint", "missing.json"}},
		{[]string{"audit", "verify", "--checkpoint", notJSON}, []string{"--checkpoint", "not a checkpoint"}},
		{[]string{"audit", "verify", "--checkpoint", badHash}, []string{"--checkpoint", "64 lowercase hex"}},
		{[]string{"audit", "verify", "--checkpoint", extra}, []string{"--checkpoint", "signed"}},
		{[]string{"audit", "export", "--format", "xml"}, []string{"--format", `"xml"`, "csv or jsonl"}},
		{[]string{"audit", "export", "--since", "yesterday"}, []string{"--since", `"yesterday"`, "RFC 3339"}},
		{[]string{"audit", "export", "--since", "2025-06-02T00:00:00Z", "--until", "2025-06-01T00:00:00Z"}, []string{"--until", "after --since"}},
		{[]string{"audit", "export", "--action", "PII.READ"}, []string{`"PII.READ"`, "pii.read"}},
		{[]string{"audit", "export", "--person", strings.Repeat("p", 201)}, []string{"--person", "200"}},
		{[]string{"audit", "export", "--actor", "alice\x1b[2J"}, []string{"--actor", "control characters"}},
	}
	for _, tc := range tests {
		r := runKith(t, in.env, tc.args...)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("kith %s: want exit 2 and nothing on stdout; got %s", strings.Join(tc.args, " "), r)
		}
		oneLine(t, "kith "+strings.Join(tc.args, " "), r.stderr, tc.want, nil)
	}
	// Nothing but the one entry: refused exports are not logged.
	if r := runKith(t, in.env, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "intact: 1 entry (seq 1–1)") {
		t.Errorf("kith audit verify: %s", r)
	}
	// A data folder without a database.
	r := runKith(t, kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "none")), "audit", "verify")
	if r.code != 1 {
		t.Errorf("verify without a database: want exit 1; got %s", r)
	}
	oneLine(t, "verify without a database", r.stderr, []string{"holds no Kith database"}, nil)
}
