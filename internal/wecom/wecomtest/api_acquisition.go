package wecomtest

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Error codes and limits of contact ways, links and welcome messages
// (path/96348, path/92137, path/97398; research notes §3, §4, §15).
const (
	CodeInvalidUserID          = 40003 // 无效的UserID
	CodeContactWayTooManyUsers = 41041 // 「联系我」 with more than 100 members
	CodeContactWayQuota        = 41045 // API-created contact ways reached the corp's quota
	CodeWelcomeCodeMissing     = 41049 // 缺少welcome_code
	CodeWelcomeCodeExpired     = 41050 // welcome_code invalid or expired (20 s)
	CodeWelcomeAlreadyChatting = 41051 // the code was used / the two already chat
	CodeMemberNotActivated     = 41054 // member not activated / no customer contact
	CodeInvalidConfigID        = 41044 // 不合法的config_id (sandbox choice: unknown config_id or link_id)

	maxContactWayUsers   = 100
	maxContactWayRemark  = 30
	maxCustomerChannel   = 64
	maxWelcomeTextBytes  = 4000
	maxWelcomeAttachment = 9
	// WelcomeCodeTTL is how long a welcome code may be used.
	WelcomeCodeTTL = 20 * time.Second
	// DefaultContactWayQuota is how many contact ways a corp may create
	// through the API.
	DefaultContactWayQuota = 500000
)

// ContactWay is a 「联系我」 way as the sandbox keeps it.
type ContactWay struct {
	ConfigID   string
	Type       int // 1 single, 2 multi
	Scene      int // 1 mini program, 2 QR code
	Remark     string
	SkipVerify bool
	State      string
	Users      []string
	QRCode     string
	CreateTime int64
	next       int // the member the next scan goes to (round robin)
}

// Link is a customer-acquisition link as the sandbox keeps it.
type Link struct {
	LinkID     string
	Name       string
	URL        string
	SkipVerify bool
	Users      []string
	CreateTime int64
	next       int
}

// WelcomeSent is a welcome message the sandbox accepted.
type WelcomeSent struct {
	Code           string
	UserID         string
	ExternalUserID string
	Text           string
	Attachments    int
	At             time.Time
}

type welcomeCode struct {
	userID, externalUserID string
	issued                 time.Time
	used                   bool
}

// acqState is the acquisition side of the corp. Guarded by Sandbox.mu.
type acqState struct {
	ways     map[string]*ContactWay
	links    map[string]*Link
	welcomes map[string]*welcomeCode
	sent     []WelcomeSent
	created  int // contact ways ever created through the API
	quota    int
}

func (s *Sandbox) acqState() *acqState {
	if s.acq == nil {
		s.acq = &acqState{ways: map[string]*ContactWay{}, links: map[string]*Link{}, welcomes: map[string]*welcomeCode{}, quota: DefaultContactWayQuota}
	}
	return s.acq
}

func init() {
	for path, h := range map[string]func(*Sandbox, *apiCall) (any, *apiError){
		"/cgi-bin/externalcontact/add_contact_way":                  (*Sandbox).apiAddContactWay,
		"/cgi-bin/externalcontact/update_contact_way":               (*Sandbox).apiUpdateContactWay,
		"/cgi-bin/externalcontact/get_contact_way":                  (*Sandbox).apiGetContactWay,
		"/cgi-bin/externalcontact/del_contact_way":                  (*Sandbox).apiDelContactWay,
		"/cgi-bin/externalcontact/send_welcome_msg":                 (*Sandbox).apiSendWelcomeMsg,
		"/cgi-bin/externalcontact/customer_acquisition/create_link": (*Sandbox).apiCreateLink,
		"/cgi-bin/externalcontact/customer_acquisition/update_link": (*Sandbox).apiUpdateLink,
		"/cgi-bin/externalcontact/customer_acquisition/get":         (*Sandbox).apiGetLink,
		"/cgi-bin/externalcontact/customer_acquisition/delete_link": (*Sandbox).apiDeleteLink,
	} {
		endpoints[path] = endpoint{post: true, handle: h}
	}
}

