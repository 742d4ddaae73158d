package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/secrets"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// keysInstance is a served instance (secrets file, fingerprint, recorded
// key) holding n customers, each with a phone, an e-mail and an address,
// and a sealed WeCom secret.
type keysInstance struct {
	env map[string]string
	n   int
}

func (in *keysInstance) cfg() *config.Config {
	return &config.Config{DataDir: in.env["KITH_DATA_DIR"], DatabaseURL: in.env["KITH_DATABASE_URL"], LogFormat: "text", NodeName: "t"}
}

func (in *keysInstance) open(t *testing.T, purpose app.Purpose) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), in.cfg(), slog.New(slog.NewTextHandler(io.Discard, nil)), purpose)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newKeysInstance(t *testing.T, pg bool, n int) *keysInstance {
	t.Helper()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	if pg {
		env = with(env, "KITH_DATABASE_URL", storetest.NewPostgresDatabase(t))
	}
	in := &keysInstance{env: env, n: n}
	a := in.open(t, app.ForServe)
	defer a.Close()
	p, err := protect.FromKeys(a.Keys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		for i := 0; i < n; i++ {
			id, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: fmt.Sprintf("wm%03d", i), Name: "客户", Type: 1}, now)
			if err != nil {
				return err
			}
			phone, _ := p.Seal(protect.FieldPhone, fmt.Sprintf("138%08d", i))
			if err := customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", AddedAt: now, Phones: []protect.Sealed{phone}}, now); err != nil {
				return err
			}
			mail, _ := p.Seal(protect.FieldEmail, fmt.Sprintf("u%d@example.com", i))
			addr, _ := p.Seal(protect.FieldAddress, fmt.Sprintf("浙江省杭州市西湖区文三路%d号", i))
			if err := customer.SetProtected(ctx, tx, id, protect.FieldEmail, []protect.Sealed{mail}, now); err != nil {
				return err
			}
			if err := customer.SetProtected(ctx, tx, id, protect.FieldAddress, []protect.Sealed{addr}, now); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value, updated_at) VALUES ('wecom.secret', $1, $2)", p.Sealer().Seal("s3cret", "settings:wecom.secret"), now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// values returns how many sealed values are 3n+1 and opens every one with
// the instance's keys, failing the test on any it cannot open; it returns
// the count under each key id.
func (in *keysInstance) readAll(t *testing.T) map[string]int {
	t.Helper()
	a := in.open(t, app.ForCommand)
	defer a.Close()
	p, err := protect.FromKeys(a.Keys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	byKey := map[string]int{}
	d := customer.NewDirectory(a.DB)
	for i := 0; i < in.n; i++ {
		c, err := d.Get(ctx, fmt.Sprintf("wm%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		ph := c.Follows[0].Phones[0]
		if v, err := p.Open(protect.FieldPhone, ph); err != nil || v != fmt.Sprintf("138%08d", i) {
			t.Fatalf("phone %d: %q %v", i, v, err)
		}
		byKey[ph.KeyID]++
		vals, err := customer.Protected(ctx, a.DB.R, c.ID)
		if err != nil || len(vals) != 2 {
			t.Fatalf("protected values of %d: %v %v", i, vals, err)
		}
		for _, v := range vals {
			if _, err := p.Open(v.Field, v.Sealed); err != nil {
				t.Fatalf("%s of %d: %v", v.Field, i, err)
			}
			byKey[v.KeyID]++
		}
	}
	var secret string
	a.DB.R.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'wecom.secret'").Scan(&secret)
	if v, err := p.Sealer().Open(secret, "settings:wecom.secret"); err != nil || v != "s3cret" {
		t.Fatalf("WeCom secret: %v", err)
	}
	byKey[fieldcrypt.SealedWith(secret)]++
	return byKey
}

// noKeyShown fails when any of the instance's keys appears in out.
func (in *keysInstance) noKeyShown(t *testing.T, what, out string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(in.env["KITH_DATA_DIR"], secrets.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var k secrets.Keys
	json.Unmarshal(b, &k)
	for _, key := range append(k.FieldKeys(), k.Session, k.BlindIndex) {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(key), fmt.Sprintf("%x", key)} {
			if strings.Contains(out, enc) {
				t.Fatalf("%s printed a key", what)
			}
		}
	}
}

type keyList struct {
	FieldKeys []protect.KeyState `json:"field_keys"`
}

func (in *keysInstance) list(t *testing.T) keyList {
	t.Helper()
	r := runKith(t, in.env, "keys", "list", "--json")
	if r.code != 0 {
		t.Fatalf("kith keys list: %s", r)
	}
	in.noKeyShown(t, "keys list", r.stdout+r.stderr)
	var l keyList
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("keys list --json: %v\n%s", err, r.stdout)
	}
	return l
}

func TestKeysRotation(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testKeysRotation(t, false)
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.EnvURL) == "" {
			t.Skipf("set %s to run on PostgreSQL", storetest.EnvURL)
		}
		t.Parallel()
		testKeysRotation(t, true)
	})
}

