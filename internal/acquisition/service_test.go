package acquisition_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// fakePlatform records what a Service asks of WeCom.
type fakePlatform struct {
	mu     sync.Mutex
	codes  map[string]acquisition.Remote
	calls  []string
	refuse error
	tags   map[string][]string
	nextID int
}

func newFake() *fakePlatform {
	return &fakePlatform{codes: map[string]acquisition.Remote{}, tags: map[string][]string{}}
}

func (f *fakePlatform) call(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.refuse
}
func (f *fakePlatform) create(kind string, r acquisition.Remote) (string, string, error) {
	if err := f.call("create " + kind); err != nil {
		return "", "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("%s%d", kind, f.nextID)
	f.codes[id] = r
	return id, "https://example.com/" + id, nil
}
func (f *fakePlatform) update(id string, r acquisition.Remote) error {
	if err := f.call("update " + id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[id] = r
	return nil
}
func (f *fakePlatform) del(id string) error {
	if err := f.call("delete " + id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.codes, id)
	return nil
}
func (f *fakePlatform) CreateCode(_ context.Context, r acquisition.Remote) (string, string, error) {
	return f.create("cw", r)
}
func (f *fakePlatform) UpdateCode(_ context.Context, id string, r acquisition.Remote) error {
	return f.update(id, r)
}
func (f *fakePlatform) DeleteCode(_ context.Context, id string) error { return f.del(id) }
func (f *fakePlatform) CreateLink(_ context.Context, r acquisition.Remote) (string, string, error) {
	return f.create("ln", r)
}
func (f *fakePlatform) UpdateLink(_ context.Context, id string, r acquisition.Remote) error {
	return f.update(id, r)
}
func (f *fakePlatform) DeleteLink(_ context.Context, id string) error { return f.del(id) }
func (f *fakePlatform) MarkTags(_ context.Context, member, ext string, add []string) error {
	if err := f.call("mark " + ext); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[member+"/"+ext] = add
	return nil
}
func (f *fakePlatform) members(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.codes[id].Members
}

// memWelcomer keeps welcome sends in memory, consuming permits in a
// transaction as the real adapter does.
type memWelcomer struct {
	db    *store.DB
	gate  *gate.Gate
	mu    sync.Mutex
	sent  map[string]acquisition.WelcomeSend
	state map[string]string
}

func (m *memWelcomer) Attempted(_ context.Context, code string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.state[code]
	return ok, nil
}
func (m *memWelcomer) Refused(_ context.Context, w acquisition.WelcomeSend, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[w.Code] = "refused " + reason
	return nil
}
func (m *memWelcomer) SendWelcome(ctx context.Context, p gate.Permit, w acquisition.WelcomeSend) error {
	if err := m.db.InTx(ctx, func(tx *sql.Tx) error { return m.gate.Consume(ctx, tx, p) }); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[w.Code] = "sent"
	m.sent[w.Code] = w
	return nil
}

// Monday 2026-11-30 08:00 in Shanghai.
var start = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

type env struct {
	db    *store.DB
	svc   *acquisition.Service
	fake  *fakePlatform
	wel   *memWelcomer
	clock *kith.FixedClock
	caps  []int64
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	clock := kith.NewFixedClock(start)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	e := &env{db: db, fake: newFake(), clock: clock}
	g := gate.New(db, bytes.Repeat([]byte("k"), 32), clock)
	e.wel = &memWelcomer{db: db, gate: g, sent: map[string]acquisition.WelcomeSend{}, state: map[string]string{}}
	e.svc = acquisition.NewService(acquisition.Deps{DB: db, Platform: e.fake, Welcomer: e.wel, Gate: g, Clock: clock, Location: loc})
	e.svc.OnCapReached = func(_ context.Context, _ store.Querier, id int64) error { e.caps = append(e.caps, id); return nil }
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for _, id := range []string{"zhangsan", "lisi", "wangwu", "zhaoliu"} {
			if err := customer.ApplyMember(ctx, tx, customer.Member{UserID: id, Name: id, Status: 1, ContactEnabled: true}, start); err != nil {
				return err
			}
		}
		return customer.ReplaceTags(ctx, tx, []customer.TagGroup{{GroupID: "etG", Name: "来源", CreatedAt: start,
			Tags: []customer.Tag{{TagID: "etPoster", Name: "海报", CreatedAt: start}}}}, start)
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func input() acquisition.Input {
	return acquisition.Input{Kind: acquisition.KindCode, Name: "门店海报", State: "poster", SkipVerify: true, DailyCap: 2, Spec: acquisition.Spec{
		Members: []string{"zhangsan"},
		Shifts:  []acquisition.Shift{{Days: []time.Weekday{time.Monday}, From: 9 * 60, To: 12 * 60, Members: []string{"lisi"}}},
		Backups: []string{"zhaoliu"},
		Tags:    []string{"etPoster"},
		Welcome: &acquisition.Welcome{Text: "你好 {name}"},
	}}
}

// arrive applies a customer's arrival as the event path does: the follow
// relation, then the arrival's write, in one transaction.
func (e *env) arrive(t *testing.T, member, ext, state, code string) {
	t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	w, err := e.svc.Arrive(ctx, acquisition.Arrival{Member: member, ExternalUserID: ext, Name: "客" + ext, State: state, WelcomeCode: code, EventTime: now.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.InTx(ctx, func(tx *sql.Tx) error {
		id, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: ext, Name: "客" + ext, Type: 1}, now)
		if err != nil {
			return err
		}
		if err := customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: member, State: state, AddWay: 1, AddedAt: now}, now); err != nil {
			return err
		}
		if w != nil {
			return w(ctx, tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestChannelLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		ch, err := e.svc.Create(ctx, input())
		if err != nil {
			t.Fatal(err)
		}
		// 08:00 in Shanghai is 00:00 UTC: only the always-on member.
		if got := e.fake.members(ch.RemoteID); !slices.Equal(got, []string{"zhangsan"}) || ch.URL == "" {
			t.Fatalf("code members at 08:00: %v (%+v)", got, ch)
		}
		if _, err := e.svc.Create(ctx, input()); kith.ErrorCode(err) != kith.ECONFLICT || !strings.HasPrefix(kith.ErrorMessage(err), "state:") {
			t.Fatalf("a second channel with the same state: %v", err)
		}
		bad := input()
		bad.DailyCap = -3
		if _, err := e.svc.Create(ctx, bad); !strings.HasPrefix(kith.ErrorMessage(err), "daily_cap:") {
			t.Fatalf("negative cap: %v", err)
		}
		// The refused ones left nothing on WeCom.
		if len(e.fake.codes) != 1 {
			t.Fatalf("codes on WeCom: %v", e.fake.codes)
		}
		// 09:00 local: the shift starts.
		e.clock.Add(time.Hour)
		if changed, err := e.svc.RefreshAll(ctx); err != nil || changed != 1 {
			t.Fatalf("refresh at 09:00: %d %v", changed, err)
		}
		if got := e.fake.members(ch.RemoteID); !slices.Equal(got, []string{"zhangsan", "lisi"}) {
			t.Fatalf("code members at 09:00: %v", got)
		}
		calls := len(e.fake.calls)
		if changed, _ := e.svc.RefreshAll(ctx); changed != 0 || len(e.fake.calls) != calls {
			t.Fatal("a refresh with nothing changed called WeCom")
		}
		// zhangsan receives two customers: the cap (2) is reached.
		e.arrive(t, "zhangsan", "wm1", "poster", "code1")
		if len(e.caps) != 0 {
			t.Fatal("cap reported after one arrival")
		}
		e.arrive(t, "zhangsan", "wm2", "poster", "code2")
		if !slices.Equal(e.caps, []int64{ch.ID}) {
			t.Fatalf("cap reached: %v", e.caps)
		}
		e.svc.Refresh(ctx, ch.ID)
		if got := e.fake.members(ch.RemoteID); !slices.Equal(got, []string{"lisi"}) {
			t.Fatalf("after zhangsan's cap: %v", got)
		}
		e.arrive(t, "lisi", "wm3", "poster", "code3")
		e.arrive(t, "lisi", "wm4", "poster", "")
		e.svc.Refresh(ctx, ch.ID)
		if got := e.fake.members(ch.RemoteID); !slices.Equal(got, []string{"zhaoliu"}) {
			t.Fatalf("everyone capped: %v", got)
		}
		// Next day (Tuesday 09:00): caps start again; lisi's shift is Monday only.
		e.clock.Add(24 * time.Hour)
		e.svc.RefreshAll(ctx)
		if got := e.fake.members(ch.RemoteID); !slices.Equal(got, []string{"zhangsan"}) {
			t.Fatalf("next day: %v", got)
		}
		// Welcomes: one per code, the name inserted; tags marked locally too.
		if len(e.wel.sent) != 3 || e.wel.sent["code1"].Text != "你好 客wm1" || e.wel.sent["code1"].ChannelID != ch.ID {
			t.Fatalf("welcomes: %+v", e.wel.sent)
		}
		d, err := customer.NewDirectory(db).Get(ctx, "wm3")
		if err != nil || len(d.Follows) != 1 || !slices.Equal(d.Follows[0].TagIDs, []string{"etPoster"}) {
			t.Fatalf("arrival tags locally: %+v %v", d, err)
		}
		// Applying an event again changes nothing and sends nothing.
		e.clock.Add(-24 * time.Hour)
		sends := len(e.wel.sent)
		w, err := e.svc.Arrive(ctx, acquisition.Arrival{Member: "zhangsan", ExternalUserID: "wm1", State: "poster", WelcomeCode: "code1", EventTime: e.clock.Now().Unix()})
		if err != nil || w == nil || len(e.wel.sent) != sends {
			t.Fatalf("arrival again: %v, %d sends", err, len(e.wel.sent))
		}
		// A member leaves: taken off every plan at once.
		var changed []int64
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			changed, err = acquisition.MemberLeft(ctx, tx, "zhaoliu", e.clock.Now())
			return err
		})
		got, _ := e.svc.Get(ctx, ch.ID)
		if err != nil || !slices.Equal(changed, []int64{ch.ID}) || slices.Contains(got.AllMembers(), "zhaoliu") {
			t.Fatalf("member left: %v %v %+v", changed, err, got.Spec)
		}
		// Statistics: 4 new on Monday, one lost on Tuesday.
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			return customer.EndFollow(ctx, tx, "wm3", "lisi", customer.FollowDeletedByCustomer, start.Add(25*time.Hour))
		})
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.svc.Stats(ctx, ch.ID, start, start.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.Total.New != 4 || st.Total.Lost != 1 || len(st.Days) != 3 || st.Days[0].New != 4 || st.Days[1].Lost != 1 || st.Days[1].Net() != -1 {
			t.Fatalf("stats: %+v", st)
		}
		var csv bytes.Buffer
		st.WriteCSV(&csv)
		want := "day,member,new,lost,net\n2026-11-30,lisi,2,0,2\n2026-11-30,zhangsan,2,0,2\n2026-12-01,lisi,0,1,-1\n"
		if csv.String() != want {
			t.Fatalf("csv:\n%s", csv.String())
		}
		// Delete: gone from WeCom and Kith.
		if err := e.svc.Delete(ctx, ch.ID); err != nil || len(e.fake.codes) != 0 {
			t.Fatalf("delete: %v %v", err, e.fake.codes)
		}
		if _, err := e.svc.Get(ctx, ch.ID); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("deleted channel: %v", err)
		}
	})
}

