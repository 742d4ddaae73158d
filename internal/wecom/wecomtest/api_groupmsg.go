package wecomtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Group-message error codes and limits (research notes §5, §15).
const (
	CodeNoSendableCustomer  = 41048 // no customer of the task can receive it
	CodeGroupMsgDispatching = 41063 // the task is still being dispatched
	CodeGroupMsgCancelled   = 41093 // the task was cancelled already
	CodeRemindOverLimit     = 41094 // reminded 3 times within 24 hours already

	maxGroupMsgCustomers = 10000
	maxGroupMsgText      = 4000
	maxGroupMsgAttach    = 9
	maxGroupMsgSpan      = 31 * 24 * 3600
	maxRemindsPerDay     = 3
)

// Send statuses, as get_groupmsg_send_result reports them.
const (
	GroupMsgNotSent   = 0
	GroupMsgSent      = 1
	GroupMsgNotFriend = 2
	GroupMsgOverLimit = 3
)

// GroupMsg is a group-message task to customers (chat_type single), with
// what became of each customer.
type GroupMsg struct {
	MsgID       string
	Creator     string
	CreateTime  int64
	Text        string
	Attachments []json.RawMessage
	Recipients  []string       // the customers it goes to, in the request's order, without the fail_list
	Status      map[string]int // per recipient: GroupMsgNotSent … GroupMsgOverLimit
	Confirmed   bool           // the member tapped send
	SendTime    int64
	Cancelled   bool
	Reminds     []int64 // unix seconds of each remind_groupmsg_send
}

type groupMsgState struct {
	msgs  map[string]*GroupMsg
	order []string
	// received counts the group messages each customer received per month
	// ("2006-01"), for the platform's limit of days-in-month per month.
	received map[string]map[string]int
}

func (s *Sandbox) gmState() *groupMsgState {
	if s.gm == nil {
		s.gm = &groupMsgState{msgs: map[string]*GroupMsg{}, received: map[string]map[string]int{}}
	}
	return s.gm
}

func init() {
	for path, h := range map[string]func(*Sandbox, *apiCall) (any, *apiError){
		"/cgi-bin/externalcontact/add_msg_template":         (*Sandbox).apiAddMsgTemplate,
		"/cgi-bin/externalcontact/get_groupmsg_list_v2":     (*Sandbox).apiGroupMsgList,
		"/cgi-bin/externalcontact/get_groupmsg_task":        (*Sandbox).apiGroupMsgTask,
		"/cgi-bin/externalcontact/get_groupmsg_send_result": (*Sandbox).apiGroupMsgSendResult,
		"/cgi-bin/externalcontact/remind_groupmsg_send":     (*Sandbox).apiRemindGroupMsg,
		"/cgi-bin/externalcontact/cancel_groupmsg_send":     (*Sandbox).apiCancelGroupMsg,
	} {
		endpoints[path] = endpoint{post: true, handle: h}
	}
}

type msgTemplateRequest struct {
	ChatType       string                    `json:"chat_type"`
	ExternalUserID []string                  `json:"external_userid"`
	Sender         string                    `json:"sender"`
	AllowSelect    bool                      `json:"allow_select"`
	Text           *struct{ Content string } `json:"text"`
	Attachments    []json.RawMessage         `json:"attachments"`
}