type contactWayRequest struct {
	ConfigID   string   `json:"config_id"`
	Type       int      `json:"type"`
	Scene      int      `json:"scene"`
	Remark     string   `json:"remark"`
	SkipVerify *bool    `json:"skip_verify"`
	State      *string  `json:"state"`
	User       []string `json:"user"`
	Party      []int64  `json:"party"`
}

// checkWayUsers answers what WeCom answers for a member list.
func (s *Sandbox) checkWayUsers(users []string, parties []int64) *apiError {
	if len(users) > maxContactWayUsers {
		return errf(CodeContactWayTooManyUsers, "contact way user count exceed limit: %d > %d", len(users), maxContactWayUsers)
	}
	if len(parties) > 0 {
		return errf(CodeInvalidParameter, "invalid Request Parameter: the sandbox has no departments on contact ways")
	}
	for _, u := range users {
		m := s.st.memberByID[u]
		switch {
		case m == nil || m.Status == MemberLeftCompany:
			return errf(CodeInvalidUserID, "invalid userid: %s", u)
		case m.Status != MemberActive:
			return errf(CodeMemberNotActivated, "user not active or has no external contact permission: %s", u)
		}
	}
	return nil
}

func checkWayText(remark string, state *string) *apiError {
	if utf8.RuneCountInString(remark) > maxContactWayRemark {
		return errf(CodeInvalidParameter, "invalid Request Parameter: remark exceed %d characters", maxContactWayRemark)
	}
	if state != nil && utf8.RuneCountInString(*state) > maxStateChars {
		return errf(CodeInvalidParameter, "invalid Request Parameter: state exceed %d characters", maxStateChars)
	}
	return nil
}

func (s *Sandbox) apiAddContactWay(c *apiCall) (any, *apiError) {
	var req contactWayRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	switch {
	case req.Type != 1 && req.Type != 2:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: type must be 1 or 2")
	case req.Scene != 1 && req.Scene != 2:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: scene must be 1 or 2")
	case len(req.User)+len(req.Party) == 0:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: user and party are both empty")
	case req.Type == 1 && len(req.User) != 1:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: a single contact way takes exactly one user")
	}
	if e := checkWayText(req.Remark, req.State); e != nil {
		return nil, e
	}
	if e := s.checkWayUsers(req.User, req.Party); e != nil {
		return nil, e
	}
	a := s.acqState()
	if a.created >= a.quota {
		return nil, errf(CodeContactWayQuota, "contact way count reach limit")
	}
	a.created++
	w := &ContactWay{ConfigID: randID(s.rng, "", 32), Type: req.Type, Scene: req.Scene, Remark: req.Remark, SkipVerify: true,
		Users: slices.Clone(req.User), CreateTime: s.now().Unix()}
	if req.SkipVerify != nil {
		w.SkipVerify = *req.SkipVerify
	}
	if req.State != nil {
		w.State = *req.State
	}
	if req.Scene == 2 {
		w.QRCode = "http://" + c.r.Host + "/sandbox/qr/" + w.ConfigID + ".png"
	}
	a.ways[w.ConfigID] = w
	return success(okFields{"config_id": w.ConfigID, "qr_code": w.QRCode}), nil
}

func (s *Sandbox) way(configID string) (*ContactWay, *apiError) {
	if configID == "" {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: config_id is empty")
	}
	w := s.acqState().ways[configID]
	if w == nil {
		return nil, errf(CodeInvalidConfigID, "invalid config_id: %s", configID)
	}
	return w, nil
}

func (s *Sandbox) apiUpdateContactWay(c *apiCall) (any, *apiError) {
	var req contactWayRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	w, e := s.way(req.ConfigID)
	if e != nil {
		return nil, e
	}
	if e := checkWayText(req.Remark, req.State); e != nil {
		return nil, e
	}
	if req.User != nil {
		if w.Type == 1 && len(req.User) != 1 {
			return nil, errf(CodeInvalidParameter, "invalid Request Parameter: a single contact way takes exactly one user")
		}
		if e := s.checkWayUsers(req.User, req.Party); e != nil {
			return nil, e
		}
		w.Users, w.next = slices.Clone(req.User), 0
	}
	if req.Remark != "" {
		w.Remark = req.Remark
	}
	if req.SkipVerify != nil {
		w.SkipVerify = *req.SkipVerify
	}
	if req.State != nil {
		w.State = *req.State
	}
	return success(nil), nil
}

