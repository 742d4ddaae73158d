package email

import (
	"html"
	"regexp"
	"slices"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
)

// CheckVariables refuses a message whose variables are not closed or not
// among allowed (the built-in {{email}}, {{unsubscribe_url}} and
// {{unsubscribe_mailto}} are always allowed): a campaign form is checked
// with it before anything is planned.
func CheckVariables(m Message, allowed ...string) error {
	names, err := variables(m)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			known := append([]string{"email", "unsubscribe_url", "unsubscribe_mailto"}, allowed...)
			return kith.Errorf(kith.EINVALID, "email: {{%s}} is not a variable; use %s", n, "{{"+strings.Join(known, "}}, {{")+"}}")
		}
	}
	return nil
}

var (
	dropBlocks = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	lineBreaks = regexp.MustCompile(`(?i)<\s*(br|/p|/div|/h[1-6]|/li|/tr|hr)\b[^>]*>`)
	anyTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	blankRuns  = regexp.MustCompile(`\n[ \t]*\n(\s*\n)+`)
	spaceRuns  = regexp.MustCompile(`[ \t]+`)
)

// TextFromHTML makes the plain-text part of an HTML-only message: scripts
// and styles dropped, block ends turned into line breaks, tags removed,
// entities decoded ({{variables}} survive).
func TextFromHTML(s string) string {
	s = dropBlocks.ReplaceAllString(s, "")
	s = lineBreaks.ReplaceAllString(s, "\n")
	s = anyTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = spaceRuns.ReplaceAllString(s, " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	s = blankRuns.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")
	return strings.TrimSpace(s)
}

// LabelledSubject returns a marketing subject as a Composer with the
// default label writes it: with "AD " in front unless it starts with an
// advertising label already (Order 38 Art. 13). The gate is shown this
// subject when a campaign is planned.
func LabelledSubject(subject string) string {
	if labelled(subject, "AD") {
		return subject
	}
	return "AD " + subject
}
