package jst_test

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

type fixture struct {
	db    *store.DB
	p     *protect.Protector
	clock *kith.FixedClock
	s     *jst.Service
	sb    *jsttest.Server
}

func newFixture(t *testing.T, db *store.DB, now time.Time) *fixture {
	t.Helper()
	p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := kith.NewFixedClock(now)
	sb := jsttest.Start(t)
	sb.Now = clock.Now
	os := orders.NewStore(db, p, clock)
	os.Location = jst.Beijing
	return &fixture{db: db, p: p, clock: clock, sb: sb,
		s: &jst.Service{DB: db, Sealer: p.Sealer(), Orders: os, Clock: clock, Node: "node-a", Now: clock.Now}}
}

func (f *fixture) sandboxSettings() jst.Settings {
	return jst.Settings{Enabled: true, BaseURL: f.sb.URL, AppKey: jsttest.AppKey, AppSecret: jsttest.AppSecret, AccessToken: jsttest.AccessToken}
}

func TestSettingsSealedAndChecked(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC))
		st := f.sandboxSettings()
		st.Interval = 30 * time.Minute
		st.Shops = map[int64]string{10: "taobao:天猫旗舰店"}
		if err := f.s.Save(ctx, st, "admin"); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.AppSecret != jsttest.AppSecret || got.AccessToken != jsttest.AccessToken || !got.Enabled || got.Interval != 30*time.Minute ||
			got.Shops[10] != "taobao:天猫旗舰店" || got.BaseURL != f.sb.URL {
			t.Fatalf("read back %+v", got)
		}
		// The secrets are sealed at rest.
		rows, _ := db.R.Query(`SELECT key, value FROM settings WHERE key LIKE 'jst.%'`)
		for rows.Next() {
			var k, v string
			rows.Scan(&k, &v)
			if strings.Contains(v, jsttest.AppSecret) || strings.Contains(v, jsttest.AccessToken) {
				t.Errorf("%s holds a secret in plain text", k)
			}
		}
		rows.Close()
		// Empty secrets keep the stored ones; turning off needs none.
		st.AppSecret, st.AccessToken, st.Enabled = "", "", false
		if err := f.s.Save(ctx, st, "admin"); err != nil {
			t.Fatal(err)
		}
		if got, _ = f.s.Settings(ctx); got.AppSecret != jsttest.AppSecret || got.AccessToken != jsttest.AccessToken || got.Enabled {
			t.Fatalf("after a save without secrets %+v", got)
		}
		for _, c := range []struct {
			name string
			st   jst.Settings
			want string
		}{
			{"bad url", jst.Settings{BaseURL: "ftp://x"}, "API base URL"},
			{"interval", jst.Settings{Interval: time.Minute}, "interval"},
			{"spaces", jst.Settings{AppKey: "a b"}, "app key"},
			{"shops", jst.Settings{Shops: map[int64]string{1: "nocolon"}}, "shops"},
		} {
			if err := f.s.Save(ctx, c.st, "admin"); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), c.want) {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	})
}

func TestSettingsOnNeedsCredentials(t *testing.T) {
	err := jst.Settings{Enabled: true, AppKey: "k"}.Check()
	if kith.ErrorCode(err) != kith.EINVALID {
		t.Fatalf("on without a secret: %v", err)
	}
}

func TestParseShops(t *testing.T) {
	m, err := jst.ParseShops("# comment\n10 = Taobao: 天猫旗舰店 \n\n11=jd:京东（自营）店\n")
	if err != nil {
		t.Fatal(err)
	}
	if m[10] != "taobao:天猫旗舰店" || m[11] != "jd:京东(自营)店" || len(m) != 2 {
		t.Fatalf("%v", m)
	}
	if back, _ := jst.ParseShops(jst.FormatShops(m)); len(back) != 2 || back[11] != m[11] {
		t.Fatalf("round trip %v", back)
	}
	for _, bad := range []string{"10 taobao:x", "x = taobao:a", "10 = taobao", "10 = taobao:a\n10 = jd:b", "-1 = a:b"} {
		if _, err := jst.ParseShops(bad); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), "line") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestShopKeyFromSite(t *testing.T) {
	for _, c := range []struct {
		site, name string
		want       string
	}{
		{"淘宝天猫", "天猫旗舰店", "taobao:天猫旗舰店"}, {"京东", " 京东 自营店", "jd:京东 自营店"}, {"拼多多", "拼多多店", "pdd:拼多多店"},
		{"抖音", "抖音小店", "douyin:抖音小店"}, {"自有商城", "官网", "jst:官网"}, {"", "", "jst:42"},
	} {
		if got := jst.ShopKey(c.site, c.name, 42); got != c.want {
			t.Errorf("%s/%s: %s, want %s", c.site, c.name, got, c.want)
		}
	}
}

