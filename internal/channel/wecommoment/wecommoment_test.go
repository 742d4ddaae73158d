package wecommoment_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/wecommoment"
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
	db       *store.DB
	sb       *wecomtest.Server
	clock    *kith.FixedClock
	svc      *campaign.Service
	follower *wecommoment.Follower
	members  [2]string
	ext      []string // external_userid of customer i+1
	rt       *dropper
	notice   consent.Notice
}

// dropper forwards requests to the sandbox; it can lose the answer of
// add_moment_task after WeCom applied it, or panic (the process dying)
// before add_moment_task or before get_moment_task_result.
type dropper struct {
	lose, crashBefore, crashResult atomic.Int32
}

func (d *dropper) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/add_moment_task") && d.crashBefore.Load() > 0:
		d.crashBefore.Add(-1)
		panic("crash before the call")
	case strings.HasSuffix(r.URL.Path, "/get_moment_task_result") && d.crashResult.Load() > 0:
		d.crashResult.Add(-1)
		panic("crash after the call")
	case strings.HasSuffix(r.URL.Path, "/add_moment_task") && d.lose.Load() > 0:
		d.lose.Add(-1)
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			resp.Body.Close()
		}
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func mustExec(tb testing.TB, db *store.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// newEnv makes n customers in the sandbox and in Kith, alternating between
// two members, all tagged vip; every third one never consented to WeCom
// marketing, so the gate refuses it.
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
	e.notice = notice
	for i := 1; i <= n; i++ {
		m := e.members[(i+1)%2]
		d, err := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: m, NoWelcomeCode: true})
		if err != nil {
			t.Fatal(err)
		}
		ext := d.Event.ExternalUserID
		e.ext = append(e.ext, ext)
		mustExec(t, db, "INSERT INTO customers (id, external_userid, name, created_at, updated_at)"+ov+" VALUES ($1, $2, $2, $3, $3)", i, ext, at)
		mustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, $2, $3, $3)", i, m, at)
		mustExec(t, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, 't1')", i, m)
		if i%3 == 0 {
			continue
		}
		e.consent(t, ext, consent.Grant, at)
	}
	client, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret(), Now: clock.Now,
		HTTPClient: &http.Client{Transport: e.rt}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(context.Context) (*wecom.Client, error) { return client, nil }
	g := gate.New(db, testKey, clock)
	e.svc = campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock})
	sender := wecommoment.New(e.svc.Claimer(), get, db, clock)
	sender.PollPause = time.Millisecond
	e.svc.Register(campaign.WeComMoment, sender, wecommoment.NewReconciler(get, db, clock))
	e.follower = wecommoment.NewFollower(get, db, clock)
	e.svc.RegisterFollower(campaign.WeComMoment, e.follower)
	return e
}

func (e *env) consent(t *testing.T, ext string, a consent.Action, at time.Time) {
	t.Helper()
	if err := consent.NewLedger(nil, testKey).Record(context.Background(), e.db.W, consent.Event{Person: consent.ExternalUser(ext), Purpose: consent.Marketing,
		Channel: consent.ChannelWeCom, Action: a, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"},
		NoticeVersion: e.notice.Version, NoticeHash: e.notice.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) plan(t *testing.T, content campaign.Content, members ...string) campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	c, err := e.svc.Create(ctx, 0, campaign.Input{Name: "spring", Purpose: campaign.PurposeMarketing, Channel: campaign.WeComMoment,
		Content: content, Audience: campaign.Audience{Tags: []string{"vip"}, Members: members}, Schedule: campaign.Schedule{Kind: campaign.Now}})
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
	}
	t.Fatal("the campaign did not finish")
}

// moments returns the sandbox's moments by sender.
func (e *env) moments() map[string][]wecomtest.Moment {
	out := map[string][]wecomtest.Moment{}
	for _, m := range e.sb.Moments() {
		out[m.Senders[0]] = append(out[m.Senders[0]], m)
	}
	return out
}

// momentTagged reports whether customer i (1-based) carries any tag of
// the "Kith moments" group in the sandbox.
func (e *env) momentTagged(t *testing.T, i int) bool {
	t.Helper()
	tags := map[string]bool{}
	for _, m := range e.sb.Moments() {
		for _, tag := range m.Tags {
			tags[tag] = true
		}
	}
	for _, r := range e.sb.Relations(e.ext[i-1]) {
		for _, id := range r.TagIDs {
			if tags[id] {
				return true
			}
		}
	}
	return false
}

var spring = campaign.Content{Text: "春季新品到店", Attachments: []campaign.Attachment{{Type: "image", MediaID: "media-1"}, {Type: "image", MediaID: "media-2"}}}

