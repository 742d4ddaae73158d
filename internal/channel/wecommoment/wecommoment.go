// Package wecommoment sends campaigns as WeCom customer moments (客户朋友圈,
// add_moment_task; research notes §6): one moment task per member and
// batch, which the member publishes from the WeCom client.
//
// A moment is seen by every customer in its visible range, so the visible
// range is made of permitted customers only. The campaign engine plans the
// audience (a segment snapshot or tags, ∩ the customers of the chosen
// members) and asks the gate about each customer (DecideBatch, channel
// wecom); refusals are recorded with their reasons. At run time the engine
// asks the gate again and hands the permits of one member's batch to Send,
// which
//
//  1. consumes the permits (channel.Claimer: each delivery moves to claimed
//     in the transaction that consumes its permit; a permit the gate now
//     refuses is left out);
//  2. creates an enterprise tag for this batch alone, "kith-c<campaign>-b<batch>",
//     in the tag group "Kith moments" (add_corp_tag), and puts it with
//     mark_tag on the relation of the member with each claimed customer,
//     and nobody else, writing both through to the local tables;
//  3. calls add_moment_task once with sender_list.user_list = [the member]
//     and external_contact_list.tag_list = [that tag], then reads
//     get_moment_task_result for the moment's id.
//
// A customer refused by the gate, at planning or at the claim, never gets
// the tag, so cannot see the moment. The tag is per batch, not per
// campaign, so a customer tagged for one batch never sees the moment of
// another (a second batch of the same member, after a retry or quiet
// hours, makes a moment of its own with its own tag). Enterprise tags are
// capped at 3000 per corp (40126): every batch uses one, and
// Follower.DeleteTags (run with the stats job) deletes it (del_corp_tag)
// once the batch's task is over, recording moment_tasks.tag_deleted_at.
//
// Creating the task is the batch's call: marked before (campaign_batches
// 'calling' and a moment_tasks row with the tag), settled after. After a
// crash the Reconciler decides a batch in doubt before anything is
// retried: no tag recorded means no task can exist; a recorded jobid is
// asked with get_moment_task_result; otherwise get_moment_list is read
// over the window and a moment with the campaign's content hash whose
// get_moment_task names the member (and no other batch holds) is the
// batch's.
//
// Kith never likes or comments: WeCom has no API for it and Kith has none.
// The Follower reads each member's publish status (get_moment_task), the
// likes and comments (get_moment_comments, read-only counts refreshed by a
// job), and cancels (cancel_moment_task). There is no remind API for
// moments either.
package wecommoment

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
)

// TagGroupName is the enterprise tag group of the moments' tags.
const TagGroupName = "Kith moments"

// Reasons a customer's moment failed, as deliveries record them.
const (
	ReasonTagFailed = "TAG_FAILED" // the customer could not be tagged: not in the visible range
	ReasonNoMoment  = "NO_MOMENT"  // WeCom created no moment for the task
)

// Client returns the WeCom client to call.
type Client func(context.Context) (*wecom.Client, error)

// Sender creates moment tasks.
type Sender struct {
	claim  *channel.Claimer
	client Client
	db     *store.DB
	clock  kith.Clock
	// Polls is how many times Send reads get_moment_task_result for the
	// moment's id, PollPause apart; a job still running after them is
	// followed up by the Follower.
	Polls     int
	PollPause time.Duration
}

// New returns a Sender that consumes permits with claim (a campaign
// Service's Claimer) and records its tasks in db.
func New(claim *channel.Claimer, client Client, db *store.DB, clock kith.Clock) *Sender {
	return &Sender{claim: claim, client: client, db: db, clock: clock, Polls: 3, PollPause: time.Second}
}

// TagName is the name of batch b's tag (at most 30 characters).
func TagName(campaignID, batchID int64) string {
	return fmt.Sprintf("kith-c%d-b%d", campaignID, batchID)
}

