package sms

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of a rendered SMS (sms-email.md §3.2, §1.9): every character
// counts one, the 【signature】 included; up to 70 is one part, longer
// messages are billed per 67; 500 is the most either provider sends.
const (
	MaxChars     = 500
	singleChars  = 70
	partChars    = 67
	minSignChars = 2
	maxSignChars = 12
)

// optOutRe finds an opt-out instruction in a marketing template: the
// providers' current 拒收请回复R, the older 回T退订 / 回TD退订, or reply STOP.
var optOutRe = regexp.MustCompile(`(?i)退订|拒收|\bSTOP\b|\bUNSUBSCRIBE\b`)

// Template is a text template the provider approved.
type Template struct {
	// ID is the provider's id: Tencent's TemplateId, Aliyun's TemplateCode.
	ID string
	// Text is the approved text with its variables, {1} {2} (Tencent) or
	// ${name} (Aliyun), without the signature.
	Text string
	// Marketing is true for a promotion template (it must carry the
	// opt-out instruction), false for a notification.
	Marketing bool
}

// NewTemplate checks a template: an id, a text without 【】 (the provider
// adds the signature) and, for marketing, an opt-out instruction.
func NewTemplate(id, text string, marketing bool) (Template, error) {
	t := Template{ID: strings.TrimSpace(id), Text: text, Marketing: marketing}
	switch {
	case t.ID == "":
		return t, kith.Errorf(kith.EINVALID, "sms: template: the provider's template id is required")
	case strings.TrimSpace(text) == "":
		return t, kith.Errorf(kith.EINVALID, "sms: template %s: the text is empty", t.ID)
	case strings.ContainsAny(text, "【】"):
		return t, kith.Errorf(kith.EINVALID, "sms: template %s: the text must not contain 【 or 】; the provider adds the 【signature】", t.ID)
	case marketing && !optOutRe.MatchString(text):
		return t, kith.Errorf(kith.EINVALID, "sms: template %s: a marketing template must tell people how to refuse, e.g. end with \"拒收请回复R\" or \"回T退订\"", t.ID)
	case utf8.RuneCountInString(text) > MaxChars:
		return t, kith.Errorf(kith.EINVALID, "sms: template %s: the text has %d characters; at most %d", t.ID, utf8.RuneCountInString(text), MaxChars)
	}
	return t, nil
}

// Param is one template variable and its value.
type Param struct {
	Name  string // "1", "2"… for Tencent; the variable's name for Aliyun
	Value string
}

// Message is one SMS as sent to every recipient of a request: the same
// signature, template and values.
type Message struct {
	Sign     string // the approved signature, without 【】, e.g. 小店
	Template Template
	Params   []Param
	// Session is echoed back by the provider (Tencent SessionContext,
	// Aliyun OutId) and comes back in delivery reports: use the campaign's
	// or the batch's id.
	Session string
}

// Text returns the message as the person reads it: 【signature】 and the
// template with its values filled in.
func (m Message) Text() string {
	text := m.Template.Text
	for _, p := range m.Params {
		text = strings.ReplaceAll(text, "${"+p.Name+"}", p.Value)
		text = strings.ReplaceAll(text, "{"+p.Name+"}", p.Value)
	}
	return "【" + m.Sign + "】" + text
}

// Parts returns how many billed messages Text makes.
func (m Message) Parts() int { return Parts(m.Text()) }

// Parts returns how many billed messages a text makes: 1 up to 70
// characters, else one per 67.
func Parts(text string) int {
	n := utf8.RuneCountInString(text)
	if n <= singleChars {
		return 1
	}
	return (n + partChars - 1) / partChars
}

// Content returns what the gate checks for this message.
func (m Message) Content() gate.Content { return gate.Content{Body: m.Text()} }

// Validate checks the message as the providers would: a signature of 2 to
// 12 characters without 【】, a template, values for every variable with
// no URL in them, and at most 500 characters rendered.
func (m Message) Validate() error {
	n := utf8.RuneCountInString(m.Sign)
	if n < minSignChars || n > maxSignChars || strings.ContainsAny(m.Sign, "【】") {
		return kith.Errorf(kith.EINVALID, "sms: signature %q: it must be 2 to 12 characters, without 【】", m.Sign)
	}
	if _, err := NewTemplate(m.Template.ID, m.Template.Text, m.Template.Marketing); err != nil {
		return err
	}
	for _, p := range m.Params {
		if p.Name == "" {
			return kith.Errorf(kith.EINVALID, "sms: template %s: a value has no variable name", m.Template.ID)
		}
		if strings.Contains(strings.ToLower(p.Value), "http://") || strings.Contains(strings.ToLower(p.Value), "https://") {
			return kith.Errorf(kith.EINVALID, "sms: template %s: variable %s holds a URL; the providers refuse URLs in variables (put it in the template)", m.Template.ID, p.Name)
		}
	}
	text := m.Text()
	if v := unfilled.FindString(text); v != "" {
		return kith.Errorf(kith.EINVALID, "sms: template %s: variable %s has no value", m.Template.ID, v)
	}
	if n := utf8.RuneCountInString(text); n > MaxChars {
		return kith.Errorf(kith.EINVALID, "sms: the message has %d characters with its signature; at most %d", n, MaxChars)
	}
	if len(m.Session) > 500 {
		return kith.Errorf(kith.EINVALID, "sms: the session context is %d bytes; at most 500", len(m.Session))
	}
	return nil
}

var unfilled = regexp.MustCompile(`\$?\{[A-Za-z0-9_]+\}`)
