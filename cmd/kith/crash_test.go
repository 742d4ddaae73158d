package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// The crash test's knobs, from the environment: how many customers the
// campaign goes to, how many times Kith is killed, and the seed of the
// kill points (a failure logs the seed; run again with it).
const (
	crashText          = "春季新品到店，回复T退订" // as testdata/crashseed writes it
	envCrashRecipients = "KITH_CRASH_RECIPIENTS"
	envCrashKills      = "KITH_CRASH_KILLS"
	envCrashSeed       = "KITH_CRASH_SEED"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestCrashCampaignKill9 is issue 7's crash test: a WeCom group-message
// campaign to 10,000 customers, with `kith serve` killed (SIGKILL, as
// kill -9) at random points and started again until the campaign is done.
// The WeCom sandbox runs in the test process, so it outlives every kill and
// is the ground truth of what was sent. Afterwards every member confirms
// every task and Kith reads the results; then nobody is in two tasks or
// received the message twice, every customer of the audience has exactly
// one delivery row in a final state (delivered, or refused, failed or
// unknown with a reason), and the rows agree with the sandbox: a customer
// in a task is recorded as sent with that task's id, one in no task is not.
func TestCrashCampaignKill9(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crashCampaign(t, 5, nil) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.EnvURL) == "" {
			t.Skipf("set %s to run the crash test on PostgreSQL as well", storetest.EnvURL)
		}
		url := storetest.NewPostgresDatabase(t)
		// Fewer kills on PostgreSQL: both runs together stay within a few
		// minutes in CI.
		crashCampaign(t, 3, []string{"KITH_DATABASE_URL", url, "KITH_SESSION_KEY", newKey(), "KITH_FIELD_KEY", newKey(), "KITH_BLIND_INDEX_KEY", newKey()})
	})
}

func crashCampaign(t *testing.T, kills int, extra []string) {
	n := envInt(envCrashRecipients, 10000)
	kills = envInt(envCrashKills, kills)
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv(envCrashSeed), 10, 64); err == nil {
		seed = v
	}
	t.Logf("%d customers, %d kills, seed %d (%s=%d repeats the kill points)", n, kills, seed, envCrashSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6372617368))

	sb, err := wecomtest.New(wecomtest.Options{CallbackToken: wecomtest.TestCallbackToken, EncodingAESKey: wecomtest.TestEncodingAESKey})
	if err != nil {
		t.Fatal(err)
	}
	wecomtest.MustSeed(t, sb, crashSandboxSeed, wecomtest.SeedOptions{Customers: n})
	ts := httptest.NewServer(sb.Handler())
	t.Cleanup(ts.Close)

	env := kithEnv(t, append([]string{
		"KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"), "KITH_ADMIN_PASSWORD", "correct horse battery",
		"KITH_WECOM_API_BASE", ts.URL, "KITH_WECOM_CORP_ID", sb.CorpID(), "KITH_WECOM_SECRET", sb.Secret(),
		"KITH_WECOM_CALLBACK_TOKEN", wecomtest.TestCallbackToken, "KITH_WECOM_CALLBACK_AES_KEY", wecomtest.TestEncodingAESKey,
	}, extra...)...)

	// The instance is made by a first start. The company (seeded again
	// from the same seed), the consent and the campaign are written by
	// crashseed, built without -race: kith sync of 10,000 customers takes
	// most of a minute on a busy machine (and is tested elsewhere), and the
	// pure-Go SQLite is many times slower in a -race test process.
	setup := time.Now()
	seeder := buildCrashSeed(t)
	first := startServer(t, env)
	if code := first.sigterm(t); code != 0 {
		t.Fatalf("first server: exit %d", code)
	}
	r := runCrashSeed(t, seeder, env, "prepare", "--seed", strconv.Itoa(crashSandboxSeed), "--customers", strconv.Itoa(n))
	id, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
	if err != nil {
		t.Fatalf("crashseed prepare printed %q, not a campaign id", r)
	}
	w := openCrashWorld(t, env)
	t.Logf("set up in %s", time.Since(setup).Round(time.Millisecond))

	start := time.Now()
	var lastBatches int
	for i := 0; i < kills; i++ {
		p := startKith(t, fmt.Sprintf("server %d", i), with(env, "KITH_ADDR", freePort(t)), "serve")
		if i > 0 {
			// Wait until this life has done something (planned, or marked
			// a batch), so each kill lands in the middle of the work.
			w.waitProgress(t, p, id, lastBatches)
		}
		time.Sleep(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.wait(t, stopTimeout)
		st := w.state(t, id)
		lastBatches = st.batches
		t.Logf("kill %d after %s: %s", i+1, time.Since(start).Round(time.Millisecond), st)
		if st.campaign == "done" {
			t.Logf("the campaign finished before kill %d", i+1)
			break
		}
	}
	last := startServer(t, with(env))
	st := w.waitDone(t, last, id)
	t.Logf("done %s after the first kill: %s", time.Since(start).Round(time.Millisecond), st)

	// Every member confirms every task; Kith reads what became of them.
	for _, m := range sb.GroupMsgs() {
		if !m.Confirmed && !m.Cancelled {
			if err := sb.MemberConfirmsGroupMsg(m.Creator, m.MsgID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if code := last.sigterm(t); code != 0 {
		t.Errorf("last server: exit %d", code)
	}
	runCrashSeed(t, seeder, env, "poll", "--campaign", strconv.FormatInt(id, 10), "--api-base", ts.URL, "--corp-id", sb.CorpID(), "--secret", sb.Secret())
	w.check(t, id, sb)
}

// crashSandboxSeed seeds the sandbox, in the test and in crashseed.
const crashSandboxSeed = 7

// buildCrashSeed builds testdata/crashseed (without -race).
func buildCrashSeed(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "crashseed")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./testdata/crashseed")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build crashseed: %v\n%s", err, b)
	}
	return out
}

