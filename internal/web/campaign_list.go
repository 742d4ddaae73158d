package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/segment"
)

// campaignsData is the campaigns page: the list and the form of a new one.
type campaignsData struct {
	Campaigns []campaign.Campaign
	Segments  []segment.Saved
	CanManage bool
	Form      campaignForm
	Problem   *problem
	// the form's choices
	Purposes, Channels, Schedules []string
}

// campaignForm is the new-campaign form as the operator filled it.
type campaignForm struct {
	Name, Purpose, Channel, Text, Subject, Sign, TemplateID, Segment, Tags, Schedule, At, Rule string
	// Attachments (one a line) and Members (sending userids): WeCom (campaign_moment.go).
	Attachments, Members string
	HTML                 string // the e-mail's HTML part
}

func (s *Server) campaignList(w http.ResponseWriter, r *http.Request) {
	s.renderCampaigns(w, r, &campaignsData{Form: campaignForm{Purpose: "marketing", Channel: "wecom", Schedule: "now"}})
}

func (s *Server) renderCampaigns(w http.ResponseWriter, r *http.Request, d *campaignsData) {
	ctx := r.Context()
	list, err := s.Campaigns.List(ctx, 200)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	segs, err := segment.NewStore(s.DB, s.Clock).List(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Campaigns, d.Segments, d.CanManage = list, segs, principal(r).Can(auth.PermManageTags)
	d.Purposes, d.Channels, d.Schedules = []string{"marketing", "service"}, []string{"wecom", "sms", "email"}, []string{"now", "at", "recurring"}
	d.Channels = append(d.Channels, string(campaign.WeComMoment))
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "campaigns", d)
}

// campaignCreate saves a draft from the form and opens its page.
func (s *Server) campaignCreate(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	f := campaignForm{}
	for k, p := range map[string]*string{"name": &f.Name, "purpose": &f.Purpose, "channel": &f.Channel, "text": &f.Text, "subject": &f.Subject,
		"sign": &f.Sign, "template_id": &f.TemplateID, "segment": &f.Segment, "tags": &f.Tags, "schedule": &f.Schedule, "at": &f.At, "rule": &f.Rule} {
		*p = r.PostFormValue(k)
	}
	f.Attachments, f.Members = r.PostFormValue("attachments"), r.PostFormValue("members")
	f.HTML = r.PostFormValue("html") // e-mail only
	d := &campaignsData{Form: f}
	in, prob := s.campaignInput(r, f)
	if prob != nil {
		d.Problem = prob
		s.renderCampaigns(w, r, d)
		return
	}
	by := int64(0)
	if p := principal(r); p.Kind == "user" {
		by = p.ID
	}
	c, err := s.Campaigns.Create(r.Context(), by, in)
	if err != nil {
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderCampaigns(w, r, d)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/campaigns/%d", c.ID), http.StatusSeeOther)
}

// campaignInput reads the form; the service checks the rest.
func (s *Server) campaignInput(r *http.Request, f campaignForm) (campaign.Input, *problem) {
	in := campaign.Input{Name: f.Name, Purpose: campaign.Purpose(f.Purpose), Channel: campaign.Channel(f.Channel),
		Schedule: campaign.Schedule{Kind: campaign.ScheduleKind(f.Schedule), Rule: strings.TrimSpace(f.Rule)}}
	switch in.Channel {
	case campaign.SMS:
		in.Content = campaign.Content{Sign: strings.TrimSpace(f.Sign), TemplateID: strings.TrimSpace(f.TemplateID), Text: f.Text}
	case campaign.Email:
		in.Content = campaign.Content{Subject: f.Subject, Text: f.Text, HTML: f.HTML}
	default:
		in.Content = campaign.Content{Text: f.Text}
	}
	if prob := s.momentInput(r, f, &in); prob != nil {
		return in, prob
	}
	if f.Segment != "" {
		id, err := strconv.ParseInt(f.Segment, 10, 64)
		if err != nil {
			return in, invalid(r, "campaign.error.segment")
		}
		in.Audience.SegmentID = id
	}
	for t := range strings.FieldsFuncSeq(f.Tags, func(r rune) bool { return r == ',' || r == '，' || r == '\n' }) {
		if t = strings.TrimSpace(t); t != "" {
			in.Audience.Tags = append(in.Audience.Tags, t)
		}
	}
	if in.Schedule.Kind == campaign.At {
		loc := s.Location
		if loc == nil {
			loc = time.UTC
		}
		at, err := time.ParseInLocation("2006-01-02T15:04", f.At, loc)
		if err != nil {
			return in, invalid(r, "campaign.error.at")
		}
		in.Schedule.At = at.UTC()
	}
	return in, nil
}
