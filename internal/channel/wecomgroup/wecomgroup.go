// Package wecomgroup sends campaigns as WeCom group messages to customers
// (群发, add_msg_template with chat_type single; research notes §5): one
// task per member and batch, of at most 10,000 customers, which the member
// confirms in the WeCom client. It implements campaign.Transport (Send,
// with one gate.Permit per customer), campaign.Reconciler (after a crash,
// the member's tasks in the window are listed with get_groupmsg_list_v2
// and matched by content hash) and campaign.Follower (get_groupmsg_task /
// get_groupmsg_send_result per customer: sent, not sent yet, not a friend,
// over the platform's limit; remind_groupmsg_send and
// cancel_groupmsg_send).
package wecomgroup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/wecom"
)

// Reasons a customer's message failed, as deliveries record them.
const (
	ReasonFailList  = "FAIL_LIST"  // add_msg_template could not address the customer
	ReasonNotFriend = "NOT_FRIEND" // no longer the member's contact when the member confirmed
	ReasonOverLimit = "OVER_LIMIT" // the customer had received the platform's limit of group messages
)

// Sender creates group-message tasks.
type Sender struct {
	claim  *channel.Claimer
	client func(context.Context) (*wecom.Client, error)
	clock  kith.Clock
}

// New returns a Sender that consumes permits with claim (a campaign
// Service's Claimer) and calls WeCom with the client client returns.
func New(claim *channel.Claimer, client func(context.Context) (*wecom.Client, error), clock kith.Clock) *Sender {
	return &Sender{claim: claim, client: client, clock: clock}
}

// Message returns the add_msg_template body of a campaign's content for
// the customers of one member.
func Message(c campaign.Content, sender string, externalUserIDs []string) wecom.MsgTemplate {
	m := wecom.MsgTemplate{ChatType: "single", Sender: sender, ExternalUserID: externalUserIDs}
	if c.Text != "" {
		m.Text = &wecom.MsgText{Content: c.Text}
	}
	for _, a := range c.Attachments {
		m.Attachments = append(m.Attachments, attachment(a))
	}
	return m
}

func attachment(a campaign.Attachment) wecom.MsgAttachment {
	out := wecom.MsgAttachment{MsgType: a.Type}
	switch a.Type {
	case "image":
		out.Image = &wecom.WelcomeImage{MediaID: a.MediaID}
	case "link":
		out.Link = &wecom.WelcomeLink{Title: a.Title, URL: a.URL}
	case "miniprogram":
		out.MiniProgram = &wecom.WelcomeMiniProgram{Title: a.Title, PicMediaID: a.MediaID, AppID: a.AppID, Page: a.Page}
	case "video":
		out.Video = &wecom.MsgMedia{MediaID: a.MediaID}
	case "file":
		out.File = &wecom.MsgMedia{MediaID: a.MediaID}
	}
	return out
}

// contentOf turns a task as WeCom lists it back into campaign content, to
// hash it.
func contentOf(m wecom.GroupMsg) campaign.Content {
	c := campaign.Content{Text: m.Text.Content}
	for _, a := range m.Attachments {
		x := campaign.Attachment{Type: a.MsgType}
		switch {
		case a.Image != nil:
			x.MediaID = a.Image.MediaID
		case a.Link != nil:
			x.Title, x.URL = a.Link.Title, a.Link.URL
		case a.MiniProgram != nil:
			x.Title, x.MediaID, x.AppID, x.Page = a.MiniProgram.Title, a.MiniProgram.PicMediaID, a.MiniProgram.AppID, a.MiniProgram.Page
		case a.Video != nil:
			x.MediaID = a.Video.MediaID
		case a.File != nil:
			x.MediaID = a.File.MediaID
		}
		c.Attachments = append(c.Attachments, x)
	}
	return c
}

