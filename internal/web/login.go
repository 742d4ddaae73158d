package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
)

type loginData struct {
	Username string
	Next     string
	Error    string // a translation key
}

// safeNext returns next when it is a path on this site, else "/", so the
// login form cannot be used to send people elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if p, _ := s.sessionPrincipal(r); p != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "The form cannot be read."))
		return
	}
	d := loginData{Username: strings.TrimSpace(r.PostFormValue("username")), Next: safeNext(r.PostFormValue("next"))}
	u, err := s.Auth.Authenticate(r.Context(), d.Username, r.PostFormValue("password"), clientIP(r))
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		d.Error = "login.error.bad"
		s.render(w, r, http.StatusUnauthorized, "login", d)
		return
	case kith.ErrorCode(err) == kith.ETOOMANY:
		d.Error = "login.error.toomany"
		s.render(w, r, http.StatusTooManyRequests, "login", d)
		return
	case err != nil:
		s.pageError(w, r, err)
		return
	}
	token, err := s.Auth.CreateSession(r.Context(), u, auth.SessionInfo{IP: clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, token)
	s.Log.Info("signed in", "user", u.Username, "ip", clientIP(r))
	if u.MustChangePassword {
		http.Redirect(w, r, "/account/password", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Auth.SignOut(r.Context(), principal(r), clientIP(r)); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.clearSessionCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
