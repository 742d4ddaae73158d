package consent

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/kith-scrm/kith/internal/kith"
)

// PersonKind says what a person key is.
type PersonKind string

// Person kinds. Until Kith has a person registry, a person is one of their
// identities, and each identity is reached on one channel.
const (
	KindExternalUser PersonKind = "external_userid" // a WeCom external contact (channel wecom)
	KindPhone        PersonKind = "phone"           // a mobile number (channel sms)
	KindEmail        PersonKind = "email"           // an e-mail address (channel email)
)

// Person is the stable key of a data subject in the ledger.
type Person struct {
	Kind PersonKind
	Key  string
}

// ExternalUser returns the person a WeCom external user id names.
func ExternalUser(id string) Person {
	return Person{Kind: KindExternalUser, Key: strings.TrimSpace(id)}
}

// Phone returns the person a mobile number names, normalised: spaces,
// dashes and brackets dropped, and a +86 / 0086 / 86 prefix dropped from a
// mainland mobile number, so that an SMS reply from +8613800138000 finds
// the consent recorded for 138 0013 8000.
func Phone(number string) Person { return Person{Kind: KindPhone, Key: normalizePhone(number)} }

// Email returns the person an e-mail address names, trimmed and lower-cased.
func Email(addr string) Person {
	return Person{Kind: KindEmail, Key: strings.ToLower(strings.TrimSpace(addr))}
}

// String returns "kind:key", the form ParsePerson reads.
func (p Person) String() string { return string(p.Kind) + ":" + p.Key }

// ParsePerson reads "kind:key" (as String writes it) and normalises it.
func ParsePerson(s string) (Person, error) {
	kind, key, ok := strings.Cut(s, ":")
	if !ok {
		return Person{}, kith.Errorf(kith.EINVALID, "consent: person %q must be kind:key, e.g. phone:13800138000", s)
	}
	return Person{Kind: PersonKind(kind), Key: key}.normalize()
}

func normalizePhone(s string) string {
	if phoneKey(s) && (len(s) != 13 || s[0] != '8') && (len(s) != 15 || s[0] != '0') && (len(s) != 14 || s[0] != '+') {
		return s // already plain digits, with no prefix that could be +86
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' || r == '\u00a0' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	for _, prefix := range []string{"+86", "0086", "86"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok && mainlandMobile.MatchString(rest) {
			return rest
		}
	}
	return s
}

var (
	mainlandMobile = regexp.MustCompile(`^1[0-9]{10}$`)
	emailRe        = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// Normalize returns p in its stored form (as the ExternalUser, Phone and
// Email constructors make it), or an EINVALID error saying what is wrong.
func (p Person) Normalize() (Person, error) { return p.normalize() }

// phoneKey reports whether s is an optional + and 5 to 20 digits, the
// form of a stored phone key (checked without a regexp: the gate
// normalises every request's person).
func phoneKey(s string) bool {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	if len(s) < 5 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normalize returns p in its stored form, or an EINVALID error naming the
// person field.
func (p Person) normalize() (Person, error) {
	switch p.Kind {
	case KindExternalUser:
		p = ExternalUser(p.Key)
		if p.Key == "" || len(p.Key) > 128 || strings.IndexFunc(p.Key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return p, kith.Errorf(kith.EINVALID, "consent: person: %q is not a WeCom external user id", p.Key)
		}
	case KindPhone:
		p = Phone(p.Key)
		if !phoneKey(p.Key) {
			return p, kith.Errorf(kith.EINVALID, "consent: person: %q is not a phone number", p.Key)
		}
	case KindEmail:
		p = Email(p.Key)
		if len(p.Key) > 254 || !emailRe.MatchString(p.Key) {
			return p, kith.Errorf(kith.EINVALID, "consent: person: %q is not an e-mail address", p.Key)
		}
	case "":
		return p, kith.Errorf(kith.EINVALID, "consent: person is required (its kind is empty)")
	default:
		return p, kith.Errorf(kith.EINVALID, "consent: person: unknown kind %q; use external_userid, phone or email", p.Kind)
	}
	return p, nil
}

// reaches reports whether an identity of p's kind is reached on ch.
func (p Person) reaches(ch Channel) bool {
	switch p.Kind {
	case KindExternalUser:
		return ch == ChannelWeCom
	case KindPhone:
		return ch == ChannelSMS
	case KindEmail:
		return ch == ChannelEmail
	}
	return false
}
