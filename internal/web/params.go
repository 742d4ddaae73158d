package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// maxParam bounds any single query or form value a console page reads, so
// a pasted essay is refused with a sentence and not carried into queries.
const maxParam = 200

// queryParam returns the trimmed query parameter name, or an EINVALID error
// when it is longer than maxParam characters.
func queryParam(q url.Values, name string) (string, error) {
	v := strings.TrimSpace(q.Get(name))
	if utf8.RuneCountInString(v) > maxParam {
		return "", kith.Errorf(kith.EINVALID, "The parameter %s is longer than %d characters.", name, maxParam)
	}
	return v, nil
}

// positiveParam parses an optional whole-number query parameter that must be
// above zero when given; absent or empty gives 0.
func positiveParam(q url.Values, name string) (int64, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, kith.Errorf(kith.EINVALID, "The parameter %s must be a whole number above 0, not %q.", name, clip(v, 40))
	}
	return n, nil
}

// limitParam parses the optional page size, from 1 to max; absent gives 0
// (the service's default).
func limitParam(q url.Values, max int) (int, error) {
	n, err := positiveParam(q, "limit")
	if err != nil {
		return 0, err
	}
	if n > int64(max) {
		return 0, kith.Errorf(kith.EINVALID, "The parameter limit must be from 1 to %d, not %d.", max, n)
	}
	return int(n), nil
}

// pathID parses a numeric id from the route's wildcard name.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, kith.Errorf(kith.EINVALID, "%q is not an id: ids are whole numbers above 0.", clip(v, 40))
	}
	return n, nil
}

// clip shortens s to at most n characters for an error message.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// parseForm reads a form body of at most maxBody bytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return kith.Errorf(kith.EINVALID, "The form cannot be read.")
	}
	return nil
}

// isFragment reports whether htmx asked for the part of a page that
// replaces the element with the id target.
func isFragment(r *http.Request, target string) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == target &&
		r.Header.Get("HX-History-Restore-Request") != "true"
}

// withQuery returns path with the non-empty values as its query.
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