func (s *Sandbox) apiAddMsgTemplate(c *apiCall) (any, *apiError) {
	var req msgTemplateRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.ChatType == "" {
		req.ChatType = "single"
	}
	text := ""
	if req.Text != nil {
		text = req.Text.Content
	}
	switch {
	case req.ChatType != "single":
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: the sandbox serves chat_type single only")
	case req.Sender == "":
		return nil, errf(CodeUserIDMissing, "missing sender")
	case len(req.ExternalUserID) == 0:
		return nil, errf(CodeExternalUserMissing, "missing external_userid")
	case len(req.ExternalUserID) > maxGroupMsgCustomers:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: external_userid exceeds %d", maxGroupMsgCustomers)
	case text == "" && len(req.Attachments) == 0:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: text and attachments are empty")
	case len(text) > maxGroupMsgText:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: text.content exceeds %d bytes", maxGroupMsgText)
	case len(req.Attachments) > maxGroupMsgAttach:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: attachments exceed %d", maxGroupMsgAttach)
	}
	if e := s.checkWayUsers([]string{req.Sender}, nil); e != nil {
		return nil, e
	}
	m := &GroupMsg{MsgID: randID(s.rng, "msg", 24), Creator: req.Sender, CreateTime: s.now().Unix(), Text: text,
		Attachments: req.Attachments, Status: map[string]int{}}
	fail := []string{}
	for _, ext := range req.ExternalUserID {
		r := s.st.relation(req.Sender, ext)
		if r == nil || !s.st.visible(r) || r.DeletedByCustomer || slices.Contains(m.Recipients, ext) {
			fail = append(fail, ext)
			continue
		}
		m.Recipients = append(m.Recipients, ext)
		m.Status[ext] = GroupMsgNotSent
	}
	if len(m.Recipients) == 0 {
		return nil, errf(CodeNoSendableCustomer, "no sendable customer")
	}
	g := s.gmState()
	g.msgs[m.MsgID] = m
	g.order = append(g.order, m.MsgID)
	return success(okFields{"msgid": m.MsgID, "fail_list": fail}), nil
}

type groupMsgListRequest struct {
	ChatType   string `json:"chat_type"`
	StartTime  int64  `json:"start_time"`
	EndTime    int64  `json:"end_time"`
	Creator    string `json:"creator"`
	FilterType *int   `json:"filter_type"`
	Limit      int    `json:"limit"`
	Cursor     string `json:"cursor"`
}

// cursorOf reads a paging cursor: an offset the sandbox handed out.
func cursorOf(s string) (int, *apiError) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errf(CodeInvalidCursor, "invalid cursor")
	}
	return n, nil
}

