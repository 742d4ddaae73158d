package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/wecommoment"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
)

// campaignData is one campaign's page: what it is, its preview or
// results, and the actions its state allows.
type campaignData struct {
	C         campaign.Campaign
	Report    campaign.Report
	Preview   *campaign.Preview
	CanManage bool
	Done      string
	Problem   *problem
	States    []string // delivery states in the order shown
	CostYuan  string   // the preview's SMS cost estimate
	PriceFen  string   // the price per billed part it used, in fen
	// Moments are a wecom_moment campaign's moments by member (campaign_moment.go).
	Moments   []wecommoment.MemberStat
	Summary   campaign.Summary
	Chart     template.HTML // the results over time (campaignChart)
	CanReveal bool          // may export personal data unmasked
}

func (s *Server) campaignID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "campaign: no campaign %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (s *Server) campaignShow(w http.ResponseWriter, r *http.Request) {
	id, ok := s.campaignID(w, r)
	if !ok {
		return
	}
	d := &campaignData{}
	switch done := r.URL.Query().Get("done"); done {
	case "scheduled", "cancelled", "reminded", "unscheduled":
		d.Done = done
	}
	if r.URL.Query().Get("preview") == "1" {
		p, err := s.Campaigns.Preview(r.Context(), id)
		if err != nil {
			if d.Problem = s.problemOf(r, err); d.Problem == nil {
				s.pageError(w, r, err)
				return
			}
		} else {
			d.Preview, d.CostYuan = &p, segment.FormatAmount(p.SMSCostFen)
			if p.SMSParts > 0 {
				fen, _, _ := s.Campaigns.SMSPrice(r.Context())
				d.PriceFen = strconv.FormatFloat(fen, 'f', -1, 64)
			}
		}
	}
	s.renderCampaign(w, r, id, d)
}

func (s *Server) renderCampaign(w http.ResponseWriter, r *http.Request, id int64, d *campaignData) {
	c, err := s.Campaigns.Get(r.Context(), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rep, err := s.Campaigns.Results(r.Context(), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.C, d.Report, d.CanManage = c, rep, principal(r).Can(auth.PermManageTags)
	if c.Channel == campaign.WeComMoment {
		if d.Moments, err = wecommoment.CampaignStats(r.Context(), s.DB, id); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	if d.Summary, err = s.Campaigns.Summarize(r.Context(), id); err != nil {
		s.pageError(w, r, err)
		return
	}
	ser, err := s.Campaigns.Timeline(r.Context(), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	d.Chart, d.CanReveal = campaignChart(ser, loc), principal(r).Can(auth.PermRevealPII)
	d.States = []string{"planned", "claimed", "sent", "delivered", "refused", "failed", "unknown", "cancelled"}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "campaign", d)
}

// campaignAction schedules, unschedules, cancels or reminds, then shows
// the campaign again.
func (s *Server) campaignAction(w http.ResponseWriter, r *http.Request) {
	id, ok := s.campaignID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	action := r.PathValue("action")
	var err error
	switch action {
	case "schedule":
		_, err = s.Campaigns.Schedule(ctx, id)
		if err == nil && s.Jobs != nil {
			// Start at once when due: the tick would within a minute.
			if _, ierr := s.Jobs.Client().Insert(ctx, campaign.TickArgs{}, nil); ierr != nil {
				s.Log.Warn("campaign: could not queue the tick", "err", ierr)
			}
		}
		action = "scheduled"
	case "unschedule":
		err = s.Campaigns.Unschedule(ctx, id)
		action = "unscheduled"
	case "cancel":
		if err = s.Campaigns.Cancel(ctx, id, "cancelled by "+principal(r).Name); err == nil {
			_, err = s.Campaigns.CancelTasks(ctx, id)
		}
		action = "cancelled"
	case "remind":
		_, err = s.Campaigns.Remind(ctx, id)
		action = "reminded"
	default:
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "campaign: no action %q", action))
		return
	}
	if err != nil {
		d := &campaignData{}
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderCampaign(w, r, id, d)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/campaigns/%d?done=%s", id, action), http.StatusSeeOther)
}

// campaignCSV downloads the campaign's deliveries (campaignExport).
func (s *Server) campaignCSV(w http.ResponseWriter, r *http.Request) { s.campaignExport(w, r) }
