package wecomtest

import (
	"slices"
	"sort"
)

// Summary is an overview of the corp for the control page and tests.
type Summary struct {
	CorpID        string          `json:"corp_id"`
	Members       []MemberSummary `json:"members"`
	Customers     int             `json:"customers"`
	Relations     int             `json:"relations"`
	HalfRelations int             `json:"half_relations"`
	OneWay        int             `json:"one_way_relations"` // deleted by the customer
	TagGroups     []GroupSummary  `json:"tag_groups"`
	Tags          int             `json:"tags"`
	Chats         []string        `json:"chats"`
	Queued        int             `json:"queued_callbacks"`
	Failed        int             `json:"failed_callbacks"`
	Paused        bool            `json:"delivery_paused"`
	CallbackURL   string          `json:"callback_url"`
	StateHash     string          `json:"state_hash"`
}

// MemberSummary is one member in a Summary.
type MemberSummary struct {
	UserID     string `json:"userid"`
	Name       string `json:"name"`
	Department string `json:"department"`
	Status     int    `json:"status"`
	Customers  int    `json:"customers"`
}

// GroupSummary is one tag group in a Summary.
type GroupSummary struct {
	ID   string       `json:"group_id"`
	Name string       `json:"group_name"`
	Tags []TagSummary `json:"tags"`
}

// TagSummary is one tag in a Summary.
type TagSummary struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Summary describes the corp as it is now.
func (s *Sandbox) Summary() Summary {
	s.mu.Lock()
	st := s.st
	out := Summary{CorpID: s.opt.CorpID, Customers: len(st.customers), Chats: []string{}, StateHash: st.hash()}
	deptName := map[int]string{}
	for _, d := range st.departments {
		deptName[d.ID] = d.Name
	}
	for _, m := range st.members {
		ms := MemberSummary{UserID: m.UserID, Name: m.Name, Status: m.Status}
		if len(m.Department) > 0 {
			ms.Department = deptName[m.Department[0]]
		}
		for _, r := range st.byMember[m.UserID] {
			switch {
			case r.Half:
				out.HalfRelations++
			case r.DeletedByCustomer:
				out.OneWay++
			}
			if !r.Half {
				ms.Customers++
				out.Relations++
			}
		}
		out.Members = append(out.Members, ms)
	}
	for _, g := range sortedGroups(st.groups) {
		if g.Deleted {
			continue
		}
		gs := GroupSummary{ID: g.ID, Name: g.Name}
		for _, t := range sortedTags(g.liveTags()) {
			gs.Tags = append(gs.Tags, TagSummary{ID: t.ID, Name: t.Name})
			out.Tags++
		}
		out.TagGroups = append(out.TagGroups, gs)
	}
	for id := range st.chats {
		out.Chats = append(out.Chats, id)
	}
	sort.Strings(out.Chats)
	s.mu.Unlock()

	s.dmu.Lock()
	out.Queued, out.Failed, out.Paused, out.CallbackURL = len(s.queue), len(s.failed), s.paused, s.url
	s.dmu.Unlock()
	return out
}

// Member returns a copy of a member, left or not.
func (s *Sandbox) Member(userID string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.memberByID[userID]
	if m == nil {
		return Member{}, false
	}
	c := *m
	c.Department = slices.Clone(m.Department)
	return c, true
}

// Customer returns a copy of a customer.
func (s *Sandbox) Customer(externalUserID string) (Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.st.customerBy[externalUserID]
	if c == nil {
		return Customer{}, false
	}
	return *c, true
}

// Relation returns a copy of the relation between a member and a customer,
// half-added and one-way ones included.
func (s *Sandbox) Relation(userID, externalUserID string) (Relation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.relation(userID, externalUserID)
	if r == nil {
		return Relation{}, false
	}
	c := *r
	c.TagIDs = slices.Clone(r.TagIDs)
	c.RemarkMobiles = slices.Clone(r.RemarkMobiles)
	return c, true
}

// Relations returns copies of a customer's relations, oldest first.
func (s *Sandbox) Relations(externalUserID string) []Relation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Relation
	for _, r := range s.st.byCustomer[externalUserID] {
		c := *r
		c.TagIDs = slices.Clone(r.TagIDs)
		c.RemarkMobiles = slices.Clone(r.RemarkMobiles)
		out = append(out, c)
	}
	return out
}

// Members returns copies of every member in address-book order.
func (s *Sandbox) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Member, 0, len(s.st.members))
	for _, m := range s.st.members {
		c := *m
		c.Department = slices.Clone(m.Department)
		out = append(out, c)
	}
	return out
}

// CustomerIDs returns every customer's external_userid in creation order.
func (s *Sandbox) CustomerIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.st.customers))
	for _, c := range s.st.customers {
		out = append(out, c.ExternalUserID)
	}
	return out
}

// TagGroups returns copies of the live tag groups with their live tags, in
// the order get_corp_tag_list lists them.
func (s *Sandbox) TagGroups() []TagGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TagGroup
	for _, g := range sortedGroups(s.st.groups) {
		if g.Deleted {
			continue
		}
		c := *g
		c.Tags = nil
		for _, t := range sortedTags(g.liveTags()) {
			tc := *t
			c.Tags = append(c.Tags, &tc)
		}
		out = append(out, c)
	}
	return out
}

// AccessToken returns a valid access_token without an HTTP call, the same
// one gettoken would hand out now.
func (s *Sandbox) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, _ := s.issueToken()
	return tok
}
