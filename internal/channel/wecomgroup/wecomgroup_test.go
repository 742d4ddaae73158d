package wecomgroup_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/wecomgroup"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

type env struct {
	db      *store.DB
	sb      *wecomtest.Server
	clock   *kith.FixedClock
	svc     *campaign.Service
	members [2]string
	ext     []string // external_userid of customer i+1
	rt      *dropper
}

// dropper forwards requests to the sandbox; for add_msg_template it can
// lose the answer after WeCom applied the call, or panic before the call
// (the process dying).
type dropper struct {
	lose, crash atomic.Int32
	// late: get_groupmsg_list_v2 lists no task (a task that appears in
	// the list late), that many times.
	late atomic.Int32
}

func (d *dropper) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/get_groupmsg_list_v2") && d.late.Load() > 0 {
		d.late.Add(-1)
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"errcode":0,"errmsg":"ok","next_cursor":"","group_msg_list":[]}`))}, nil
	}
	if strings.HasSuffix(r.URL.Path, "/add_msg_template") {
		if d.crash.Load() > 0 {
			d.crash.Add(-1)
			panic("crash before the call")
		}
		if d.lose.Load() > 0 {
			d.lose.Add(-1)
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				resp.Body.Close()
			}
			return nil, errors.New("connection reset by peer")
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func mustExec(tb testing.TB, db *store.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// newEnv makes n customers in the sandbox and in Kith, split between two
// members, every one with WeCom marketing consent and the tag vip.
func newEnv(t *testing.T, db *store.DB, n int) *env {
	t.Helper()
	ctx := context.Background()
	clock := kith.NewFixedClock(wed10)
	sb := wecomtest.Start(t, wecomtest.Options{Now: clock.Now})
	wecomtest.MustSeed(t, sb.Sandbox, 1, wecomtest.SeedOptions{Customers: 1})
	e := &env{db: db, sb: sb, clock: clock, rt: &dropper{}}
	ms := sb.Members()
	e.members = [2]string{ms[0].UserID, ms[1].UserID}
	at := wed10.Add(-48 * time.Hour)
	ov := ""
	if db.Dialect == store.Postgres {
		ov = " OVERRIDING SYSTEM VALUE"
	}
	mustExec(t, db, "INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ('g1', 'level', $1, $1)", at)
	mustExec(t, db, "INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ('t1', 'g1', 'vip', $1, $1)", at)
	notice, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		m := e.members[i%2]
		d, err := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: m, NoWelcomeCode: true})
		if err != nil {
			t.Fatal(err)
		}
		ext := d.Event.ExternalUserID
		e.ext = append(e.ext, ext)
		mustExec(t, db, "INSERT INTO customers (id, external_userid, name, created_at, updated_at)"+ov+" VALUES ($1, $2, $2, $3, $3)", i, ext, at)
		mustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, $2, $3, $3)", i, m, at)
		mustExec(t, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, 't1')", i, m)
		if err := consent.NewLedger(nil, testKey).Record(ctx, db.W, consent.Event{Person: consent.ExternalUser(ext), Purpose: consent.Marketing,
			Channel: consent.ChannelWeCom, Action: consent.Grant, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"},
			NoticeVersion: notice.Version, NoticeHash: notice.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	client, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret(), Now: clock.Now,
		HTTPClient: &http.Client{Transport: e.rt}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(context.Context) (*wecom.Client, error) { return client, nil }
	g := gate.New(db, testKey, clock)
	e.svc = campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock})
	e.svc.Register(campaign.WeCom, wecomgroup.New(e.svc.Claimer(), get, clock), wecomgroup.NewReconciler(get, clock))
	e.svc.RegisterFollower(campaign.WeCom, wecomgroup.NewFollower(get))
	return e
}

func (e *env) start(t *testing.T, content campaign.Content) campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	c, err := e.svc.Create(ctx, 0, campaign.Input{Name: "spring", Purpose: campaign.PurposeMarketing, Channel: campaign.WeCom,
		Content: content, Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Schedule(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Plan(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) run(t *testing.T, id int64) {
	t.Helper()
	for range 50 {
		st, err := e.svc.RunBatch(context.Background(), id)
		if err != nil {
			t.Fatalf("RunBatch: %v", err)
		}
		if st == campaign.Finished {
			return
		}
		if st == campaign.InDoubt {
			e.clock.Add(grace) // the task was not listed: ask again later
		}
	}
	t.Fatal("the campaign did not finish")
}

// tasks returns the sandbox's tasks by member.
func (e *env) tasks() map[string][]wecomtest.GroupMsg {
	out := map[string][]wecomtest.GroupMsg{}
	for _, m := range e.sb.GroupMsgs() {
		out[m.Creator] = append(out[m.Creator], m)
	}
	return out
}

// TestGroupMessage: one task per member with the customers planned; a
// member confirms and the results come back per customer (delivered, not
// a friend); the other member is listed unconfirmed, reminded (3 times in
// 24 hours at most) and the task cancelled.
func TestGroupMessage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 6)
		content := campaign.Content{Text: "春季新品到店", Attachments: []campaign.Attachment{{Type: "link", Title: "新品", URL: "https://shop.example/new"}}}
		c := e.start(t, content)
		e.run(t, c.ID)
		tasks := e.tasks()
		a, b := e.members[0], e.members[1]
		if len(tasks[a]) != 1 || len(tasks[b]) != 1 || len(tasks[a][0].Recipients) != 3 || tasks[a][0].Text != content.Text || len(tasks[a][0].Attachments) != 1 {
			t.Fatalf("tasks = %+v", tasks)
		}
		// Customer 2 (a's) leaves before a confirms.
		if _, err := e.sb.CustomerDeletesMember(ctx, a, e.ext[1]); err != nil {
			t.Fatal(err)
		}
		if err := e.sb.MemberConfirmsGroupMsg(a, tasks[a][0].MsgID); err != nil {
			t.Fatal(err)
		}
		waiting, err := e.svc.Poll(ctx, c.ID)
		if err != nil || waiting != 3 {
			t.Fatalf("poll: %d waiting, %v", waiting, err)
		}
		r, err := e.svc.Results(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.ByState["delivered"] != 2 || r.ByState["sent"] != 3 || r.ByReason["failed"][wecomgroup.ReasonNotFriend] != 1 ||
			len(r.Unconfirmed) != 1 || r.Unconfirmed[0] != b {
			t.Errorf("results = %+v", r)
		}
		for i := range 3 {
			if n, err := e.svc.Remind(ctx, c.ID); err != nil || n != 1 {
				t.Fatalf("remind %d: %d %v", i+1, n, err)
			}
		}
		if _, err := e.svc.Remind(ctx, c.ID); wecom.ErrorCode(err) != wecom.CodeRemindOverLimit {
			t.Errorf("a fourth reminder: %v", err)
		}
		if n, err := e.svc.CancelTasks(ctx, c.ID); err != nil || n != 1 {
			t.Fatalf("cancel: %d %v", n, err)
		}
		if !e.tasks()[b][0].Cancelled {
			t.Error("the sandbox's task is not cancelled")
		}
		if err := e.sb.MemberConfirmsGroupMsg(b, tasks[b][0].MsgID); err == nil {
			t.Error("a cancelled task was confirmed")
		}
		r, _ = e.svc.Results(ctx, c.ID)
		if r.ByReason["failed"][campaign.ReasonTaskCancelled] != 3 || len(r.Unconfirmed) != 0 {
			t.Errorf("after cancel: %+v", r)
		}
	})
}

// TestLostAnswer: WeCom created the task but its answer was lost; the
// batch is reconciled by listing the member's tasks and matching the
// content hash, and no second task is created.
func TestLostAnswer(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 6)
		e.rt.lose.Store(1)
		c := e.start(t, campaign.Content{Text: "春季新品到店"})
		e.run(t, c.ID)
		tasks := e.tasks()
		if len(tasks[e.members[0]]) != 1 || len(tasks[e.members[1]]) != 1 {
			t.Fatalf("tasks per member: %d and %d, want 1 and 1", len(tasks[e.members[0]]), len(tasks[e.members[1]]))
		}
		r, _ := e.svc.Results(ctx, c.ID)
		if r.ByState["sent"] != 6 {
			t.Errorf("results = %+v", r)
		}
		var reconciled int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM campaign_batches WHERE campaign_id = $1 AND reason = 'reconciled'", c.ID).Scan(&reconciled)
		if reconciled != 1 {
			t.Errorf("%d batches reconciled, want 1", reconciled)
		}
	})
}

// TestCrashBeforeCall: the process dies after the permits were claimed and
// before WeCom was called; the reconciler finds no task, so the batch is
// sent once, with new permits.
func TestCrashBeforeCall(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 6)
		e.rt.crash.Store(1)
		c := e.start(t, campaign.Content{Text: "春季新品到店"})
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no crash")
				}
			}()
			e.svc.RunBatch(ctx, c.ID)
		}()
		e.run(t, c.ID)
		tasks := e.tasks()
		if len(tasks[e.members[0]]) != 1 || len(tasks[e.members[1]]) != 1 {
			t.Fatalf("tasks per member: %d and %d, want 1 and 1", len(tasks[e.members[0]]), len(tasks[e.members[1]]))
		}
		r, _ := e.svc.Results(ctx, c.ID)
		if r.ByState["sent"] != 6 {
			t.Errorf("results = %+v", r)
		}
	})
}

// TestSameContentTwice: two campaigns with the same content by the same
// member: a lost answer of the second is matched to its own task, not to
// the first campaign's.
func TestSameContentTwice(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 2)
		first := e.start(t, campaign.Content{Text: "同样的话"})
		e.run(t, first.ID)
		e.clock.Add(time.Minute)
		e.rt.lose.Store(1)
		second := e.start(t, campaign.Content{Text: "同样的话"})
		e.run(t, second.ID)
		var ids []string
		rows, _ := db.R.QueryContext(ctx, "SELECT provider_id FROM campaign_batches WHERE provider_id <> '' ORDER BY id")
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("task %s is held by two batches: %v", id, ids)
			}
			seen[id] = true
		}
		if len(ids) != 4 || len(e.sb.GroupMsgs()) != 4 {
			t.Errorf("batches %v, tasks %d", ids, len(e.sb.GroupMsgs()))
		}
	})
}

// grace is how long the tests wait for a task not listed yet.
var grace = campaign.ReconcileGrace

// TestLateTask: WeCom created the task but its answer was lost, and the
// task appears in get_groupmsg_list_v2 late: within ReconcileGrace of the
// mark the batch stays in doubt (not "never sent", which would send it
// again); once listed it is found, and nobody gets a second task.
func TestLateTask(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 6)
		e.rt.lose.Store(1)
		e.rt.late.Store(1)
		c := e.start(t, campaign.Content{Text: "春季新品到店"})
		if st, err := e.svc.RunBatch(ctx, c.ID); st != campaign.Progressed || err != nil {
			t.Fatalf("first batch: %v %v", st, err)
		}
		if st, err := e.svc.RunBatch(ctx, c.ID); st != campaign.InDoubt || err != nil {
			t.Fatalf("a task not listed yet, just after the mark: %v %v, want in doubt", st, err)
		}
		if n := len(e.sb.GroupMsgs()); n != 1 {
			t.Fatalf("%d tasks while the first is in doubt, want 1", n)
		}
		e.run(t, c.ID)
		tasks := e.tasks()
		if len(tasks[e.members[0]]) != 1 || len(tasks[e.members[1]]) != 1 {
			t.Fatalf("tasks per member: %d and %d, want 1 and 1", len(tasks[e.members[0]]), len(tasks[e.members[1]]))
		}
		r, _ := e.svc.Results(ctx, c.ID)
		if r.ByState["sent"] != 6 {
			t.Errorf("results = %+v", r)
		}
	})
}
