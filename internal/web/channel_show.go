package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/channel/wecomwelcome"
	"github.com/kith-scrm/kith/internal/kith"
)

// channelsData is the channels page.
type channelsData struct {
	Channels  []*acquisition.Channel
	Today     map[int64]int // customers each channel brought today
	CanManage bool
	Done      string
	Welcome   string   // the default welcome message's text
	Problem   *problem // of the default welcome form
}

func (s *Server) channelList(w http.ResponseWriter, r *http.Request) {
	d := &channelsData{}
	if done := r.URL.Query().Get("done"); done == "deleted" || done == "welcome" {
		d.Done = done
	}
	s.renderChannels(w, r, d)
}

// channelWelcomeSave saves the default welcome message.
func (s *Server) channelWelcomeSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &channelsData{Welcome: r.PostFormValue("welcome")}
	err := s.Acquisition.SetDefaultWelcome(r.Context(), &acquisition.Welcome{Text: d.Welcome})
	if err == nil {
		http.Redirect(w, r, "/channels?done=welcome", http.StatusSeeOther)
		return
	}
	if d.Problem = s.problemOf(r, err); d.Problem == nil {
		s.pageError(w, r, err)
		return
	}
	s.renderChannels(w, r, d)
}

func (s *Server) renderChannels(w http.ResponseWriter, r *http.Request, d *channelsData) {
	ctx := r.Context()
	chs, err := s.Acquisition.List(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Channels, d.Today, d.CanManage = chs, map[int64]int{}, principal(r).Can(auth.PermManageTags)
	if d.Problem == nil {
		def, err := s.Acquisition.DefaultWelcome(ctx)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		if def != nil {
			d.Welcome = def.Text
		}
	}
	now := s.Clock.Now()
	for _, ch := range chs {
		st, err := acquisition.StatsOf(ctx, s.DB.R, ch.State, now, now, s.Acquisition.Location())
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		d.Today[ch.ID] = st.Total.New
	}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "channels", d)
}

// channelData is one channel's page: its code, plan and statistics.
type channelData struct {
	Ch        *acquisition.Channel
	LinkURL   string // a link's address with customer_channel
	Stats     *acquisition.Stats
	Sales     *channelSales // beside the statistics (channel_sales.go)
	Chart     template.HTML
	Welcomes  map[string]int
	CanManage bool
	Done      string
	Problem   *problem
	From, To  string
	ShiftText string
	TagNames  map[string]string // tag id → name
	Failures  []wecomwelcome.Failure
	Names     map[string]string // member userid → name
	// NoBackupCap warns that a cap cannot hold without backups.
	NoBackupCap bool
}

// statsRange reads from and to (2006-01-02) of a statistics request; the
// last 7 days by default.
func (s *Server) statsRange(r *http.Request) (time.Time, time.Time, error) {
	loc := s.Acquisition.Location()
	now := s.Clock.Now().In(loc)
	to, from := now, now.AddDate(0, 0, -6)
	var err error
	if v := r.URL.Query().Get("to"); v != "" {
		if to, err = time.ParseInLocation(time.DateOnly, v, loc); err != nil {
			return from, to, kith.Errorf(kith.EINVALID, "to: %q is not a day like 2026-11-30", clip(v, 20))
		}
	}
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = time.ParseInLocation(time.DateOnly, v, loc); err != nil {
			return from, to, kith.Errorf(kith.EINVALID, "from: %q is not a day like 2026-11-30", clip(v, 20))
		}
	} else if r.URL.Query().Get("to") != "" {
		from = to.AddDate(0, 0, -6)
	}
	return from, to, nil
}