// runCrashSeed runs crashseed and returns what it printed.
func runCrashSeed(t *testing.T, bin string, env map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = envList(env)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("crashseed %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// crashWorld is the test's own view of the instance's database.
type crashWorld struct {
	a *app.App
}

func openCrashWorld(t *testing.T, env map[string]string) *crashWorld {
	t.Helper()
	fs := flag.NewFlagSet("crash", flag.ContinueOnError)
	cfg, err := config.Bind(fs, config.Data).Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.ForCommand)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &crashWorld{a: a}
}

func queryStrings(t *testing.T, db *store.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.R.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// crashState is where a campaign stands.
type crashState struct {
	campaign   string
	planned    bool
	batches    int
	byState    map[string]int
	inDoubt    int
	deliveries int
}

func (s crashState) String() string {
	return fmt.Sprintf("campaign %s (planned %v), %d batches (%d in doubt), deliveries %v", s.campaign, s.planned, s.batches, s.inDoubt, s.byState)
}

func (w *crashWorld) state(t *testing.T, id int64) crashState {
	t.Helper()
	ctx := context.Background()
	db := w.a.DB
	var st crashState
	var planned sql.NullTime
	if err := db.R.QueryRowContext(ctx, "SELECT state, planned_at FROM campaigns WHERE id = $1", id).Scan(&st.campaign, &planned); err != nil {
		t.Fatal(err)
	}
	st.planned = planned.Valid
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'calling' THEN 1 ELSE 0 END), 0) FROM campaign_batches WHERE campaign_id = $1",
		id).Scan(&st.batches, &st.inDoubt); err != nil {
		t.Fatal(err)
	}
	st.byState = map[string]int{}
	rows, err := db.R.QueryContext(ctx, "SELECT state, COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1 GROUP BY state", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var k int
		if err := rows.Scan(&s, &k); err != nil {
			t.Fatal(err)
		}
		st.byState[s] = k
		st.deliveries += k
	}
	return st
}

// Bounds on the waits of the crash test. They only keep a broken run from
// hanging: a campaign that makes no progress for this long after a restart
// is stuck.
const (
	crashProgressTimeout = 3 * time.Minute
	crashDoneTimeout     = 5 * time.Minute
)

