package email

import (
	"bytes"
	"encoding/base64"
	"html"
	"mime"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// Sender says who sends and where refusals go: one per merchant (or list).
type Sender struct {
	From    mail.Address // e.g. "Shop" <news@shop.example>
	ReplyTo string       // optional
	// UnsubscribeURL is the https address of the one-click endpoint, to
	// which the recipient's token is appended (…/u/ + token): it is the
	// List-Unsubscribe URI a mailbox POSTs to (RFC 8058) and the link in
	// the body.
	UnsubscribeURL string
	// UnsubscribeMailto is the address refusals may be sent to (Order 38
	// Art. 14: keep it working at least 30 days after a send).
	UnsubscribeMailto string
	ListID            string // the List-Id value, e.g. "Spring news <spring.shop.example>"; optional
	// ADLabel starts the subject of marketing mail when it does not start
	// with a label already (Order 38 Art. 13); default "AD".
	ADLabel string
	// TokenKey is the instance's unsubscribe-token key
	// (consent.UnsubscribeToken).
	TokenKey []byte
	// FooterText and FooterHTML end a marketing message that does not
	// place {{unsubscribe_url}} itself; they may use the same variables.
	// Defaults say how to unsubscribe by link and by e-mail.
	FooterText string
	FooterHTML string
}

// Default footers of marketing mail.
const (
	DefaultFooterText = "\n\n--\nUnsubscribe: {{unsubscribe_url}}\nOr write to {{unsubscribe_mailto}} to stop these e-mails.\n"
	DefaultFooterHTML = `<hr><p style="font-size:12px;color:#666"><a href="{{unsubscribe_url}}">Unsubscribe</a> · or write to <a href="mailto:{{unsubscribe_mailto}}">{{unsubscribe_mailto}}</a> to stop these e-mails.</p>`
)

// Message is the content of a mailing; {{name}} in Subject, Text and HTML
// is replaced by the recipient's Vars and by the built-in variables
// {{email}}, {{unsubscribe_url}} and {{unsubscribe_mailto}} (escaped in
// HTML).
type Message struct {
	Class   gate.Class // gate.Marketing or gate.Service
	Subject string
	Text    string // the plain-text part (required)
	HTML    string // the HTML part (optional)
}

// Vars are one recipient's values for a Message's variables.
type Vars map[string]string

// Composer renders and signs messages.
type Composer struct {
	s      Sender
	from   string // the From value, encoded once
	dkim   *DKIM
	clock  kith.Clock
	domain string
}

// NewComposer checks s and returns a Composer. dkim may be nil only for
// service mail: marketing mail must be DKIM-signed over its
// List-Unsubscribe headers (RFC 8058 §3.1, P-19).
func NewComposer(s Sender, dkim *DKIM, clock kith.Clock) (*Composer, error) {
	if _, err := mail.ParseAddress(s.From.Address); err != nil || s.From.Address == "" {
		return nil, kith.Errorf(kith.EINVALID, "email: from %q is not an e-mail address", s.From.Address)
	}
	u, err := url.Parse(s.UnsubscribeURL)
	// http is accepted only for this machine (a sandbox or a local demo:
	// mailbox providers never see those links).
	if err != nil || (u.Scheme != "https" && (u.Scheme != "http" || !loopback(u.Hostname()))) || u.Host == "" {
		return nil, kith.Errorf(kith.EINVALID, "email: the unsubscribe URL %q must be an https:// address (RFC 8058)", s.UnsubscribeURL)
	}
	if _, err := mail.ParseAddress(s.UnsubscribeMailto); err != nil {
		return nil, kith.Errorf(kith.EINVALID, "email: the unsubscribe address %q is not an e-mail address", s.UnsubscribeMailto)
	}
	if len(s.TokenKey) < 16 {
		return nil, kith.Errorf(kith.EINVALID, "email: the unsubscribe token key must be at least 16 bytes")
	}
	if strings.ContainsAny(s.ListID+s.ReplyTo, "\r\n") {
		return nil, kith.Errorf(kith.EINVALID, "email: List-Id and Reply-To must be one line")
	}
	if s.ADLabel == "" {
		s.ADLabel = "AD"
	}
	if s.FooterText == "" {
		s.FooterText = DefaultFooterText
	}
	if s.FooterHTML == "" {
		s.FooterHTML = DefaultFooterHTML
	}
	_, domain, _ := strings.Cut(s.From.Address, "@")
	return &Composer{s: s, from: s.From.String(), dkim: dkim, clock: clock, domain: domain}, nil
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check refuses a message the composer cannot send.
func (c *Composer) check(m Message) error {
	switch {
	case m.Class != gate.Marketing && m.Class != gate.Service:
		return kith.Errorf(kith.EINVALID, "email: message class %q is unknown; declare service or marketing", m.Class)
	case strings.TrimSpace(m.Subject) == "" || strings.ContainsAny(m.Subject, "\r\n"):
		return kith.Errorf(kith.EINVALID, "email: the subject must be one non-empty line")
	case strings.TrimSpace(m.Text) == "":
		return kith.Errorf(kith.EINVALID, "email: the plain-text part is empty")
	case m.Class == gate.Marketing && c.dkim == nil:
		return kith.Errorf(kith.EINVALID, "email: marketing mail must be DKIM-signed (RFC 8058); configure a DKIM key")
	}
	return nil
}

// variables returns the names of the variables m uses, other than the
// built-in ones, or an error for a variable that is not closed.
func variables(m Message) ([]string, error) {
	var names []string
	for _, s := range []string{m.Subject, m.Text, m.HTML} {
		for {
			i := strings.Index(s, "{{")
			if i < 0 {
				break
			}
			j := strings.Index(s[i:], "}}")
			if j < 0 {
				return nil, kith.Errorf(kith.EINVALID, "email: %q opens a variable it does not close", s[i:min(len(s), i+20)])
			}
			switch name := strings.TrimSpace(s[i+2 : i+j]); name {
			case "email", "unsubscribe_url", "unsubscribe_mailto":
			default:
				names = append(names, name)
			}
			s = s[i+j+2:]
		}
	}
	return names, nil
}

// checkVars refuses, before any permit is used, values that leave a
// variable of m without a value.
func checkVars(m Message, vars []Vars, n int) error {
	names, err := variables(m)
	if err != nil {
		return err
	}
	if vars != nil && len(vars) != n {
		return kith.Errorf(kith.EINVALID, "email: %d recipients but %d sets of values", n, len(vars))
	}
	if len(names) > 0 && vars == nil && n > 0 {
		return kith.Errorf(kith.EINVALID, "email: the message uses {{%s}} but no values were given", names[0])
	}
	for i, v := range vars {
		for _, name := range names {
			if _, ok := v[name]; !ok {
				return kith.Errorf(kith.EINVALID, "email: recipient %d has no value for {{%s}}", i, name)
			}
		}
	}
	return nil
}

// letter is one recipient's rendering.
type letter struct {
	to       string
	subject  string
	text     string
	html     string
	unsubURL string
	mailto   string
}

// render fills a message in for one person.
func (c *Composer) render(to consent.Person, m Message, v Vars) (letter, error) {
	if err := c.check(m); err != nil {
		return letter{}, err
	}
	if to.Kind != consent.KindEmail {
		return letter{}, kith.Errorf(kith.EINVALID, "email: %s is not an e-mail address", to)
	}
	l := letter{to: to.Key}
	token, err := consent.UnsubscribeToken(c.s.TokenKey, to, consent.ChannelEmail)
	if err != nil {
		return letter{}, err
	}
	l.unsubURL = c.s.UnsubscribeURL + token
	l.mailto = c.s.UnsubscribeMailto
	builtin := func(name string) (string, bool) {
		switch name {
		case "email":
			return to.Key, true
		case "unsubscribe_url":
			return l.unsubURL, true
		case "unsubscribe_mailto":
			return l.mailto, true
		}
		s, ok := v[name]
		return s, ok
	}
	text, html := m.Text, m.HTML
	if m.Class == gate.Marketing {
		if !strings.Contains(text, "{{unsubscribe_url}}") {
			text += c.s.FooterText
		}
		if html != "" && !strings.Contains(html, "{{unsubscribe_url}}") {
			html += c.s.FooterHTML
		}
	}
	if l.subject, err = fill(m.Subject, builtin, false); err != nil {
		return letter{}, err
	}
	if strings.ContainsAny(l.subject, "\r\n") {
		return letter{}, kith.Errorf(kith.EINVALID, "email: a variable put a line break in the subject")
	}
	if m.Class == gate.Marketing && !labelled(l.subject, c.s.ADLabel) {
		l.subject = c.s.ADLabel + " " + l.subject
	}
	if l.text, err = fill(text, builtin, false); err != nil {
		return letter{}, err
	}
	if l.html, err = fill(html, builtin, true); err != nil {
		return letter{}, err
	}
	return l, nil
}

// labelled reports whether a subject starts with an advertising label.
func labelled(subject, label string) bool {
	s := strings.TrimSpace(subject)
	for _, p := range []string{label, "广告", "【广告】", "[广告]", "AD ", "[AD]", "(AD)", "【AD】"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// fill replaces every {{name}} in s; an unknown name is an error.
func fill(s string, value func(string) (string, bool), escape bool) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + 128)
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", kith.Errorf(kith.EINVALID, "email: %q opens a variable it does not close", s[i:min(len(s), i+20)])
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		v, ok := value(name)
		if !ok {
			return "", kith.Errorf(kith.EINVALID, "email: variable {{%s}} has no value", name)
		}
		if escape {
			v = html.EscapeString(v)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+2:]
	}
}

// listUnsubscribe returns the List-Unsubscribe value: the https URI first
// (the one RFC 8058 one-click POSTs to), then the mailto.
func (l letter) listUnsubscribe() string {
	return "<" + l.unsubURL + ">, <mailto:" + l.mailto + "?subject=unsubscribe>"
}

// Content returns what the gate checks of m sent to person to: the subject
// as sent, the plain text, and the List-Unsubscribe headers.
func (c *Composer) Content(to consent.Person, m Message, v Vars) (gate.Content, error) {
	l, err := c.render(to, m, v)
	if err != nil {
		return gate.Content{}, err
	}
	ct := gate.Content{Subject: l.subject, Body: l.text}
	if m.Class == gate.Marketing {
		ct.Headers = map[string]string{"List-Unsubscribe": l.listUnsubscribe(), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
	}
	return ct, nil
}

// rendered is a message ready for the wire: its header and body bytes.
type rendered struct {
	head, body bytes.Buffer
	messageID  string
	fields     []field
}

func (r *rendered) reset() {
	r.head.Reset()
	r.body.Reset()
	r.fields = r.fields[:0]
}

// compose renders m for to into r, signed. id (a permit id) makes the
// Message-ID and the MIME boundary.
func (c *Composer) compose(r *rendered, id string, to consent.Person, m Message, v Vars) error {
	r.reset()
	l, err := c.render(to, m, v)
	if err != nil {
		return err
	}
	// "=_" never occurs in quoted-printable or base64 text, so no part
	// can hold the boundary.
	boundary := "=_kith_" + id
	if l.html != "" {
		r.body.WriteString("--" + boundary + "\r\n")
		writePart(&r.body, "text/plain", l.text)
		r.body.WriteString("--" + boundary + "\r\n")
		writePart(&r.body, "text/html", l.html)
		r.body.WriteString("--" + boundary + "--\r\n")
	} else {
		writeEncoded(&r.body, l.text)
	}
	now := c.clock.Now()
	r.messageID = "<" + id + "@" + c.domain + ">"
	r.add("From", c.from)
	r.add("To", "<"+l.to+">")
	r.add("Subject", encodeSubject(l.subject))
	r.add("Date", now.In(time.UTC).Format(time.RFC1123Z))
	r.add("Message-ID", r.messageID)
	if c.s.ReplyTo != "" {
		r.add("Reply-To", c.s.ReplyTo)
	}
	if m.Class == gate.Marketing {
		r.add("List-Unsubscribe", foldComma(l.listUnsubscribe()))
		r.add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		if c.s.ListID != "" {
			r.add("List-Id", c.s.ListID)
		}
	}
	r.add("MIME-Version", "1.0")
	if l.html != "" {
		r.add("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	} else {
		r.add("Content-Type", "text/plain; charset=utf-8")
		r.add("Content-Transfer-Encoding", transferEncoding(l.text))
	}
	var sig string
	if c.dkim != nil {
		if sig, err = c.dkim.sign(r.fields, r.body.Bytes(), now.Unix()); err != nil {
			return err
		}
	}
	r.head.WriteString(sig)
	for _, f := range r.fields {
		r.head.WriteString(f.raw)
	}
	r.head.WriteString("\r\n")
	return nil
}

func (r *rendered) add(name, value string) {
	r.fields = append(r.fields, field{name: name, raw: name + ": " + value + "\r\n"})
}

// writePart writes a MIME part with its header lines.
func writePart(b *bytes.Buffer, typ, s string) {
	enc := transferEncoding(s)
	b.WriteString("Content-Type: " + typ + "; charset=utf-8\r\nContent-Transfer-Encoding: " + enc + "\r\n\r\n")
	writeIn(b, enc, s)
}

// transferEncoding returns quoted-printable for mostly ASCII text and
// base64 for the rest (Chinese grows threefold in quoted-printable, by a
// third in base64).
func transferEncoding(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	if n*4 <= len(s) {
		return "quoted-printable"
	}
	return "base64"
}

// writeEncoded writes s in its transfer encoding, ending with CRLF.
func writeEncoded(b *bytes.Buffer, s string) { writeIn(b, transferEncoding(s), s) }

// writeIn writes s in the transfer encoding enc, ending with CRLF.
func writeIn(b *bytes.Buffer, enc, s string) {
	if enc == "base64" {
		writeBase64(b, s)
		return
	}
	writeQP(b, s)
	b.WriteString("\r\n")
}

// writeBase64 writes s in base64 lines of 76 characters, each ended by
// CRLF.
func writeBase64(b *bytes.Buffer, s string) {
	const line = 57 // input bytes per 76-character line
	var in [line]byte
	var out [76]byte
	for len(s) > 0 {
		n := copy(in[:], s)
		base64.StdEncoding.Encode(out[:], in[:n])
		b.Write(out[:base64.StdEncoding.EncodedLen(n)])
		b.WriteString("\r\n")
		s = s[n:]
	}
}

// writeQP writes s in quoted-printable, byte for byte as
// mime/quotedprintable's Writer (text mode) does, without its copies: runs
// of literal bytes go to b whole. Lines hold at most 75 characters and a
// soft break; a space or tab that ends a line is encoded.
func writeQP(b *bytes.Buffer, s string) {
	const max = 75 // characters before a soft line break ('=' makes 76)
	col := 0       // characters on the current line
	cr := false    // the last line break was a CR (a CRLF's LF is not a second break)
	b.Grow(len(s) + len(s)/max*3 + 8)
	// trailing encodes the line's last character when it is a space or a
	// tab (checkLastByte).
	trailing := func() {
		if col == 0 {
			return
		}
		last := b.Bytes()[b.Len()-1]
		if last == ' ' || last == '\t' {
			b.Truncate(b.Len() - 1)
			col--
			encode(b, &col, last)
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			i++
			if cr && c == '\n' {
				cr = false
				continue
			}
			cr = c == '\r'
			trailing()
			b.WriteString("\r\n")
			col = 0
		case qpLiteral(c):
			j := i + 1
			for j < len(s) && qpLiteral(s[j]) {
				j++
			}
			for i < j {
				if col == max {
					b.WriteString("=\r\n")
					col = 0
				}
				n := min(max-col, j-i)
				b.WriteString(s[i : i+n])
				col += n
				i += n
			}
			cr = false
		default:
			encode(b, &col, c)
			i++
		}
	}
	trailing()
}

// qpLiteral reports whether quoted-printable writes c as it is (a line
// break aside).
func qpLiteral(c byte) bool { return c >= '!' && c <= '~' && c != '=' || c == ' ' || c == '\t' }

// encode writes c as =XX, after a soft line break when the line has no
// room for it.
func encode(b *bytes.Buffer, col *int, c byte) {
	const hex = "0123456789ABCDEF"
	if *col > 72 {
		b.WriteString("=\r\n")
		*col = 0
	}
	b.WriteByte('=')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0x0f])
	*col += 3
}

// encodeSubject encodes a non-ASCII subject as RFC 2047 words, one per
// folded line.
func encodeSubject(s string) string {
	return strings.ReplaceAll(mime.BEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
}

// foldComma folds a list header after its commas.
func foldComma(s string) string { return strings.ReplaceAll(s, ", ", ",\r\n ") }