func (s *Server) channelShow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ch, err := s.channelOf(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &channelData{Ch: ch, CanManage: principal(r).Can(auth.PermManageTags), ShiftText: formatShifts(ch.Shifts)}
	if r.URL.Query().Get("done") == "saved" {
		d.Done = "saved"
	}
	if ch.Kind == acquisition.KindLink && ch.URL != "" {
		sep := "?"
		if strings.Contains(ch.URL, "?") {
			sep = "&"
		}
		d.LinkURL = ch.URL + sep + "customer_channel=" + urlQueryEscape(ch.State)
	}
	from, to, err := s.statsRange(r)
	if err == nil {
		d.Stats, err = s.Acquisition.Stats(ctx, ch.ID, from, to)
	}
	if err != nil {
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		d.Stats, _ = s.Acquisition.Stats(ctx, ch.ID, s.Clock.Now(), s.Clock.Now())
	}
	if d.Stats != nil {
		d.From, d.To = d.Stats.From, d.Stats.To
		d.Chart = statsChart(d.Stats)
		if d.Sales, err = s.channelSalesOf(ctx, ch, d.Stats); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	groups, err := s.Customers.TagGroups(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.TagNames = map[string]string{}
	for _, g := range groups {
		for _, tg := range g.Tags {
			d.TagNames[tg.TagID] = g.Name + " · " + tg.Name
		}
	}
	members, err := s.Customers.Members(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Names = map[string]string{}
	for _, m := range members {
		d.Names[m.UserID] = m.Name
	}
	d.NoBackupCap = ch.DailyCap > 0 && len(ch.Backups) == 0
	if d.Failures, err = wecomwelcome.RecentFailures(ctx, s.DB.R, ch.ID, 10); err != nil {
		s.pageError(w, r, err)
		return
	}
	if d.Welcomes, err = wecomwelcome.Counts(ctx, s.DB.R, ch.ID); err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "channel", d)
}

// channelStatsCSV exports a channel's statistics per day and member.
func (s *Server) channelStatsCSV(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channelOf(r)
	var st *acquisition.Stats
	if err == nil {
		var from, to time.Time
		if from, to, err = s.statsRange(r); err == nil {
			st, err = s.Acquisition.Stats(r.Context(), ch.ID, from, to)
		}
	}
	var sales *channelSales
	if err == nil {
		sales, err = s.channelSalesOf(r.Context(), ch, st)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="channel-%d-%s-%s.csv"`, ch.ID, st.From, st.To))
	if err := writeChannelCSV(w, st, sales); err != nil {
		s.Log.Warn("channel statistics export", "channel", ch.ID, "err", err)
	}
}

// apiChannelStats answers a channel's statistics as JSON.
func (s *Server) apiChannelStats(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channelOf(r)
	var st *acquisition.Stats
	if err == nil {
		var from, to time.Time
		if from, to, err = s.statsRange(r); err == nil {
			st, err = s.Acquisition.Stats(r.Context(), ch.ID, from, to)
		}
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	type row struct {
		Day    string `json:"day,omitempty"`
		Member string `json:"member,omitempty"`
		New    int    `json:"new"`
		Lost   int    `json:"lost"`
		Net    int    `json:"net"`
	}
	conv := func(in []acquisition.DayMember) []row {
		out := make([]row, 0, len(in))
		for _, d := range in {
			out = append(out, row{d.Day, d.Member, d.New, d.Lost, d.Net()})
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"channel_id": ch.ID, "state": ch.State, "from": st.From, "to": st.To,
		"total": row{New: st.Total.New, Lost: st.Total.Lost, Net: st.Total.Net()},
		"days":  conv(st.Days), "members": conv(st.Members), "rows": conv(st.Rows),
	})
}

// apiChannels lists the channels as JSON.
func (s *Server) apiChannels(w http.ResponseWriter, r *http.Request) {
	chs, err := s.Acquisition.List(r.Context())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(chs))
	for _, ch := range chs {
		out = append(out, map[string]any{
			"id": ch.ID, "kind": ch.Kind, "name": ch.Name, "group": ch.Group, "state": ch.State, "skip_verify": ch.SkipVerify,
			"daily_cap": ch.DailyCap, "spec": ch.Spec, "url": ch.URL, "roster": nonNilStrings(ch.Roster), "sync_error": ch.SyncError,
			"created_at": ch.CreatedAt.UTC().Format(jsonTime),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

// apiChannelCreate creates a channel from JSON (acquisition.Input's fields).
func (s *Server) apiChannelCreate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Kind       acquisition.Kind `json:"kind"`
		Name       string           `json:"name"`
		Group      string           `json:"group"`
		State      string           `json:"state"`
		SkipVerify bool             `json:"skip_verify"`
		DailyCap   int              `json:"daily_cap"`
		acquisition.Spec
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	ch, err := s.Acquisition.Create(r.Context(), acquisition.Input{Kind: in.Kind, Name: in.Name, Group: in.Group, State: in.State,
		SkipVerify: in.SkipVerify, DailyCap: in.DailyCap, Spec: in.Spec})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": ch.ID, "state": ch.State, "url": ch.URL, "roster": nonNilStrings(ch.Roster)})
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
