package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/settings"
)

// settingsWeComSave stores the WeCom connection. Empty secret fields keep
// the stored secret; fields fixed by the environment are not sent by the
// form, and the settings store refuses them if they are.
func (s *Server) settingsWeComSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &settingsData{}
	typed := map[string]string{}
	for _, k := range []string{"corp_id", "agent_id", "api_base"} {
		typed[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	// The hidden field tells a sent form from an empty POST, which would
	// otherwise clear the corp ID.
	if r.PostFormValue("form") != "wecom" {
		d.Problem = invalid(r, "settings.error.form")
		s.renderSettings(w, r, d, typed)
		return
	}
	wc := settings.WeCom{
		CorpID: typed["corp_id"], APIBase: typed["api_base"],
		Secret:         strings.TrimSpace(r.PostFormValue("secret")),
		CallbackToken:  strings.TrimSpace(r.PostFormValue("callback_token")),
		CallbackAESKey: strings.TrimSpace(r.PostFormValue("callback_aes_key")),
	}
	if a := typed["agent_id"]; a != "" {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			d.Problem = invalid(r, "settings.error.agent", clip(a, 40))
			s.renderSettings(w, r, d, typed)
			return
		}
		wc.AgentID = id
	}
	if err := s.Settings.SaveWeCom(r.Context(), wc, principal(r).String()); err != nil {
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderSettings(w, r, d, typed)
		return
	}
	// Take effect at once on this node; other nodes read the settings
	// again within their cache's lifetime.
	s.Conn.Invalidate()
	var changed []string // names only, never values
	for k, v := range map[string]string{"corp_id": wc.CorpID, "agent_id": typed["agent_id"], "api_base": wc.APIBase, "secret": wc.Secret, "callback_token": wc.CallbackToken, "callback_aes_key": wc.CallbackAESKey} {
		if v != "" {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	if err := s.auditEvent(r.Context(), r, audit.ActionSettingsChange, "settings", "wecom", "", map[string]any{"keys": changed}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("wecom settings saved", "by", principal(r).String())
	http.Redirect(w, r, "/settings/wecom?saved=1", http.StatusSeeOther)
}
