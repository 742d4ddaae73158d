package campaign

import (
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// ScheduleKind says when a campaign starts.
type ScheduleKind string

// Schedule kinds.
const (
	Now       ScheduleKind = "now"       // as soon as it is scheduled
	At        ScheduleKind = "at"        // at a time
	Recurring ScheduleKind = "recurring" // by a rule; each occurrence runs as a campaign of its own
)

// Schedule is when a campaign starts.
type Schedule struct {
	Kind ScheduleKind
	At   time.Time // for At: the time; for Recurring: the next occurrence
	// Rule is a recurring rule in the instance's time zone: "daily 09:30",
	// "weekly mon 09:30" or "monthly 1 09:30" (day 1 to 28).
	Rule string
}

func (s Schedule) validate() error {
	switch s.Kind {
	case Now, At:
		if s.Rule != "" {
			return kith.Errorf(kith.EINVALID, "campaign: schedule: a rule is only for a recurring schedule")
		}
		if s.Kind == At && s.At.IsZero() {
			return kith.Errorf(kith.EINVALID, "campaign: schedule: give the time to send at")
		}
	case Recurring:
		if _, err := ParseRule(s.Rule); err != nil {
			return err
		}
	default:
		return kith.Errorf(kith.EINVALID, "campaign: schedule %q: it must be now, at or recurring", s.Kind)
	}
	return nil
}

// Rule is a parsed recurring rule.
type Rule struct {
	Every   string       // daily, weekly or monthly
	Weekday time.Weekday // for weekly
	Day     int          // for monthly, 1..28
	Hour    int
	Minute  int
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseRule reads a recurring rule (see Schedule.Rule).
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(strings.ToLower(s))
	bad := kith.Errorf(kith.EINVALID, "campaign: schedule: rule %q: write \"daily 09:30\", \"weekly mon 09:30\" or \"monthly 1 09:30\"", s)
	if len(f) < 2 {
		return Rule{}, bad
	}
	r := Rule{Every: f[0]}
	clock := f[len(f)-1]
	switch {
	case r.Every == "daily" && len(f) == 2:
	case r.Every == "weekly" && len(f) == 3:
		wd, ok := weekdays[f[1]]
		if !ok {
			return Rule{}, bad
		}
		r.Weekday = wd
	case r.Every == "monthly" && len(f) == 3:
		d, err := strconv.Atoi(f[1])
		if err != nil || d < 1 || d > 28 {
			return Rule{}, kith.Errorf(kith.EINVALID, "campaign: schedule: rule %q: the day of the month must be 1 to 28", s)
		}
		r.Day = d
	default:
		return Rule{}, bad
	}
	h, m, ok := strings.Cut(clock, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return Rule{}, bad
	}
	r.Hour, r.Minute = hh, mm
	return r, nil
}

// Next returns the rule's first occurrence strictly after t, in loc.
func (r Rule) Next(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	c := time.Date(l.Year(), l.Month(), l.Day(), r.Hour, r.Minute, 0, 0, loc)
	for i := 0; i < 400; i++ {
		ok := c.After(t)
		switch r.Every {
		case "weekly":
			ok = ok && c.Weekday() == r.Weekday
		case "monthly":
			ok = ok && c.Day() == r.Day
		}
		if ok {
			return c.UTC()
		}
		c = time.Date(c.Year(), c.Month(), c.Day()+1, r.Hour, r.Minute, 0, 0, loc)
	}
	return time.Time{}
}
