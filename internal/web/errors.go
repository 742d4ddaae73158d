package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kith-scrm/kith/internal/i18n"
	"github.com/kith-scrm/kith/internal/kith"
)

// statusOf maps application error codes to HTTP statuses; this is the only
// place that does.
func statusOf(code string) int {
	switch code {
	case kith.EINVALID:
		return http.StatusBadRequest
	case kith.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case kith.EFORBIDDEN:
		return http.StatusForbidden
	case kith.ENOTFOUND:
		return http.StatusNotFound
	case kith.ECONFLICT:
		return http.StatusConflict
	case kith.ETOOMANY:
		return http.StatusTooManyRequests
	case kith.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// logIfInternal logs errors that are not the client's fault, with the
// details the client is not shown.
func (s *Server) logIfInternal(r *http.Request, err error) {
	if kith.ErrorCode(err) == kith.EINTERNAL {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// apiError writes {"error": {"code": …, "message": …}}.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	s.logIfInternal(r, err)
	code := kith.ErrorCode(err)
	writeJSON(w, statusOf(code), map[string]any{"error": map[string]string{"code": code, "message": kith.ErrorMessage(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// decodeJSON reads a JSON body of at most maxBody bytes into v, refusing
// unknown fields, and returns an EINVALID error that says what is wrong and
// where.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return kith.Errorf(kith.EINVALID, "The body must be JSON (Content-Type: application/json), not %s.", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var big *http.MaxBytesError
		switch {
		case errors.As(err, &big):
			return kith.Errorf(kith.EINVALID, "The body is larger than %d bytes.", maxBody)
		case errors.As(err, &syn):
			return kith.Errorf(kith.EINVALID, "The body is not valid JSON at byte %d.", syn.Offset)
		case errors.As(err, &typ):
			return kith.Errorf(kith.EINVALID, "The field %q must be a %s, at byte %d.", typ.Field, typ.Type, typ.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return kith.Errorf(kith.EINVALID, "The body has an unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return kith.Errorf(kith.EINVALID, "The body is not valid JSON: it ends too early.")
		case errors.Is(err, io.EOF):
			return kith.Errorf(kith.EINVALID, "The body is empty; send a JSON object.")
		}
		return kith.Errorf(kith.EINVALID, "The body cannot be read: %v.", err)
	}
	if dec.More() {
		return kith.Errorf(kith.EINVALID, "The body has data after the JSON object.")
	}
	return nil
}

// pageError renders the error page in the request's language.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	s.logIfInternal(r, err)
	code := kith.ErrorCode(err)
	status := statusOf(code)
	s.render(w, r, status, "error", map[string]any{"Status": status, "Code": code, "Message": kith.ErrorMessage(err), "StatusText": fmt.Sprint(status, " ", http.StatusText(status))})
}

// problem is an error shown inside a page, next to the form or list it is
// about, instead of on the error page.
type problem struct {
	Status int
	Text   string // translated when the web layer found the fault; else the service's sentence
}

// problemOf turns a service error into a problem; internal errors are
// logged and give nil, so the caller shows the error page instead.
func (s *Server) problemOf(r *http.Request, err error) *problem {
	code := kith.ErrorCode(err)
	if code == kith.EINTERNAL {
		return nil
	}
	return &problem{Status: statusOf(code), Text: kith.ErrorMessage(err)}
}

// invalid is a problem with the input, in the request's language.
func invalid(r *http.Request, key string, args ...any) *problem {
	return &problem{Status: http.StatusBadRequest, Text: i18n.T(i18n.FromRequest(r), key, args...)}
}
