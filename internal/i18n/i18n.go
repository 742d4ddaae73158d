// Package i18n translates the console. Each language is a flat JSON file of
// message keys in locales/, embedded in the binary; zh-CN is the default and
// en the second language, and both must hold the same keys (a test checks).
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

//go:embed locales/*.json
var files embed.FS

// Lang is a supported language tag.
type Lang string

// The supported languages, default first.
const (
	ZhCN Lang = "zh-CN"
	En   Lang = "en"
)

// Langs lists the supported languages, default first.
var Langs = []Lang{ZhCN, En}

// CookieName holds a language chosen with the console's switch.
const CookieName = "kith_lang"

var (
	catalogs = map[Lang]map[string]string{}
	matcher  = language.NewMatcher([]language.Tag{language.MustParse("zh-CN"), language.English})
)

func init() {
	for _, l := range Langs {
		b, err := files.ReadFile("locales/" + string(l) + ".json")
		if err != nil {
			panic(err) // embedded at build time
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("i18n: locales/%s.json: %v", l, err))
		}
		catalogs[l] = m
	}
}

// Parse returns the supported language s names, and false if none.
func Parse(s string) (Lang, bool) {
	for _, l := range Langs {
		if strings.EqualFold(s, string(l)) {
			return l, true
		}
	}
	return "", false
}

// FromRequest picks the language: the switch's cookie first, then the
// browser's Accept-Language, then zh-CN.
func FromRequest(r *http.Request) Lang {
	if c, err := r.Cookie(CookieName); err == nil {
		if l, ok := Parse(c.Value); ok {
			return l
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return ZhCN
	}
	_, idx, conf := matcher.Match(tags...)
	if conf == language.No {
		return ZhCN
	}
	return Langs[idx]
}

// T returns the message for key in lang, formatted with args. A missing key
// shows as the key itself, so it is seen and fixed rather than hidden.
func T(lang Lang, key string, args ...any) string {
	msg, ok := catalogs[lang][key]
	if !ok {
		msg, ok = catalogs[ZhCN][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// Has reports whether key exists in lang.
func Has(lang Lang, key string) bool {
	_, ok := catalogs[lang][key]
	return ok
}

// Keys returns the keys of lang.
func Keys(lang Lang) []string {
	out := make([]string, 0, len(catalogs[lang]))
	for k := range catalogs[lang] {
		out = append(out, k)
	}
	return out
}
