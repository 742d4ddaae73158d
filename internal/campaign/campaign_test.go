package campaign_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestBadInput: every kind of bad input is refused with a message that
// says what is wrong.
func TestBadInput(t *testing.T) {
	db := storetest.MustSQLite(t)
	w := newWorld(t, db, 0)
	ok := wecomInput(campaign.Audience{Tags: []string{"vip"}})
	cases := []struct {
		name string
		edit func(in *campaign.Input)
		want string
	}{
		{"no name", func(in *campaign.Input) { in.Name = " " }, "name is empty"},
		{"purpose", func(in *campaign.Input) { in.Purpose = "spam" }, "service or marketing"},
		{"channel", func(in *campaign.Input) { in.Channel = "fax" }, "wecom, sms or email"},
		{"text too long", func(in *campaign.Input) { in.Content.Text = strings.Repeat("字", 1400) }, "at most 4000"},
		{"too many attachments", func(in *campaign.Input) {
			in.Content.Attachments = make([]campaign.Attachment, 10)
		}, "at most 9"},
		{"attachment type", func(in *campaign.Input) {
			in.Content.Attachments = []campaign.Attachment{{Type: "exe", MediaID: "m"}}
		}, `type "exe"`},
		{"image without media", func(in *campaign.Input) { in.Content.Attachments = []campaign.Attachment{{Type: "image"}} }, "media_id"},
		{"no audience", func(in *campaign.Input) { in.Audience = campaign.Audience{} }, "saved segment or at least one tag"},
		{"both audiences", func(in *campaign.Input) { in.Audience.SegmentID = 3 }, "not both"},
		{"schedule kind", func(in *campaign.Input) { in.Schedule.Kind = "later" }, "now, at or recurring"},
		{"bad rule", func(in *campaign.Input) { in.Schedule = campaign.Schedule{Kind: campaign.Recurring, Rule: "hourly"} }, "daily 09:30"},
		{"sms without opt-out", func(in *campaign.Input) {
			in.Channel = campaign.SMS
			in.Content = campaign.Content{Sign: "小店", TemplateID: "T1", Text: "春季新品到店"}
		}, "how to refuse"},
		{"email without subject", func(in *campaign.Input) {
			in.Channel = campaign.Email
			in.Content = campaign.Content{Text: "hello"}
		}, "subject is empty"},
	}
	for _, tc := range cases {
		in := ok
		in.Content.Attachments = nil
		tc.edit(&in)
		_, err := w.svc.Create(context.Background(), 1, in)
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want EINVALID with %q", tc.name, err, tc.want)
		}
	}
	// A schedule in the past is refused when the campaign is scheduled.
	in := ok
	in.Schedule = campaign.Schedule{Kind: campaign.At, At: wed10.Add(-time.Hour)}
	c := w.create(t, in)
	if _, err := w.svc.Schedule(context.Background(), c.ID); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), "in the past") {
		t.Errorf("schedule in the past: %v", err)
	}
	// A marketing SMS with the opt-out text is fine.
	sms := ok
	sms.Channel = campaign.SMS
	sms.Content = campaign.Content{Sign: "小店", TemplateID: "T1", Text: "春季新品到店，拒收请回复R"}
	w.create(t, sms)
}

