package wecomtest

import (
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// externalContactJSON is external_contact in externalcontact/get and
// batch/get_by_user (path/96315, path/96316).
type externalContactJSON struct {
	ExternalUserID string `json:"external_userid"`
	Name           string `json:"name"`
	Position       string `json:"position,omitempty"`
	Avatar         string `json:"avatar"`
	CorpName       string `json:"corp_name,omitempty"`
	CorpFullName   string `json:"corp_full_name,omitempty"`
	Type           int    `json:"type"`
	Gender         int    `json:"gender"`
	UnionID        string `json:"unionid,omitempty"`
}

func contactJSON(c *Customer) externalContactJSON {
	return externalContactJSON{
		ExternalUserID: c.ExternalUserID, Name: c.Name, Position: c.Position, Avatar: c.Avatar,
		CorpName: c.CorpName, CorpFullName: c.CorpFullName, Type: c.Type, Gender: c.Gender, UnionID: c.UnionID,
	}
}

// tagRefJSON is one entry of follow_user[].tags in externalcontact/get.
type tagRefJSON struct {
	GroupName string `json:"group_name"`
	TagName   string `json:"tag_name"`
	Type      int    `json:"type"` // 1 corp tag; personal tags (2) are not emulated
	TagID     string `json:"tag_id,omitempty"`
}

// followUserJSON is follow_user[] in externalcontact/get (path/96315).
type followUserJSON struct {
	UserID         string       `json:"userid"`
	Remark         string       `json:"remark"`
	Description    string       `json:"description"`
	CreateTime     int64        `json:"createtime"`
	Tags           []tagRefJSON `json:"tags"`
	RemarkCorpName string       `json:"remark_corp_name,omitempty"`
	RemarkMobiles  []string     `json:"remark_mobiles"`
	OperUserID     string       `json:"oper_userid,omitempty"`
	AddWay         int          `json:"add_way"`
	State          string       `json:"state,omitempty"`
}

// followInfoJSON is follow_info in batch/get_by_user (path/96316): corp tag
// ids only.
type followInfoJSON struct {
	UserID         string   `json:"userid"`
	Remark         string   `json:"remark"`
	Description    string   `json:"description"`
	CreateTime     int64    `json:"createtime"`
	TagID          []string `json:"tag_id"`
	RemarkCorpName string   `json:"remark_corp_name,omitempty"`
	RemarkMobiles  []string `json:"remark_mobiles"`
	OperUserID     string   `json:"oper_userid,omitempty"`
	AddWay         int      `json:"add_way"`
	State          string   `json:"state,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (st *state) followUser(r *Relation) followUserJSON {
	tags := []tagRefJSON{}
	for _, id := range r.TagIDs {
		t := st.liveTag(id)
		if t == nil {
			continue
		}
		tags = append(tags, tagRefJSON{GroupName: st.groupByID[t.GroupID].Name, TagName: t.Name, Type: 1, TagID: t.ID})
	}
	return followUserJSON{
		UserID: r.UserID, Remark: r.Remark, Description: r.Description, CreateTime: r.CreateTime, Tags: tags,
		RemarkCorpName: r.RemarkCorpName, RemarkMobiles: nonNil(slices.Clone(r.RemarkMobiles)),
		OperUserID: r.OperUserID, AddWay: r.AddWay, State: r.State,
	}
}

func followInfo(r *Relation) followInfoJSON {
	return followInfoJSON{
		UserID: r.UserID, Remark: r.Remark, Description: r.Description, CreateTime: r.CreateTime,
		TagID: nonNil(slices.Clone(r.TagIDs)), RemarkCorpName: r.RemarkCorpName,
		RemarkMobiles: nonNil(slices.Clone(r.RemarkMobiles)), OperUserID: r.OperUserID, AddWay: r.AddWay, State: r.State,
	}
}

// apiUserGet is GET /cgi-bin/user/get?userid= (path/90196). Like apps created
// after 2022-06-20 it returns no avatar, gender, mobile, email or address.
func (s *Sandbox) apiUserGet(c *apiCall) (any, *apiError) {
	id := c.query["userid"]
	if id == "" {
		return nil, errf(CodeUserIDMissing, "userid missing")
	}
	m := s.st.activeMember(id)
	if m == nil {
		return nil, errf(CodeUserNotFound, "userid not found")
	}
	main := 0
	if len(m.Department) > 0 {
		main = m.Department[0]
	}
	return success(okFields{
		"userid": m.UserID, "name": m.Name, "department": slices.Clone(m.Department),
		"main_department": main, "position": m.Position, "status": m.Status,
	}), nil
}

// apiFollowUserList is GET /cgi-bin/externalcontact/get_follow_user_list
// (path/92571): the members with customer contact enabled, which here are
// all activated members.
func (s *Sandbox) apiFollowUserList(*apiCall) (any, *apiError) {
	ids := []string{}
	for _, m := range s.st.members {
		if m.Status == MemberActive {
			ids = append(ids, m.UserID)
		}
	}
	return success(okFields{"follow_user": ids}), nil
}

// apiContactList is GET /cgi-bin/externalcontact/list?userid= (path/92113).
// A member without customers gets 84061, as the real API answers.
func (s *Sandbox) apiContactList(c *apiCall) (any, *apiError) {
	id := c.query["userid"]
	if id == "" {
		return nil, errf(CodeUserIDMissing, "userid missing")
	}
	if s.st.activeMember(id) == nil {
		return nil, errf(CodeUserNotFound, "userid not found")
	}
	ids := []string{}
	for _, r := range s.st.byMember[id] {
		if s.st.visible(r) {
			ids = append(ids, r.ExternalUserID)
		}
	}
	if len(ids) == 0 {
		return nil, errf(CodeNoRelation, "not external contact")
	}
	return success(okFields{"external_userid": ids}), nil
}

// apiContactGet is GET /cgi-bin/externalcontact/get?external_userid=&cursor=
// (path/96315). follow_user is paged by 500 with an opaque cursor.
func (s *Sandbox) apiContactGet(c *apiCall) (any, *apiError) {
	id := c.query["external_userid"]
	if id == "" {
		return nil, errf(CodeExternalUserMissing, "external_userid missing")
	}
	cust := s.st.customerBy[id]
	if cust == nil {
		return nil, errf(CodeInvalidExternalUser, "invalid external userid")
	}
	var rels []*Relation
	for _, r := range s.st.byCustomer[id] {
		if s.st.visible(r) {
			rels = append(rels, r)
		}
	}
	if len(rels) == 0 {
		return nil, errf(CodeNoRelation, "not external contact")
	}
	after := int64(0)
	if cur := c.query["cursor"]; cur != "" {
		_, seq, ok := decodeCursor("g", cur)
		if !ok {
			return nil, errf(CodeInvalidCursor, "invalid cursor")
		}
		after = seq
	}
	start := sort.Search(len(rels), func(i int) bool { return rels[i].seq > after })
	end := min(start+followUserPage, len(rels))
	page := []followUserJSON{}
	for _, r := range rels[start:end] {
		page = append(page, s.st.followUser(r))
	}
	next := ""
	if end < len(rels) {
		next = encodeCursor("g", "", rels[end-1].seq)
	}
	return success(okFields{"external_contact": contactJSON(cust), "follow_user": page, "next_cursor": next}), nil
}

type batchRequest struct {
	UserIDList []string `json:"userid_list"`
	Cursor     string   `json:"cursor"`
	Limit      int      `json:"limit"`
}

type batchItem struct {
	ExternalContact externalContactJSON `json:"external_contact"`
	FollowInfo      followInfoJSON      `json:"follow_info"`
}

// apiBatchGetByUser is POST /cgi-bin/externalcontact/batch/get_by_user
// (path/96316). Results run member by member in userid_list order, each
// member's customers in the order they were added; the cursor names the last
// relation returned, so a relation added or removed between pages never
// shifts the others. Unknown or departed userids contribute nothing.
func (s *Sandbox) apiBatchGetByUser(c *apiCall) (any, *apiError) {
	var req batchRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if len(req.UserIDList) == 0 {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: field `userid_list` is required")
	}
	if len(req.UserIDList) > maxBatchUsers {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: field `userid_list` exceed max count %d", maxBatchUsers)
	}
	var users []string
	for _, u := range req.UserIDList {
		if len(u) > maxUserIDBytes {
			return nil, errf(CodeInvalidParameter, "invalid Request Parameter: field `userid_list` exceed max length %d", maxUserIDBytes)
		}
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	limit := req.Limit
	if limit <= 0 {
		limit = defaultBatchLimit
	}
	limit = min(limit, maxBatchLimit) // "超过最大值时取最大值"

	ui, after := 0, int64(0)
	if req.Cursor != "" {
		u, seq, ok := decodeCursor("b", req.Cursor)
		if !ok || !slices.Contains(users, u) {
			return nil, errf(CodeInvalidCursor, "invalid cursor")
		}
		ui, after = slices.Index(users, u), seq
	}

	// Collect up to limit relations; finding one more means there is a
	// next page, whose cursor names the last relation returned.
	items := []batchItem{}
	next := ""
	var last *Relation
scan:
	for ; ui < len(users); ui, after = ui+1, 0 {
		if s.st.activeMember(users[ui]) == nil {
			continue
		}
		rels := s.st.byMember[users[ui]]
		for i := sort.Search(len(rels), func(i int) bool { return rels[i].seq > after }); i < len(rels); i++ {
			r := rels[i]
			if r.Half {
				continue
			}
			if len(items) == limit {
				next = encodeCursor("b", last.UserID, last.seq)
				break scan
			}
			items = append(items, batchItem{ExternalContact: contactJSON(s.st.customerBy[r.ExternalUserID]), FollowInfo: followInfo(r)})
			last = r
		}
	}
	return success(okFields{"external_contact_list": items, "next_cursor": next}), nil
}

// encodeCursor makes an opaque cursor from a kind, a userid and a relation
// sequence number.
func encodeCursor(kind, userID string, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + userID + "|" + strconv.FormatInt(seq, 10)))
}

func decodeCursor(kind, cur string) (userID string, seq int64, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return "", 0, false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 3 || parts[0] != kind {
		return "", 0, false
	}
	seq, err = strconv.ParseInt(parts[2], 10, 64)
	if err != nil || seq < 0 {
		return "", 0, false
	}
	return parts[1], seq, true
}

type remarkRequest struct {
	UserID           string   `json:"userid"`
	ExternalUserID   string   `json:"external_userid"`
	Remark           *string  `json:"remark"`
	Description      *string  `json:"description"`
	RemarkCompany    *string  `json:"remark_company"`
	RemarkMobiles    []string `json:"remark_mobiles"`
	RemarkPicMediaID string   `json:"remark_pic_mediaid"`
}

// apiRemark is POST /cgi-bin/externalcontact/remark (path/96317). Like every
// API write it produces no callback.
func (s *Sandbox) apiRemark(c *apiCall) (any, *apiError) {
	var req remarkRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	r, e := s.apiRelation(req.UserID, req.ExternalUserID)
	if e != nil {
		return nil, e
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if str(req.Remark) == "" && str(req.Description) == "" && str(req.RemarkCompany) == "" &&
		req.RemarkMobiles == nil && req.RemarkPicMediaID == "" {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: remark, description, remark_company, remark_mobiles and remark_pic_mediaid are all empty")
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"remark", req.Remark, maxRemarkChars}, {"description", req.Description, maxDescriptionChars}, {"remark_company", req.RemarkCompany, maxRemarkChars}} {
		if n := utf8.RuneCountInString(str(f.v)); n > f.max {
			return nil, errf(CodeInvalidParameter, "invalid Request Parameter: field `%s` exceed max length %d", f.name, f.max)
		}
	}
	if req.Remark != nil {
		r.Remark = *req.Remark
	}
	if req.Description != nil {
		r.Description = *req.Description
	}
	// "remark_company只在此外部联系人为微信用户时有效"
	if req.RemarkCompany != nil && s.st.customerBy[r.ExternalUserID].Type == CustomerWeChat {
		r.RemarkCorpName = *req.RemarkCompany
	}
	if req.RemarkMobiles != nil {
		// A single "" clears the list; any list replaces the old one.
		r.RemarkMobiles = slices.DeleteFunc(slices.Clone(req.RemarkMobiles), func(m string) bool { return m == "" })
	}
	return success(nil), nil
}

// apiRelation finds the relation an API write addresses, with the codes the
// real API gives: 41009/60111 for the member, 41035/40096 for the customer,
// 84061 when they are not (or only half) related.
func (s *Sandbox) apiRelation(userID, externalUserID string) (*Relation, *apiError) {
	if userID == "" {
		return nil, errf(CodeUserIDMissing, "userid missing")
	}
	if s.st.activeMember(userID) == nil {
		return nil, errf(CodeUserNotFound, "userid not found")
	}
	if externalUserID == "" {
		return nil, errf(CodeExternalUserMissing, "external_userid missing")
	}
	if s.st.customerBy[externalUserID] == nil {
		return nil, errf(CodeInvalidExternalUser, "invalid external userid")
	}
	r := s.st.relation(userID, externalUserID)
	if r == nil || r.Half {
		return nil, errf(CodeNoRelation, "not external contact")
	}
	return r, nil
}
