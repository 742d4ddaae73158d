package wecomsync_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// sandboxEnv is the KITH_WECOM_* environment that points Kith at sb.
func sandboxEnv(sb *wecomtest.Server) map[string]string {
	return map[string]string{
		settings.EnvCorpID: sb.CorpID(), settings.EnvSecret: sb.Secret(), settings.EnvAPIBase: sb.URL,
		settings.EnvCallbackToken: wecomtest.TestCallbackToken, settings.EnvCallbackAESKey: wecomtest.TestEncodingAESKey,
	}
}

func newSyncer(t *testing.T, db *store.DB, sb *wecomtest.Server) *wecomsync.Syncer {
	t.Helper()
	env := sandboxEnv(sb)
	w, err := settings.WeComFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := fieldcrypt.New(bytes.Repeat([]byte{1}, 32))
	conn := wecomsync.NewConn(settings.NewStore(db, sealer, kith.SystemClock{}, w), &http.Client{}, quiet)
	s := wecomsync.NewSyncer(db, conn, kith.SystemClock{}, quiet)
	s.UseProtector(testProtector)
	return s
}

// testProtector seals the phone numbers the syncers of these tests store.
var testProtector = func() *protect.Protector {
	p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		panic(err)
	}
	return p
}()

// phonesOf opens a relation's sealed phone numbers, sorted.
func phonesOf(t *testing.T, f customer.Follow) []string {
	t.Helper()
	var out []string
	for _, s := range f.Phones {
		v, err := testProtector.Open(protect.FieldPhone, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// compare checks that Kith's view of every customer's active relations
// equals the sandbox's, and returns how many relations it compared.
func compare(t *testing.T, db *store.DB, sb *wecomtest.Server) int {
	t.Helper()
	ctx := context.Background()
	dir := customer.NewDirectory(db)
	n := 0
	for _, ext := range sb.CustomerIDs() {
		want := map[string]wecomtest.Relation{}
		for _, r := range sb.Relations(ext) {
			if !r.Half && !r.DeletedByCustomer {
				want[r.UserID] = r
			}
		}
		d, err := dir.Get(ctx, ext)
		if len(want) == 0 {
			continue
		}
		if err != nil {
			t.Fatalf("customer %s missing locally: %v", ext, err)
		}
		got := map[string]customer.Follow{}
		for _, f := range d.Follows {
			if f.Status == customer.FollowActive {
				got[f.MemberUserID] = f
			}
		}
		if len(got) != len(want) {
			t.Fatalf("customer %s: %d active relations locally, %d in WeCom", ext, len(got), len(want))
		}
		for member, r := range want {
			f := got[member]
			wantTags := slices.Clone(r.TagIDs)
			slices.Sort(wantTags)
			gotTags := slices.Clone(f.TagIDs)
			slices.Sort(gotTags)
			wantPhones := slices.Clone(r.RemarkMobiles)
			slices.Sort(wantPhones)
			if got := phonesOf(t, f); !slices.Equal(got, wantPhones) {
				t.Fatalf("relation %s/%s phones %v, WeCom has %v", ext, member, got, wantPhones)
			}
			if f.Remark != r.Remark || f.Description != r.Description || f.State != r.State || f.AddWay != r.AddWay || !slices.Equal(gotTags, wantTags) {
				t.Fatalf("relation %s/%s differs:\nkith  %+v\nwecom %+v", ext, member, f, r)
			}
			n++
		}
	}
	return n
}

func TestFullSyncMatchesWeCom(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sb := wecomtest.Start(t, wecomtest.Options{})
		wecomtest.MustSeed(t, sb.Sandbox, 7, wecomtest.SeedOptions{Customers: 400})
		s := newSyncer(t, db, sb)
		var progress int
		run, err := s.FullSync(ctx, "test", func(wecomsync.Run) { progress++ })
		if err != nil {
			t.Fatal(err)
		}
		sum := sb.Summary()
		if run.Status != "done" || run.Members != len(sb.Members()) || run.Relations != sum.Relations || progress < 2 {
			t.Fatalf("run %+v (progress %d), sandbox %d members %d relations", run, progress, len(sb.Members()), sum.Relations)
		}
		if n := compare(t, db, sb); n != sum.Relations-sum.OneWay-sum.HalfRelations {
			t.Fatalf("compared %d relations, sandbox has %d", n, sum.Relations)
		}
		groups, _ := customer.NewDirectory(db).TagGroups(ctx)
		tags := 0
		for _, g := range groups {
			tags += len(g.Tags)
		}
		if tags != sum.Tags || len(groups) != len(sum.TagGroups) {
			t.Fatalf("%d tags in %d groups locally, %d in %d in WeCom", tags, len(groups), sum.Tags, len(sum.TagGroups))
		}
		last, err := s.LastRun(ctx)
		if err != nil || last.ID != run.ID || last.Status != "done" {
			t.Fatalf("LastRun %+v %v", last, err)
		}

		// A relation removed while Kith heard nothing is ended by the next
		// full sync; everything else stays as it was.
		ext := sb.CustomerIDs()[3]
		member := sb.Relations(ext)[0].UserID
		if _, err := sb.MemberDeletesCustomer(ctx, member, ext); err != nil {
			t.Fatal(err)
		}
		run, err = s.FullSync(ctx, "test", nil)
		if err != nil || run.Ended != 1 {
			t.Fatalf("second sync: %+v %v", run, err)
		}
		compare(t, db, sb)

		// The numbers are stored sealed: no stored value holds them.
		rows, err := db.R.QueryContext(ctx, "SELECT phone_sealed FROM customer_phones")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var sealed []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			sealed = append(sealed, v)
		}
		if len(sealed) == 0 {
			t.Fatal("no phone numbers stored")
		}
		all := strings.Join(sealed, "\n")
		for _, ext := range sb.CustomerIDs() {
			for _, r := range sb.Relations(ext) {
				for _, m := range r.RemarkMobiles {
					if strings.Contains(all, m) {
						t.Fatalf("phone number %s stored in the clear", m)
					}
				}
			}
		}
	})
}

