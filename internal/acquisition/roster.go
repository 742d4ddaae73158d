package acquisition

import (
	"slices"
	"time"
)

// Availability is what Roster needs to know besides the plan: members who
// left the company and how many customers each member received through the
// channel today.
type Availability struct {
	Left  map[string]bool
	Today map[string]int
}

// Roster is who should be on the code at local time t, and why:
// "scheduled" (members always on and those whose shift covers t, minus those
// who left or reached the cap), "backup" (nobody scheduled is available),
// "over_cap" (everyone scheduled reached the cap and there are no backups:
// WeCom needs somebody on a code, so the scheduled members stay) or "none"
// (nobody at all: every member left).
func Roster(ch *Channel, t time.Time, av Availability) ([]string, string) {
	var scheduled []string
	add := func(ids []string) {
		for _, id := range ids {
			if !av.Left[id] && !slices.Contains(scheduled, id) {
				scheduled = append(scheduled, id)
			}
		}
	}
	add(ch.Members)
	for _, sh := range ch.Shifts {
		if sh.covers(t) {
			add(sh.Members)
		}
	}
	var out []string
	for _, id := range scheduled {
		if ch.DailyCap == 0 || av.Today[id] < ch.DailyCap {
			out = append(out, id)
		}
	}
	if len(out) > 0 {
		return out, "scheduled"
	}
	for _, id := range ch.Backups {
		if !av.Left[id] && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > 0 {
		return out, "backup"
	}
	if len(scheduled) > 0 {
		return scheduled, "over_cap"
	}
	return nil, "none"
}

// NextChange returns the first moment after t (local) at which the roster
// may change by the clock alone: a shift starts or ends, or a new day
// begins (caps start again).
func NextChange(ch *Channel, t time.Time) time.Time {
	y, m, d := t.Date()
	midnight := time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
	next := midnight
	for _, sh := range ch.Shifts {
		for _, day := range sh.Days {
			if day != t.Weekday() {
				continue
			}
			for _, b := range []int{sh.From, sh.To} {
				at := time.Date(y, m, d, b/60, b%60, 0, 0, t.Location())
				if at.After(t) && at.Before(next) {
					next = at
				}
			}
		}
	}
	return next
}