func TestTestConnection(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC))
		if _, err := f.s.Test(ctx, f.sandboxSettings()); err != nil {
			t.Fatalf("sandbox: %v", err)
		}
		st := f.sandboxSettings()
		st.AppSecret = "wrong"
		if _, err := f.s.Test(ctx, st); kith.ErrorCode(err) != kith.EUNAVAILABLE || !strings.Contains(kith.ErrorMessage(err), "app secret") {
			t.Fatalf("wrong secret: %v", err)
		}
		st = f.sandboxSettings()
		st.AccessToken = "old"
		if _, err := f.s.Test(ctx, st); !strings.Contains(kith.ErrorMessage(err), "access token") {
			t.Fatalf("wrong token: %v", err)
		}
		st = f.sandboxSettings()
		st.AccessToken = ""
		if _, err := f.s.Test(ctx, st); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("no token: %v", err)
		}
	})
}

func TestPullRecordsRunsOneAtATime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
		f := newFixture(t, db, now)
		if _, err := f.s.Pull(ctx, "console", "admin"); kith.ErrorCode(err) != kith.EUNAVAILABLE {
			t.Fatalf("not set up: %v", err)
		}
		if due, err := f.s.Due(ctx); err != nil || due {
			t.Fatalf("due while off: %v %v", due, err)
		}
		st := f.sandboxSettings()
		st.Interval = 10 * time.Minute
		if err := f.s.Save(ctx, st, "admin"); err != nil {
			t.Fatal(err)
		}
		f.sb.Seed(1, 40, now)
		if due, err := f.s.Due(ctx); err != nil || !due {
			t.Fatalf("not due before the first run: %v %v", due, err)
		}
		run, err := f.s.Pull(ctx, "schedule", "")
		if err != nil {
			t.Fatal(err)
		}
		if run.Result.Orders != 40 || run.Result.Inserted+run.Result.Conflicts+run.Rejected != 40 || run.Result.Inserted == 0 || !run.Cursor.Equal(now.Truncate(time.Second)) {
			t.Fatalf("run %+v", run)
		}
		if due, _ := f.s.Due(ctx); due {
			t.Fatal("due right after a run")
		}
		f.clock.Add(10 * time.Minute)
		if due, _ := f.s.Due(ctx); !due {
			t.Fatal("not due after the interval")
		}
		// Another node's pull is running: this one is refused.
		if _, err := db.W.Exec(`INSERT INTO erp_runs (connector, trigger, node, started_at) VALUES ('jst', 'schedule', 'node-b', $1)`, now.Add(9*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Pull(ctx, "console", "admin"); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Fatalf("second runner: %v", err)
		}
		// Unless that node stopped long ago.
		f.clock.Add(110 * time.Minute)
		run, err = f.s.Pull(ctx, "console", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if run.Result.Inserted != 0 || run.Result.Orders != 0 {
			t.Fatalf("a pull with nothing new %+v", run)
		}
		runs, err := f.s.Runs(ctx, 10)
		if err != nil || len(runs) != 3 {
			t.Fatalf("runs %v %v", runs, err)
		}
		if runs[0].By != "admin" || runs[0].Trigger != "console" || runs[1].Node != "node-b" || !strings.Contains(runs[1].Error, "interrupted") ||
			runs[2].Result.Orders != 40 || runs[2].FinishedAt.IsZero() || runs[2].Node != "node-a" {
			t.Fatalf("runs %+v", runs)
		}
		// A refusal is recorded in the run with what to fix.
		f.sb.SetAccessToken("rotated")
		f.clock.Add(time.Hour)
		if _, err := f.s.Pull(ctx, "schedule", ""); kith.ErrorCode(err) != kith.EUNAVAILABLE {
			t.Fatalf("refused: %v", err)
		}
		runs, _ = f.s.Runs(ctx, 1)
		if !strings.Contains(runs[0].Error, "access token") || runs[0].FinishedAt.IsZero() {
			t.Fatalf("failed run %+v", runs[0])
		}
	})
}

// addCustomer adds a customer whose member noted phone.
func addCustomer(t *testing.T, f *fixture, externalUserID, phone string, now time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := customer.ApplyMember(ctx, tx, customer.Member{UserID: "zhangsan", Name: "张三", Status: 1}, now); err != nil {
			return err
		}
		var err error
		if id, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: externalUserID, Name: "客户", Type: 1}, now); err != nil {
			return err
		}
		s, err := f.p.Seal(protect.FieldPhone, phone)
		if err != nil {
			return err
		}
		return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", AddedAt: now, Phones: []protect.Sealed{s}}, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
