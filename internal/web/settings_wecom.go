package web

import (
	"net/http"
	"strconv"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/settings"
)

// settingsField is one field of the WeCom settings form.
type settingsField struct {
	Name   string // the form field, as settings names it (corp_id, …)
	Env    string // the environment variable that can fix it
	Secret bool   // never shown back; empty keeps the stored value
	Fixed  bool   // set by Env, so read-only here
	Value  string // the value in use (non-secret fields only)
	Set    bool   // whether a secret has a value
}

// settingsData is the WeCom settings page.
type settingsData struct {
	Fields      []settingsField
	CallbackURL string
	Configured  bool
	ConnError   string // why complete settings cannot be used
	Saved       bool
	Problem     *problem
}

// wecomFields lists the form's fields with the values in use; typed, when
// set, holds what the person sent (kept after a refusal, secrets excepted).
func wecomFields(w settings.WeCom, typed map[string]string) []settingsField {
	agent := ""
	if w.AgentID != 0 {
		agent = strconv.FormatInt(w.AgentID, 10)
	}
	api := w.APIBase
	if api == settings.DefaultAPIBase && !w.FromEnv["api_base"] {
		api = "" // shown as the placeholder: the default needs no value
	}
	fields := []settingsField{
		{Name: "corp_id", Env: settings.EnvCorpID, Value: w.CorpID},
		{Name: "agent_id", Env: settings.EnvAgentID, Value: agent},
		{Name: "secret", Env: settings.EnvSecret, Secret: true, Set: w.Secret != ""},
		{Name: "callback_token", Env: settings.EnvCallbackToken, Secret: true, Set: w.CallbackToken != ""},
		{Name: "callback_aes_key", Env: settings.EnvCallbackAESKey, Secret: true, Set: w.CallbackAESKey != ""},
		{Name: "api_base", Env: settings.EnvAPIBase, Value: api},
	}
	for i := range fields {
		f := &fields[i]
		f.Fixed = w.FromEnv[f.Name]
		if v, ok := typed[f.Name]; ok && !f.Secret && !f.Fixed {
			f.Value = v
		}
	}
	return fields
}

// callbackURL is the address to paste into WeCom's admin console: this
// request's scheme and host. A proxy in front must pass the Host header and
// X-Forwarded-Proto, as it must for the session cookie.
func callbackURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/wecom/callback"
}

func (s *Server) settingsWeCom(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, &settingsData{Saved: r.URL.Query().Get("saved") == "1"}, nil)
}

// renderSettings renders the page with the settings in use (read afresh,
// not the connection's cached copy).
func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, d *settingsData, typed map[string]string) {
	ctx := r.Context()
	wc, err := s.Settings.WeCom(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Fields, d.CallbackURL, d.Configured = wecomFields(wc, typed), callbackURL(r), wc.Configured()
	if d.Configured {
		if _, err := s.Conn.Client(ctx); err != nil {
			d.ConnError = kith.ErrorMessage(err)
		}
	}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "settings-wecom", d)
}