// Send creates one task for the batch's member and the customers of the
// permits: it checks the request, consumes the permits (a refused one
// gets a Refused result and is left out), calls add_msg_template once
// (never retried: a task created twice reaches people twice) and returns
// one result per permit. Customers in fail_list are Failed; the others are
// Sent with the task's msgid, pending the member's confirmation. No answer
// (or a busy one) makes every result Unknown: the campaign's reconciler
// asks WeCom before anything is sent again.
func (s *Sender) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	if len(permits) == 0 || len(permits) > wecom.MaxGroupMsgCustomers {
		return nil, kith.Errorf(kith.EINVALID, "wecomgroup: a task takes 1 to %d customers, not %d", wecom.MaxGroupMsgCustomers, len(permits))
	}
	if b.Sender == "" {
		return nil, kith.Errorf(kith.EINVALID, "wecomgroup: a task needs its member")
	}
	for _, p := range permits {
		if p.Channel() != consent.ChannelWeCom || p.Person().Kind != consent.KindExternalUser {
			return nil, kith.Errorf(kith.EINVALID, "wecomgroup: permit %s is not for a WeCom customer", p.ID())
		}
	}
	client, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	probe := Message(b.Campaign.Content, b.Sender, []string{"x"})
	if probe.Text == nil && len(probe.Attachments) == 0 {
		return nil, kith.Errorf(kith.EINVALID, "wecomgroup: the message has no text and no attachment")
	}
	refusals, err := s.claim.Claim(ctx, permits)
	if err != nil {
		return nil, err
	}
	results := make([]channel.Result, len(permits))
	var ids []string
	var idx []int
	for i, p := range permits {
		if refusals[i] != nil {
			results[i] = channel.Refusal(p, refusals[i])
			continue
		}
		ids = append(ids, p.Person().Key)
		idx = append(idx, i)
	}
	if len(ids) == 0 {
		return results, nil
	}
	res, err := client.AddMsgTemplate(ctx, Message(b.Campaign.Content, b.Sender, ids))
	for _, i := range idx {
		results[i] = outcome(permits[i], res, err)
	}
	return results, nil
}

func outcome(p gate.Permit, res wecom.MsgTemplateResult, err error) channel.Result {
	r := channel.Result{Permit: p.ID()}
	code := wecom.ErrorCode(err)
	switch {
	case err == nil && slices.Contains(res.FailList, p.Person().Key):
		r.Status, r.Code, r.Message = channel.Failed, ReasonFailList, "WeCom cannot send this member's group message to the customer."
	case err == nil:
		r.Status, r.ProviderID = channel.Sent, res.MsgID
	case code == wecom.CodeBusy || code == wecom.CodeRateLimited || code == wecom.CodeConcurrency || code == 0 && kith.ErrorCode(err) != kith.EINVALID:
		// No answer, or "busy" from a call that may have created the task.
		r.Status, r.Code, r.Message = channel.Unknown, strconv.Itoa(code), "No clear answer from WeCom: "+kith.ErrorMessage(err)
	default:
		r.Status, r.Code, r.Message = channel.Failed, strconv.Itoa(code), wecom.Meaning(code)
		if code == 0 {
			r.Message = kith.ErrorMessage(err)
		}
	}
	return r
}

// Reconciler finds a batch's task after a crash.
type Reconciler struct {
	client func(context.Context) (*wecom.Client, error)
	clock  kith.Clock
	// Grace is how long after the batch's mark a task missing from the
	// list still leaves the batch in doubt (campaign.ReconcileGrace).
	Grace time.Duration
}

// NewReconciler returns a Reconciler.
func NewReconciler(client func(context.Context) (*wecom.Client, error), clock kith.Clock) *Reconciler {
	return &Reconciler{client: client, clock: clock, Grace: campaign.ReconcileGrace}
}

// Reconcile lists the member's corp tasks created from a little before the
// batch was marked until now and looks for one with the campaign's content
// hash that no other batch holds and that goes to the
// batch's customers. Found: Sent with its msgid. Not found after reading
// every page: not sent — once Grace has passed since the mark; before, a
// task created just before a crash may not be listed yet, so the batch
// stays in doubt (an EUNAVAILABLE error) and is asked about again.
func (r *Reconciler) Reconcile(ctx context.Context, d campaign.Doubt) (campaign.Outcome, error) {
	client, err := r.client(ctx)
	if err != nil {
		return campaign.Outcome{}, err
	}
	start := d.MarkedAt.Add(-time.Minute)
	end := r.clock.Now().Add(time.Minute)
	if end.Sub(start) > 30*24*time.Hour {
		start = end.Add(-30 * 24 * time.Hour)
	}
	want := d.Campaign.Content.Hash()
	cursor := ""
	for {
		page, err := client.GroupMsgListV2(ctx, wecom.GroupMsgListQuery{ChatType: "single", StartTime: start.Unix(), EndTime: end.Unix(),
			Creator: d.Sender, FilterType: wecom.GroupMsgFilterCorp, Limit: wecom.MaxGroupMsgListPage, Cursor: cursor})
		if err != nil {
			return campaign.Outcome{}, fmt.Errorf("wecomgroup: reconcile: %w", err)
		}
		for _, m := range page.List {
			if m.Creator != d.Sender || slices.Contains(d.Known, m.MsgID) || contentOf(m).Hash() != want {
				continue
			}
			mine, err := r.goesTo(ctx, client, m.MsgID, d)
			if err != nil {
				return campaign.Outcome{}, err
			}
			if mine {
				return campaign.Outcome{Sent: true, ProviderID: m.MsgID}, nil
			}
		}
		if page.NextCursor == "" {
			if wait := d.MarkedAt.Add(r.Grace).Sub(r.clock.Now()); wait > 0 {
				return campaign.Outcome{}, kith.Errorf(kith.EUNAVAILABLE, "wecomgroup: batch %d's task is not listed yet; asking again in %s before concluding it was never sent",
					d.BatchID, wait.Round(time.Second))
			}
			return campaign.Outcome{}, nil
		}
		cursor = page.NextCursor
	}
}

