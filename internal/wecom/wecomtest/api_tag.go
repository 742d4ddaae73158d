package wecomtest

import (
	"slices"
	"unicode/utf8"
)

type tagJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	CreateTime int64  `json:"create_time"`
	Order      uint32 `json:"order"`
	Deleted    bool   `json:"deleted"`
}

type tagGroupJSON struct {
	GroupID    string    `json:"group_id"`
	GroupName  string    `json:"group_name"`
	CreateTime int64     `json:"create_time"`
	Order      uint32    `json:"order"`
	Deleted    bool      `json:"deleted"`
	Tag        []tagJSON `json:"tag"`
}

func groupJSON(g *TagGroup, tags []*Tag) tagGroupJSON {
	out := tagGroupJSON{GroupID: g.ID, GroupName: g.Name, CreateTime: g.CreateTime, Order: g.Order, Deleted: g.Deleted, Tag: []tagJSON{}}
	for _, t := range sortedTags(tags) {
		out.Tag = append(out.Tag, tagJSON{ID: t.ID, Name: t.Name, CreateTime: t.CreateTime, Order: t.Order, Deleted: t.Deleted})
	}
	return out
}

type tagListRequest struct {
	TagID   []string `json:"tag_id"`
	GroupID []string `json:"group_id"`
}

// apiGetCorpTagList is POST /cgi-bin/externalcontact/get_corp_tag_list
// (path/96320): everything when both filters are empty, else the groups in
// group_id (which wins) or the tags in tag_id. Only a filtered query shows
// deleted tags, with "deleted": true.
func (s *Sandbox) apiGetCorpTagList(c *apiCall) (any, *apiError) {
	var req tagListRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	out := []tagGroupJSON{}
	switch {
	case len(req.GroupID) > 0:
		for _, g := range sortedGroups(s.st.groups) {
			if slices.Contains(req.GroupID, g.ID) {
				out = append(out, groupJSON(g, g.Tags))
			}
		}
	case len(req.TagID) > 0:
		for _, g := range sortedGroups(s.st.groups) {
			var tags []*Tag
			for _, t := range g.Tags {
				if slices.Contains(req.TagID, t.ID) {
					tags = append(tags, t)
				}
			}
			if len(tags) > 0 {
				out = append(out, groupJSON(g, tags))
			}
		}
	default:
		for _, g := range sortedGroups(s.st.groups) {
			if !g.Deleted {
				out = append(out, groupJSON(g, g.liveTags()))
			}
		}
	}
	return success(okFields{"tag_group": out}), nil
}

type addTagRequest struct {
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	Order     uint32 `json:"order"`
	Tag       []struct {
		Name  string `json:"name"`
		Order uint32 `json:"order"`
	} `json:"tag"`
	AgentID int `json:"agentid"`
}

// apiAddCorpTag is POST /cgi-bin/externalcontact/add_corp_tag (path/96320).
// group_id names an existing group; otherwise group_name names a new group,
// or an existing one to add to. Repeated names in one request create one
// tag; a name already in the group is 40071; going past 3,000 live tags is
// 40126 and creates nothing.
func (s *Sandbox) apiAddCorpTag(c *apiCall) (any, *apiError) {
	var req addTagRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if len(req.Tag) == 0 {
		return nil, errf(CodeTagNameMissing, "tag name missing: empty tag groups are not supported")
	}
	var g *TagGroup
	switch {
	case req.GroupID != "":
		g = s.st.groupByID[req.GroupID]
		if g == nil || g.Deleted {
			return nil, errf(CodeInvalidTagID, "invalid tag group id")
		}
	case req.GroupName == "":
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: group_id or group_name is required")
	default:
		if e := checkTagName(req.GroupName); e != nil {
			return nil, e
		}
		g = s.st.groupByName(req.GroupName)
	}
	type newTag struct {
		name  string
		order uint32
	}
	var names []newTag
	for _, t := range req.Tag {
		if e := checkTagName(t.Name); e != nil {
			return nil, e
		}
		if slices.ContainsFunc(names, func(n newTag) bool { return n.name == t.Name }) {
			continue // "如果传入多个同名标签，则只会创建一个"
		}
		if g != nil && g.liveTag(t.Name) != nil {
			return nil, errf(CodeTagNameExists, "tag name already exists: %s", t.Name)
		}
		names = append(names, newTag{t.Name, t.Order})
	}
	if s.st.liveTagCount()+len(names) > maxTags {
		return nil, errf(CodeTagLimit, "corp tag count exceeds the limit of %d", maxTags)
	}
	now := s.now().Unix()
	if g == nil {
		g = s.newGroup(req.GroupName, req.Order, now, true)
	}
	var created []*Tag
	for _, n := range names {
		created = append(created, s.newTag(g, n.name, n.order, now, true))
	}
	return success(okFields{"tag_group": groupJSON(g, created)}), nil
}

// newGroup and newTag create corp tags with fresh et... ids. byApp marks
// what the API created: only that may be edited or deleted through it.
func (s *Sandbox) newGroup(name string, order uint32, created int64, byApp bool) *TagGroup {
	g := &TagGroup{ID: s.newID("et"), Name: name, Order: order, CreateTime: created, byApp: byApp}
	s.st.groups = append(s.st.groups, g)
	s.st.groupByID[g.ID] = g
	return g
}