// Task returns the add_moment_task body of a campaign's content for one
// member and one tag.
func Task(c campaign.Content, sender, tagID string) wecom.MomentTask {
	t := wecom.MomentTask{VisibleRange: wecom.MomentVisibleRange{SenderList: &wecom.MomentSenders{UserList: []string{sender}},
		ExternalContactList: &wecom.MomentCustomers{TagList: []string{tagID}}}}
	if c.Text != "" {
		t.Text = &wecom.MomentText{Content: c.Text}
	}
	for _, a := range c.Attachments {
		x := wecom.MomentAttachment{MsgType: a.Type}
		switch a.Type {
		case "image":
			x.Image = &wecom.MomentMedia{MediaID: a.MediaID}
		case "video":
			x.Video = &wecom.MomentMedia{MediaID: a.MediaID}
		case "link":
			x.Link = &wecom.MomentLink{Title: a.Title, URL: a.URL, MediaID: a.MediaID}
		}
		t.Attachments = append(t.Attachments, x)
	}
	return t
}

// Send makes the batch's moment: it checks the request, consumes the
// permits, tags the claimed customers with the batch's own tag, creates the
// task once (never retried) and returns one result per permit. See the
// package documentation.
func (s *Sender) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	if len(permits) == 0 {
		return nil, kith.Errorf(kith.EINVALID, "wecommoment: a batch needs at least one permit")
	}
	if b.Sender == "" || b.ID == 0 {
		return nil, kith.Errorf(kith.EINVALID, "wecommoment: a moment task needs its member and its batch")
	}
	for _, p := range permits {
		if p.Channel() != consent.ChannelWeCom || p.Person().Kind != consent.KindExternalUser {
			return nil, kith.Errorf(kith.EINVALID, "wecommoment: permit %s is not for a WeCom customer", p.ID())
		}
	}
	if err := Task(b.Campaign.Content, b.Sender, "probe").Check(); err != nil {
		return nil, err
	}
	client, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	refusals, err := s.claim.Claim(ctx, permits)
	if err != nil {
		return nil, err
	}
	results := make([]channel.Result, len(permits))
	var idx []int
	for i, p := range permits {
		if refusals[i] != nil {
			results[i] = channel.Refusal(p, refusals[i])
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return results, nil
	}
	tagID, err := s.batchTag(ctx, client, b)
	if err != nil {
		for _, i := range idx {
			results[i] = failure(permits[i], err, ReasonTagFailed)
		}
		return results, nil
	}
	var tagged []int
	for _, i := range idx {
		err := s.mark(ctx, client, b.Sender, permits[i].Person().Key, tagID)
		if code := wecom.ErrorCode(err); err != nil && code != 0 && !busy(code) {
			// WeCom refused: the customer does not carry the tag.
			results[i] = failure(permits[i], err, ReasonTagFailed)
			continue
		}
		// Tagged, or perhaps tagged (no clear answer): either way the
		// customer may see this moment, which the consumed permit allows,
		// and is never tried again in another batch.
		tagged = append(tagged, i)
	}
	if len(tagged) == 0 {
		return results, nil
	}
	s.exec(ctx, "UPDATE moment_tasks SET tagged = $1 WHERE batch_id = $2", len(tagged), b.ID)
	provider, res := s.create(ctx, client, b, tagID)
	for _, i := range tagged {
		r := res
		r.Permit = permits[i].ID()
		r.ProviderID = provider
		results[i] = r
	}
	return results, nil
}