// goesTo reports whether task msgID goes to one of the batch's customers.
func (r *Reconciler) goesTo(ctx context.Context, client *wecom.Client, msgID string, d campaign.Doubt) (bool, error) {
	if len(d.Persons) == 0 {
		return true, nil
	}
	keys := map[string]bool{}
	for _, p := range d.Persons {
		keys[p.Key] = true
	}
	res, err := client.GroupMsgSendResult(ctx, msgID, d.Sender, "")
	if err != nil {
		return false, fmt.Errorf("wecomgroup: reconcile %s: %w", msgID, err)
	}
	for _, s := range res.List {
		if keys[s.ExternalUserID] {
			return true, nil
		}
	}
	return false, nil
}

// Follower reads what became of tasks, reminds and cancels them.
type Follower struct {
	client func(context.Context) (*wecom.Client, error)
}

// NewFollower returns a Follower.
func NewFollower(client func(context.Context) (*wecom.Client, error)) *Follower {
	return &Follower{client: client}
}

// Track implements campaign.Follower: get_groupmsg_task first (while the
// member has not confirmed, every customer waits and nothing more is
// read), then every page of get_groupmsg_send_result for the member's part.
func (f *Follower) Track(ctx context.Context, sender, msgID string) (map[string]campaign.Tracked, error) {
	client, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]campaign.Tracked{}
	confirmed, err := f.confirmed(ctx, client, sender, msgID)
	if err != nil || !confirmed {
		return out, err
	}
	cursor := ""
	for {
		page, err := client.GroupMsgSendResult(ctx, msgID, sender, cursor)
		if wecom.ErrorCode(err) == wecom.CodeGroupMsgDispatching {
			return out, nil // nothing to read yet
		}
		if err != nil {
			return nil, fmt.Errorf("wecomgroup: track %s: %w", msgID, err)
		}
		for _, s := range page.List {
			switch s.Status {
			case wecom.GroupMsgSent:
				out[s.ExternalUserID] = campaign.Tracked{State: campaign.DeliveryDelivered}
			case wecom.GroupMsgNotFriend:
				out[s.ExternalUserID] = campaign.Tracked{State: campaign.DeliveryFailed, Reason: ReasonNotFriend}
			case wecom.GroupMsgOverLimit:
				out[s.ExternalUserID] = campaign.Tracked{State: campaign.DeliveryFailed, Reason: ReasonOverLimit}
			default:
				out[s.ExternalUserID] = campaign.Tracked{}
			}
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// confirmed reports whether sender confirmed task msgID.
func (f *Follower) confirmed(ctx context.Context, client *wecom.Client, sender, msgID string) (bool, error) {
	cursor := ""
	for {
		page, err := client.GroupMsgTask(ctx, msgID, cursor)
		if wecom.ErrorCode(err) == wecom.CodeGroupMsgDispatching {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("wecomgroup: task %s: %w", msgID, err)
		}
		for _, t := range page.List {
			if t.UserID == sender {
				return t.Status == wecom.GroupTaskSent, nil
			}
		}
		if page.NextCursor == "" {
			return false, nil
		}
		cursor = page.NextCursor
	}
}

// Remind implements campaign.Follower (remind_groupmsg_send).
func (f *Follower) Remind(ctx context.Context, msgID string) error {
	client, err := f.client(ctx)
	if err != nil {
		return err
	}
	return client.RemindGroupMsgSend(ctx, msgID)
}

// CancelTask implements campaign.Follower (cancel_groupmsg_send); a task
// cancelled before is not an error.
func (f *Follower) CancelTask(ctx context.Context, msgID string) error {
	client, err := f.client(ctx)
	if err != nil {
		return err
	}
	if err := client.CancelGroupMsgSend(ctx, msgID); err != nil && wecom.ErrorCode(err) != wecom.CodeGroupMsgCancelled {
		return err
	}
	return nil
}

var (
	_ campaign.Transport  = (*Sender)(nil)
	_ campaign.Reconciler = (*Reconciler)(nil)
	_ campaign.Follower   = (*Follower)(nil)
)