func (s *Sandbox) newTag(g *TagGroup, name string, order uint32, created int64, byApp bool) *Tag {
	t := &Tag{ID: s.newID("et"), Name: name, Order: order, CreateTime: created, GroupID: g.ID, byApp: byApp}
	g.Tags = append(g.Tags, t)
	s.st.tagByID[t.ID] = t
	return t
}

func checkTagName(name string) *apiError {
	if name == "" {
		return errf(CodeTagNameMissing, "tag name missing")
	}
	if utf8.RuneCountInString(name) > maxTagNameChars {
		return errf(CodeInvalidTagNameLength, "invalid tag name length: at most %d characters", maxTagNameChars)
	}
	return nil
}

type editTagRequest struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Order   *uint32 `json:"order"`
	AgentID int     `json:"agentid"`
}

// apiEditCorpTag is POST /cgi-bin/externalcontact/edit_corp_tag
// (path/96320): renames or reorders a tag or a group; a renamed group may
// not take another group's name, nor a tag another tag's in its group.
func (s *Sandbox) apiEditCorpTag(c *apiCall) (any, *apiError) {
	var req editTagRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.Name != "" {
		if e := checkTagName(req.Name); e != nil {
			return nil, e
		}
	}
	if t := s.st.liveTag(req.ID); t != nil {
		if !t.byApp {
			return nil, errf(CodeNoAppPermission, "no privilege to edit a tag the app did not create")
		}
		if req.Name != "" && req.Name != t.Name && s.st.groupByID[t.GroupID].liveTag(req.Name) != nil {
			return nil, errf(CodeTagNameExists, "tag name already exists: %s", req.Name)
		}
		if req.Name != "" {
			t.Name = req.Name
		}
		if req.Order != nil {
			t.Order = *req.Order
		}
		return success(nil), nil
	}
	g := s.st.groupByID[req.ID]
	if g == nil || g.Deleted {
		return nil, errf(CodeInvalidTagID, "invalid tag id")
	}
	if !g.byApp {
		return nil, errf(CodeNoAppPermission, "no privilege to edit a tag group the app did not create")
	}
	if req.Name != "" && req.Name != g.Name && s.st.groupByName(req.Name) != nil {
		return nil, errf(CodeTagNameExists, "tag group name already exists: %s", req.Name)
	}
	if req.Name != "" {
		g.Name = req.Name
	}
	if req.Order != nil {
		g.Order = *req.Order
	}
	return success(nil), nil
}

type delTagRequest struct {
	TagID   []string `json:"tag_id"`
	GroupID []string `json:"group_id"`
	AgentID int      `json:"agentid"`
}

// apiDelCorpTag is POST /cgi-bin/externalcontact/del_corp_tag (path/96320).
// Every id must name a live tag or group the app created, or nothing is
// deleted; a group whose last tag goes is deleted too.
func (s *Sandbox) apiDelCorpTag(c *apiCall) (any, *apiError) {
	var req delTagRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if len(req.TagID) == 0 && len(req.GroupID) == 0 {
		return nil, errf(CodeInvalidTagID, "invalid tag id: tag_id and group_id are both empty")
	}
	var tags []*Tag
	for _, id := range req.TagID {
		t := s.st.liveTag(id)
		if t == nil {
			return nil, errf(CodeInvalidTagID, "invalid tag id: %s", id)
		}
		if !t.byApp {
			return nil, errf(CodeNoAppPermission, "no privilege to delete a tag the app did not create")
		}
		tags = append(tags, t)
	}
	var groups []*TagGroup
	for _, id := range req.GroupID {
		g := s.st.groupByID[id]
		if g == nil || g.Deleted {
			return nil, errf(CodeInvalidTagID, "invalid tag group id: %s", id)
		}
		if !g.byApp {
			return nil, errf(CodeNoAppPermission, "no privilege to delete a tag group the app did not create")
		}
		groups = append(groups, g)
	}
	for _, t := range tags {
		s.st.deleteTag(t)
	}
	for _, g := range groups {
		s.st.deleteGroup(g)
	}
	return success(nil), nil
}

type markTagRequest struct {
	UserID         string   `json:"userid"`
	ExternalUserID string   `json:"external_userid"`
	AddTag         []string `json:"add_tag"`
	RemoveTag      []string `json:"remove_tag"`
}

// apiMarkTag is POST /cgi-bin/externalcontact/mark_tag (path/92118): adds
// and removes corp tags on one member's relation with one customer. Like
// every API write it produces no callback.
func (s *Sandbox) apiMarkTag(c *apiCall) (any, *apiError) {
	var req markTagRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	r, e := s.apiRelation(req.UserID, req.ExternalUserID)
	if e != nil {
		return nil, e
	}
	if len(req.AddTag) == 0 && len(req.RemoveTag) == 0 {
		return nil, errf(CodeInvalidParameter, "invalid Request Parameter: add_tag and remove_tag are both empty")
	}
	for _, id := range append(slices.Clone(req.AddTag), req.RemoveTag...) {
		if s.st.liveTag(id) == nil {
			return nil, errf(CodeInvalidTagID, "invalid tag id: %s", id)
		}
	}
	s.st.markTags(r, req.AddTag, req.RemoveTag)
	return success(nil), nil
}

// markTags adds and removes corp tags on a relation, keeping each tag once.
func (st *state) markTags(r *Relation, add, remove []string) {
	for _, id := range add {
		if !slices.Contains(r.TagIDs, id) {
			r.TagIDs = append(r.TagIDs, id)
		}
	}
	r.TagIDs = slices.DeleteFunc(r.TagIDs, func(id string) bool { return slices.Contains(remove, id) })
}
