package wecomtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Member statuses as user/get reports them (path/90196).
const (
	MemberActive      = 1 // 已激活
	MemberDisabled    = 2 // 已禁用
	MemberNotActive   = 4 // 未激活
	MemberLeftCompany = 5 // 退出企业
)

// Customer types (external_contact.type).
const (
	CustomerWeChat = 1 // a WeChat user
	CustomerWeCom  = 2 // a WeCom user of another corp
)

// Member is a WeCom staff account of the corp.
type Member struct {
	UserID     string
	Name       string
	Department []int // department ids; the first is the main one
	Position   string
	Status     int
}

// Department is a node of the corp's address book.
type Department struct {
	ID       int
	Name     string
	ParentID int
}

// Customer is an external contact: a WeChat user, or a WeCom user of
// another corp.
type Customer struct {
	ExternalUserID string
	Name           string
	Avatar         string
	Type           int // CustomerWeChat or CustomerWeCom
	Gender         int // 0 unknown, 1 male, 2 female
	UnionID        string
	Position       string // WeCom users only
	CorpName       string // WeCom users only
	CorpFullName   string // WeCom users only
}

// Relation is one member following one customer: WeCom's follow_user /
// follow_info.
type Relation struct {
	UserID         string
	ExternalUserID string
	Remark         string
	Description    string
	RemarkCorpName string
	RemarkMobiles  []string
	CreateTime     int64    // unix seconds
	TagIDs         []string // corp tag ids, in the order they were marked
	AddWay         int
	State          string
	OperUserID     string
	// Half is true after add_half_external_contact, before the member adds
	// the customer back: the APIs answer 84061 for it.
	Half bool
	// DeletedByCustomer is true after del_follow_user: a one-way relation
	// that the APIs still return.
	DeletedByCustomer bool

	seq int64 // creation order, for cursor paging
}

// TagGroup is a corp tag group with its tags.
type TagGroup struct {
	ID         string
	Name       string
	CreateTime int64
	Order      uint32
	Deleted    bool
	Tags       []*Tag

	byApp bool // created through add_corp_tag, so the API may edit it
}

// Tag is a corp tag (企业标签).
type Tag struct {
	ID         string
	Name       string
	CreateTime int64
	Order      uint32
	Deleted    bool
	GroupID    string

	byApp bool // created through add_corp_tag, so the API may edit it
}

// state is the corp. Every method expects Sandbox.mu to be held.
type state struct {
	departments []Department
	members     []*Member // in address-book order
	memberByID  map[string]*Member
	customers   []*Customer
	customerBy  map[string]*Customer
	byMember    map[string][]*Relation // ordered by seq
	byCustomer  map[string][]*Relation // ordered by seq
	groups      []*TagGroup            // in creation order, deleted ones kept
	groupByID   map[string]*TagGroup
	tagByID     map[string]*Tag
	chats       map[string]bool // customer group chats that exist
	seq         int64
}

func newState() *state {
	return &state{
		memberByID: map[string]*Member{},
		customerBy: map[string]*Customer{},
		byMember:   map[string][]*Relation{},
		byCustomer: map[string][]*Relation{},
		groupByID:  map[string]*TagGroup{},
		tagByID:    map[string]*Tag{},
		chats:      map[string]bool{},
	}
}

func (st *state) addMember(m *Member) {
	st.members = append(st.members, m)
	st.memberByID[m.UserID] = m
}

// activeMember returns a member who is still in the address book.
func (st *state) activeMember(userID string) *Member {
	m := st.memberByID[userID]
	if m == nil || m.Status == MemberLeftCompany {
		return nil
	}
	return m
}

func (st *state) addCustomer(c *Customer) {
	st.customers = append(st.customers, c)
	st.customerBy[c.ExternalUserID] = c
}

func (st *state) relation(userID, externalUserID string) *Relation {
	for _, r := range st.byMember[userID] {
		if r.ExternalUserID == externalUserID {
			return r
		}
	}
	return nil
}

func (st *state) addRelation(r *Relation) {
	st.seq++
	r.seq = st.seq
	st.byMember[r.UserID] = append(st.byMember[r.UserID], r)
	st.byCustomer[r.ExternalUserID] = append(st.byCustomer[r.ExternalUserID], r)
}