func TestUpdateAndLinksAndDefaults(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		in := input()
		in.Kind, in.State, in.Welcome = acquisition.KindLink, "sms-2026-双十一", nil
		ch, err := e.svc.Create(ctx, in)
		if err != nil || !strings.HasPrefix(ch.RemoteID, "ln") {
			t.Fatalf("link: %+v %v", ch, err)
		}
		in.Members = []string{"wangwu"}
		in.Name = "短信链接"
		if ch, err = e.svc.Update(ctx, ch.ID, in); err != nil || !slices.Equal(e.fake.members(ch.RemoteID), []string{"wangwu"}) || ch.Name != "短信链接" {
			t.Fatalf("update: %+v %v", ch, err)
		}
		in.State = "another"
		if _, err := e.svc.Update(ctx, ch.ID, in); !strings.HasPrefix(kith.ErrorMessage(err), "state: a channel's state cannot change") {
			t.Fatalf("state change: %v", err)
		}
		// Generated states are unique and short enough.
		in.State = ""
		in.Kind = acquisition.KindCode
		c2, err := e.svc.Create(ctx, in)
		if err != nil || len(c2.State) > acquisition.MaxCodeStateChars || c2.State == "" {
			t.Fatalf("generated state: %+v %v", c2, err)
		}
		// WeCom refuses: nothing is kept, and the refusal comes back as is.
		e.fake.refuse = kith.Errorf(kith.EINVALID, "WeCom refused (error 41054)")
		in.State = "refused"
		if _, err := e.svc.Create(ctx, in); kith.ErrorMessage(err) != "WeCom refused (error 41054)" {
			t.Fatalf("refused: %v", err)
		}
		e.fake.refuse = nil
		if list, _ := e.svc.List(ctx); len(list) != 2 {
			t.Fatalf("channels: %d", len(list))
		}
		// The default welcome greets those whose channel has none, and
		// those who came by no channel.
		if err := e.svc.SetDefaultWelcome(ctx, &acquisition.Welcome{Text: strings.Repeat("x", 4001)}); !strings.HasPrefix(kith.ErrorMessage(err), "default_welcome.text:") {
			t.Fatalf("long default: %v", err)
		}
		if err := e.svc.SetDefaultWelcome(ctx, &acquisition.Welcome{Text: "欢迎 {name}"}); err != nil {
			t.Fatal(err)
		}
		e.arrive(t, "wangwu", "wmA", "sms-2026-双十一", "cA")
		e.arrive(t, "wangwu", "wmB", "", "cB")
		e.arrive(t, "wangwu", "wmC", "", "") // no code: nothing to send
		if e.wel.sent["cA"].Text != "欢迎 客wmA" || e.wel.sent["cB"].ChannelID != 0 || len(e.wel.sent) != 2 {
			t.Fatalf("default welcomes: %+v", e.wel.sent)
		}
		// Promotional words in a service message: the gate refuses, and it is recorded.
		e.svc.SetDefaultWelcome(ctx, &acquisition.Welcome{Text: "限时优惠，全场5折！"})
		e.arrive(t, "wangwu", "wmD", "", "cD")
		if !strings.HasPrefix(e.wel.state["cD"], "refused PROMO_IN_SERVICE") {
			t.Fatalf("promo welcome: %q", e.wel.state["cD"])
		}
	})
}