// TestMoment: one moment per member, visible only to the customers the
// gate permitted (tagged with the batch's own tag); refused customers are
// never tagged; a member publishes, the results come back, the other
// member is listed unconfirmed; reminding is refused (no API); likes and
// comments are read; cancel stops the other moment.
func TestMoment(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 12)
		c := e.plan(t, spring)
		// Customer 1 withdraws after planning: the run's gate refuses it.
		e.consent(t, e.ext[0], consent.Withdraw, wed10.Add(-time.Minute))
		e.run(t, c.ID)
		ms := e.moments()
		a, b := e.members[0], e.members[1]
		if len(ms[a]) != 1 || len(ms[b]) != 1 || ms[a][0].Text != spring.Text || len(ms[a][0].Attachments) != 2 || len(ms[a][0].Tags) != 1 ||
			slices.Equal(ms[a][0].Tags, ms[b][0].Tags) {
			t.Fatalf("moments = %+v", ms)
		}
		// Permitted: 2, 4, 5, 7, 8, 10, 11 (not 1: withdrew; not 3, 6, 9, 12: no consent).
		permitted := []int{2, 4, 5, 7, 8, 10, 11}
		for i := 1; i <= 12; i++ {
			if got, want := e.momentTagged(t, i), slices.Contains(permitted, i); got != want {
				t.Errorf("customer %d tagged %v, want %v", i, got, want)
			}
		}
		var local int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM follow_tags ft JOIN tags tg ON tg.tag_id = ft.tag_id JOIN tag_groups g ON g.group_id = tg.group_id WHERE g.name = $1",
			wecommoment.TagGroupName).Scan(&local)
		if local != len(permitted) {
			t.Errorf("%d local moment tags, want %d", local, len(permitted))
		}
		if err := e.sb.MemberPublishesMoment(a, ms[a][0].MomentID); err != nil {
			t.Fatal(err)
		}
		seen := e.moments()[a][0].Seen[a]
		var want []string
		for _, i := range permitted {
			if e.members[(i+1)%2] == a {
				want = append(want, e.ext[i-1])
			}
		}
		slices.Sort(seen)
		slices.Sort(want)
		if !slices.Equal(seen, want) {
			t.Errorf("a's post is seen by %v, want %v", seen, want)
		}
		waiting, err := e.svc.Poll(ctx, c.ID)
		if err != nil || waiting != 4 {
			t.Fatalf("poll: %d waiting, %v", waiting, err)
		}
		r, err := e.svc.Results(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.ByState["delivered"] != 3 || r.ByState["sent"] != 4 || r.ByState["refused"] != 5 || len(r.Unconfirmed) != 1 || r.Unconfirmed[0] != b {
			t.Errorf("results = %+v", r)
		}
		if _, err := e.svc.Remind(ctx, c.ID); !errors.Is(err, wecommoment.ErrNoRemind) {
			t.Errorf("remind: %v", err)
		}
		// Customers like and comment in WeChat (the sandbox; never Kith).
		if err := e.sb.CustomerLikesMoment(ms[a][0].MomentID, a, want[0]); err != nil {
			t.Fatal(err)
		}
		if err := e.sb.CustomerCommentsMoment(ms[a][0].MomentID, a, want[1]); err != nil {
			t.Fatal(err)
		}
		if n, err := e.follower.RefreshStats(ctx); err != nil || n != 2 {
			t.Fatalf("stats: %d %v", n, err)
		}
		stats, err := wecommoment.CampaignStats(ctx, db, c.ID)
		if err != nil || len(stats) != 2 {
			t.Fatalf("campaign stats: %+v %v", stats, err)
		}
		for _, s := range stats {
			if s.Sender == a && (!s.Published || s.Likes != 1 || s.Comments != 1 || s.Customers != 3) || s.Sender == b && (s.Published || s.Likes != 0 || s.Customers != 4) {
				t.Errorf("stat %+v", s)
			}
		}
		if n, err := e.svc.CancelTasks(ctx, c.ID); err != nil || n != 1 {
			t.Fatalf("cancel: %d %v", n, err)
		}
		if !e.moments()[b][0].Cancelled {
			t.Error("the sandbox's moment is not cancelled")
		}
		if err := e.sb.MemberPublishesMoment(b, ms[b][0].MomentID); err == nil {
			t.Error("a cancelled moment was published")
		}
	})
}

// TestMomentMembers: naming the sending members reaches only their
// customers; the others are refused NO_ADDRESS and never tagged.
func TestMomentMembers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 6)
		c := e.plan(t, campaign.Content{Text: "只给一位成员的客户"}, e.members[0])
		e.run(t, c.ID)
		ms := e.moments()
		if len(ms[e.members[0]]) != 1 || len(ms[e.members[1]]) != 0 {
			t.Fatalf("moments = %+v", ms)
		}
		r, _ := e.svc.Results(ctx, c.ID)
		if r.ByReason["refused"][campaign.NoAddress] != 3 || r.ByState["sent"] != 2 {
			t.Errorf("results = %+v", r)
		}
		for _, i := range []int{2, 4, 6} {
			if e.momentTagged(t, i) {
				t.Errorf("customer %d of the other member is tagged", i)
			}
		}
	})
}

