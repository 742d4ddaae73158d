package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
)

// channelForm is the create and edit page of a channel.
type channelForm struct {
	ID      int64 // 0 for a new channel
	Kind    string
	Name    string
	Group   string
	State   string
	Skip    bool
	Cap     int
	Always  []string // member userids always on the code
	Backups []string
	Shifts  string // one shift a line: "Mon,Tue 09:00-12:00 userid,userid"
	Tags    []string
	Welcome string
	Link    acquisition.Attachment // an optional link card
	Members []customer.Member
	Groups  []customer.TagGroup
	Problem *problem
	// The checked boxes, for the template.
	AlwaysSet, BackupSet, TagSet map[string]bool
}

func setOf(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// dayNames are the weekday names a shift line accepts, Sunday first.
var dayNames = [][]string{
	{"sun", "周日", "日", "7"}, {"mon", "周一", "一", "1"}, {"tue", "周二", "二", "2"}, {"wed", "周三", "三", "3"},
	{"thu", "周四", "四", "4"}, {"fri", "周五", "五", "5"}, {"sat", "周六", "六", "6"},
}

// formatShifts writes shifts as the form's lines.
func formatShifts(shifts []acquisition.Shift) string {
	var b strings.Builder
	for _, sh := range shifts {
		var days []string
		for _, d := range sh.Days {
			days = append(days, strings.ToUpper(dayNames[d][0][:1])+dayNames[d][0][1:])
		}
		fmt.Fprintf(&b, "%s %s-%s %s\n", strings.Join(days, ","), acquisition.HHMM(sh.From), acquisition.HHMM(sh.To), strings.Join(sh.Members, ","))
	}
	return b.String()
}

// parseShifts reads the form's shift lines; an error names the line.
func parseShifts(text string) ([]acquisition.Shift, error) {
	var out []acquisition.Shift
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		bad := func(format string, args ...any) error {
			return kith.Errorf(kith.EINVALID, "shifts: line %d (%q): %s", i+1, clip(line, 60), fmt.Sprintf(format, args...))
		}
		parts := strings.Fields(line)
		if len(parts) != 3 {
			return nil, bad("write weekdays, a time window and members, like Mon,Tue 09:00-12:00 zhangsan,lisi")
		}
		var sh acquisition.Shift
		for _, d := range splitList(parts[0]) {
			idx := slices.IndexFunc(dayNames, func(names []string) bool { return slices.Contains(names, strings.ToLower(d)) })
			if idx < 0 {
				return nil, bad("%q is not a weekday (Mon … Sun, 周一 … 周日)", d)
			}
			sh.Days = append(sh.Days, time.Weekday(idx))
		}
		from, to, ok := strings.Cut(parts[1], "-")
		var err error
		if !ok {
			return nil, bad("the window must look like 09:00-12:00")
		}
		if sh.From, err = acquisition.ParseHHMM(from); err == nil {
			sh.To, err = acquisition.ParseHHMM(to)
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		sh.Members = splitList(parts[2])
		out = append(out, sh)
	}
	return out, nil
}

// splitList splits on commas (also Chinese ones), dropping empty parts.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '、' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readChannelForm reads the posted form into f and the service's input.
func readChannelForm(r *http.Request, f *channelForm) (acquisition.Input, error) {
	f.Kind = r.PostFormValue("kind")
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	f.Group = strings.TrimSpace(r.PostFormValue("group"))
	f.State = strings.TrimSpace(r.PostFormValue("state"))
	f.Skip = r.PostFormValue("skip_verify") == "on"
	f.Always = r.PostForm["always"]
	f.Backups = r.PostForm["backup"]
	f.Shifts = r.PostFormValue("shifts")
	f.Tags = r.PostForm["tag"]
	f.Welcome = r.PostFormValue("welcome")
	f.Link = acquisition.Attachment{Type: acquisition.AttachLink, Title: strings.TrimSpace(r.PostFormValue("link_title")), URL: strings.TrimSpace(r.PostFormValue("link_url"))}
	in := acquisition.Input{Kind: acquisition.Kind(f.Kind), Name: f.Name, Group: f.Group, State: f.State, SkipVerify: f.Skip}
	capText := strings.TrimSpace(r.PostFormValue("daily_cap"))
	if capText != "" {
		n, err := strconv.Atoi(capText)
		if err != nil {
			return in, kith.Errorf(kith.EINVALID, "daily_cap: %q is not a whole number", clip(capText, 20))
		}
		f.Cap = n
	}
	in.DailyCap = f.Cap
	shifts, err := parseShifts(f.Shifts)
	if err != nil {
		return in, err
	}
	in.Spec = acquisition.Spec{Members: f.Always, Shifts: shifts, Backups: f.Backups, Tags: f.Tags}
	if f.Welcome != "" || f.Link.Title != "" || f.Link.URL != "" {
		in.Welcome = &acquisition.Welcome{Text: f.Welcome}
		if f.Link.Title != "" || f.Link.URL != "" {
			in.Welcome.Attachments = []acquisition.Attachment{f.Link}
		}
	}
	return in, nil
}

func formOf(ch *acquisition.Channel) *channelForm {
	f := &channelForm{ID: ch.ID, Kind: string(ch.Kind), Name: ch.Name, Group: ch.Group, State: ch.State, Skip: ch.SkipVerify,
		Cap: ch.DailyCap, Always: ch.Members, Backups: ch.Backups, Shifts: formatShifts(ch.Shifts), Tags: ch.Tags}
	if ch.Welcome != nil {
		f.Welcome = ch.Welcome.Text
		for _, a := range ch.Welcome.Attachments {
			if a.Type == acquisition.AttachLink {
				f.Link = a
			}
		}
	}
	return f
}

func (s *Server) renderChannelForm(w http.ResponseWriter, r *http.Request, f *channelForm) {
	ctx := r.Context()
	var err error
	if f.Members, err = s.Customers.Members(ctx); err == nil {
		f.Groups, err = s.Customers.TagGroups(ctx)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f.AlwaysSet, f.BackupSet, f.TagSet = setOf(f.Always), setOf(f.Backups), setOf(f.Tags)
	f.Members = slices.DeleteFunc(f.Members, func(m customer.Member) bool { return m.LeftAt != nil || m.Status == 5 })
	status := http.StatusOK
	if f.Problem != nil {
		status = f.Problem.Status
	}
	s.render(w, r, status, "channel-form", f)
}

func (s *Server) channelNew(w http.ResponseWriter, r *http.Request) {
	s.renderChannelForm(w, r, &channelForm{Kind: string(acquisition.KindCode), Skip: true})
}

func (s *Server) channelEdit(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channelOf(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderChannelForm(w, r, formOf(ch))
}

// channelSave creates (no id) or updates a channel, on WeCom first.
func (s *Server) channelSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	f := &channelForm{}
	var id int64
	if r.PathValue("id") != "" {
		ch, err := s.channelOf(r)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		id, f.ID = ch.ID, ch.ID
	}
	in, err := readChannelForm(r, f)
	if err == nil {
		var ch *acquisition.Channel
		if id == 0 {
			ch, err = s.Acquisition.Create(r.Context(), in)
		} else {
			ch, err = s.Acquisition.Update(r.Context(), id, in)
		}
		if err == nil {
			http.Redirect(w, r, fmt.Sprintf("/channels/%d?done=saved", ch.ID), http.StatusSeeOther)
			return
		}
	}
	if f.Problem = s.problemOf(r, err); f.Problem == nil {
		s.pageError(w, r, err)
		return
	}
	s.renderChannelForm(w, r, f)
}

func (s *Server) channelDelete(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channelOf(r)
	if err == nil {
		err = s.Acquisition.Delete(r.Context(), ch.ID)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/channels?done=deleted", http.StatusSeeOther)
}

// channelOf reads the channel the path names.
func (s *Server) channelOf(r *http.Request) (*acquisition.Channel, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, kith.Errorf(kith.ENOTFOUND, "There is no channel %q.", clip(r.PathValue("id"), 20))
	}
	return s.Acquisition.Get(r.Context(), id)
}
