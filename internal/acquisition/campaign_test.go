package acquisition_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/channel/wecomwelcome"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom/callback"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

var quiet = slog.New(slog.DiscardHandler)

// world is Kith and a sandbox corp on one simulated clock. Callbacks are
// verified, decrypted and applied as they arrive (Prepare, then the write
// in a transaction), and a cap reached refreshes the code at once, as the
// River job does; so the campaign sees what a customer would.
type world struct {
	db     *store.DB
	sb     *wecomtest.Server
	svc    *acquisition.Service
	syncer *wecomsync.Syncer
	clock  *kith.FixedClock
	mu     sync.Mutex
	caps   []int64
	errs   []error
}

func newWorld(t *testing.T, db *store.DB, at time.Time) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{db: db, clock: kith.NewFixedClock(at)}
	w.sb = wecomtest.Start(t, wecomtest.Options{Now: w.clock.Now})
	wecomtest.MustSeed(t, w.sb.Sandbox, 7, wecomtest.SeedOptions{Customers: 30})
	env := map[string]string{
		settings.EnvCorpID: w.sb.CorpID(), settings.EnvSecret: w.sb.Secret(), settings.EnvAPIBase: w.sb.URL,
		settings.EnvCallbackToken: wecomtest.TestCallbackToken, settings.EnvCallbackAESKey: wecomtest.TestEncodingAESKey,
	}
	ws, err := settings.WeComFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := fieldcrypt.New(bytes.Repeat([]byte{1}, 32))
	conn := wecomsync.NewConn(settings.NewStore(db, sealer, w.clock, ws), &http.Client{}, quiet)
	w.syncer = wecomsync.NewSyncer(db, conn, w.clock, quiet)
	// A member deleted by the customer is an opt-out: the ledger records it.
	w.syncer.UseLedger(consent.NewLedger(db.R, bytes.Repeat([]byte("k"), 32)))
	if _, err := w.syncer.FullSync(ctx, "test", nil); err != nil {
		t.Fatal(err)
	}
	g := gate.New(db, bytes.Repeat([]byte("k"), 32), w.clock)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	w.svc = acquisition.NewService(acquisition.Deps{DB: db, Platform: w.syncer.Acquisition(), Gate: g, Clock: w.clock, Location: loc,
		Welcomer: wecomwelcome.New(db, g, conn.Client, w.clock, quiet)})
	w.svc.OnCapReached = func(_ context.Context, _ store.Querier, id int64) error {
		w.caps = append(w.caps, id)
		return nil
	}
	w.syncer.OnArrival(w.svc.Arrive)
	w.syncer.OnMemberLeft(func(ctx context.Context, q store.Querier, userID string, at time.Time) error {
		_, err := acquisition.MemberLeft(ctx, q, userID, at)
		return err
	})
	crypto, err := callback.NewCrypto(wecomtest.TestCallbackToken, wecomtest.TestEncodingAESKey, w.sb.CorpID())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		body, _ := io.ReadAll(r.Body)
		plain, err := crypto.Open(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), body)
		if err == nil {
			err = w.apply(r.Context(), plain)
		}
		if err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, err)
			w.mu.Unlock()
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		rw.Write([]byte("success"))
	}))
	t.Cleanup(ts.Close)
	w.sb.SetCallbackURL(ts.URL)
	return w
}

