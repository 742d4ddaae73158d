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

// TestGroupMsgEndpoints: add_msg_template and its read-back, remind and
// cancel against the sandbox, with WeCom's field names, limits and codes.
func TestGroupMsgEndpoints(t *testing.T) {
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
	text := &wecom.MsgText{Content: "春季新品"}
	res, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{ChatType: "single", Sender: member, ExternalUserID: append([]string{"wmNotMine"}, mine...), Text: text,
		Attachments: []wecom.MsgAttachment{{MsgType: "link", Link: &wecom.WelcomeLink{Title: "新品", URL: "https://shop.example"}}}})
	if err != nil || res.MsgID == "" || len(res.FailList) != 1 || res.FailList[0] != "wmNotMine" {
		t.Fatalf("add: %+v %v", res, err)
	}
	// Refused before the call: Kith's own checks.
	for _, bad := range []wecom.MsgTemplate{
		{ChatType: "group", Sender: member, ExternalUserID: mine, Text: text},
		{ChatType: "single", ExternalUserID: mine, Text: text},
		{ChatType: "single", Sender: member, Text: text},
		{ChatType: "single", Sender: member, ExternalUserID: mine, Text: &wecom.MsgText{Content: strings.Repeat("a", 4001)}},
		{ChatType: "single", Sender: member, ExternalUserID: mine, Text: text, Attachments: make([]wecom.MsgAttachment, 10)},
		{ChatType: "single", Sender: member, ExternalUserID: make([]string, 10001), Text: text},
	} {
		if _, err := c.AddMsgTemplate(ctx, bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("add %+v: %v", bad.Sender, err)
		}
	}
	// Nobody sendable: 41048.
	if _, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{ChatType: "single", Sender: member, ExternalUserID: []string{"wmNobody"}, Text: text}); wecom.ErrorCode(err) != wecom.CodeNoSendableCustomer {
		t.Errorf("no sendable customer: %v", err)
	}
	// Busy once: add_msg_template is not retried (a retry could create a
	// second task).
	if err := sb.InjectFault("/cgi-bin/externalcontact/add_msg_template", -1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{ChatType: "single", Sender: member, ExternalUserID: mine, Text: text}); wecom.ErrorCode(err) != wecom.CodeBusy {
		t.Errorf("busy: %v", err)
	}
	list, err := c.GroupMsgListV2(ctx, wecom.GroupMsgListQuery{ChatType: "single", StartTime: now.Add(-time.Hour).Unix(), EndTime: now.Unix(), Creator: member})
	if err != nil || len(list.List) != 1 || list.List[0].MsgID != res.MsgID || list.List[0].Text.Content != "春季新品" ||
		list.List[0].CreateTime != now.Unix() || list.List[0].Attachments[0].Link.URL != "https://shop.example" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := c.GroupMsgListV2(ctx, wecom.GroupMsgListQuery{StartTime: 1, EndTime: 1 + 40*24*3600}); kith.ErrorCode(err) != kith.EINVALID {
		t.Errorf("a window over a month: %v", err)
	}
	tasks, err := c.GroupMsgTask(ctx, res.MsgID, "")
	if err != nil || len(tasks.List) != 1 || tasks.List[0].UserID != member || tasks.List[0].Status != wecom.GroupTaskNotSent {
		t.Fatalf("task: %+v %v", tasks, err)
	}
	if err := sb.MemberConfirmsGroupMsg(member, res.MsgID); err != nil {
		t.Fatal(err)
	}
	tasks, _ = c.GroupMsgTask(ctx, res.MsgID, "")
	if tasks.List[0].Status != wecom.GroupTaskSent || tasks.List[0].SendTime != now.Unix() {
		t.Errorf("task after confirming: %+v", tasks)
	}
	sends, err := c.GroupMsgSendResult(ctx, res.MsgID, member, "")
	if err != nil || len(sends.List) != 3 {
		t.Fatalf("send result: %+v %v", sends, err)
	}
	for _, s := range sends.List {
		if s.Status != wecom.GroupMsgSent || s.UserID != member {
			t.Errorf("send %+v", s)
		}
	}
	for range 3 {
		if err := c.RemindGroupMsgSend(ctx, res.MsgID); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemindGroupMsgSend(ctx, res.MsgID); wecom.ErrorCode(err) != wecom.CodeRemindOverLimit {
		t.Errorf("fourth remind: %v", err)
	}
	if err := c.CancelGroupMsgSend(ctx, res.MsgID); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelGroupMsgSend(ctx, res.MsgID); wecom.ErrorCode(err) != wecom.CodeGroupMsgCancelled {
		t.Errorf("cancel twice: %v", err)
	}
}

// TestGroupMsgMonthlyLimit: a customer receives at most days-in-month
// group messages a month; the next one is reported over the limit.
func TestGroupMsgMonthlyLimit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC) // February 2026: 28 days
	sb := wecomtest.Start(t, wecomtest.Options{Now: func() time.Time { return now }, RateLimitPerMinute: 100000, RateLimitPerHour: 1000000})
	wecomtest.MustSeed(t, sb.Sandbox, 5, wecomtest.SeedOptions{Customers: 1})
	c, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	member := sb.Members()[0].UserID
	d, err := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: member, NoWelcomeCode: true})
	if err != nil {
		t.Fatal(err)
	}
	ext := d.Event.ExternalUserID
	var last string
	for range 29 {
		res, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{ChatType: "single", Sender: member, ExternalUserID: []string{ext}, Text: &wecom.MsgText{Content: "hi"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.MemberConfirmsGroupMsg(member, res.MsgID); err != nil {
			t.Fatal(err)
		}
		last = res.MsgID
	}
	sends, err := c.GroupMsgSendResult(ctx, last, member, "")
	if err != nil || len(sends.List) != 1 || sends.List[0].Status != wecom.GroupMsgOverLimit {
		t.Fatalf("29th message: %+v %v", sends, err)
	}
	if n := sb.GroupMsgsReceived(ext); n != 28 {
		t.Errorf("received %d, want 28", n)
	}
}
