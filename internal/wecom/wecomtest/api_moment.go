package wecomtest

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Customer-moment error codes and limits (research notes §6, §15;
// path/95094, path/93333).
const (
	CodeMomentTooManyJobs = 41078 // too many moment jobs being created at once
	CodeMomentDispatching = 41079 // the moment is still being created

	maxMomentTextChars = 2000
	maxMomentTextBytes = 4000
	maxMomentImages    = 9
	maxMomentSenders   = 100000
	maxMomentSpan      = 30 * 24 * 3600
	maxMomentListLimit = 20
	maxMomentTaskLimit = 1000
	// maxMomentJobs is how many jobs may be unfinished at once before
	// add_moment_task answers 41078. WeCom publishes no number; this is the
	// sandbox's own, small enough for a test to reach.
	maxMomentJobs = 5
)

// Job statuses of get_moment_task_result.
const (
	MomentJobStarted = 1
	MomentJobRunning = 2
	MomentJobDone    = 3
)

// Moment is a moment task: who publishes it, which tags limit who sees it,
// who published, who can see each post and the likes and comments.
type Moment struct {
	MomentID    string
	JobID       string
	CreateTime  int64
	Text        string
	Attachments []json.RawMessage
	Senders     []string         // valid senders, in the request's order
	Tags        []string         // valid tags of external_contact_list.tag_list
	Published   map[string]int64 // sender → unix seconds of publishing
	// Seen is, per sender who published, the customers who can see the
	// post: the sender's customers carrying one of Tags when it was published.
	Seen      map[string][]string
	Likes     map[string][]string // sender → customers who liked it
	Comments  map[string][]string // sender → customers who commented
	Cancelled bool
}

type momentJob struct {
	id      string
	polls   int // get_moment_task_result answers left before it is done
	errcode int
	moment  *Moment
	badUser []string
	badTags []string
}

type momentState struct {
	moments map[string]*Moment
	order   []string
	jobs    map[string]*momentJob
	// jobPolls is how many get_moment_task_result calls answer "running"
	// before a new job is done (SetMomentJobPolls).
	jobPolls int
}

func (s *Sandbox) moState() *momentState {
	if s.mo == nil {
		s.mo = &momentState{moments: map[string]*Moment{}, jobs: map[string]*momentJob{}}
	}
	return s.mo
}

func init() {
	endpoints["/cgi-bin/externalcontact/get_moment_task_result"] = endpoint{handle: (*Sandbox).apiMomentTaskResult}
	for path, h := range map[string]func(*Sandbox, *apiCall) (any, *apiError){
		"/cgi-bin/externalcontact/add_moment_task":     (*Sandbox).apiAddMomentTask,
		"/cgi-bin/externalcontact/get_moment_list":     (*Sandbox).apiMomentList,
		"/cgi-bin/externalcontact/get_moment_task":     (*Sandbox).apiMomentTask,
		"/cgi-bin/externalcontact/get_moment_comments": (*Sandbox).apiMomentComments,
		"/cgi-bin/externalcontact/cancel_moment_task":  (*Sandbox).apiCancelMoment,
	} {
		endpoints[path] = endpoint{post: true, handle: h}
	}
}

type momentAttachment struct {
	MsgType string `json:"msgtype"`
	Image   *struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
	Video *struct {
		MediaID string `json:"media_id"`
	} `json:"video"`
	Link *struct {
		Title   string `json:"title"`
		URL     string `json:"url"`
		MediaID string `json:"media_id"`
	} `json:"link"`
}

type addMomentRequest struct {
	Text *struct {
		Content string `json:"content"`
	} `json:"text"`
	Attachments  []json.RawMessage `json:"attachments"`
	VisibleRange struct {
		SenderList *struct {
			UserList       []string `json:"user_list"`
			DepartmentList []int    `json:"department_list"`
		} `json:"sender_list"`
		ExternalContactList *struct {
			TagList []string `json:"tag_list"`
		} `json:"external_contact_list"`
	} `json:"visible_range"`
}

// checkMomentAttachments applies "at most 9 images, or 1 video, or 1 link".
func checkMomentAttachments(raw []json.RawMessage) *apiError {
	images, other := 0, 0
	for _, r := range raw {
		var a momentAttachment
		if err := json.Unmarshal(r, &a); err != nil {
			return errf(CodeInvalidParameter, "invalid Request Parameter: attachments: %s", jsonProblem(err))
		}
		switch {
		case a.MsgType == "image" && a.Image != nil && a.Image.MediaID != "":
			images++
		case a.MsgType == "video" && a.Video != nil && a.Video.MediaID != "":
			other++
		case a.MsgType == "link" && a.Link != nil && a.Link.URL != "":
			other++
		default:
			return errf(CodeInvalidParameter, "invalid Request Parameter: attachment msgtype %q or its media_id/url", a.MsgType)
		}
	}
	if images > maxMomentImages || other > 1 || other == 1 && images > 0 {
		return errf(CodeInvalidParameter, "invalid Request Parameter: attachments: at most %d images, or 1 video, or 1 link", maxMomentImages)
	}
	return nil
}

// apiAddMomentTask is POST add_moment_task: the job is created now and is
// done after jobPolls reads of its result. Senders that are not active
// members and tags that do not exist are listed as invalid in the result.
// The sandbox, like Kith, wants sender_list: without it WeCom would give
// the task to every member of the app's scope.
func (s *Sandbox) apiAddMomentTask(c *apiCall) (any, *apiError) {
	var req addMomentRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	text := ""
	if req.Text != nil {
		text = req.Text.Content
	}
	vr := req.VisibleRange
	switch {
	case utf8.RuneCountInString(text) > maxMomentTextChars || len(text) > maxMomentTextBytes:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: text.content exceeds %d characters or %d bytes", maxMomentTextChars, maxMomentTextBytes)
	case text == "" && len(req.Attachments) == 0:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: text and attachments are empty")
	case vr.SenderList == nil || len(vr.SenderList.UserList) == 0:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: the sandbox wants visible_range.sender_list.user_list")
	case len(vr.SenderList.UserList) > maxMomentSenders:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: user_list exceeds %d", maxMomentSenders)
	case len(vr.SenderList.DepartmentList) > 0:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: the sandbox has no departments on moments")
	}
	if e := checkMomentAttachments(req.Attachments); e != nil {
		return nil, e
	}
	mo := s.moState()
	running := 0
	for _, j := range mo.jobs {
		if j.polls > 0 {
			running++
		}
	}
	if running >= maxMomentJobs {
		return nil, errf(CodeMomentTooManyJobs, "too many moment tasks being created")
	}
	j := &momentJob{id: randID(s.rng, "job", 20), polls: mo.jobPolls}
	m := &Moment{JobID: j.id, CreateTime: s.now().Unix(), Text: text, Attachments: req.Attachments,
		Published: map[string]int64{}, Seen: map[string][]string{}, Likes: map[string][]string{}, Comments: map[string][]string{}}
	for _, u := range vr.SenderList.UserList {
		if mem := s.st.activeMember(u); mem == nil || slices.Contains(m.Senders, u) {
			j.badUser = append(j.badUser, u)
			continue
		}
		m.Senders = append(m.Senders, u)
	}
	if vr.ExternalContactList != nil {
		for _, t := range vr.ExternalContactList.TagList {
			if s.st.liveTag(t) == nil {
				j.badTags = append(j.badTags, t)
				continue
			}
			m.Tags = append(m.Tags, t)
		}
	}
	if len(m.Senders) == 0 {
		j.errcode = CodeInvalidUserID
	} else {
		m.MomentID = randID(s.rng, "mom", 24)
		j.moment = m
		mo.moments[m.MomentID] = m
		mo.order = append(mo.order, m.MomentID)
	}
	mo.jobs[j.id] = j
	return success(okFields{"jobid": j.id}), nil
}

func (s *Sandbox) apiMomentTaskResult(c *apiCall) (any, *apiError) {
	id := c.query["jobid"]
	j := s.moState().jobs[id]
	if j == nil {
		return nil, errf(CodeInvalidParameter, "invalid jobid: %s", id)
	}
	if j.polls > 0 {
		j.polls--
		return success(okFields{"status": MomentJobRunning, "type": "add_moment_task", "result": okFields{}}), nil
	}
	bad := okFields{"user_list": nonNil(j.badUser)}
	result := okFields{"errcode": j.errcode, "errmsg": msgOK, "invalid_sender_list": bad,
		"invalid_external_contact_list": okFields{"tag_list": nonNil(j.badTags)}}
	if j.moment != nil {
		result["moment_id"] = j.moment.MomentID
	}
	return success(okFields{"status": MomentJobDone, "type": "add_moment_task", "result": result}), nil
}

type momentListRequest struct {
	StartTime  int64  `json:"start_time"`
	EndTime    int64  `json:"end_time"`
	Creator    string `json:"creator"`
	FilterType *int   `json:"filter_type"`
	Cursor     string `json:"cursor"`
	Limit      int    `json:"limit"`
}

// apiMomentList lists moments created in the window. A moment made through
// the API is listed with its first sender as creator and create_type 0
// (corp); WeCom's own choice of creator for corp moments is not confirmed,
// so Kith does not rely on it (it checks get_moment_task instead).
func (s *Sandbox) apiMomentList(c *apiCall) (any, *apiError) {
	var req momentListRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.StartTime == 0 || req.EndTime < req.StartTime || req.EndTime-req.StartTime > maxMomentSpan {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: start_time and end_time must span at most 30 days")
	}
	if req.Limit > maxMomentListLimit {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: limit exceeds %d", maxMomentListLimit)
	}
	if req.FilterType != nil && *req.FilterType == 1 {
		return success(okFields{"moment_list": []any{}, "next_cursor": ""}), nil
	}
	offset, e := cursorOf(req.Cursor)
	if e != nil {
		return nil, e
	}
	var match []*Moment
	for _, id := range s.moState().order {
		m := s.mo.moments[id]
		if m.CreateTime >= req.StartTime && m.CreateTime <= req.EndTime && (req.Creator == "" || req.Creator == m.Senders[0]) {
			match = append(match, m)
		}
	}
	end, next := page(len(match), offset, req.Limit, maxMomentListLimit)
	list := []okFields{}
	for _, m := range match[min(offset, len(match)):end] {
		list = append(list, listedMoment(m))
	}
	return success(okFields{"moment_list": list, "next_cursor": next}), nil
}

func listedMoment(m *Moment) okFields {
	out := okFields{"moment_id": m.MomentID, "creator": m.Senders[0], "create_time": m.CreateTime, "create_type": 0,
		"visible_type": 0, "text": okFields{"content": m.Text}}
	images := []okFields{}
	for _, r := range m.Attachments {
		var a momentAttachment
		json.Unmarshal(r, &a) // checked when created
		switch a.MsgType {
		case "image":
			images = append(images, okFields{"media_id": a.Image.MediaID})
		case "video":
			out["video"] = okFields{"media_id": a.Video.MediaID, "thumb_media_id": "thumb_" + a.Video.MediaID}
		case "link":
			out["link"] = okFields{"title": a.Link.Title, "url": a.Link.URL}
		}
	}
	out["image"] = images
	return out
}

func (s *Sandbox) moment(id string) (*Moment, *apiError) {
	m := s.moState().moments[id]
	if m == nil {
		return nil, errf(CodeInvalidParameter, "invalid moment_id: %s", id)
	}
	return m, nil
}

func (s *Sandbox) apiMomentTask(c *apiCall) (any, *apiError) {
	var req struct {
		MomentID string `json:"moment_id"`
		Cursor   string `json:"cursor"`
		Limit    int    `json:"limit"`
	}
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.moment(req.MomentID)
	if e != nil {
		return nil, e
	}
	offset, e := cursorOf(req.Cursor)
	if e != nil {
		return nil, e
	}
	end, next := page(len(m.Senders), offset, req.Limit, maxMomentTaskLimit)
	list := []okFields{}
	for _, u := range m.Senders[min(offset, len(m.Senders)):end] {
		st := 0
		if _, ok := m.Published[u]; ok {
			st = 1
		}
		list = append(list, okFields{"userid": u, "publish_status": st})
	}
	return success(okFields{"task_list": list, "next_cursor": next}), nil
}

func (s *Sandbox) apiMomentComments(c *apiCall) (any, *apiError) {
	var req struct {
		MomentID string `json:"moment_id"`
		UserID   string `json:"userid"`
	}
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.moment(req.MomentID)
	if e != nil {
		return nil, e
	}
	if !slices.Contains(m.Senders, req.UserID) {
		return nil, errf(CodeInvalidUserID, "invalid userid: %s", req.UserID)
	}
	at := m.Published[req.UserID]
	list := func(exts []string) []okFields {
		out := []okFields{}
		for _, e := range exts {
			out = append(out, okFields{"external_userid": e, "create_time": at})
		}
		return out
	}
	return success(okFields{"comment_list": list(m.Comments[req.UserID]), "like_list": list(m.Likes[req.UserID])}), nil
}

func (s *Sandbox) apiCancelMoment(c *apiCall) (any, *apiError) {
	var req struct {
		MomentID string `json:"moment_id"`
	}
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.moment(req.MomentID)
	if e != nil {
		return nil, e
	}
	m.Cancelled = true
	return success(nil), nil
}
