package wecomtest

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestSeedIsDeterministic(t *testing.T) {
	mk := func(seed int64, now time.Time) *Sandbox {
		s, err := New(Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		MustSeed(t, s, seed, SeedOptions{})
		return s
	}
	a := mk(42, time.Now())
	b := mk(42, time.Now().Add(1000*time.Hour)) // the clock does not matter
	c := mk(43, time.Now())
	if a.StateHash() != b.StateHash() {
		t.Fatal("the same seed gave different companies")
	}
	if a.StateHash() == c.StateHash() {
		t.Fatal("different seeds gave the same company")
	}
	// Reseeding replaces the company and gives the same result again.
	MustSeed(t, c, 42, SeedOptions{})
	if c.StateHash() != a.StateHash() {
		t.Fatal("reseeding with 42 did not give the seed-42 company")
	}
	// IDs made after seeding are deterministic too.
	ctx := context.Background()
	da, _ := a.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
	db, _ := b.CustomerAddsMember(ctx, AddContact{UserID: "lina"})
	if da.Event.ExternalUserID != db.Event.ExternalUserID {
		t.Fatal("the first customer added after the same seed got different ids")
	}
}

func isHan(s string) bool {
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) {
			return false
		}
	}
	return s != ""
}

func TestSeedCompany(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	MustSeed(t, s, 1, SeedOptions{})
	sum := s.Summary()

	if len(sum.Members) < 8 {
		t.Fatalf("%d members, want at least 8", len(sum.Members))
	}
	depts := map[string]bool{}
	for _, m := range sum.Members {
		if !isHan(m.Name) || m.Department == "" || m.Customers == 0 {
			t.Fatalf("member %+v: want a Chinese name, a department and customers", m)
		}
		depts[m.Department] = true
	}
	if len(depts) < 3 {
		t.Fatalf("members in %d departments", len(depts))
	}
	if sum.Customers != 5000 {
		t.Fatalf("%d customers, want 5000", sum.Customers)
	}
	if sum.Tags != 40 || len(sum.TagGroups) != 6 {
		t.Fatalf("%d tags in %d groups, want 40 in 6", sum.Tags, len(sum.TagGroups))
	}
	var groupNames []string
	for _, g := range sum.TagGroups {
		groupNames = append(groupNames, g.Name)
	}
	if strings.Join(groupNames, ",") != "客户等级,购买品类,来源渠道,生命周期,地区,兴趣" {
		t.Fatalf("groups %v", groupNames)
	}

	followers := map[int]int{}
	var withRemark, withTags, withChannel, wecomUsers int
	names := map[string]bool{}
	for _, id := range s.CustomerIDs() {
		c, _ := s.Customer(id)
		if !isHan(c.Name) || len([]rune(c.Name)) < 2 {
			t.Fatalf("customer name %q", c.Name)
		}
		names[c.Name] = true
		if c.Type == CustomerWeCom {
			wecomUsers++
			if !strings.HasPrefix(id, "wo") || c.CorpName == "" {
				t.Fatalf("WeCom customer %+v", c)
			}
		} else if !strings.HasPrefix(id, "wm") || len(id) != 32 {
			t.Fatalf("WeChat customer id %q", id)
		}
		rels := s.Relations(id)
		followers[len(rels)]++
		for _, r := range rels {
			if r.Remark != "" {
				withRemark++
			}
			if len(r.TagIDs) > 0 {
				withTags++
			}
			if strings.HasPrefix(r.State, "ch_") {
				withChannel++
			}
			if r.CreateTime <= 0 || r.CreateTime > DefaultSeedEpoch.Unix() || r.AddWay == 0 && r.OperUserID == "" {
				t.Fatalf("relation %+v", r)
			}
		}
	}
	if followers[0] != 0 || followers[1] < 3500 || followers[2] < 300 || followers[3] < 50 || followers[4] != 0 {
		t.Fatalf("followers per customer: %v; want most 1, some 2-3", followers)
	}
	if withRemark < 1000 || withTags < 3000 || withChannel < 500 || wecomUsers < 50 || len(names) < 1000 {
		t.Fatalf("remarks %d, tagged %d, channel states %d, WeCom users %d, distinct names %d",
			withRemark, withTags, withChannel, wecomUsers, len(names))
	}
}

func TestSeedOptions(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	MustSeed(t, s, 9, SeedOptions{Customers: 12, Members: 8})
	if sum := s.Summary(); sum.Customers != 12 || len(sum.Members) != 8 {
		t.Fatalf("summary %d customers, %d members", sum.Customers, len(sum.Members))
	}
	if err := s.Seed(1, SeedOptions{Members: 11}); err == nil {
		t.Fatal("11 members accepted")
	}
}
