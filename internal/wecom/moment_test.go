package wecom_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// TestMomentEndpoints: add_moment_task, its job result, the listing, the
// members' publish status, the read-only likes and comments and the cancel,
// against the sandbox, with WeCom's field names, limits and codes.
func TestMomentEndpoints(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	sb := wecomtest.Start(t, wecomtest.Options{Now: func() time.Time { return now }})
	wecomtest.MustSeed(t, sb.Sandbox, 5, wecomtest.SeedOptions{Customers: 1})
	c, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	member := sb.Members()[0].UserID
	var mine []string
	for range 3 {
		d, err := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: member, NoWelcomeCode: true})
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, d.Event.ExternalUserID)
	}
	g, err := c.AddCorpTag(ctx, wecom.AddCorpTagRequest{GroupName: "Kith moments", Tag: []wecom.AddCorpTag{{Name: "c1-b1"}}})
	if err != nil {
		t.Fatal(err)
	}
	tag := g.Tag[0].ID
	// Two of the three carry the tag: only they may see the moment.
	for _, ext := range mine[:2] {
		if err := c.MarkTag(ctx, wecom.MarkTagRequest{UserID: member, ExternalUserID: ext, AddTag: []string{tag}}); err != nil {
			t.Fatal(err)
		}
	}
	task := wecom.MomentTask{Text: &wecom.MomentText{Content: "春季新品"},
		Attachments:  []wecom.MomentAttachment{{MsgType: "link", Link: &wecom.MomentLink{Title: "新品", URL: "https://shop.example", MediaID: "cover"}}},
		VisibleRange: wecom.MomentVisibleRange{SenderList: &wecom.MomentSenders{UserList: []string{member, "ghost"}}, ExternalContactList: &wecom.MomentCustomers{TagList: []string{tag, "etNoSuchTag"}}}}
	sb.SetMomentJobPolls(1)
	job, err := c.AddMomentTask(ctx, task)
	if err != nil || job == "" {
		t.Fatalf("add: %q %v", job, err)
	}
	res, err := c.MomentTaskResult(ctx, job)
	if err != nil || res.Status != wecom.MomentJobRunning || res.Done() {
		t.Fatalf("first poll: %+v %v", res, err)
	}
	res, err = c.MomentTaskResult(ctx, job)
	if err != nil || res.Status != wecom.MomentJobDone || !res.Done() || res.Type != "add_moment_task" ||
		len(res.Result.InvalidSenderList.UserList) != 1 || res.Result.InvalidSenderList.UserList[0] != "ghost" ||
		len(res.Result.InvalidExternalContactList.TagList) != 1 {
		t.Fatalf("second poll: %+v %v", res, err)
	}
	moment := res.Result.MomentID

	// Kith's own checks, before any call.
	senders := &wecom.MomentSenders{UserList: []string{member}}
	tags := &wecom.MomentCustomers{TagList: []string{tag}}
	img := func(n int) []wecom.MomentAttachment {
		out := make([]wecom.MomentAttachment, n)
		for i := range out {
			out[i] = wecom.MomentAttachment{MsgType: "image", Image: &wecom.MomentMedia{MediaID: "m"}}
		}
		return out
	}
	video := wecom.MomentAttachment{MsgType: "video", Video: &wecom.MomentMedia{MediaID: "v"}}
	for i, bad := range []wecom.MomentTask{
		{Text: &wecom.MomentText{Content: strings.Repeat("新", 2001)}, VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{Text: &wecom.MomentText{Content: strings.Repeat("a", 4001)}, VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{Attachments: img(10), VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{Attachments: append(img(1), video), VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{Attachments: []wecom.MomentAttachment{video, video}, VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{Attachments: []wecom.MomentAttachment{{MsgType: "file"}}, VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}},
		{Text: &wecom.MomentText{Content: "x"}, VisibleRange: wecom.MomentVisibleRange{ExternalContactList: tags}},
		{Text: &wecom.MomentText{Content: "x"}, VisibleRange: wecom.MomentVisibleRange{SenderList: senders}},
	} {
		if _, err := c.AddMomentTask(ctx, bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("bad task %d: %v", i, err)
		}
	}
	if _, err := c.AddMomentTask(ctx, wecom.MomentTask{Attachments: img(9), VisibleRange: wecom.MomentVisibleRange{SenderList: senders, ExternalContactList: tags}}); err != nil {
		t.Errorf("9 images: %v", err)
	}
	// Busy once: add_moment_task is not retried (a retry could post twice).
	if err := sb.InjectFault("/cgi-bin/externalcontact/add_moment_task", -1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddMomentTask(ctx, task); wecom.ErrorCode(err) != wecom.CodeBusy {
		t.Errorf("busy: %v", err)
	}
	if err := sb.InjectFault("/cgi-bin/externalcontact/add_moment_task", wecom.CodeMomentTooManyJobs, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddMomentTask(ctx, task); wecom.ErrorCode(err) != wecom.CodeMomentTooManyJobs || !strings.Contains(wecom.Meaning(41078), "moment") {
		t.Errorf("41078: %v", err)
	}

	list, err := c.MomentList(ctx, wecom.MomentListQuery{StartTime: now.Add(-time.Hour).Unix(), EndTime: now.Unix(), Limit: wecom.MaxMomentListPage})
	if err != nil || len(list.List) != 2 || list.List[0].MomentID != moment || list.List[0].Text.Content != "春季新品" ||
		list.List[0].CreateTime != now.Unix() || list.List[0].Link == nil || list.List[0].Link.URL != "https://shop.example" || len(list.List[1].Image) != 9 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, q := range []wecom.MomentListQuery{{StartTime: 1, EndTime: 1 + 31*24*3600}, {StartTime: 2, EndTime: 1}, {StartTime: 1, EndTime: 2, Limit: 21}} {
		if _, err := c.MomentList(ctx, q); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("list %+v: %v", q, err)
		}
	}

	tasks, err := c.MomentTask(ctx, moment, "")
	if err != nil || len(tasks.List) != 1 || tasks.List[0].UserID != member || tasks.List[0].PublishStatus != wecom.MomentNotPublished {
		t.Fatalf("task: %+v %v", tasks, err)
	}
	if err := sb.MemberPublishesMoment(member, moment); err != nil {
		t.Fatal(err)
	}
	tasks, _ = c.MomentTask(ctx, moment, "")
	if tasks.List[0].PublishStatus != wecom.MomentPublished {
		t.Fatalf("published: %+v", tasks)
	}
	// The untagged customer cannot see it, so cannot like it.
	if err := sb.CustomerLikesMoment(moment, member, mine[2]); err == nil {
		t.Error("an untagged customer liked the moment")
	}
	if err := sb.CustomerLikesMoment(moment, member, mine[0]); err != nil {
		t.Fatal(err)
	}
	if err := sb.CustomerCommentsMoment(moment, member, mine[1]); err != nil {
		t.Fatal(err)
	}
	cm, err := c.MomentComments(ctx, moment, member)
	if err != nil || len(cm.LikeList) != 1 || cm.LikeList[0].ExternalUserID != mine[0] || len(cm.CommentList) != 1 {
		t.Fatalf("comments: %+v %v", cm, err)
	}
	if _, err := c.MomentComments(ctx, moment, "ghost"); wecom.ErrorCode(err) != wecom.CodeInvalidUserID {
		t.Errorf("comments of a non-sender: %v", err)
	}
	if err := c.CancelMomentTask(ctx, moment); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelMomentTask(ctx, ""); kith.ErrorCode(err) != kith.EINVALID {
		t.Errorf("cancel without id: %v", err)
	}
	if _, err := c.MomentTaskResult(ctx, "nojob"); wecom.ErrorCode(err) != wecom.CodeInvalidParameter {
		t.Errorf("unknown job: %v", err)
	}
}

// TestMomentTooManyJobs: the sandbox answers 41078 while too many jobs are
// unfinished, and the client returns it typed.
func TestMomentTooManyJobs(t *testing.T) {
	ctx := context.Background()
	sb := wecomtest.Start(t, wecomtest.Options{})
	wecomtest.MustSeed(t, sb.Sandbox, 5, wecomtest.SeedOptions{Customers: 1})
	c, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret()})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.AddCorpTag(ctx, wecom.AddCorpTagRequest{GroupName: "Kith moments", Tag: []wecom.AddCorpTag{{Name: "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	sb.SetMomentJobPolls(100)
	task := wecom.MomentTask{Text: &wecom.MomentText{Content: "x"}, VisibleRange: wecom.MomentVisibleRange{
		SenderList: &wecom.MomentSenders{UserList: []string{sb.Members()[0].UserID}}, ExternalContactList: &wecom.MomentCustomers{TagList: []string{g.Tag[0].ID}}}}
	var last error
	for range 10 {
		if _, last = c.AddMomentTask(ctx, task); last != nil {
			break
		}
	}
	if wecom.ErrorCode(last) != wecom.CodeMomentTooManyJobs {
		t.Fatalf("want 41078, got %v", last)
	}
}