func (s *Sandbox) apiGetContactWay(c *apiCall) (any, *apiError) {
	var req contactWayRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	w, e := s.way(req.ConfigID)
	if e != nil {
		return nil, e
	}
	return success(okFields{"contact_way": map[string]any{
		"config_id": w.ConfigID, "type": w.Type, "scene": w.Scene, "remark": w.Remark, "skip_verify": w.SkipVerify,
		"state": w.State, "user": nonNil(slices.Clone(w.Users)), "party": []int{}, "qr_code": w.QRCode,
	}}), nil
}

func (s *Sandbox) apiDelContactWay(c *apiCall) (any, *apiError) {
	var req contactWayRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if _, e := s.way(req.ConfigID); e != nil {
		return nil, e
	}
	delete(s.acqState().ways, req.ConfigID)
	return success(nil), nil
}

type welcomeRequest struct {
	WelcomeCode string `json:"welcome_code"`
	Text        *struct {
		Content string `json:"content"`
	} `json:"text"`
	Attachments []struct {
		MsgType string `json:"msgtype"`
	} `json:"attachments"`
}

func (s *Sandbox) apiSendWelcomeMsg(c *apiCall) (any, *apiError) {
	var req welcomeRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.WelcomeCode == "" {
		return nil, errf(CodeWelcomeCodeMissing, "missing welcome_code")
	}
	text := ""
	if req.Text != nil {
		text = req.Text.Content
	}
	switch {
	case text == "" && len(req.Attachments) == 0:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: text and attachments are both empty")
	case len(text) > maxWelcomeTextBytes:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: text.content exceed %d bytes", maxWelcomeTextBytes)
	case len(req.Attachments) > maxWelcomeAttachment:
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: attachments exceed %d", maxWelcomeAttachment)
	}
	for _, at := range req.Attachments {
		if at.MsgType != "image" && at.MsgType != "link" && at.MsgType != "miniprogram" && at.MsgType != "video" && at.MsgType != "file" {
			return nil, errf(CodeInvalidParameter, "invalid Request Parameter: msgtype %q", at.MsgType)
		}
	}
	a := s.acqState()
	wc := a.welcomes[req.WelcomeCode]
	now := s.now()
	switch {
	case wc == nil || now.Sub(wc.issued) > WelcomeCodeTTL:
		return nil, errf(CodeWelcomeCodeExpired, "welcome_code invalid or expired")
	case wc.used:
		return nil, errf(CodeWelcomeAlreadyChatting, "welcome msg already sent or user already chatting")
	}
	wc.used = true
	a.sent = append(a.sent, WelcomeSent{Code: req.WelcomeCode, UserID: wc.userID, ExternalUserID: wc.externalUserID,
		Text: text, Attachments: len(req.Attachments), At: now})
	return success(nil), nil
}

// issueWelcome remembers the welcome code of an add event, so that
// send_welcome_msg accepts it once within WelcomeCodeTTL.
func (s *Sandbox) issueWelcome(ev Event) {
	if ev.WelcomeCode == "" {
		return
	}
	s.acqState().welcomes[ev.WelcomeCode] = &welcomeCode{userID: ev.UserID, externalUserID: ev.ExternalUserID, issued: s.now()}
}

type linkRequest struct {
	LinkID   string `json:"link_id"`
	LinkName string `json:"link_name"`
	Range    *struct {
		UserList       []string `json:"user_list"`
		DepartmentList []int64  `json:"department_list"`
	} `json:"range"`
	SkipVerify *bool `json:"skip_verify"`
}

