package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/i18n"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// parseTemplates parses every page once per language, with that language's
// translation function bound as `t`.
func parseTemplates(loc *time.Location) (map[i18n.Lang]*template.Template, error) {
	out := map[i18n.Lang]*template.Template{}
	for _, lang := range i18n.Langs {
		funcs := template.FuncMap{
			"t":    func(key string, args ...any) string { return i18n.T(lang, key, args...) },
			"lang": func() string { return string(lang) },
			"dict": dict,
			"can":  can,
			"when": whenIn(loc),
			"num":  num,
			"path": url.PathEscape,
			// WeCom's codes in words.
			"gender": func(g int) string { return codeText(lang, genderKeys, "gender.other", g) },
			"ctype":  func(c int) string { return codeText(lang, ctypeKeys, "ctype.other", c) },
			"addway": func(a int) string { return codeText(lang, addWayKeys, "addway.other", a) },
		}
		t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
		if err != nil {
			return nil, fmt.Errorf("web: templates: %w", err)
		}
		out[lang] = t
	}
	return out, nil
}

// view is what every page template receives.
type view struct {
	Lang      i18n.Lang
	Langs     []i18n.Lang
	Principal *auth.Principal
	Sandbox   bool
	Version   string
	Path      string
	Data      any
}

// render executes the named page into a buffer first, so a template error
// never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	lang := i18n.FromRequest(r)
	v := view{Lang: lang, Langs: i18n.Langs, Principal: principal(r), Sandbox: s.Sandbox, Version: s.Version, Path: r.URL.RequestURI(), Data: data}
	var buf bytes.Buffer
	if err := s.pages[lang].ExecuteTemplate(&buf, name, v); err != nil {
		s.Log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", string(lang))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// dict builds a map from alternating keys and values, so a template can pass
// several values to another.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