// TestTransitions: a campaign moves only along the allowed edges.
func TestTransitions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 0)
		in := wecomInput(campaign.Audience{Tags: []string{"vip"}})
		in.Schedule = campaign.Schedule{Kind: campaign.At, At: wed10.Add(time.Hour)}
		c := w.create(t, in)
		if c.State != campaign.Draft {
			t.Fatalf("new campaign is %s", c.State)
		}
		c, err := w.svc.Schedule(ctx, c.ID)
		if err != nil || c.State != campaign.Scheduled || !c.Schedule.At.Equal(wed10.Add(time.Hour)) {
			t.Fatalf("schedule: %+v %v", c, err)
		}
		if _, err := w.svc.Update(ctx, c.ID, in); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Errorf("editing a scheduled campaign: %v", err)
		}
		if ids, _ := w.svc.Due(ctx); len(ids) != 0 {
			t.Errorf("due before its time: %v", ids)
		}
		w.clock.Add(time.Hour)
		if ids, _ := w.svc.Due(ctx); len(ids) != 1 || ids[0] != c.ID {
			t.Errorf("due at its time: %v", ids)
		}
		if err := w.svc.Unschedule(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.Cancel(ctx, c.ID, "changed my mind"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Schedule(ctx, c.ID); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Errorf("scheduling a cancelled campaign: %v", err)
		}
		if _, err := w.svc.Plan(ctx, c.ID); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Errorf("planning a cancelled campaign: %v", err)
		}
		for _, tc := range []struct {
			from, to campaign.State
			ok       bool
		}{{campaign.Draft, campaign.Running, false}, {campaign.Done, campaign.Running, false}, {campaign.Running, campaign.Done, true},
			{campaign.Cancelled, campaign.Draft, false}, {campaign.Scheduled, campaign.Running, true}} {
			if campaign.CanMove(tc.from, tc.to) != tc.ok {
				t.Errorf("CanMove(%s, %s) = %v", tc.from, tc.to, !tc.ok)
			}
		}
	})
}

// TestPreviewAndPlan: the preview counts the audience, the refusals by
// reason and the senders; planning writes one delivery per recipient and
// is harmless twice.
func TestPreviewAndPlan(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 12)
		c := w.create(t, wecomInput(campaign.Audience{Tags: []string{"vip"}}))
		p, err := w.svc.Preview(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		// vip: 2,4,6,8,10,12 (all bob's); 6 and 12 never consented.
		if p.Audience != 6 || p.Permitted != 4 || p.Refused["NO_CONSENT"] != 2 || p.BySender["bob"] != 4 || len(p.BySender) != 1 {
			t.Errorf("preview = %+v", p)
		}
		if n := w.deliveries(t, c.ID); len(n) != 0 {
			t.Errorf("the preview wrote deliveries: %v", n)
		}
		if _, err := w.svc.Schedule(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		p2, err := w.svc.Plan(ctx, c.ID)
		if err != nil || p2.Permitted != 4 {
			t.Fatalf("plan: %+v %v", p2, err)
		}
		if got := w.deliveries(t, c.ID); got["planned"] != 4 || got["refused"] != 2 {
			t.Errorf("deliveries = %v", got)
		}
		var reason string
		db.R.QueryRowContext(ctx, "SELECT reason FROM campaign_deliveries WHERE campaign_id = $1 AND customer_id = 6", c.ID).Scan(&reason)
		if reason != "NO_CONSENT" {
			t.Errorf("customer 6's reason = %q", reason)
		}
		c, _ = w.svc.Get(ctx, c.ID)
		if c.State != campaign.Running || c.PlannedAt.IsZero() {
			t.Errorf("after plan: %s planned %v", c.State, c.PlannedAt)
		}
		if _, err := w.svc.Plan(ctx, c.ID); err != nil {
			t.Errorf("plan again: %v", err)
		}
		if got := w.deliveries(t, c.ID); got["planned"] != 4 || got["refused"] != 2 {
			t.Errorf("deliveries after planning twice = %v", got)
		}
	})
}

