package web

import (
	"net/http"

	"github.com/kith-scrm/kith/internal/i18n"
	"github.com/kith-scrm/kith/internal/kith"
)

// switchLang stores the chosen language in a cookie and goes back.
func (s *Server) switchLang(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	lang, ok := i18n.Parse(r.PostFormValue("lang"))
	if !ok {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "Unknown language %q.", r.PostFormValue("lang")))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: i18n.CookieName, Value: string(lang), Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, HttpOnly: true})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}
