package web

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/kith"
)

func TestParseShifts(t *testing.T) {
	got, err := parseShifts("周一,Tue 09:00-12:00 zhangsan，lisi\r\n\n  sun 00:00-24:00 wangwu  \n")
	want := []acquisition.Shift{
		{Days: []time.Weekday{time.Monday, time.Tuesday}, From: 540, To: 720, Members: []string{"zhangsan", "lisi"}},
		{Days: []time.Weekday{time.Sunday}, From: 0, To: 1440, Members: []string{"wangwu"}},
	}
	if err != nil || len(got) != 2 || !slices.Equal(got[0].Days, want[0].Days) || got[1].To != 1440 || !slices.Equal(got[0].Members, want[0].Members) {
		t.Fatalf("%+v %v", got, err)
	}
	if back, _ := parseShifts(formatShifts(got)); formatShifts(back) != formatShifts(got) {
		t.Fatalf("round trip: %q", formatShifts(back))
	}
	for _, bad := range []string{"Mon 09:00-12:00", "Funday 09:00-12:00 a", "Mon 9:00-12:00 a", "Mon 09:00 a", "Mon 09:00-25:00 a"} {
		_, err := parseShifts("Mon 08:00-09:00 ok\n" + bad)
		if kith.ErrorCode(err) != kith.EINVALID || !strings.HasPrefix(kith.ErrorMessage(err), "shifts: line 2") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseShifts(f *testing.F) {
	for _, s := range []string{"Mon,Tue 09:00-12:00 a,b", "周日 00:00-24:00 x", "", "\n\n", "Mon 09:00-08:00 a", "七 1-2 x", "Mon 09:00-12:00 ,,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		shifts, err := parseShifts(s)
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID || !strings.HasPrefix(kith.ErrorMessage(err), "shifts: line ") {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		for _, sh := range shifts {
			if len(sh.Days) == 0 || sh.From < 0 || sh.To > 1440 {
				t.Fatalf("%q → %+v", s, sh)
			}
		}
		for _, sh := range shifts {
			if len(sh.Members) == 0 {
				return // a shift without members is refused by validation, not here
			}
		}
		again, err := parseShifts(formatShifts(shifts))
		if err != nil || formatShifts(again) != formatShifts(shifts) {
			t.Fatalf("%q: formatted %q does not read back: %v", s, formatShifts(shifts), err)
		}
	})
}