func (w *world) apply(ctx context.Context, plain []byte) error {
	ev, err := callback.ParseEvent(plain)
	if err != nil {
		return err
	}
	write, err := w.syncer.Prepare(ctx, "wecom", ev.Kind(), plain)
	if err != nil || write == nil {
		return err
	}
	w.caps = w.caps[:0]
	if err := w.db.InTx(ctx, func(tx *sql.Tx) error { return write(ctx, tx) }); err != nil {
		return err
	}
	for _, id := range w.caps {
		if _, err := w.svc.Refresh(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		t.Fatalf("applying callbacks: %v", w.errs)
	}
}

func TestCampaignAcrossADay(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		// 2,000 customers in a day; half as many on PostgreSQL, where each
		// of the ~6 commits per customer waits for the disk.
		scans := 2000
		if db.Dialect == store.Postgres {
			scans = 1000
		}
		if testing.Short() {
			scans = 300
		}
		ctx := context.Background()
		loc, _ := time.LoadLocation("Asia/Shanghai")
		monday := time.Date(2026, 11, 30, 0, 0, 0, 0, loc)
		w := newWorld(t, db, monday.Add(7*time.Hour))
		var m []string
		for _, mem := range w.sb.Members() {
			m = append(m, mem.UserID)
		}
		tag := w.sb.TagGroups()[0].Tags[0].ID
		cap := scans * 3 / 20 // 300 of 2,000
		ch, err := w.svc.Create(ctx, acquisition.Input{Kind: acquisition.KindCode, Name: "门店海报", State: "poster-1130", SkipVerify: true, DailyCap: cap,
			Spec: acquisition.Spec{
				Members: []string{m[0]},
				Shifts: []acquisition.Shift{
					{Days: []time.Weekday{time.Monday}, From: 9 * 60, To: 12 * 60, Members: []string{m[1]}},
					{Days: []time.Weekday{time.Monday}, From: 12 * 60, To: 18 * 60, Members: []string{m[2], m[3]}},
				},
				Backups: []string{m[4]},
				Tags:    []string{tag},
				Welcome: &acquisition.Welcome{Text: "你好 {name}，欢迎光临！"},
			}})
		if err != nil {
			t.Fatal(err)
		}
		// The minute job: before each scan the clock moves and every code is
		// brought up to date.
		advance := func(at time.Time) {
			w.clock.Add(at.Sub(w.clock.Now()))
			if _, err := w.svc.RefreshAll(ctx); err != nil {
				t.Error(err)
			}
		}
		got, err := w.sb.RunCampaign(ctx, wecomtest.Campaign{ConfigID: ch.RemoteID, Scans: scans,
			From: monday.Add(8 * time.Hour), To: monday.Add(20 * time.Hour), Advance: advance, LoseEvery: 10, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		w.check(t)
		// Every customer landed on a member the plan had on the code then,
		// nobody but the backup went past the cap, and the backup only took
		// customers when everyone scheduled was at the cap.
		count := map[string]int{}
		lost := map[string]int{}
		for i, sc := range got {
			local := sc.At.In(loc)
			h := local.Hour()
			scheduled := []string{m[0]}
			switch {
			case h >= 9 && h < 12:
				scheduled = append(scheduled, m[1])
			case h >= 12 && h < 18:
				scheduled = append(scheduled, m[2], m[3])
			}
			if sc.UserID == m[4] {
				for _, s := range scheduled {
					if count[s] < cap {
						t.Fatalf("scan %d at %s went to the backup while %s had %d of %d", i, local.Format("15:04:05"), s, count[s], cap)
					}
				}
			} else if !slices.Contains(scheduled, sc.UserID) {
				t.Fatalf("scan %d at %s went to %s, not scheduled then (%v)", i, local.Format("15:04:05"), sc.UserID, scheduled)
			} else if count[sc.UserID] >= cap {
				t.Fatalf("scan %d went to %s past the cap", i, sc.UserID)
			}
			count[sc.UserID]++
			if sc.Lost {
				lost[sc.UserID]++
			}
		}
		for _, id := range m[:4] {
			if count[id] == 0 {
				t.Fatalf("%s never received a customer: %v", id, count)
			}
		}
		if count[m[4]] == 0 {
			t.Fatalf("the backup was never used: %v", count)
		}
		t.Logf("%d scans: %v", scans, count)
		// Exactly one welcome message each, with the name; arrival tags on WeCom and locally.
		sent := w.sb.WelcomesSent()
		if len(sent) != scans {
			t.Fatalf("%d welcome messages for %d customers", len(sent), scans)
		}
		byCode := map[string]wecomtest.WelcomeSent{}
		for _, s := range sent {
			byCode[s.Code] = s
		}
		dir := customer.NewDirectory(db)
		for i, sc := range got {
			ws, ok := byCode[sc.WelcomeCode]
			if !ok || ws.ExternalUserID != sc.ExternalUserID || !strings.HasPrefix(ws.Text, "你好 ") || strings.Contains(ws.Text, "{name}") {
				t.Fatalf("welcome of scan %d: %+v", i, ws)
			}
			if i%97 != 0 {
				continue
			}
			rels := w.sb.Relations(sc.ExternalUserID)
			if len(rels) != 1 || !slices.Contains(rels[0].TagIDs, tag) {
				t.Fatalf("tags on WeCom of %s: %+v", sc.ExternalUserID, rels)
			}
			d, err := dir.Get(ctx, sc.ExternalUserID)
			if err != nil || len(d.Follows) != 1 || !slices.Contains(d.Follows[0].TagIDs, tag) || d.Follows[0].State != "poster-1130" {
				t.Fatalf("local state of %s: %+v %v", sc.ExternalUserID, d, err)
			}
		}
		var sentRows int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM welcome_sends WHERE status = 'sent' AND channel_id = $1", ch.ID).Scan(&sentRows)
		if sentRows != scans {
			t.Fatalf("welcome_sends: %d sent", sentRows)
		}
		// Statistics match what the driver did.
		st, err := w.svc.Stats(ctx, ch.ID, monday, monday)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total.New != scans || st.Total.Lost != scans/10 || len(st.Members) != 5 {
			t.Fatalf("totals: %+v", st.Total)
		}
		for _, r := range st.Members {
			if r.New != count[r.Member] || r.Lost != lost[r.Member] {
				t.Fatalf("%s: %+v, driver %d new %d lost", r.Member, r, count[r.Member], lost[r.Member])
			}
		}
		// A link for SMS: customers who open it with customer_channel are
		// attributed to it and greeted with the default message.
		if err := w.svc.SetDefaultWelcome(ctx, &acquisition.Welcome{Text: "欢迎 {name}"}); err != nil {
			t.Fatal(err)
		}
		link, err := w.svc.Create(ctx, acquisition.Input{Kind: acquisition.KindLink, Name: "短信", State: "sms-双十一", Spec: acquisition.Spec{Members: []string{m[5], m[6]}}})
		if err != nil {
			t.Fatal(err)
		}
		taps, err := w.sb.RunCampaign(ctx, wecomtest.Campaign{LinkID: link.RemoteID, Channel: link.State, Scans: 40,
			From: monday.Add(20 * time.Hour), To: monday.Add(21 * time.Hour), Advance: advance, LoseEvery: 8, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		w.check(t)
		lst, err := w.svc.Stats(ctx, link.ID, monday, monday)
		if err != nil || lst.Total.New != 40 || lst.Total.Lost != 5 || len(lst.Members) != 2 || lst.Members[0].New != 20 {
			t.Fatalf("link statistics: %+v %v", lst, err)
		}
		if ws := w.sb.WelcomesSent(); len(ws) != scans+40 || !strings.HasPrefix(ws[len(ws)-1].Text, "欢迎 ") || ws[len(ws)-1].Code != taps[len(taps)-1].WelcomeCode {
			t.Fatalf("link welcomes: %d, last %+v", len(ws), ws[len(ws)-1])
		}
		// Applying the day's events again sends nothing twice.
		before := len(w.sb.WelcomesSent())
		for _, d := range w.sb.Deliveries()[len(w.sb.Deliveries())-20:] {
			if err := w.apply(ctx, d.Event.XML()); err != nil {
				t.Fatal(err)
			}
		}
		if len(w.sb.WelcomesSent()) != before {
			t.Fatal("applying events again sent welcome messages again")
		}
		// Late: a welcome code used after 20 s is recorded as a failure with the reason.
		w.sb.SetCallbackURL("")
		d, err := w.sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: m[0], State: "poster-1130"})
		if err != nil {
			t.Fatal(err)
		}
		w.clock.Add(21 * time.Second)
		if err := w.apply(ctx, d.Event.XML()); err != nil {
			t.Fatal(err)
		}
		var status, reason string
		var code int
		db.R.QueryRowContext(ctx, "SELECT status, errcode, reason FROM welcome_sends WHERE welcome_code = $1", d.Event.WelcomeCode).Scan(&status, &code, &reason)
		if status != "failed" || code != 41050 || !strings.Contains(reason, "20 seconds") {
			t.Fatalf("late welcome: %s %d %q", status, code, reason)
		}
		// A member leaves: off the plan and the code at once.
		if _, err := w.sb.MemberLeaves(ctx, m[0]); err != nil {
			t.Fatal(err)
		}
		w.sb.SetCallbackURL("")
		for _, d := range w.sb.Deliveries()[len(w.sb.Deliveries())-1:] {
			if err := w.apply(ctx, d.Event.XML()); err != nil {
				t.Fatal(err)
			}
		}
		w.svc.RefreshAll(ctx)
		after, _ := w.svc.Get(ctx, ch.ID)
		way, _ := w.sb.ContactWayByID(ch.RemoteID)
		if slices.Contains(after.AllMembers(), m[0]) || slices.Contains(way.Users, m[0]) || len(way.Users) == 0 {
			t.Fatalf("member who left: plan %v, code %v", after.AllMembers(), way.Users)
		}
	})
}
