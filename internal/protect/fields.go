package protect

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// The protected fields: each has its own normalisation (what is indexed and
// sealed) and its own mask (what is shown by default).
const (
	FieldEmail   = "email"
	FieldAddress = "address"
	// FieldShopAccount is a buyer's account in one shop (a Taobao member
	// name, a JD pin), indexed per shop: internal/orders seals "shop NUL
	// account".
	FieldShopAccount = "shop_account"
)

// Fields lists every protected field.
var Fields = []string{FieldPhone, FieldEmail, FieldAddress, FieldShopAccount}

// Known reports whether field is a protected field.
func Known(field string) bool {
	for _, f := range Fields {
		if f == field {
			return true
		}
	}
	return false
}

// Normalize returns the canonical form of a value of field: what is
// indexed and sealed, so that two spellings of one value match.
func Normalize(field, value string) (string, error) {
	switch field {
	case FieldPhone:
		return NormalizePhone(value)
	case FieldEmail:
		return NormalizeEmail(value)
	case FieldAddress:
		return NormalizeAddress(value)
	case FieldShopAccount:
		return NormalizeAccount(value)
	}
	return "", kith.Errorf(kith.EINVALID, "%q is not a protected field; use one of %s", field, strings.Join(Fields, ", "))
}

// Mask returns the form of a normalised value of field shown by default.
func Mask(field, value string) string {
	switch field {
	case FieldPhone:
		return MaskPhone(value)
	case FieldEmail:
		return MaskEmail(value)
	case FieldAddress:
		return MaskAddress(value)
	case FieldShopAccount:
		return MaskAccount(value)
	}
	return "****"
}

// maxAccount bounds a shop account with its shop, in bytes.
const maxAccount = 1024

// NormalizeAccount trims a shop account; it refuses an empty or overlong
// one. Accounts are case-sensitive on the platforms, so case is kept.
func NormalizeAccount(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", kith.Errorf(kith.EINVALID, "a shop account is empty")
	case len(s) > maxAccount:
		return "", kith.Errorf(kith.EINVALID, "a shop account has at most %d bytes", maxAccount)
	}
	return s, nil
}

// MaskAccount shows an account's first character: tb_alice → t***. The
// shop before a NUL is kept.
func MaskAccount(s string) string {
	shop, acc, ok := strings.Cut(s, "\x00")
	if !ok {
		shop, acc = "", s
	}
	r, _ := utf8.DecodeRuneInString(acc)
	if acc == "" {
		return "****"
	}
	if shop != "" {
		return shop + " " + string(r) + "***"
	}
	return string(r) + "***"
}

// maxEmail is the longest e-mail address (RFC 5321's path limit).
const maxEmail = 254

// NormalizeEmail trims an e-mail address and lowercases it (mailbox names
// are case-insensitive in practice, and duplicates must match); it refuses
// anything but one @ between a non-empty local part and a domain with a dot.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", kith.Errorf(kith.EINVALID, "an e-mail address is empty")
	}
	if len(s) > maxEmail {
		return "", kith.Errorf(kith.EINVALID, "an e-mail address has at most %d characters", maxEmail)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || r == '<' || r == '>' || r == ',' || r == ';' || r == '"' {
			return "", kith.Errorf(kith.EINVALID, "an e-mail address has no spaces, quotes, brackets, commas or semicolons")
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") {
		return "", kith.Errorf(kith.EINVALID, "an e-mail address has exactly one @")
	}
	if local == "" || len(local) > 64 {
		return "", kith.Errorf(kith.EINVALID, "an e-mail address has 1 to 64 characters before the @")
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", kith.Errorf(kith.EINVALID, "an e-mail address has a domain such as example.com after the @")
	}
	return s, nil
}

// MaskEmail shows the first character of the mailbox and the domain:
// zhang.wei@example.com → z***@example.com. A value that is not an address
// is masked whole.
func MaskEmail(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" {
		return "****"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// maxAddress bounds a postal address, in characters.
const maxAddress = 300

// NormalizeAddress trims a postal address, turns full-width and other
// spaces into one ASCII space and drops control characters; it refuses an
// empty or overlong address.
func NormalizeAddress(s string) (string, error) {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || r == utf8.RuneError:
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	n := b.String()
	if n == "" {
		return "", kith.Errorf(kith.EINVALID, "an address is empty")
	}
	if utf8.RuneCountInString(n) > maxAddress {
		return "", kith.Errorf(kith.EINVALID, "an address has at most %d characters", maxAddress)
	}
	return n, nil
}

// Chinese administrative suffixes: a province-level division, then a
// prefecture-level one.
var (
	provinceEnds = []string{"特别行政区", "自治区", "省"}
	cityEnds     = []string{"自治州", "地区", "市", "盟"}
	// municipalities are province and city at once.
	municipalities = []string{"北京市", "上海市", "天津市", "重庆市"}
)

// MaskAddress keeps a Chinese address's province and city and hides the
// rest: 浙江省杭州市西湖区文三路90号 → 浙江省杭州市****; 上海市浦东新区… →
// 上海市****. An address whose province it cannot tell is hidden whole.
func MaskAddress(s string) string {
	s = strings.TrimSpace(s)
	for _, m := range municipalities {
		if strings.HasPrefix(s, m) {
			return m + "****"
		}
	}
	prov := cutAdmin(s, provinceEnds, 12)
	if prov == "" {
		return "****"
	}
	if strings.HasSuffix(prov, "特别行政区") {
		return prov + "****"
	}
	return prov + cutAdmin(s[len(prov):], cityEnds, 12) + "****"
}

// cutAdmin returns the prefix of s that ends with the first of ends found
// within its first max characters, or "".
func cutAdmin(s string, ends []string, max int) string {
	head := s
	if n := utf8.RuneCountInString(s); n > max {
		head = string([]rune(s)[:max])
	}
	best := -1
	for _, e := range ends {
		if i := strings.Index(head, e); i > 0 && (best < 0 || i+len(e) < best) {
			best = i + len(e)
		}
	}
	if best < 0 {
		return ""
	}
	return s[:best]
}