// batchTag creates the batch's tag and records it before any customer
// carries it.
func (s *Sender) batchTag(ctx context.Context, client *wecom.Client, b campaign.Batch) (string, error) {
	g, err := client.AddCorpTag(ctx, wecom.AddCorpTagRequest{GroupName: TagGroupName, Tag: []wecom.AddCorpTag{{Name: TagName(b.Campaign.ID, b.ID)}}})
	if err != nil {
		return "", err
	}
	var tagID string
	local := customer.TagGroup{GroupID: g.GroupID, Name: g.GroupName, Order: g.Order, CreatedAt: time.Unix(g.CreateTime, 0).UTC()}
	for _, t := range g.Tag {
		if t.Deleted {
			continue
		}
		local.Tags = append(local.Tags, customer.Tag{TagID: t.ID, GroupID: g.GroupID, Name: t.Name, Order: t.Order, CreatedAt: time.Unix(t.CreateTime, 0).UTC()})
		if t.Name == TagName(b.Campaign.ID, b.ID) {
			tagID = t.ID
		}
	}
	if tagID == "" {
		return "", kith.Errorf(kith.EUNAVAILABLE, "wecommoment: add_corp_tag did not return the tag %s", TagName(b.Campaign.ID, b.ID))
	}
	now := s.clock.Now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := customer.ApplyTagGroup(ctx, tx, local, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO moment_tasks (batch_id, campaign_id, sender, tag_id, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (batch_id) DO UPDATE SET tag_id = excluded.tag_id`, b.ID, b.Campaign.ID, b.Sender, tagID, now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("wecommoment: record the tag of batch %d: %w", b.ID, err)
	}
	return tagID, nil
}

// mark puts the tag on one relation, in WeCom and then locally.
func (s *Sender) mark(ctx context.Context, client *wecom.Client, member, ext, tagID string) error {
	if err := client.MarkTag(ctx, wecom.MarkTagRequest{UserID: member, ExternalUserID: ext, AddTag: []string{tagID}}); err != nil {
		return err
	}
	// Tagged in WeCom is what counts; a local copy that fails to write (the
	// relation not synced yet) comes with the next sync.
	_ = s.db.InTx(ctx, func(tx *sql.Tx) error { return customer.MarkTags(ctx, tx, ext, member, []string{tagID}, nil) })
	return nil
}

func busy(code int) bool {
	return code == wecom.CodeBusy || code == wecom.CodeRateLimited || code == wecom.CodeConcurrency
}

// create calls add_moment_task once and reads the moment's id. It returns
// the provider id (the moment id, or "job:<jobid>" while WeCom still
// creates it) and the result every tagged customer shares.
func (s *Sender) create(ctx context.Context, client *wecom.Client, b campaign.Batch, tagID string) (string, channel.Result) {
	job, err := client.AddMomentTask(ctx, Task(b.Campaign.Content, b.Sender, tagID))
	if err != nil {
		code := wecom.ErrorCode(err)
		switch {
		case code == wecom.CodeMomentTooManyJobs:
			// Refused before anything was created: try later, with a new tag.
			return "", channel.Result{Status: channel.Retryable, Code: strconv.Itoa(code), Message: wecom.Meaning(code)}
		case busy(code) || code == 0 && kith.ErrorCode(err) != kith.EINVALID:
			// No clear answer: the reconciler asks WeCom before anything else.
			return "", channel.Result{Status: channel.Unknown, Code: strconv.Itoa(code), Message: "No clear answer from WeCom: " + kith.ErrorMessage(err)}
		default:
			msg := wecom.Meaning(code)
			if code == 0 {
				msg = kith.ErrorMessage(err)
			}
			return "", channel.Result{Status: channel.Failed, Code: strconv.Itoa(code), Message: msg}
		}
	}
	s.exec(ctx, "UPDATE moment_tasks SET job_id = $1 WHERE batch_id = $2", job, b.ID)
	for i := range max(1, s.Polls) {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(s.PollPause):
			}
		}
		res, err := client.MomentTaskResult(ctx, job)
		if err != nil || res.Status != wecom.MomentJobDone {
			continue
		}
		if res.Result.MomentID == "" {
			s.exec(ctx, "UPDATE moment_tasks SET job_error = $1 WHERE batch_id = $2", res.Result.ErrCode, b.ID)
			return "", channel.Result{Status: channel.Failed, Code: ReasonNoMoment, Message: "WeCom created no moment: " + wecom.Meaning(res.Result.ErrCode)}
		}
		s.exec(ctx, "UPDATE moment_tasks SET moment_id = $1 WHERE batch_id = $2", res.Result.MomentID, b.ID)
		return res.Result.MomentID, channel.Result{Status: channel.Sent}
	}
	return "job:" + job, channel.Result{Status: channel.Sent}
}

func (s *Sender) exec(ctx context.Context, q string, args ...any) {
	// Best effort: the campaign's batch row is the record that matters; this
	// one speeds up reconciling and following.
	s.db.W.ExecContext(context.WithoutCancel(ctx), q, args...)
}

func failure(p gate.Permit, err error, reason string) channel.Result {
	code := wecom.ErrorCode(err)
	r := channel.Result{Permit: p.ID(), Code: reason, Message: kith.ErrorMessage(err)}
	switch {
	case busy(code) || code == 0 && kith.ErrorCode(err) != kith.EINVALID:
		// The batch's tag could not be made: nobody carries it, so nobody
		// can see a moment; it may be tried again.
		r.Status = channel.Retryable
	default:
		r.Status = channel.Failed
		if code != 0 {
			r.Message = wecom.Meaning(code)
		}
	}
	return r
}

var _ campaign.Transport = (*Sender)(nil)
