package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/i18n"
	"github.com/kith-scrm/kith/internal/kith"
)

// gateChannels are the channels whose sending policy the console sets, in
// the order the page shows them.
var gateChannels = []consent.Channel{consent.ChannelWeCom, consent.ChannelSMS, consent.ChannelEmail}

// policyView is one channel's form on the sending-rules page.
type policyView struct {
	Channel                   consent.Channel
	CapDay, CapWeek, CapMonth string
	QuietStart, QuietEnd      string // HH:MM
	WeComRule                 gate.PlatformRule
	Problem                   *problem
}

// gateSettingsData is the sending-rules page.
type gateSettingsData struct {
	Policies []policyView
	Rules    []gate.PlatformRule
	Saved    consent.Channel
	// Callbacks are the SMS providers' reply-push addresses, by provider.
	Callbacks map[string]string
}

func viewOf(p gate.Policy) policyView {
	return policyView{Channel: p.Channel, CapDay: strconv.Itoa(p.CapDay), CapWeek: strconv.Itoa(p.CapWeek), CapMonth: strconv.Itoa(p.CapMonth),
		QuietStart: hhmm(p.QuietStart), QuietEnd: hhmm(p.QuietEnd), WeComRule: p.WeComRule}
}

func hhmm(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// parseHHMM reads a time of day as minutes after midnight.
func parseHHMM(s string) (int, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, false
	}
	hv, err1 := strconv.Atoi(h)
	mv, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hv < 0 || hv > 23 || mv < 0 || mv > 59 || len(m) != 2 {
		return 0, false
	}
	return hv*60 + mv, true
}

// settingsGate shows the merchant's sending rules per channel: frequency
// caps and quiet hours (the platform's own caps apply on top).
func (s *Server) settingsGate(w http.ResponseWriter, r *http.Request) {
	d := &gateSettingsData{Saved: consent.Channel(r.URL.Query().Get("saved"))}
	if err := s.loadPolicies(r, d, nil); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings-gate", d)
}

func (s *Server) loadPolicies(r *http.Request, d *gateSettingsData, typed *policyView) error {
	if s.Gate == nil {
		return kith.Errorf(kith.EUNAVAILABLE, "The gate is not running on this node.")
	}
	d.Rules = []gate.PlatformRule{gate.MonthDays, gate.Week7, gate.Day1}
	d.Callbacks = s.smsURLs(r, "replies", s.smsCallbackKey)
	for _, ch := range gateChannels {
		if typed != nil && typed.Channel == ch {
			d.Policies = append(d.Policies, *typed)
			continue
		}
		p, err := s.Gate.Policy(r.Context(), ch)
		if err != nil {
			return err
		}
		d.Policies = append(d.Policies, viewOf(p))
	}
	return nil
}

// settingsGateSave saves one channel's policy. The gate refuses a cap above
// the platform's; the form is shown again with the sentence and what was
// typed.
func (s *Server) settingsGateSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	typed := policyView{
		Channel: consent.Channel(r.PostFormValue("channel")),
		CapDay:  strings.TrimSpace(r.PostFormValue("cap_day")), CapWeek: strings.TrimSpace(r.PostFormValue("cap_week")),
		CapMonth:   strings.TrimSpace(r.PostFormValue("cap_month")),
		QuietStart: strings.TrimSpace(r.PostFormValue("quiet_start")), QuietEnd: strings.TrimSpace(r.PostFormValue("quiet_end")),
		WeComRule: gate.PlatformRule(r.PostFormValue("wecom_rule")),
	}
	known := false
	for _, ch := range gateChannels {
		known = known || ch == typed.Channel
	}
	if !known {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "Unknown channel %q: use wecom, sms or email.", clip(string(typed.Channel), 20)))
		return
	}
	p := gate.Policy{Channel: typed.Channel, WeComRule: typed.WeComRule}
	if typed.WeComRule == "" {
		p.WeComRule = gate.MonthDays
	}
	caps := []struct {
		field, value string
		dst          *int
	}{{"cap_day", typed.CapDay, &p.CapDay}, {"cap_week", typed.CapWeek, &p.CapWeek}, {"cap_month", typed.CapMonth, &p.CapMonth}}
	for _, c := range caps {
		if c.value == "" {
			continue // empty is no merchant cap
		}
		n, err := strconv.Atoi(c.value)
		if err != nil || n < 0 || n > 10000 {
			typed.Problem = invalid(r, "gate.error.cap", i18nField(r, "gate."+c.field), clip(c.value, 20))
			break
		}
		*c.dst = n
	}
	var ok bool
	if typed.Problem == nil {
		if p.QuietStart, ok = parseHHMM(typed.QuietStart); !ok {
			typed.Problem = invalid(r, "gate.error.time", i18nField(r, "gate.quiet_start"), clip(typed.QuietStart, 20))
		} else if p.QuietEnd, ok = parseHHMM(typed.QuietEnd); !ok {
			typed.Problem = invalid(r, "gate.error.time", i18nField(r, "gate.quiet_end"), clip(typed.QuietEnd, 20))
		}
	}
	if typed.Problem == nil {
		if err := s.Gate.SetPolicy(r.Context(), p); err != nil {
			if typed.Problem = s.problemOf(r, err); typed.Problem == nil {
				s.pageError(w, r, err)
				return
			}
		}
	}
	if typed.Problem != nil {
		d := &gateSettingsData{}
		if err := s.loadPolicies(r, d, &typed); err != nil {
			s.pageError(w, r, err)
			return
		}
		s.render(w, r, typed.Problem.Status, "settings-gate", d)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionSettingsChange, "gate_policy", string(p.Channel), "", map[string]any{
		"cap_day": p.CapDay, "cap_week": p.CapWeek, "cap_month": p.CapMonth,
		"quiet_start": p.QuietStart, "quiet_end": p.QuietEnd, "wecom_rule": string(p.WeComRule)}); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings/gate?saved="+string(p.Channel)+"#policy-"+string(p.Channel), http.StatusSeeOther)
}

// i18nField is the name of a form field in the request's language, for a
// sentence about it.
func i18nField(r *http.Request, key string) string { return i18n.T(i18n.FromRequest(r), key) }
