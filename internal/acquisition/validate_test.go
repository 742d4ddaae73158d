package acquisition

import (
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

func knownTest() Known {
	k := Known{Members: map[string]bool{}, Tags: map[string]bool{"et1": true, "et2": true}}
	for _, id := range []string{"zhangsan", "lisi", "wangwu", "zhaoliu"} {
		k.Members[id] = true
	}
	for i := range 120 {
		k.Members["m"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = true
	}
	return k
}

func validChannel() *Channel {
	return &Channel{Kind: KindCode, Name: "门店海报", State: "poster", DailyCap: 10, Spec: Spec{
		Members: []string{"zhangsan"},
		Shifts: []Shift{
			{Days: []time.Weekday{time.Monday, time.Tuesday}, From: 9 * 60, To: 12 * 60, Members: []string{"lisi"}},
			{Days: []time.Weekday{time.Monday}, From: 12 * 60, To: 18 * 60, Members: []string{"wangwu"}},
		},
		Backups: []string{"zhaoliu"},
		Tags:    []string{"et1"},
		Welcome: &Welcome{Text: "你好 {name}", Attachments: []Attachment{{Type: AttachLink, Title: "店铺", URL: "https://shop.example.com/"}}},
	}}
}

func TestValidateRefusesBadInputNamingTheField(t *testing.T) {
	if err := Validate(validChannel(), knownTest()); err != nil {
		t.Fatalf("a valid channel: %v", err)
	}
	var many []string
	for id := range knownTest().Members {
		many = append(many, id)
	}
	cases := []struct {
		name  string
		edit  func(*Channel)
		field string
	}{
		{"overlapping windows", func(c *Channel) {
			c.Shifts = append(c.Shifts, Shift{Days: []time.Weekday{time.Tuesday}, From: 11 * 60, To: 13 * 60, Members: []string{"zhaoliu"}})
		}, "shifts[3]: Tuesday 11:00–13:00 overlaps shifts[1]"},
		{"negative cap", func(c *Channel) { c.DailyCap = -1 }, "daily_cap:"},
		{"no member", func(c *Channel) { c.Spec = Spec{} }, "members: a channel needs at least one member"},
		{"too many members", func(c *Channel) { c.Members = many[:101] }, "members: 10"},
		{"unknown member", func(c *Channel) { c.Backups = []string{"nobody"} }, `backups: "nobody"`},
		{"member twice", func(c *Channel) { c.Members = []string{"lisi", "lisi"} }, `members: "lisi" is listed twice`},
		{"state too long", func(c *Channel) { c.State = strings.Repeat("状", 31) }, "state: 31 characters"},
		{"link state too long", func(c *Channel) { c.Kind = KindLink; c.State = strings.Repeat("s", 65) }, "state: 65 bytes"},
		{"unknown tag", func(c *Channel) { c.Tags = []string{"et1", "etX"} }, `tags: tag 2 ("etX")`},
		{"welcome too long", func(c *Channel) { c.Welcome.Text = strings.Repeat("欢", 1334) }, "welcome.text: 4002 bytes"},
		{"placeholder counts", func(c *Channel) { c.Welcome.Text = strings.Repeat("a", 3990) + NamePlaceholder }, "welcome.text: 4054 bytes"},
		{"too many attachments", func(c *Channel) {
			for range 9 {
				c.Welcome.Attachments = append(c.Welcome.Attachments, c.Welcome.Attachments[0])
			}
		}, "welcome.attachments: 10 attachments"},
		{"bad link", func(c *Channel) { c.Welcome.Attachments[0].URL = "javascript:alert(1)" }, "welcome.attachments[1].url"},
		{"bad attachment type", func(c *Channel) { c.Welcome.Attachments[0].Type = "video" }, "welcome.attachments[1].type"},
		{"empty window", func(c *Channel) { c.Shifts[0].To = c.Shifts[0].From }, "shifts[1]: the window 09:00–09:00"},
		{"window past midnight", func(c *Channel) { c.Shifts[1].To = 1441 }, "shifts[2]: the window"},
		{"shift without day", func(c *Channel) { c.Shifts[0].Days = nil }, "shifts[1]: a shift needs at least one weekday"},
		{"shift without member", func(c *Channel) { c.Shifts[0].Members = nil }, "shifts[1].members"},
		{"no name", func(c *Channel) { c.Name = " " }, "name: a channel needs a name"},
		{"long name", func(c *Channel) { c.Name = strings.Repeat("名", 31) }, "name: 31 characters"},
		{"bad kind", func(c *Channel) { c.Kind = "poster" }, "kind:"},
		{"state with spaces", func(c *Channel) { c.State = " a" }, "state: no spaces"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validChannel()
			tc.edit(c)
			err := Validate(c, knownTest())
			if kith.ErrorCode(err) != kith.EINVALID || !strings.HasPrefix(kith.ErrorMessage(err), tc.field) {
				t.Fatalf("got %v, want EINVALID starting %q", err, tc.field)
			}
		})
	}
}

func TestShiftsOnDifferentDaysMayShareHours(t *testing.T) {
	c := validChannel()
	c.Shifts = append(c.Shifts, Shift{Days: []time.Weekday{time.Wednesday}, From: 0, To: 24 * 60, Members: []string{"zhaoliu"}})
	if err := Validate(c, knownTest()); err != nil {
		t.Fatal(err)
	}
}

func TestHHMM(t *testing.T) {
	for s, want := range map[string]int{"00:00": 0, "09:30": 570, "24:00": 1440, "23:59": 1439} {
		got, err := ParseHHMM(s)
		if err != nil || got != want || HHMM(got) != s {
			t.Errorf("%s: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"24:01", "9:30", "09:60", "ab:cd", "-1:00", "09:3"} {
		if _, err := ParseHHMM(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestRender(t *testing.T) {
	if got := Render("你好 {name}，欢迎！{name}", "周杰"); got != "你好 周杰，欢迎！周杰" {
		t.Fatal(got)
	}
	long := Render(strings.Repeat("欢", 1333)+"{name}", "周杰") // 3999 bytes + 6
	if len(long) > MaxWelcomeBytes || !strings.HasSuffix(long, "欢") {
		t.Fatalf("cut to %d bytes ending %q", len(long), long[len(long)-3:])
	}
}

func FuzzParseHHMM(f *testing.F) {
	for _, s := range []string{"09:30", "24:00", "", "99:99", "1:2", "+9:30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseHHMM(s)
		if err == nil && (m < 0 || m > 1440 || HHMM(m) != s) {
			t.Fatalf("%q → %d", s, m)
		}
	})
}