func TestOnlyOneSyncRuns(t *testing.T) {
	db := storetest.MustSQLite(t)
	sb := wecomtest.Start(t, wecomtest.Options{})
	s := newSyncer(t, db, sb)
	// A run another node started and has not finished blocks a second.
	storetest.MustExec(t, db, "INSERT INTO sync_runs (started_at, trigger) VALUES ($1, 'other')", kith.SystemClock{}.Now())
	if _, err := s.FullSync(context.Background(), "test", nil); kith.ErrorCode(err) != kith.ECONFLICT {
		t.Fatalf("second sync: %v, want ECONFLICT", err)
	}
	// One that died hours ago does not.
	storetest.MustExec(t, db, "UPDATE sync_runs SET started_at = $1", kith.SystemClock{}.Now().Add(-3*60*60*1e9))
	if _, err := s.FullSync(context.Background(), "test", nil); err != nil {
		t.Fatalf("after a stale run: %v", err)
	}
	var failed int
	db.R.QueryRow("SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error = 'interrupted'").Scan(&failed)
	if failed != 1 {
		t.Fatal("the stale run was not marked interrupted")
	}
}

func TestSyncWithoutSettings(t *testing.T) {
	db := storetest.MustSQLite(t)
	sealer, _ := fieldcrypt.New(bytes.Repeat([]byte{1}, 32))
	conn := wecomsync.NewConn(settings.NewStore(db, sealer, kith.SystemClock{}, settings.WeCom{}), &http.Client{}, quiet)
	s := wecomsync.NewSyncer(db, conn, kith.SystemClock{}, quiet)
	if _, err := s.FullSync(context.Background(), "test", nil); kith.ErrorCode(err) != kith.EUNAVAILABLE {
		t.Fatalf("sync without settings: %v", err)
	}
}
