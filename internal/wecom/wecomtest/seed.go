package wecomtest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SeedOptions shape the demo company Seed builds.
type SeedOptions struct {
	// Customers is how many customers to create; zero means 5,000.
	Customers int
	// Members is how many of the ten demo members to create; zero means all.
	Members int
	// Epoch is the "now" of the demo company: relations were added in the
	// two years before it. Zero means 2025-06-30 12:00 in Beijing, so the
	// same seed gives the same company whatever the clock says.
	Epoch time.Time
}

// DefaultSeedEpoch is the default SeedOptions.Epoch.
var DefaultSeedEpoch = time.Date(2025, 6, 30, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))

// Seed replaces the corp with a realistic, deterministic demo company:
// departments, members with Chinese names, customers, 40 corp tags in six
// groups, and follow relations with remarks, tags, add_way and state. The
// same seed and options give the same company (see StateHash). Seed sends
// no callbacks and leaves tokens, rate windows and deliveries alone.
func (s *Sandbox) Seed(seed int64, opts SeedOptions) error {
	if opts.Customers < 0 || opts.Members < 0 || opts.Members > len(seedMembers) {
		return errors.New("wecomtest: seed: Customers must be >= 0 and Members between 0 and 10")
	}
	if opts.Customers == 0 {
		opts.Customers = 5000
	}
	if opts.Members == 0 {
		opts.Members = len(seedMembers)
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = DefaultSeedEpoch
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newState()
	s.rng = rand.New(rand.NewPCG(uint64(seed), 0x6b697468)) // "kith"
	g := &seeder{s: s, rng: s.rng, epoch: opts.Epoch.Unix()}
	g.org(opts.Members)
	g.tagLibrary()
	for range opts.Customers {
		g.customer()
	}
	g.chats()
	// IDs made after seeding come from a stream of their own, so adding
	// customers later does not depend on how many random numbers Seed drew.
	s.rng = rand.New(rand.NewPCG(uint64(seed), 0x6c6174)) // "lat"
	return nil
}

// StateHash is a SHA-256 over the corp (members, customers, relations, tags),
// for checking that two sandboxes hold the same company.
func (s *Sandbox) StateHash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.hash()
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix and 30 random characters: "wm…" for a WeChat
// customer, "wo…" for a WeCom one, "et…" for corp tags and groups, "wr…" for
// a customer group chat, the shapes WeCom's IDs have.
func (s *Sandbox) newID(prefix string) string {
	return randID(s.rng, prefix, 30)
}

func randID(rng *rand.Rand, prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for range n {
		b.WriteByte(idChars[rng.IntN(len(idChars))])
	}
	return b.String()
}

// seeder builds the demo company from one random stream.
type seeder struct {
	s       *Sandbox
	rng     *rand.Rand
	epoch   int64
	members []*Member
	weights []int
	tags    [][]*Tag // by group
}

func (g *seeder) org(n int) {
	g.s.st.departments = slices.Clone(seedDepartments)
	for _, sm := range seedMembers[:n] {
		m := &Member{UserID: sm.userID, Name: sm.name, Department: []int{sm.dept}, Position: sm.position, Status: MemberActive}
		g.s.st.addMember(m)
		g.members = append(g.members, m)
		g.weights = append(g.weights, sm.weight)
	}
}

func (g *seeder) tagLibrary() {
	created := g.epoch - 800*24*3600
	for i, sg := range seedTagGroups {
		// Larger order values list first; this keeps the list in this order.
		grp := g.s.newGroup(sg.name, uint32(len(seedTagGroups)-i), created, false)
		var ts []*Tag
		for j, name := range sg.tags {
			ts = append(ts, g.s.newTag(grp, name, uint32(len(sg.tags)-j), created, false))
		}
		g.tags = append(g.tags, ts)
	}
}

func (g *seeder) chats() {
	for range 3 {
		g.s.st.chats[g.s.newID("wr")] = true
	}
}

func (g *seeder) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *seeder) chance(percent int) bool { return g.rng.IntN(100) < percent }

