package web

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/i18n"
)

// knownPerms are the permissions a template may ask about with `can`; a
// misspelt one fails the render instead of hiding a link for everyone.
var knownPerms = map[auth.Permission]bool{}

func init() {
	for _, p := range auth.Permissions {
		knownPerms[p] = true
	}
}

// can reports whether p holds the permission named perm, for templates:
// {{if can .View.Principal "customers.view"}}.
func can(p *auth.Principal, perm string) (bool, error) {
	if !knownPerms[auth.Permission(perm)] {
		return false, fmt.Errorf("can: unknown permission %q", perm)
	}
	return p.Can(auth.Permission(perm)), nil
}

// whenIn returns the template func `when`, which formats a time (or a
// *time.Time, nil giving "") for the console in the instance's time zone,
// to the minute.
func whenIn(loc *time.Location) func(v any) string {
	return func(v any) string { return when(v, loc) }
}

func when(v any, loc *time.Location) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v == nil {
			return ""
		}
		t = *v
	default:
		return fmt.Sprint(v)
	}
	if t.IsZero() || t.Unix() <= 0 {
		return "–" // WeCom sent no time
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// num formats a count with thousands separators: 1,234,567.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Translation keys of WeCom's numeric codes; codes without a key get the
// "other" key, so a new platform value shows as "other (N)" and not as a
// raw key.
var (
	genderKeys = map[int]string{0: "gender.0", 1: "gender.1", 2: "gender.2"}
	ctypeKeys  = map[int]string{1: "ctype.1", 2: "ctype.2"}
	// add_way values, https://developer.work.weixin.qq.com/document/path/92114
	addWayKeys = map[int]string{}
)

func init() {
	for _, a := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21, 22, 24, 201, 202} {
		addWayKeys[a] = fmt.Sprintf("addway.%d", a)
	}
}

// codeText translates a WeCom code with keys; a code without a key gets
// other, a message with a %d for the code.
func codeText(lang i18n.Lang, keys map[int]string, other string, code int) string {
	if k, ok := keys[code]; ok {
		return i18n.T(lang, k)
	}
	return i18n.T(lang, other, code)
}