// waitProgress waits until the server p has planned the campaign or marked
// a batch more than the batches before.
func (w *crashWorld) waitProgress(t *testing.T, p *proc, id int64, batches int) {
	t.Helper()
	deadline := time.Now().Add(crashProgressTimeout)
	for {
		var state string
		var n int
		if err := w.a.DB.R.QueryRowContext(context.Background(), "SELECT c.state, (SELECT COUNT(*) FROM campaign_batches b WHERE b.campaign_id = c.id) FROM campaigns c WHERE c.id = $1",
			id).Scan(&state, &n); err != nil {
			t.Fatal(err)
		}
		if n > batches || state != "running" && state != "scheduled" {
			return
		}
		if p.exited() {
			t.Fatalf("%s exited by itself (%s)\nstderr:\n%s", p.name, p.cmd.ProcessState, p.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress within %s of a restart: %s\nstderr:\n%s", crashProgressTimeout, w.state(t, id), p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *crashWorld) waitDone(t *testing.T, p *proc, id int64) crashState {
	t.Helper()
	deadline := time.Now().Add(crashDoneTimeout)
	for {
		st := w.state(t, id)
		if st.campaign != "running" && st.campaign != "scheduled" {
			return st
		}
		if p.exited() {
			t.Fatalf("%s exited by itself (%s)\nstderr:\n%s", p.name, p.cmd.ProcessState, p.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the campaign did not finish within %s of the last start: %s", crashDoneTimeout, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// check compares the campaign's deliveries with the sandbox.
func (w *crashWorld) check(t *testing.T, id int64, sb *wecomtest.Sandbox) {
	t.Helper()
	ctx := context.Background()
	// The sandbox: who is in which task of this campaign's content.
	taskOf := map[string]string{}
	for _, m := range sb.GroupMsgs() {
		if m.Text != crashText {
			continue
		}
		for _, ext := range m.Recipients {
			if prev, ok := taskOf[ext]; ok {
				t.Errorf("%s is in two tasks, %s and %s", ext, prev, m.MsgID)
			}
			taskOf[ext] = m.MsgID
			if got := sb.GroupMsgsReceived(ext); got > 1 {
				t.Errorf("%s received %d group messages", ext, got)
			}
		}
	}
	// The database: one row per customer of the audience.
	audience := queryStrings(t, w.a.DB, "SELECT external_userid FROM customers WHERE EXISTS (SELECT 1 FROM follows f WHERE f.customer_id = customers.id) ORDER BY external_userid")
	rows, err := w.a.DB.R.QueryContext(ctx, `SELECT c.external_userid, d.state, d.reason, d.provider_id FROM campaign_deliveries d
		JOIN customers c ON c.id = d.customer_id WHERE d.campaign_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct{ state, reason, provider string }
	got := map[string]row{}
	byState := map[string]int{}
	for rows.Next() {
		var ext string
		var r row
		if err := rows.Scan(&ext, &r.state, &r.reason, &r.provider); err != nil {
			t.Fatal(err)
		}
		got[ext] = r
		byState[r.state]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(audience) {
		t.Errorf("%d delivery rows for an audience of %d", len(got), len(audience))
	}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, ext := range audience {
		r, ok := got[ext]
		task, sent := taskOf[ext]
		switch {
		case !ok:
			fail("%s of the audience has no delivery row", ext)
		case sent && r.state != campaign.DeliveryDelivered && r.state != campaign.DeliveryFailed:
			fail("%s is in task %s but its delivery is %s (%s)", ext, task, r.state, r.reason)
		case sent && r.provider != task:
			fail("%s is in task %s but its delivery names %q", ext, task, r.provider)
		case sent && r.state == campaign.DeliveryFailed && r.reason == "":
			fail("%s failed without a reason", ext)
		case !sent && r.state != campaign.DeliveryRefused && r.state != campaign.DeliveryFailed && r.state != campaign.DeliveryUnknown:
			fail("%s is in no task but its delivery is %s", ext, r.state)
		case !sent && r.reason == "":
			fail("%s is %s without a reason", ext, r.state)
		}
	}
	if bad > 20 {
		t.Errorf("… and %d more", bad-20)
	}
	if byState[campaign.DeliveryDelivered] == 0 {
		t.Errorf("nothing was delivered: %v", byState)
	}
	t.Logf("%d tasks; deliveries %v", len(sb.GroupMsgs()), byState)
}