func (g *seeder) customer() {
	c := &Customer{Name: g.pick(familyNames) + g.pick(givenNames), Type: CustomerWeChat}
	switch n := g.rng.IntN(100); {
	case n < 45:
		c.Gender = 1
	case n < 90:
		c.Gender = 2
	}
	if g.chance(4) {
		corp := seedCorps[g.rng.IntN(len(seedCorps))]
		c.Type, c.CorpName, c.CorpFullName, c.Position = CustomerWeCom, corp.short, corp.full, g.pick(seedPositions)
		c.ExternalUserID = g.s.newID("wo")
		c.Avatar = "http://p.qlogo.cn/bizmail/" + randID(g.rng, "", 40) + "/0"
	} else {
		c.ExternalUserID = g.s.newID("wm")
		c.Avatar = "http://wx.qlogo.cn/mmhead/" + randID(g.rng, "", 40) + "/0"
		if g.chance(70) {
			c.UnionID = randID(g.rng, "o", 27)
		}
	}
	g.s.st.addCustomer(c)

	followers := 1
	if n := g.rng.IntN(100); n >= 97 {
		followers = 3
	} else if n >= 85 {
		followers = 2
	}
	followers = min(followers, len(g.members))
	first := g.epoch - g.rng.Int64N(730*24*3600)
	for i, m := range g.pickMembers(followers) {
		g.relation(c, m, first+int64(i)*g.rng.Int64N(90*24*3600))
	}
}

// pickMembers draws n distinct members, weighted by their share.
func (g *seeder) pickMembers(n int) []*Member {
	var out []*Member
	for len(out) < n {
		total := 0
		for i, m := range g.members {
			if !slices.Contains(out, m) {
				total += g.weights[i]
			}
		}
		x := g.rng.IntN(total)
		for i, m := range g.members {
			if slices.Contains(out, m) {
				continue
			}
			if x < g.weights[i] {
				out = append(out, m)
				break
			}
			x -= g.weights[i]
		}
	}
	return out
}

func (g *seeder) relation(c *Customer, m *Member, created int64) {
	r := &Relation{UserID: m.UserID, ExternalUserID: c.ExternalUserID, CreateTime: min(created, g.epoch)}
	x := g.rng.IntN(100)
	for _, aw := range addWays {
		if x < aw.weight {
			r.AddWay = aw.way
			break
		}
		x -= aw.weight
	}
	switch r.AddWay {
	case 1, 3: // the customer scanned the member's code or card
		r.OperUserID = c.ExternalUserID
		if r.AddWay == 1 && g.chance(70) {
			r.State = g.pick(seedStates)
		}
	case 201, 202: // shared by a colleague, assigned by an admin
		r.OperUserID = g.members[g.rng.IntN(len(g.members))].UserID
	default:
		r.OperUserID = m.UserID
	}
	if g.chance(40) {
		r.Remark = truncateRunes(c.Name+g.pick(remarkSuffixes), maxRemarkChars)
	}
	if g.chance(20) {
		r.Description = g.pick(seedDescriptions)
	}
	if g.chance(15) {
		r.RemarkMobiles = []string{"1" + strconv.Itoa(3+g.rng.IntN(7)) + strconv.Itoa(100000000+g.rng.IntN(900000000))}
	}
	k := 0
	switch n := g.rng.IntN(100); {
	case n < 20:
	case n < 50:
		k = 1
	case n < 75:
		k = 2
	case n < 92:
		k = 3
	default:
		k = 4
	}
	for _, gi := range g.rng.Perm(len(g.tags))[:k] {
		r.TagIDs = append(r.TagIDs, g.tags[gi][g.rng.IntN(len(g.tags[gi]))].ID)
	}
	g.s.st.addRelation(r)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
