package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders/jst"
)

// readConnectorForm reads the connector form: what was typed (secrets
// excepted, for showing back) and the settings it makes, or the problem
// with it.
func readConnectorForm(r *http.Request) (ordersConnectorForm, jst.Settings, *problem) {
	typed := ordersConnectorForm{
		Enabled: r.PostFormValue("enabled") == "1", Interval: strings.TrimSpace(r.PostFormValue("interval")),
		BaseURL: strings.TrimSpace(r.PostFormValue("base_url")), AppKey: strings.TrimSpace(r.PostFormValue("app_key")),
		Shops: r.PostFormValue("shops"),
	}
	st := jst.Settings{Enabled: typed.Enabled, BaseURL: typed.BaseURL, AppKey: typed.AppKey,
		AppSecret: strings.TrimSpace(r.PostFormValue("app_secret")), AccessToken: strings.TrimSpace(r.PostFormValue("access_token"))}
	if r.PostFormValue("form") != "jst" {
		return typed, st, invalid(r, "settings.error.form")
	}
	if typed.Interval != "" {
		m, err := strconv.Atoi(typed.Interval)
		if err != nil || m < int(jst.MinInterval.Minutes()) || m > int(jst.MaxInterval.Minutes()) {
			return typed, st, invalid(r, "connector.error.interval", clip(typed.Interval, 20), int(jst.MinInterval.Minutes()), int(jst.MaxInterval.Minutes()))
		}
		st.Interval = time.Duration(m) * time.Minute
	}
	shops, err := jst.ParseShops(typed.Shops)
	if err != nil {
		return typed, st, &problem{Status: http.StatusBadRequest, Text: kith.ErrorMessage(err)}
	}
	st.Shops = shops
	return typed, st, nil
}

// settingsOrdersSave stores the connector's settings. Empty secret fields
// keep the stored secrets; the audit log records which fields were sent,
// never their values.
func (s *Server) settingsOrdersSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	typed, st, prob := readConnectorForm(r)
	if prob == nil && s.JST != nil {
		if err := s.JST.Save(r.Context(), st, principal(r).String()); err != nil {
			if prob = s.problemOf(r, err); prob == nil {
				s.pageError(w, r, err)
				return
			}
		}
	}
	if prob != nil || s.JST == nil {
		s.renderOrdersConnector(w, r, &ordersConnectorData{Problem: prob}, &typed)
		return
	}
	var sent []string // names only, never values
	for k, v := range map[string]string{"base_url": st.BaseURL, "app_key": st.AppKey, "app_secret": st.AppSecret, "access_token": st.AccessToken} {
		if v != "" {
			sent = append(sent, k)
		}
	}
	slices.Sort(sent)
	if err := s.auditEvent(r.Context(), r, audit.ActionSettingsChange, "settings", "jst", "", map[string]any{
		"keys": sent, "enabled": st.Enabled, "interval_minutes": int(st.Every().Minutes()), "shops": len(st.Shops)}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("jst connector settings saved", "by", principal(r).String(), "enabled", st.Enabled)
	http.Redirect(w, r, "/settings/orders?saved=1", http.StatusSeeOther)
}

// settingsOrdersTest calls 聚水潭 once with the typed settings (empty
// secrets: the stored ones) and shows the answer; nothing is saved.
func (s *Server) settingsOrdersTest(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	typed, st, prob := readConnectorForm(r)
	d := &ordersConnectorData{Problem: prob}
	if prob == nil && s.JST != nil {
		full, err := s.JST.WithStoredSecrets(r.Context(), st)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		n, err := s.JST.Test(r.Context(), full)
		if err != nil {
			if d.Problem = s.problemOf(r, err); d.Problem == nil {
				s.pageError(w, r, err)
				return
			}
			d.Problem.Status = http.StatusOK // the test ran; its answer is the page
		} else {
			d.Tested = strconv.Itoa(n)
		}
	}
	s.renderOrdersConnector(w, r, d, &typed)
}

// settingsOrdersPull enqueues a pull now with the saved settings; the page
// shows it among the runs once a node has started it.
func (s *Server) settingsOrdersPull(w http.ResponseWriter, r *http.Request) {
	if s.JST == nil {
		s.renderOrdersConnector(w, r, &ordersConnectorData{}, nil)
		return
	}
	st, err := s.JST.Settings(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if !st.Configured() {
		s.renderOrdersConnector(w, r, &ordersConnectorData{Problem: &problem{Status: http.StatusConflict, Text: i18nField(r, "connector.error.notset")}}, nil)
		return
	}
	res, err := s.Jobs.Client().Insert(r.Context(), jst.PullArgs{Trigger: "console", By: principal(r).Name}, nil)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("jst pull requested", "by", principal(r).String(), "job", res.Job.ID)
	http.Redirect(w, r, "/settings/orders?pulled=1", http.StatusSeeOther)
}
