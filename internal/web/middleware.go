package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
)

// maxBody bounds every request body Kith reads.
const maxBody = 1 << 20

type ctxKey int

const principalKey ctxKey = iota

// principal returns the request's principal, or nil.
func principal(r *http.Request) *auth.Principal {
	p, _ := r.Context().Value(principalKey).(*auth.Principal)
	return p
}

func withPrincipal(r *http.Request, p *auth.Principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey, p))
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request and counts it by route pattern and status.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern // set by the mux on this same request
		if route == "" || route == "/" {
			route = "unmatched" // keeps the label's values bounded
		}
		elapsed := time.Since(start)
		s.Metrics.HTTPRequests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
		s.Metrics.HTTPDuration.WithLabelValues(route).Observe(elapsed.Seconds())
		if route != "GET /healthz" && route != "GET /readyz" && !strings.HasPrefix(route, "GET /static/") {
			s.Log.Debug("http", "method", r.Method, "route", route, "status", rec.status, "ms", elapsed.Milliseconds())
		}
	})
}

// recoverPanics answers 500 when a handler panics, and logs the stack.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// The security headers' values, made once: every response shares them.
// Each has a capacity of one, so a handler's Header().Add appends to a copy,
// never to the shared array.
var (
	hdrCSP       = []string{"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"}
	hdrNosniff   = []string{"nosniff"}
	hdrDeny      = []string{"DENY"}
	hdrSameOrign = []string{"same-origin"}
)

// securityHeaders sets the security headers. The keys are in canonical
// form, so they are assigned without Header.Set's allocations.
//
// Every response says nosniff. The document policies (CSP, frame and
// referrer) go on every response but the WeCom callback's: its caller is
// Tencent's server, never a browser, and its answer an empty 200 or a short
// plain-text refusal that no browser renders. There the three headers would
// protect nothing, while writing them, and parsing them on the sender's
// side, is a measurable part of each delivery's cost at thousands a second
// (docs/operations.md, "Measuring callbacks").
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hdrNosniff
		if r.URL.Path != callbackPath {
			h["Content-Security-Policy"] = hdrCSP
			h["X-Frame-Options"] = hdrDeny
			h["Referrer-Policy"] = hdrSameOrign
		}
		next.ServeHTTP(w, r)
	})
}

// callbackPath is where WeCom delivers callbacks.
const callbackPath = "/wecom/callback"

func cacheStatic(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	}
}

// requirePage lets a request with a console session holding perm through.
// Without a session a GET is sent to the login page and other methods get
// 401; a user still on a one-time password is sent to change it first.
func (s *Server) requirePage(perm auth.Permission, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionPrincipal(r)
		if err != nil && !auth.IsNoSession(err) {
			s.pageError(w, r, err)
			return
		}
		if p == nil {
			s.clearSessionCookie(w, r)
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", "/login")
			}
			s.pageError(w, r, kith.Errorf(kith.EUNAUTHORIZED, "Sign in first."))
			return
		}
		if p.MustChangePassword && r.URL.Path != "/account/password" && r.URL.Path != "/logout" {
			http.Redirect(w, r, "/account/password", http.StatusSeeOther)
			return
		}
		if !p.Can(perm) {
			s.pageError(w, withPrincipal(r, p), kith.Errorf(kith.EFORBIDDEN, "Your role (%s) may not do this.", p.Role))
			return
		}
		next(w, withPrincipal(r, p))
	})
}

// requireAPI lets a request with a bearer token holding perm through.
func (s *Server) requireAPI(perm auth.Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kith"`)
			s.apiError(w, r, kith.Errorf(kith.EUNAUTHORIZED, "Send an API token as `Authorization: Bearer TOKEN` (create one with `kith token create`)."))
			return
		}
		p, err := s.Auth.TokenPrincipal(r.Context(), strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kith", error="invalid_token"`)
			s.apiError(w, r, err)
			return
		}
		if !p.Can(perm) {
			s.apiError(w, r, kith.Errorf(kith.EFORBIDDEN, "The token's role (%s) lacks the permission %s.", p.Role, perm))
			return
		}
		next.ServeHTTP(w, withPrincipal(r, p))
	})
}

// clientIP returns the address of the connection's peer. Kith does not trust
// X-Forwarded-For: a proxy in front should rate-limit by itself.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.apiError(w, r, kith.Errorf(kith.ENOTFOUND, "No API route %s %s.", r.Method, r.URL.Path))
		return
	}
	s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "This page does not exist."))
}
