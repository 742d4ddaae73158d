package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// demoScans is how many customers scan the demo channels at a start.
const demoScans = 48

// sandboxChannels gives `serve --sandbox` channels to show: once the demo
// company is synced, channels kept from an earlier start get their codes
// again (the sandbox forgets them when it stops), or two demo channels are
// created; then some customers scan them, and a few leave again, so the
// statistics have something true to show.
func sandboxChannels(ctx context.Context, db *store.DB, acq *acquisition.Service, sb *wecomtest.Sandbox, log *slog.Logger) {
	if !waitMembers(ctx, db, len(sb.Members())) {
		return
	}
	chs, err := acq.List(ctx)
	if err != nil {
		log.Warn("sandbox channels", "err", err)
		return
	}
	for _, ch := range chs {
		if _, err := acq.Recreate(ctx, ch.ID); err != nil {
			log.Warn("sandbox channels: make a code again", "channel", ch.ID, "err", err)
		}
	}
	if len(chs) == 0 {
		if chs, err = demoChannels(ctx, acq, sb); err != nil {
			log.Warn("sandbox channels: create the demo channels", "err", err)
			return
		}
	}
	var leaving []wecomtest.Scan
	for i := range demoScans {
		ch := chs[i%len(chs)]
		var sc wecomtest.Scan
		if ch.Kind == acquisition.KindCode {
			sc, err = sb.ScanContactWay(ctx, ch.RemoteID, "")
		} else {
			sc, err = sb.OpenLink(ctx, ch.RemoteID, ch.State, "")
		}
		if err != nil {
			log.Warn("sandbox channels: a demo scan", "channel", ch.ID, "err", err)
			return
		}
		if i%9 == 8 {
			leaving = append(leaving, sc)
		}
	}
	// Events may be applied out of order; the customers leave once their
	// arrival is in Kith.
	waitArrivals(ctx, db, demoScans)
	for _, sc := range leaving {
		if _, err := sb.CustomerDeletesMember(ctx, sc.UserID, sc.ExternalUserID); err != nil {
			log.Warn("sandbox channels: a demo customer leaving", "err", err)
		}
	}
}

// waitArrivals waits (at most 30 s) until n customers arrived through
// channels.
func waitArrivals(ctx context.Context, db *store.DB, n int) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		var got int
		if db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM acq_arrivals").Scan(&got) == nil && got >= n {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitMembers waits (at most two minutes) until a full sync finished and
// brought n members.
func waitMembers(ctx context.Context, db *store.DB, n int) bool {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		var got, done int
		if db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM members").Scan(&got) == nil && got >= n && n > 0 &&
			db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM sync_runs WHERE status = 'done'").Scan(&done) == nil && done > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(500 * time.Millisecond):
		}
	}
	return false
}

func demoChannels(ctx context.Context, acq *acquisition.Service, sb *wecomtest.Sandbox) ([]*acquisition.Channel, error) {
	ms := sb.Members()
	var tags []string
	if gs := sb.TagGroups(); len(gs) > 2 && len(gs[2].Tags) > 4 {
		tags = []string{gs[2].Tags[4].ID} // 来源渠道 · 线下门店
	}
	if err := acq.SetDefaultWelcome(ctx, &acquisition.Welcome{Text: "你好 {name}，我是您的专属顾问，有问题随时找我。"}); err != nil {
		return nil, err
	}
	code, err := acq.Create(ctx, acquisition.Input{Kind: acquisition.KindCode, Name: "门店海报", Group: "线下", SkipVerify: true, DailyCap: 20,
		Spec: acquisition.Spec{
			Members: []string{ms[0].UserID, ms[2].UserID},
			Shifts:  []acquisition.Shift{{Days: []time.Weekday{time.Saturday, time.Sunday}, From: 10 * 60, To: 18 * 60, Members: []string{ms[3].UserID}}},
			Backups: []string{ms[4].UserID},
			Tags:    tags,
			Welcome: &acquisition.Welcome{Text: "你好 {name}，欢迎光临！门店地址和营业时间请看下方链接。",
				Attachments: []acquisition.Attachment{{Type: acquisition.AttachLink, Title: "门店地址", URL: "https://example.com/store"}}},
		}})
	if err != nil {
		return nil, err
	}
	link, err := acq.Create(ctx, acquisition.Input{Kind: acquisition.KindLink, Name: "短信获客链接", Group: "短信", State: "sms-demo", SkipVerify: true,
		Spec: acquisition.Spec{Members: []string{ms[1].UserID}}})
	if err != nil {
		return nil, err
	}
	return []*acquisition.Channel{code, link}, nil
}