// TestMomentBadContent: the campaign refuses content a moment cannot take.
func TestMomentBadContent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		img := campaign.Attachment{Type: "image", MediaID: "m"}
		for i, c := range []campaign.Content{
			{},
			{Text: strings.Repeat("新", 2001)},
			{Text: strings.Repeat("a", 4001)},
			{Attachments: slices.Repeat([]campaign.Attachment{img}, 10)},
			{Attachments: []campaign.Attachment{img, {Type: "video", MediaID: "v"}}},
			{Attachments: []campaign.Attachment{{Type: "link", Title: "x", URL: "https://a"}, {Type: "link", Title: "y", URL: "https://b"}}},
			{Attachments: []campaign.Attachment{{Type: "file", MediaID: "f"}}},
			{Attachments: []campaign.Attachment{{Type: "image"}}},
			{Text: "x", Subject: "no subjects"},
		} {
			_, err := e.svc.Create(context.Background(), 0, campaign.Input{Name: "bad", Purpose: campaign.PurposeMarketing, Channel: campaign.WeComMoment,
				Content: c, Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}})
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("content %d: %v", i, err)
			}
		}
		if _, err := e.svc.Create(context.Background(), 0, campaign.Input{Name: "sms members", Purpose: campaign.PurposeMarketing, Channel: campaign.SMS,
			Content: campaign.Content{Sign: "s", TemplateID: "1", Text: "x 拒收请回复R"}, Audience: campaign.Audience{Tags: []string{"vip"}, Members: []string{"a"}},
			Schedule: campaign.Schedule{Kind: campaign.Now}}); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("members on SMS: %v", err)
		}
	})
}

// liveTags returns the ids of the sandbox's live tags.
func (e *env) liveTags() map[string]bool {
	out := map[string]bool{}
	for _, g := range e.sb.TagGroups() {
		for _, t := range g.Tags {
			out[t.ID] = true
		}
	}
	return out
}

// TestMomentTagsDeleted: a batch's own tag is deleted from WeCom and
// locally once its task is over — published (who saw it does not change),
// then cancelled — and not while the member may still publish; deleting
// again, or after a crash between WeCom's delete and the record, is
// harmless.
func TestMomentTagsDeleted(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 12)
		c := e.plan(t, spring)
		e.run(t, c.ID)
		ms := e.moments()
		a, b := e.members[0], e.members[1]
		tagA, tagB := ms[a][0].Tags[0], ms[b][0].Tags[0]
		if n, err := e.follower.DeleteTags(ctx); err != nil || n != 0 {
			t.Fatalf("deleted %d tags before any task was over: %v", n, err)
		}
		if err := e.sb.MemberPublishesMoment(a, ms[a][0].MomentID); err != nil {
			t.Fatal(err)
		}
		seen := len(e.moments()[a][0].Seen[a])
		if _, err := e.svc.Poll(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if sum, err := e.svc.Summarize(ctx, c.ID); err != nil || len(sum.Unconfirmed) != 1 || sum.Unconfirmed[b] != 4 {
			t.Errorf("members who have not published: %v, %v; want %s with 4 customers", sum.Unconfirmed, err, b)
		}
		if n, err := e.follower.DeleteTags(ctx); err != nil || n != 1 {
			t.Fatalf("after a published: deleted %d, %v; want 1", n, err)
		}
		live := e.liveTags()
		if live[tagA] || !live[tagB] {
			t.Errorf("live tags %v: want a's %s gone and b's %s kept", live, tagA, tagB)
		}
		if got := len(e.moments()[a][0].Seen[a]); got != seen || seen == 0 {
			t.Errorf("a's moment seen by %d after its tag went, %d before", got, seen)
		}
		var local, deleted int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM tags WHERE tag_id = $1", tagA).Scan(&local)
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM moment_tasks WHERE tag_deleted_at IS NOT NULL").Scan(&deleted)
		if local != 0 || deleted != 1 {
			t.Errorf("local tag rows %d, tasks recorded deleted %d; want 0 and 1", local, deleted)
		}
		if n, err := e.follower.DeleteTags(ctx); err != nil || n != 0 {
			t.Errorf("deleting again: %d, %v", n, err)
		}
		if _, err := e.svc.CancelTasks(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := e.follower.DeleteTags(ctx); err != nil || n != 1 || e.liveTags()[tagB] {
			t.Fatalf("after b's was cancelled: deleted %d, %v", n, err)
		}
		// A crash after WeCom deleted the tag, before Kith recorded it.
		mustExec(t, db, "UPDATE moment_tasks SET tag_deleted_at = NULL")
		if n, err := e.follower.DeleteTags(ctx); err != nil || n != 2 {
			t.Errorf("after a crash between the deletes: %d, %v; want 2 recorded", n, err)
		}
	})
}
