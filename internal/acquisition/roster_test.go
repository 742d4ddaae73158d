package acquisition

import (
	"slices"
	"testing"
	"time"
)

func TestRoster(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	ch := validChannel()                                                                // zhangsan always; lisi Mon/Tue 9–12; wangwu Mon 12–18; backup zhaoliu; cap 10
	mon := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, loc) } // a Monday
	none := Availability{}
	cases := []struct {
		at   time.Time
		av   Availability
		want []string
		why  string
	}{
		{mon(8, 59), none, []string{"zhangsan"}, "scheduled"},
		{mon(9, 0), none, []string{"zhangsan", "lisi"}, "scheduled"},
		{mon(11, 59), none, []string{"zhangsan", "lisi"}, "scheduled"},
		{mon(12, 0), none, []string{"zhangsan", "wangwu"}, "scheduled"},
		{mon(18, 0), none, []string{"zhangsan"}, "scheduled"},
		{mon(18, 0).AddDate(0, 0, 2), none, []string{"zhangsan"}, "scheduled"}, // Wednesday: no shift
		{mon(10, 0), Availability{Today: map[string]int{"zhangsan": 10}}, []string{"lisi"}, "scheduled"},
		{mon(10, 0), Availability{Today: map[string]int{"zhangsan": 10, "lisi": 12}}, []string{"zhaoliu"}, "backup"},
		{mon(10, 0), Availability{Left: map[string]bool{"zhangsan": true, "lisi": true}}, []string{"zhaoliu"}, "backup"},
		{mon(10, 0), Availability{Left: map[string]bool{"zhaoliu": true}, Today: map[string]int{"zhangsan": 10, "lisi": 10}}, []string{"zhangsan", "lisi"}, "over_cap"},
		{mon(20, 0), Availability{Left: map[string]bool{"zhangsan": true, "zhaoliu": true}}, nil, "none"},
	}
	for _, tc := range cases {
		got, why := Roster(ch, tc.at, tc.av)
		if !slices.Equal(got, tc.want) || why != tc.why {
			t.Errorf("%s %v: got %v %s, want %v %s", tc.at.Format("Mon 15:04"), tc.av, got, why, tc.want, tc.why)
		}
	}
	ch.DailyCap = 0
	if got, _ := Roster(ch, mon(10, 0), Availability{Today: map[string]int{"zhangsan": 1000}}); !slices.Equal(got, []string{"zhangsan", "lisi"}) {
		t.Errorf("no cap: %v", got)
	}
}

func TestNextChange(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	ch := validChannel()
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, 30+d, h, m, 0, 0, loc) }
	for _, tc := range []struct{ now, want time.Time }{
		{at(0, 8, 0), at(0, 9, 0)},
		{at(0, 9, 0), at(0, 12, 0)},
		{at(0, 12, 30), at(0, 18, 0)},
		{at(0, 18, 0), at(1, 0, 0)},
		{at(2, 10, 0), at(3, 0, 0)},
	} {
		if got := NextChange(ch, tc.now); !got.Equal(tc.want) {
			t.Errorf("after %s: %s, want %s", tc.now, got, tc.want)
		}
	}
}

func TestWithoutMember(t *testing.T) {
	s := validChannel().Spec.without("wangwu")
	if len(s.Shifts) != 1 || slices.Contains(s.AllMembers(), "wangwu") {
		t.Fatalf("%+v", s)
	}
	s = s.without("zhaoliu")
	if len(s.Backups) != 0 || !slices.Equal(s.AllMembers(), []string{"zhangsan", "lisi"}) {
		t.Fatalf("%+v", s)
	}
}