// TestPlanSegment: a saved segment is snapshotted when the campaign
// starts: a customer who joins it later is not in the campaign.
func TestPlanSegment(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 6)
		seg, err := segment.NewStore(db, w.clock).Create(ctx, 1, segment.Input{Name: "alice's", Expression: "member:alice"})
		if err != nil {
			t.Fatal(err)
		}
		c := w.create(t, wecomInput(campaign.Audience{SegmentID: seg.ID}))
		w.svc.Schedule(ctx, c.ID)
		p, err := w.svc.Plan(ctx, c.ID)
		// alice: 1, 3, 5; 3 never consented.
		if err != nil || p.Audience != 3 || p.Permitted != 2 || p.BySender["alice"] != 2 {
			t.Fatalf("plan = %+v %v", p, err)
		}
		mustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES (2, 'alice', $1, $1)", wed10)
		if _, err := w.svc.Plan(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if got := w.deliveries(t, c.ID); got["planned"]+got["refused"] != 3 {
			t.Errorf("deliveries = %v", got)
		}
	})
}

// TestNoPermittedRecipient: a campaign nobody may receive fails, saying
// why.
func TestNoPermittedRecipient(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 3)
		seg, err := segment.NewStore(db, w.clock).Create(ctx, 1, segment.Input{Name: "three", Expression: "member:alice and orders = 0 and not reachable:wecom"})
		if err != nil {
			t.Fatal(err)
		}
		c := w.create(t, wecomInput(campaign.Audience{SegmentID: seg.ID}))
		w.svc.Schedule(ctx, c.ID)
		p, err := w.svc.Plan(ctx, c.ID)
		if err != nil || p.Permitted != 0 || p.Refused["NO_CONSENT"] != 1 {
			t.Fatalf("plan = %+v %v", p, err)
		}
		c, _ = w.svc.Get(ctx, c.ID)
		if c.State != campaign.Failed || !strings.Contains(c.Reason, "NO_CONSENT 1") {
			t.Errorf("campaign %s: %q", c.State, c.Reason)
		}
	})
}

// TestRule: recurring rules find their next occurrence in the instance's
// zone.
func TestRule(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	for _, tc := range []struct {
		rule string
		want time.Time
	}{
		{"daily 09:30", time.Date(2026, 3, 5, 9, 30, 0, 0, sh)},
		{"daily 10:30", time.Date(2026, 3, 4, 10, 30, 0, 0, sh)},
		{"weekly mon 08:00", time.Date(2026, 3, 9, 8, 0, 0, 0, sh)},
		{"monthly 1 09:00", time.Date(2026, 4, 1, 9, 0, 0, 0, sh)},
	} {
		r, err := campaign.ParseRule(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Next(wed10, sh); !got.Equal(tc.want) {
			t.Errorf("%s: next = %v, want %v", tc.rule, got.In(sh), tc.want)
		}
	}
	for _, bad := range []string{"", "daily", "daily 25:00", "weekly xyz 08:00", "monthly 31 09:00", "yearly 09:00"} {
		if _, err := campaign.ParseRule(bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("ParseRule(%q) = %v", bad, err)
		}
	}
}

// TestStartDueFailsWhatCannotPlan: a campaign whose saved segment was
// deleted fails, saying why, and the other due campaigns start.
func TestStartDueFailsWhatCannotPlan(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 6)
		segs := segment.NewStore(db, w.clock)
		seg, err := segs.Create(ctx, 1, segment.Input{Name: "gone", Expression: "member:alice"})
		if err != nil {
			t.Fatal(err)
		}
		gone := w.create(t, wecomInput(campaign.Audience{SegmentID: seg.ID}))
		ok := w.create(t, wecomInput(campaign.Audience{Tags: []string{"vip"}}))
		for _, c := range []campaign.Campaign{gone, ok} {
			if _, err := w.svc.Schedule(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := segs.Delete(ctx, seg.ID); err != nil {
			t.Fatal(err)
		}
		started, err := w.svc.StartDue(ctx)
		if err != nil || len(started) != 1 || started[0] != ok.ID {
			t.Fatalf("started %v, %v", started, err)
		}
		gone, _ = w.svc.Get(ctx, gone.ID)
		if gone.State != campaign.Failed || !strings.Contains(gone.Reason, "no segment") {
			t.Errorf("the campaign without its segment: %s %q", gone.State, gone.Reason)
		}
	})
}
