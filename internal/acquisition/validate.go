package acquisition

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// Known says which members and tags exist, for validation.
type Known struct {
	// Members maps a member's userid to whether the member may be put on a
	// code (in the address book, not left).
	Members map[string]bool
	Tags    map[string]bool
}

func invalid(field, format string, args ...any) error {
	return kith.Errorf(kith.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// Validate checks a channel's fields against WeCom's limits and Kith's
// rules. The error's message starts with the field it is about.
func Validate(ch *Channel, known Known) error {
	switch ch.Kind {
	case KindCode, KindLink:
	default:
		return invalid("kind", "%q is not a channel kind; use code or link", ch.Kind)
	}
	name := strings.TrimSpace(ch.Name)
	if name == "" {
		return invalid("name", "a channel needs a name")
	}
	if n := utf8.RuneCountInString(name); n > MaxNameChars {
		return invalid("name", "%d characters; WeCom allows at most %d", n, MaxNameChars)
	}
	if n := utf8.RuneCountInString(ch.Group); n > MaxGroupChars {
		return invalid("group", "%d characters; at most %d", n, MaxGroupChars)
	}
	if err := validState(ch.Kind, ch.State); err != nil {
		return err
	}
	if ch.DailyCap < 0 {
		return invalid("daily_cap", "%d is below zero; use 0 for no cap", ch.DailyCap)
	}
	if err := validMembers(ch.Spec, known); err != nil {
		return err
	}
	if err := validShifts(ch.Shifts); err != nil {
		return err
	}
	for i, id := range ch.Tags {
		if !known.Tags[id] {
			return invalid("tags", "tag %d (%q) is not a corp tag of this company; refresh the tags or pick another", i+1, id)
		}
	}
	if ch.Welcome != nil {
		return ValidateWelcome("welcome", ch.Welcome)
	}
	return nil
}

func validState(kind Kind, state string) error {
	if state == "" {
		return nil // generated
	}
	if strings.TrimSpace(state) != state || strings.ContainsAny(state, "\r\n\t") {
		return invalid("state", "no spaces around it and no line breaks")
	}
	if kind == KindLink {
		if len(state) > MaxLinkStateBytes {
			return invalid("state", "%d bytes; a link's customer_channel has at most %d", len(state), MaxLinkStateBytes)
		}
		return nil
	}
	if n := utf8.RuneCountInString(state); n > MaxCodeStateChars {
		return invalid("state", "%d characters; WeCom allows at most %d", n, MaxCodeStateChars)
	}
	return nil
}

func validMembers(s Spec, known Known) error {
	all := s.AllMembers()
	if len(all) == 0 {
		return invalid("members", "a channel needs at least one member (always on, in a shift or a backup)")
	}
	if len(all) > MaxMembers {
		return invalid("members", "%d members; WeCom allows at most %d on one code", len(all), MaxMembers)
	}
	check := func(field string, ids []string) error {
		seen := map[string]bool{}
		for _, id := range ids {
			if !known.Members[id] {
				return invalid(field, "%q is not a member who can receive customers (unknown, or left the company)", id)
			}
			if seen[id] {
				return invalid(field, "%q is listed twice", id)
			}
			seen[id] = true
		}
		return nil
	}
	if err := check("members", s.Members); err != nil {
		return err
	}
	for i, sh := range s.Shifts {
		if err := check(fmt.Sprintf("shifts[%d].members", i+1), sh.Members); err != nil {
			return err
		}
	}
	return check("backups", s.Backups)
}

func validShifts(shifts []Shift) error {
	for i, sh := range shifts {
		field := fmt.Sprintf("shifts[%d]", i+1)
		if len(sh.Days) == 0 {
			return invalid(field, "a shift needs at least one weekday")
		}
		for _, d := range sh.Days {
			if d < time.Sunday || d > time.Saturday {
				return invalid(field, "weekday %d is not 0 (Sunday) to 6 (Saturday)", d)
			}
		}
		if sh.From < 0 || sh.To > 24*60 || sh.From >= sh.To {
			return invalid(field, "the window %s–%s is empty or outside the day; it must start before it ends, within 00:00–24:00", HHMM(sh.From), HHMM(sh.To))
		}
		if len(sh.Members) == 0 {
			return invalid(field+".members", "a shift needs at least one member")
		}
		for j := range i {
			other := shifts[j]
			if d, ok := sharedDay(sh.Days, other.Days); ok && sh.From < other.To && other.From < sh.To {
				return invalid(field, "%s %s–%s overlaps shifts[%d] (%s–%s); windows must not overlap",
					d, HHMM(sh.From), HHMM(sh.To), j+1, HHMM(other.From), HHMM(other.To))
			}
		}
	}
	return nil
}

func sharedDay(a, b []time.Weekday) (time.Weekday, bool) {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return x, true
			}
		}
	}
	return 0, false
}

// HHMM formats minutes after midnight as 15:04 (24:00 for the day's end).
func HHMM(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParseHHMM reads 15:04 (or 24:00) as minutes after midnight.
func ParseHHMM(s string) (int, error) {
	bad := fmt.Errorf("%q is not a time like 09:30", s)
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, bad
	}
	return h*60 + m, nil
}

// ValidateWelcome checks a welcome message against send_welcome_msg's
// limits; field names the message in errors.
func ValidateWelcome(field string, w *Welcome) error {
	if w.Empty() {
		return invalid(field, "the message is empty")
	}
	size := len(w.Text) + strings.Count(w.Text, NamePlaceholder)*(placeholderReserve-len(NamePlaceholder))
	if size > MaxWelcomeBytes {
		return invalid(field+".text", "%d bytes (each %s counts as %d); WeCom allows at most %d", size, NamePlaceholder, placeholderReserve, MaxWelcomeBytes)
	}
	if len(w.Attachments) > MaxAttachments {
		return invalid(field+".attachments", "%d attachments; WeCom allows at most %d", len(w.Attachments), MaxAttachments)
	}
	for i, a := range w.Attachments {
		f := fmt.Sprintf("%s.attachments[%d]", field, i+1)
		switch a.Type {
		case AttachImage:
			if a.PicURL == "" && a.MediaID == "" {
				return invalid(f, "an image needs its pic_url (from the image upload) or a media_id")
			}
		case AttachLink:
			if a.Title == "" {
				return invalid(f+".title", "a link needs a title")
			}
			if len(a.Title) > 128 {
				return invalid(f+".title", "%d bytes; WeCom allows at most 128", len(a.Title))
			}
			if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return invalid(f+".url", "%q is not an http(s) address", a.URL)
			}
			if len(a.Desc) > 512 {
				return invalid(f+".desc", "%d bytes; WeCom allows at most 512", len(a.Desc))
			}
		case AttachMiniProgram:
			if a.Title == "" || a.AppID == "" || a.Page == "" || a.MediaID == "" {
				return invalid(f, "a mini program needs title, appid, page and the cover's media_id")
			}
			if len(a.Title) > 64 {
				return invalid(f+".title", "%d bytes; WeCom allows at most 64", len(a.Title))
			}
		default:
			return invalid(f+".type", "%q is not image, link or miniprogram", a.Type)
		}
	}
	return nil
}

// Render returns the welcome text for a customer: {name} becomes name, and
// the result is cut (at a character boundary) to WeCom's limit.
func Render(text, name string) string {
	out := strings.ReplaceAll(text, NamePlaceholder, name)
	if len(out) <= MaxWelcomeBytes {
		return out
	}
	cut := MaxWelcomeBytes
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut]
}