func testKeysRotation(t *testing.T, pg bool) {
	in := newKeysInstance(t, pg, 12)
	total := 3*in.n + 1
	l := in.list(t)
	if len(l.FieldKeys) != 1 || !l.FieldKeys[0].Current || l.FieldKeys[0].Values != int64(total) {
		t.Fatalf("keys before: %+v", l.FieldKeys)
	}
	oldID := l.FieldKeys[0].ID

	r := runKith(t, in.env, "keys", "add")
	if r.code != 0 || !strings.Contains(r.stdout, "kith keys rotate") {
		t.Fatalf("kith keys add: %s", r)
	}
	in.noKeyShown(t, "keys add", r.stdout+r.stderr)
	l = in.list(t)
	if len(l.FieldKeys) != 2 || !l.FieldKeys[0].Current || l.FieldKeys[0].Values != 0 || l.FieldKeys[1].ID != oldID || l.FieldKeys[1].Values != int64(total) {
		t.Fatalf("keys after add: %+v", l.FieldKeys)
	}
	newID := l.FieldKeys[0].ID
	if !strings.Contains(r.stdout, newID) {
		t.Fatalf("add does not name the new key %s: %s", newID, r)
	}

	// The old key cannot be retired while values use it.
	r = runKith(t, in.env, "keys", "retire", oldID)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("%d values", total)) || !strings.Contains(r.stderr, "kith keys rotate") {
		t.Fatalf("retire in use: %s", r)
	}

	r = runKith(t, in.env, "keys", "rotate", "--batch", "5", "--json")
	if r.code != 0 || !strings.Contains(r.stderr, "re-sealed") {
		t.Fatalf("kith keys rotate: %s", r)
	}
	in.noKeyShown(t, "keys rotate", r.stdout+r.stderr)
	var sum struct {
		CurrentKey     string `json:"current_key"`
		Complete       bool   `json:"complete"`
		Resealed       int    `json:"resealed"`
		AlreadyCurrent int    `json:"already_current"`
		Failed         int    `json:"failed"`
		Batches        int    `json:"batches"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("rotate --json: %v\n%s", err, r.stdout)
	}
	if sum.CurrentKey != newID || !sum.Complete || sum.Resealed != total || sum.AlreadyCurrent != 0 || sum.Failed != 0 || sum.Batches < total/5 {
		t.Fatalf("summary %+v", sum)
	}
	if byKey := in.readAll(t); byKey[newID] != total {
		t.Fatalf("after rotation: %v", byKey)
	}
	// Idempotent.
	r = runKith(t, in.env, "keys", "rotate")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("Summary: 0 values re-sealed, %d already current, 0 failed", total)) {
		t.Fatalf("second rotate: %s", r)
	}

	r = runKith(t, in.env, "keys", "retire", "--log-level", "warn", oldID) // flags may come first
	if r.code != 0 || !strings.Contains(r.stdout, "Removed it from "+secrets.FileName) {
		t.Fatalf("retire: %s", r)
	}
	l = in.list(t)
	if len(l.FieldKeys) != 2 || l.FieldKeys[1].ID != oldID || l.FieldKeys[1].RetiredAt == nil || l.FieldKeys[1].Loaded {
		t.Fatalf("keys after retire: %+v", l.FieldKeys)
	}
	// The instance starts without the old key and every value still opens.
	a := in.open(t, app.ForServe)
	if got := a.Keys.FieldKeyIDs(); len(got) != 1 || got[0] != newID {
		t.Fatalf("field keys after retire: %v", got)
	}
	a.Close()
	in.readAll(t)
	// Every keys command left its trace in the audit log.
	r = runKith(t, in.env, "audit", "export", "--format", "jsonl")
	for _, action := range []string{"field_key.add", "field_key.rotate", "field_key.retire"} {
		if !strings.Contains(r.stdout, action) {
			t.Errorf("no %s in the audit log", action)
		}
	}
}

// syncWriter calls fn on every write, under a lock.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string)
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.fn != nil {
		w.fn(string(p))
	}
	return len(p), nil
}

// TestKeysRotateStopped: a rotation stopped between two batches (the
// signal that cancels run's context) exits 1 saying so, leaves every value
// readable, and the next run finishes it.
func TestKeysRotateStopped(t *testing.T) {
	t.Parallel()
	in := newKeysInstance(t, false, 10)
	total := 3*in.n + 1
	if r := runKith(t, in.env, "keys", "add"); r.code != 0 {
		t.Fatalf("kith keys add: %s", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncWriter{fn: func(s string) {
		if strings.Contains(s, "so far") {
			cancel() // after the first committed batch
		}
	}}
	var stderr bytes.Buffer
	getenv := func(k string) string { return in.env[k] }
	if code := run(ctx, []string{"keys", "rotate", "--batch", "4"}, stdout, &stderr, getenv); code != 1 {
		t.Fatalf("stopped rotate: exit %d\n%s\n%s", code, stdout.buf.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "run kith keys rotate again") || !strings.Contains(stdout.buf.String(), "Summary: 4 values re-sealed") {
		t.Fatalf("stopped rotate said:\n%s\n%s", stdout.buf.String(), stderr.String())
	}
	byKey := in.readAll(t)
	l := in.list(t)
	newID, oldID := l.FieldKeys[0].ID, l.FieldKeys[1].ID
	if byKey[newID] != 4 || byKey[oldID] != total-4 {
		t.Fatalf("after the stop: %v", byKey)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"keys", "rotate", "--batch", "4"}, &out, &errOut, getenv); code != 0 {
		t.Fatalf("resumed rotate: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("Summary: %d values re-sealed, 4 already current, 0 failed", total-4)) {
		t.Fatalf("resumed rotate said: %s", out.String())
	}
	if byKey := in.readAll(t); byKey[newID] != total {
		t.Fatalf("after the resumed run: %v", byKey)
	}
}

func TestKeysBadUsage(t *testing.T) {
	t.Parallel()
	in := newKeysInstance(t, false, 1)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys"}, 2, "list, add, rotate or retire"},
		{[]string{"keys", "turn"}, 2, `"turn"`},
		{[]string{"keys", "retire"}, 2, "KEY_ID"},
		{[]string{"keys", "retire", "zzzzzzzz"}, 1, `no field key has the id "zzzzzzzz"`},
		{[]string{"keys", "rotate", "--batch", "0"}, 2, "--batch is 0"},
		{[]string{"keys", "retire", in.list(t).FieldKeys[0].ID}, 1, "is the current key"},
	} {
		r := runKith(t, in.env, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("kith %s: want exit %d and %q; got %s", strings.Join(c.args, " "), c.code, c.want, r)
		}
	}
	// Keys from the environment are added there, not by kith.
	env := with(kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "env")),
		secrets.EnvSessionKey, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)),
		secrets.EnvFieldKey, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)),
		secrets.EnvBlindIndexKey, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)))
	if r := runKith(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %s", r)
	}
	r := runKith(t, env, "keys", "add")
	if r.code != 2 || !strings.Contains(r.stderr, secrets.EnvPreviousFieldKeys) {
		t.Errorf("keys add with keys in the environment: %s", r)
	}
}