func (s *Sandbox) apiCreateLink(c *apiCall) (any, *apiError) {
	var req linkRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.LinkName == "" {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: link_name is empty")
	}
	if req.Range == nil || len(req.Range.UserList)+len(req.Range.DepartmentList) == 0 {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: range is empty")
	}
	if e := s.checkWayUsers(req.Range.UserList, req.Range.DepartmentList); e != nil {
		return nil, e
	}
	id := "cawcde" + randID(s.rng, "", 10)
	l := &Link{LinkID: id, Name: req.LinkName, URL: "https://work.weixin.qq.com/ca/" + id, SkipVerify: true,
		Users: slices.Clone(req.Range.UserList), CreateTime: s.now().Unix()}
	if req.SkipVerify != nil {
		l.SkipVerify = *req.SkipVerify
	}
	s.acqState().links[id] = l
	return success(okFields{"link": map[string]any{"link_id": l.LinkID, "link_name": l.Name, "url": l.URL, "create_time": l.CreateTime}}), nil
}

func (s *Sandbox) link(id string) (*Link, *apiError) {
	l := s.acqState().links[id]
	if id == "" || l == nil {
		return nil, errf(CodeInvalidConfigID, "invalid link_id: %s", id)
	}
	return l, nil
}

func (s *Sandbox) apiUpdateLink(c *apiCall) (any, *apiError) {
	var req linkRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	l, e := s.link(req.LinkID)
	if e != nil {
		return nil, e
	}
	if req.Range != nil {
		if e := s.checkWayUsers(req.Range.UserList, req.Range.DepartmentList); e != nil {
			return nil, e
		}
		if len(req.Range.UserList) == 0 {
			return nil, errf(CodeInvalidParameter, "invalid Request Parameter: range is empty")
		}
		l.Users, l.next = slices.Clone(req.Range.UserList), 0
	}
	if req.LinkName != "" {
		l.Name = req.LinkName
	}
	if req.SkipVerify != nil {
		l.SkipVerify = *req.SkipVerify
	}
	return success(nil), nil
}

func (s *Sandbox) apiGetLink(c *apiCall) (any, *apiError) {
	var req linkRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	l, e := s.link(req.LinkID)
	if e != nil {
		return nil, e
	}
	return success(okFields{
		"link":  map[string]any{"link_name": l.Name, "url": l.URL, "create_time": l.CreateTime, "skip_verify": l.SkipVerify},
		"range": map[string]any{"user_list": nonNil(slices.Clone(l.Users)), "department_list": []int{}},
	}), nil
}

func (s *Sandbox) apiDeleteLink(c *apiCall) (any, *apiError) {
	var req linkRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if _, e := s.link(req.LinkID); e != nil {
		return nil, e
	}
	delete(s.acqState().links, req.LinkID)
	return success(nil), nil
}

// ContactWays returns copies of the corp's contact ways.
func (s *Sandbox) ContactWays() []ContactWay {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ContactWay
	for _, w := range s.acqState().ways {
		c := *w
		c.Users = slices.Clone(w.Users)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ContactWay) int { return int(a.CreateTime - b.CreateTime) })
	return out
}

// ContactWayByID returns a copy of one contact way.
func (s *Sandbox) ContactWayByID(configID string) (ContactWay, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.acqState().ways[configID]
	if w == nil {
		return ContactWay{}, false
	}
	c := *w
	c.Users = slices.Clone(w.Users)
	return c, true
}

// LinkByID returns a copy of one link.
func (s *Sandbox) LinkByID(id string) (Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.acqState().links[id]
	if l == nil {
		return Link{}, false
	}
	c := *l
	c.Users = slices.Clone(l.Users)
	return c, true
}

// WelcomesSent returns the welcome messages the sandbox accepted, in order.
func (s *Sandbox) WelcomesSent() []WelcomeSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acqState().sent)
}

// SetContactWayQuota changes how many contact ways may be created through
// the API (to test 41045).
func (s *Sandbox) SetContactWayQuota(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acqState().quota = n
}

func (w *ContactWay) String() string { return fmt.Sprintf("contact way %s (%v)", w.ConfigID, w.Users) }
