package acquisition

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// DayMember is what a channel brought one member on one day.
type DayMember struct {
	Day    string // 2006-01-02 in the instance's zone
	Member string
	New    int // customers who arrived
	Lost   int // of the channel's customers, those who deleted or were deleted by the member that day
}

// Net is new minus lost.
func (d DayMember) Net() int { return d.New - d.Lost }

// Stats are a channel's statistics over some days.
type Stats struct {
	From, To string      // first and last day, inclusive
	Rows     []DayMember // by day, then member; only days with something
	Days     []DayMember // per day, Member empty; every day of the range
	Members  []DayMember // per member over the range, Day empty
	Total    DayMember
}

// Stats counts new and lost customers of a channel per member and day,
// for the days from and to (inclusive, in the instance's zone). It reads
// the follow relations: every customer who arrived through the channel
// carries its state.
func (s *Service) Stats(ctx context.Context, id int64, from, to time.Time) (*Stats, error) {
	ch, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return StatsOf(ctx, s.db.R, ch.State, from, to, s.loc)
}

// StatsOf counts for a state; see Service.Stats.
func StatsOf(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, state string, from, to time.Time, loc *time.Location) (*Stats, error) {
	lf, lt := from.In(loc), to.In(loc)
	start := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
	end := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
	if !end.After(start) {
		return nil, invalid("to", "the last day is before the first")
	}
	if end.Sub(start) > 367*24*time.Hour {
		return nil, invalid("to", "at most a year at a time")
	}
	rows, err := q.QueryContext(ctx, `SELECT member_userid, added_at, status, ended_at FROM follows
		WHERE state = $1 AND ((added_at >= $2 AND added_at < $3) OR (ended_at >= $2 AND ended_at < $3))`, state, start.UTC(), end.UTC())
	if err != nil {
		return nil, fmt.Errorf("acquisition: statistics: %w", err)
	}
	defer rows.Close()
	type key struct{ day, member string }
	cells := map[key]*DayMember{}
	cell := func(t time.Time, member string) *DayMember {
		k := key{t.In(loc).Format(time.DateOnly), member}
		c := cells[k]
		if c == nil {
			c = &DayMember{Day: k.day, Member: member}
			cells[k] = c
		}
		return c
	}
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	for rows.Next() {
		var member, status string
		var added time.Time
		var ended sql.NullTime
		if err := rows.Scan(&member, &added, &status, &ended); err != nil {
			return nil, err
		}
		if in(added) {
			cell(added, member).New++
		}
		if status != "active" && ended.Valid && in(ended.Time) {
			cell(ended.Time, member).Lost++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st := &Stats{From: start.Format(time.DateOnly), To: end.AddDate(0, 0, -1).Format(time.DateOnly)}
	days := map[string]*DayMember{}
	members := map[string]*DayMember{}
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		days[day] = &DayMember{Day: day}
		st.Days = append(st.Days, DayMember{Day: day})
	}
	for _, c := range cells {
		st.Rows = append(st.Rows, *c)
		days[c.Day].New += c.New
		days[c.Day].Lost += c.Lost
		m := members[c.Member]
		if m == nil {
			m = &DayMember{Member: c.Member}
			members[c.Member] = m
		}
		m.New += c.New
		m.Lost += c.Lost
		st.Total.New += c.New
		st.Total.Lost += c.Lost
	}
	for i := range st.Days {
		st.Days[i] = *days[st.Days[i].Day]
	}
	for _, m := range members {
		st.Members = append(st.Members, *m)
	}
	slices.SortFunc(st.Rows, func(a, b DayMember) int {
		if a.Day != b.Day {
			return cmpString(a.Day, b.Day)
		}
		return cmpString(a.Member, b.Member)
	})
	slices.SortFunc(st.Members, func(a, b DayMember) int { return cmpString(a.Member, b.Member) })
	return st, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WriteCSV writes the per-day, per-member rows with a header line.
func (st *Stats) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"day", "member", "new", "lost", "net"}); err != nil {
		return err
	}
	for _, r := range st.Rows {
		if err := cw.Write([]string{r.Day, r.Member, strconv.Itoa(r.New), strconv.Itoa(r.Lost), strconv.Itoa(r.Net())}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
