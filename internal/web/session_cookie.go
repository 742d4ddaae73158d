package web

import (
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
)

// Cookie names. Over HTTPS the __Host- prefix makes the browser refuse the
// cookie unless it is Secure, host-only and for path /.
const (
	cookiePlain  = "kith_session"
	cookieSecure = "__Host-kith_session"
)

// secureCookies reports whether the session cookie must be Secure for r.
func (s *Server) secureCookies(r *http.Request) bool {
	switch s.CookieSecure {
	case "always":
		return true
	case "never":
		return false
	}
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (s *Server) sessionToken(r *http.Request) string {
	name := cookiePlain
	if s.secureCookies(r) {
		name = cookieSecure
	}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Server) sessionPrincipal(r *http.Request) (*auth.Principal, error) {
	token := s.sessionToken(r)
	if token == "" {
		return nil, nil
	}
	return s.Auth.SessionPrincipal(r.Context(), token)
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	secure := s.secureCookies(r)
	name := cookiePlain
	if secure {
		name = cookieSecure
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: token, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(auth.SessionMaxAge / time.Second),
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	if s.sessionToken(r) == "" {
		return
	}
	secure := s.secureCookies(r)
	name := cookiePlain
	if secure {
		name = cookieSecure
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}