func page(n, offset, limit, max int) (end int, next string) {
	if limit <= 0 || limit > max {
		limit = max
	}
	end = min(offset+limit, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return end, next
}

func (s *Sandbox) apiGroupMsgList(c *apiCall) (any, *apiError) {
	var req groupMsgListRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.ChatType != "" && req.ChatType != "single" {
		return success(okFields{"group_msg_list": []any{}, "next_cursor": ""}), nil
	}
	if req.StartTime == 0 || req.EndTime < req.StartTime || req.EndTime-req.StartTime > maxGroupMsgSpan {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: start_time and end_time must span at most one month")
	}
	if req.FilterType != nil && *req.FilterType == 1 {
		// Kith creates corp tasks only: none are personal.
		return success(okFields{"group_msg_list": []any{}, "next_cursor": ""}), nil
	}
	offset, e := cursorOf(req.Cursor)
	if e != nil {
		return nil, e
	}
	var match []*GroupMsg
	for _, id := range s.gmState().order {
		m := s.gm.msgs[id]
		if m.CreateTime >= req.StartTime && m.CreateTime <= req.EndTime && (req.Creator == "" || req.Creator == m.Creator) {
			match = append(match, m)
		}
	}
	end, next := page(len(match), offset, req.Limit, 100)
	list := []okFields{}
	for _, m := range match[min(offset, len(match)):end] {
		atts := m.Attachments
		if atts == nil {
			atts = []json.RawMessage{}
		}
		list = append(list, okFields{"msgid": m.MsgID, "creator": m.Creator, "create_time": strconv.FormatInt(m.CreateTime, 10),
			"create_type": 0, "text": okFields{"content": m.Text}, "attachments": atts})
	}
	return success(okFields{"group_msg_list": list, "next_cursor": next}), nil
}

type msgPageRequest struct {
	MsgID  string `json:"msgid"`
	UserID string `json:"userid"`
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor"`
}

func (s *Sandbox) groupMsg(id string) (*GroupMsg, *apiError) {
	m := s.gmState().msgs[id]
	if m == nil {
		return nil, errf(CodeInvalidParameter, "invalid msgid: %s", id)
	}
	return m, nil
}

func (s *Sandbox) apiGroupMsgTask(c *apiCall) (any, *apiError) {
	var req msgPageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.groupMsg(req.MsgID)
	if e != nil {
		return nil, e
	}
	status, at := 0, int64(0)
	if m.Confirmed {
		status, at = 2, m.SendTime
	}
	return success(okFields{"task_list": []okFields{{"userid": m.Creator, "status": status, "send_time": at}}, "next_cursor": ""}), nil
}

func (s *Sandbox) apiGroupMsgSendResult(c *apiCall) (any, *apiError) {
	var req msgPageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.groupMsg(req.MsgID)
	if e != nil {
		return nil, e
	}
	if req.UserID != m.Creator {
		return nil, errf(CodeInvalidUserID, "invalid userid: %s", req.UserID)
	}
	offset, e := cursorOf(req.Cursor)
	if e != nil {
		return nil, e
	}
	end, next := page(len(m.Recipients), offset, req.Limit, 1000)
	list := []okFields{}
	for _, ext := range m.Recipients[min(offset, len(m.Recipients)):end] {
		st := m.Status[ext]
		at := int64(0)
		if st == GroupMsgSent {
			at = m.SendTime
		}
		list = append(list, okFields{"external_userid": ext, "chat_id": "", "userid": m.Creator, "status": st, "send_time": at})
	}
	return success(okFields{"send_list": list, "next_cursor": next}), nil
}

func (s *Sandbox) apiRemindGroupMsg(c *apiCall) (any, *apiError) {
	var req msgPageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.groupMsg(req.MsgID)
	if e != nil {
		return nil, e
	}
	if m.Cancelled {
		return nil, errf(CodeGroupMsgCancelled, "msg has been canceled")
	}
	now := s.now().Unix()
	recent := 0
	for _, t := range m.Reminds {
		if now-t < 24*3600 {
			recent++
		}
	}
	if recent >= maxRemindsPerDay {
		return nil, errf(CodeRemindOverLimit, "remind times exceed limit")
	}
	m.Reminds = append(m.Reminds, now)
	return success(nil), nil
}

func (s *Sandbox) apiCancelGroupMsg(c *apiCall) (any, *apiError) {
	var req msgPageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	m, e := s.groupMsg(req.MsgID)
	if e != nil {
		return nil, e
	}
	if m.Cancelled {
		return nil, errf(CodeGroupMsgCancelled, "msg has been canceled")
	}
	m.Cancelled = true
	return success(nil), nil
}

// MemberConfirmsGroupMsg is the member tapping "send" on a group-message
// task in the WeCom client: each customer who is still the member's
// contact and has not reached the platform's monthly limit (days in the
// month) receives it; the others are marked not a friend or over the
// limit.
func (s *Sandbox) MemberConfirmsGroupMsg(userID, msgID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.gmState().msgs[msgID]
	switch {
	case m == nil:
		return fmt.Errorf("wecomtest: no group message %q", msgID)
	case m.Creator != userID:
		return fmt.Errorf("wecomtest: group message %s is %s's, not %s's", msgID, m.Creator, userID)
	case m.Cancelled:
		return fmt.Errorf("wecomtest: group message %s was cancelled", msgID)
	case m.Confirmed:
		return fmt.Errorf("wecomtest: group message %s was confirmed already", msgID)
	}
	now := s.now()
	month := now.Format("2006-01")
	limit := time.Date(now.Year(), now.Month()+1, 0, 0, 0, 0, 0, now.Location()).Day()
	m.Confirmed, m.SendTime = true, now.Unix()
	for _, ext := range m.Recipients {
		r := s.st.relation(userID, ext)
		got := s.gm.received[ext]
		switch {
		case r == nil || !s.st.visible(r) || r.DeletedByCustomer:
			m.Status[ext] = GroupMsgNotFriend
		case got[month] >= limit:
			m.Status[ext] = GroupMsgOverLimit
		default:
			m.Status[ext] = GroupMsgSent
			if got == nil {
				got = map[string]int{}
				s.gm.received[ext] = got
			}
			got[month]++
		}
	}
	return nil
}

// GroupMsgs returns copies of the group-message tasks, oldest first.
func (s *Sandbox) GroupMsgs() []GroupMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GroupMsg
	for _, id := range s.gmState().order {
		m := *s.gm.msgs[id]
		m.Recipients = slices.Clone(m.Recipients)
		st := make(map[string]int, len(m.Status))
		for k, v := range m.Status {
			st[k] = v
		}
		m.Status = st
		out = append(out, m)
	}
	return out
}

// GroupMsgsReceived returns how many group messages the customer received
// (confirmed and delivered), every month together.
func (s *Sandbox) GroupMsgsReceived(externalUserID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.gmState().received[externalUserID] {
		n += c
	}
	return n
}
