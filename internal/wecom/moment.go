package wecom

import (
	"context"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of customer moments (客户朋友圈, path/95094 and path/93333;
// research notes §6).
const (
	MaxMomentTextChars   = 2000   // text.content, in characters
	MaxMomentTextBytes   = 4000   // text.content, in bytes
	MaxMomentImages      = 9      // image attachments of one moment
	MaxMomentSenders     = 100000 // visible_range.sender_list.user_list
	MaxMomentListSpan    = 30 * 24 * 60 * 60
	MaxMomentListPage    = 20   // get_moment_list limit
	MaxMomentTaskPage    = 1000 // get_moment_task limit
	MomentFilterCorp     = 0    // get_moment_list filter_type: published by the corp
	MomentJobStarted     = 1    // get_moment_task_result status: the job started
	MomentJobRunning     = 2    // get_moment_task_result status: the job is running
	MomentJobDone        = 3    // get_moment_task_result status: done; result is set
	MomentNotPublished   = 0    // get_moment_task publish_status: the member has not published
	MomentPublished      = 1    // get_moment_task publish_status: the member published
	momentTaskResultType = "add_moment_task"
)

// Moment error codes (research notes §15; go-workwx errcodes). 41061,
// 41062 and 41067 are also listed there for moments, without a meaning the
// notes could confirm: they get Meaning's generic lookup text.
const (
	CodeMomentTooManyJobs = 41078 // too many moment jobs running at once for the corp
	CodeMomentDispatching = 41079 // the moment task is still being created or dispatched
)

func init() {
	meanings[CodeMomentTooManyJobs] = "Too many moment tasks are being created at once; Kith tries again shortly."
	meanings[CodeMomentDispatching] = "WeCom is still creating or dispatching the moment task; its results will be read again shortly."
}

// MomentText is a moment's text.
type MomentText struct {
	Content string `json:"content"`
}

// MomentMedia is an uploaded image or video of a moment.
type MomentMedia struct {
	MediaID string `json:"media_id"`
}

// MomentLink is a web link of a moment: MediaID is its cover image.
type MomentLink struct {
	Title   string `json:"title,omitempty"`
	URL     string `json:"url"`
	MediaID string `json:"media_id,omitempty"`
}

// MomentAttachment is one attachment of a moment: MsgType image, video or
// link says which field is set.
type MomentAttachment struct {
	MsgType string       `json:"msgtype"`
	Image   *MomentMedia `json:"image,omitempty"`
	Video   *MomentMedia `json:"video,omitempty"`
	Link    *MomentLink  `json:"link,omitempty"`
}

// MomentSenders are the members who publish the moment.
type MomentSenders struct {
	UserList       []string `json:"user_list,omitempty"`
	DepartmentList []int    `json:"department_list,omitempty"`
}

// MomentCustomers are the customers who may see it: those carrying one of
// the enterprise tags (not rule-group tags).
type MomentCustomers struct {
	TagList []string `json:"tag_list,omitempty"`
}

// MomentVisibleRange is who publishes a moment and who sees it.
type MomentVisibleRange struct {
	SenderList          *MomentSenders   `json:"sender_list,omitempty"`
	ExternalContactList *MomentCustomers `json:"external_contact_list,omitempty"`
}

// MomentTask is an add_moment_task request.
type MomentTask struct {
	Text         *MomentText        `json:"text,omitempty"`
	Attachments  []MomentAttachment `json:"attachments,omitempty"`
	VisibleRange MomentVisibleRange `json:"visible_range"`
}

// Check applies WeCom's documented limits to m: text at most 2000
// characters and 4000 bytes; at most 9 images, or one video, or one link,
// never mixed; senders listed (Kith never lets a moment go to every member
// of the app's scope) and customers limited by tags.
func (m MomentTask) Check() error {
	if m.Text != nil {
		if n := utf8.RuneCountInString(m.Text.Content); n > MaxMomentTextChars {
			return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: the text has %d characters; WeCom allows at most %d", n, MaxMomentTextChars)
		}
		if len(m.Text.Content) > MaxMomentTextBytes {
			return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: the text is %d bytes; WeCom allows at most %d", len(m.Text.Content), MaxMomentTextBytes)
		}
	}
	if (m.Text == nil || m.Text.Content == "") && len(m.Attachments) == 0 {
		return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: a moment needs text or an attachment")
	}
	if err := checkMomentAttachments(m.Attachments); err != nil {
		return err
	}
	s, c := m.VisibleRange.SenderList, m.VisibleRange.ExternalContactList
	switch {
	case s == nil || len(s.UserList) == 0:
		return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: Kith names the members who publish (sender_list.user_list)")
	case len(s.UserList) > MaxMomentSenders:
		return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: %d senders; WeCom allows at most %d", len(s.UserList), MaxMomentSenders)
	case c == nil || len(c.TagList) == 0:
		return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: Kith limits who sees a moment by tags (external_contact_list.tag_list)")
	}
	for _, u := range s.UserList {
		if err := checkUserID("sender", u); err != nil {
			return err
		}
	}
	return nil
}

func checkMomentAttachments(as []MomentAttachment) error {
	images, other := 0, 0
	for i, a := range as {
		switch {
		case a.MsgType == "image" && a.Image != nil && a.Image.MediaID != "":
			images++
		case a.MsgType == "video" && a.Video != nil && a.Video.MediaID != "":
			other++
		case a.MsgType == "link" && a.Link != nil && a.Link.URL != "":
			other++
		default:
			return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: attachment %d: %q is not an image, a video or a link with its media_id or url", i+1, a.MsgType)
		}
	}
	switch {
	case images > MaxMomentImages:
		return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: %d images; WeCom allows at most %d", images, MaxMomentImages)
	case other > 1 || other == 1 && images > 0:
		return kith.Errorf(kith.EINVALID, "wecom: add_moment_task: a moment takes up to %d images, or one video, or one link", MaxMomentImages)
	}
	return nil
}

// AddMomentTask creates a moment task (POST externalcontact/add_moment_task)
// and returns its jobid; the moment's id comes with MomentTaskResult. Each
// sender publishes it from the WeCom client, and it is not retried on
// WeCom's "busy" answers: a task created twice is posted twice.
//
// Only internal/channel/wecommoment calls this, with gate permits for every
// customer the tags reach.
func (c *Client) AddMomentTask(ctx context.Context, m MomentTask) (string, error) {
	if err := m.Check(); err != nil {
		return "", err
	}
	var out struct {
		JobID string `json:"jobid"`
	}
	if err := c.callOnce(ctx, http.MethodPost, "externalcontact/add_moment_task", m, &out); err != nil {
		return "", err
	}
	if out.JobID == "" {
		return "", kith.Errorf(kith.EUNAVAILABLE, "wecom: add_moment_task: the answer has no jobid")
	}
	return out.JobID, nil
}

// MomentJobResult is what a moment task's creation came to.
type MomentJobResult struct {
	ErrCode                    int             `json:"errcode"`
	ErrMsg                     string          `json:"errmsg"`
	MomentID                   string          `json:"moment_id"`
	InvalidSenderList          MomentSenders   `json:"invalid_sender_list"`
	InvalidExternalContactList MomentCustomers `json:"invalid_external_contact_list"`
}

// MomentJob is get_moment_task_result's answer: Status MomentJobStarted,
// MomentJobRunning or MomentJobDone; Result is set once done.
type MomentJob struct {
	Status int             `json:"status"`
	Type   string          `json:"type"`
	Result MomentJobResult `json:"result"`
}

// Done reports whether the job finished with a moment.
func (j MomentJob) Done() bool { return j.Status == MomentJobDone && j.Result.MomentID != "" }

// MomentTaskResult reads what became of an add_moment_task job
// (GET externalcontact/get_moment_task_result?jobid=). Poll until Done.
func (c *Client) MomentTaskResult(ctx context.Context, jobID string) (MomentJob, error) {
	var out MomentJob
	if jobID == "" {
		return out, kith.Errorf(kith.EINVALID, "wecom: get_moment_task_result: the jobid is empty")
	}
	err := c.call(ctx, http.MethodGet, "externalcontact/get_moment_task_result", url.Values{"jobid": {jobID}}, nil, &out)
	if err == nil && out.Type != "" && out.Type != momentTaskResultType {
		return out, kith.Errorf(kith.EUNAVAILABLE, "wecom: get_moment_task_result: job %s is a %q job, not add_moment_task", jobID, out.Type)
	}
	return out, err
}

// MomentListQuery asks get_moment_list for the moments created in a window
// of at most 30 days.
type MomentListQuery struct {
	StartTime  int64  `json:"start_time"`
	EndTime    int64  `json:"end_time"`
	Creator    string `json:"creator,omitempty"`
	FilterType int    `json:"filter_type"`
	Cursor     string `json:"cursor,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

// MomentVideo is a listed moment's video.
type MomentVideo struct {
	MediaID      string `json:"media_id"`
	ThumbMediaID string `json:"thumb_media_id"`
}

// MomentLocation is where a moment was posted.
type MomentLocation struct {
	Latitude  string `json:"latitude"`
	Longitude string `json:"longitude"`
	Name      string `json:"name"`
}

// Moment is one moment of get_moment_list (deleted ones are not listed).
type Moment struct {
	MomentID    string          `json:"moment_id"`
	Creator     string          `json:"creator"`
	CreateTime  int64           `json:"create_time"`
	CreateType  int             `json:"create_type"`
	VisibleType int             `json:"visible_type"`
	Text        MomentText      `json:"text"`
	Image       []MomentMedia   `json:"image"`
	Video       *MomentVideo    `json:"video,omitempty"`
	Link        *MomentLink     `json:"link,omitempty"`
	Location    *MomentLocation `json:"location,omitempty"`
}

// MomentList is a page of moments.
type MomentList struct {
	NextCursor string   `json:"next_cursor"`
	List       []Moment `json:"moment_list"`
}

// MomentList lists moments (POST externalcontact/get_moment_list).
func (c *Client) MomentList(ctx context.Context, q MomentListQuery) (MomentList, error) {
	var out MomentList
	switch {
	case q.EndTime < q.StartTime || q.EndTime-q.StartTime > MaxMomentListSpan:
		return out, kith.Errorf(kith.EINVALID, "wecom: get_moment_list: the window must end after it starts and span at most 30 days")
	case q.Limit < 0 || q.Limit > MaxMomentListPage:
		return out, kith.Errorf(kith.EINVALID, "wecom: get_moment_list: limit %d; WeCom allows 1 to %d", q.Limit, MaxMomentListPage)
	}
	err := c.call(ctx, http.MethodPost, "externalcontact/get_moment_list", nil, q, &out)
	return out, err
}

// MomentMemberTask is one member's part of a moment.
type MomentMemberTask struct {
	UserID        string `json:"userid"`
	PublishStatus int    `json:"publish_status"`
}

// MomentTasks is a page of get_moment_task.
type MomentTasks struct {
	NextCursor string             `json:"next_cursor"`
	List       []MomentMemberTask `json:"task_list"`
}

// MomentTask lists which members published a moment
// (POST externalcontact/get_moment_task).
func (c *Client) MomentTask(ctx context.Context, momentID, cursor string) (MomentTasks, error) {
	var out MomentTasks
	if momentID == "" {
		return out, kith.Errorf(kith.EINVALID, "wecom: get_moment_task: the moment_id is empty")
	}
	in := struct {
		MomentID string `json:"moment_id"`
		Cursor   string `json:"cursor,omitempty"`
		Limit    int    `json:"limit"`
	}{momentID, cursor, MaxMomentTaskPage}
	err := c.call(ctx, http.MethodPost, "externalcontact/get_moment_task", nil, in, &out)
	return out, err
}

// MomentInteraction is one like or comment: by a customer
// (ExternalUserID) or a member (UserID).
type MomentInteraction struct {
	ExternalUserID string `json:"external_userid,omitempty"`
	UserID         string `json:"userid,omitempty"`
	CreateTime     int64  `json:"create_time"`
}

// MomentComments are the likes and comments on one member's post of a
// moment. Kith only reads them: WeCom has no API to like or comment, and
// Kith never does either.
type MomentComments struct {
	CommentList []MomentInteraction `json:"comment_list"`
	LikeList    []MomentInteraction `json:"like_list"`
}

// MomentComments reads the likes and comments on userID's post of a moment
// (POST externalcontact/get_moment_comments).
func (c *Client) MomentComments(ctx context.Context, momentID, userID string) (MomentComments, error) {
	var out MomentComments
	if momentID == "" {
		return out, kith.Errorf(kith.EINVALID, "wecom: get_moment_comments: the moment_id is empty")
	}
	if err := checkUserID("userid", userID); err != nil {
		return out, err
	}
	in := struct {
		MomentID string `json:"moment_id"`
		UserID   string `json:"userid"`
	}{momentID, userID}
	err := c.call(ctx, http.MethodPost, "externalcontact/get_moment_comments", nil, in, &out)
	return out, err
}

// CancelMomentTask stops a moment: members who have not published it can no
// longer (POST externalcontact/cancel_moment_task).
func (c *Client) CancelMomentTask(ctx context.Context, momentID string) error {
	if momentID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: cancel_moment_task: the moment_id is empty")
	}
	in := struct {
		MomentID string `json:"moment_id"`
	}{momentID}
	return c.call(ctx, http.MethodPost, "externalcontact/cancel_moment_task", nil, in, nil)
}