func (st *state) removeRelation(r *Relation) {
	st.byMember[r.UserID] = slices.DeleteFunc(st.byMember[r.UserID], func(x *Relation) bool { return x == r })
	st.byCustomer[r.ExternalUserID] = slices.DeleteFunc(st.byCustomer[r.ExternalUserID], func(x *Relation) bool { return x == r })
}

// visible reports whether the API shows the relation: not half-added, and
// its member still in the address book.
func (st *state) visible(r *Relation) bool {
	return !r.Half && st.activeMember(r.UserID) != nil
}

// liveTagCount counts corp tags that are not deleted (the 3,000 limit).
func (st *state) liveTagCount() int {
	n := 0
	for _, t := range st.tagByID {
		if !t.Deleted {
			n++
		}
	}
	return n
}

func (st *state) groupByName(name string) *TagGroup {
	for _, g := range st.groups {
		if !g.Deleted && g.Name == name {
			return g
		}
	}
	return nil
}

func (g *TagGroup) liveTag(name string) *Tag {
	for _, t := range g.Tags {
		if !t.Deleted && t.Name == name {
			return t
		}
	}
	return nil
}

func (g *TagGroup) liveTags() []*Tag {
	var out []*Tag
	for _, t := range g.Tags {
		if !t.Deleted {
			out = append(out, t)
		}
	}
	return out
}

// liveTag returns a corp tag that exists and is not deleted.
func (st *state) liveTag(id string) *Tag {
	t := st.tagByID[id]
	if t == nil || t.Deleted {
		return nil
	}
	return t
}

// deleteTag marks a tag deleted and takes it off every relation, as WeCom
// does; a group left without tags is deleted too.
func (st *state) deleteTag(t *Tag) {
	t.Deleted = true
	for _, rels := range st.byMember {
		for _, r := range rels {
			r.TagIDs = slices.DeleteFunc(r.TagIDs, func(id string) bool { return id == t.ID })
		}
	}
	g := st.groupByID[t.GroupID]
	if g != nil && len(g.liveTags()) == 0 {
		g.Deleted = true
	}
}

func (st *state) deleteGroup(g *TagGroup) {
	for _, t := range g.liveTags() {
		st.deleteTag(t)
	}
	g.Deleted = true
}

// sortedGroups returns groups by descending order value ("order值大的排序靠前"),
// then creation order.
func sortedGroups(gs []*TagGroup) []*TagGroup {
	out := slices.Clone(gs)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order > out[j].Order })
	return out
}

func sortedTags(ts []*Tag) []*Tag {
	out := slices.Clone(ts)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order > out[j].Order })
	return out
}

// hash is a SHA-256 over a canonical dump of the corp: members, customers,
// relations and tags, not tokens or deliveries.
func (st *state) hash() string {
	h := sha256.New()
	for _, d := range st.departments {
		fmt.Fprintf(h, "D|%d|%s|%d\n", d.ID, d.Name, d.ParentID)
	}
	for _, m := range st.members {
		fmt.Fprintf(h, "M|%s|%s|%v|%s|%d\n", m.UserID, m.Name, m.Department, m.Position, m.Status)
	}
	for _, c := range st.customers {
		fmt.Fprintf(h, "C|%s|%s|%s|%d|%d|%s|%s|%s|%s\n", c.ExternalUserID, c.Name, c.Avatar, c.Type,
			c.Gender, c.UnionID, c.Position, c.CorpName, c.CorpFullName)
		for _, r := range st.byCustomer[c.ExternalUserID] {
			fmt.Fprintf(h, "R|%s|%s|%s|%s|%s|%d|%s|%d|%s|%s|%t|%t\n", r.UserID, r.Remark, r.Description,
				r.RemarkCorpName, strings.Join(r.RemarkMobiles, ","), r.CreateTime, strings.Join(r.TagIDs, ","),
				r.AddWay, r.State, r.OperUserID, r.Half, r.DeletedByCustomer)
		}
	}
	for _, g := range st.groups {
		fmt.Fprintf(h, "G|%s|%s|%d|%d|%t\n", g.ID, g.Name, g.CreateTime, g.Order, g.Deleted)
		for _, t := range g.Tags {
			fmt.Fprintf(h, "T|%s|%s|%d|%d|%t\n", t.ID, t.Name, t.CreateTime, t.Order, t.Deleted)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
