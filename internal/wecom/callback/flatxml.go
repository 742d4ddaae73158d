package callback

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WeCom's callback XML has one fixed shape: an <xml> root whose children
// are leaf elements holding text or a CDATA section, and for customer groups
// one list (<MemChangeList><Item>…</Item></MemChangeList>). scanFlat reads
// exactly that shape several times faster than encoding/xml, without
// allocating for the structure. Anything else (a declaration, a comment,
// an attribute, an entity, a carriage return, a child where a value is
// expected, a malformed tag) makes it give up, and the caller parses the
// document with encoding/xml instead, which then also produces the error for
// bad input. So the fast path never decides what is valid: FuzzFlatXML
// checks that wherever it answers, it answers what encoding/xml does.

// flatVisit receives the leaves of a flat document: the root's child
// elements that hold no element (name, text), and with item set the <Item>
// children of a root child named list (their parent). It returns false to
// make the scan give up.
type flatVisit func(name, text []byte, item bool) bool

// flatScanner reads one document.
type flatScanner struct {
	b      []byte
	i      int
	visit  flatVisit
	leaves map[string]bool // the root children that hold a value
	list   string          // the root child whose <Item> children are a list
	buf    []byte          // joins text that comes in several pieces
}

// scanFlat reads b and reports whether it had the flat shape; if not, the
// visits made so far must be discarded. What follows the root's end tag is
// ignored, as encoding/xml does.
func scanFlat(b []byte, leaves map[string]bool, list string, visit flatVisit) bool {
	s := flatScanner{b: b, visit: visit, leaves: leaves, list: list}
	for s.i < len(b) && isXMLSpace(b[s.i]) {
		s.i++
	}
	if !bytes.HasPrefix(b[s.i:], []byte("<xml>")) {
		return false
	}
	s.i++
	return s.element(0, "")
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func isNameStart(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' }

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// name reads an element name and the '>' after it.
func (s *flatScanner) name() ([]byte, bool) {
	start := s.i
	if s.i >= len(s.b) || !isNameStart(s.b[s.i]) {
		return nil, false
	}
	for s.i < len(s.b) && isNameChar(s.b[s.i]) {
		s.i++
	}
	if s.i >= len(s.b) || s.b[s.i] != '>' {
		return nil, false // an attribute, a space, "/>", or the end
	}
	s.i++
	return s.b[start : s.i-1], true
}

// element reads an element whose '<' was consumed, with its content and end
// tag, at depth (0 for the root); parent is the name of the root child it is
// in, at depth 2.
func (s *flatScanner) element(depth int, parent string) bool {
	name, ok := s.name()
	if !ok {
		return false
	}
	var text []byte
	pieces := 0
	children := false
	for {
		lt := bytes.IndexByte(s.b[s.i:], '<')
		if lt < 0 {
			return false
		}
		if lt > 0 {
			t := s.b[s.i : s.i+lt]
			if !validText(t, false) {
				return false
			}
			text, pieces = s.join(text, pieces, t)
			s.i += lt
		}
		rest := s.b[s.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				return false
			}
			t := rest[9 : 9+end]
			if !validText(t, true) {
				return false
			}
			text, pieces = s.join(text, pieces, t)
			s.i += 9 + end + 3
		case bytes.HasPrefix(rest, []byte("</")):
			s.i += 2
			end, ok := s.name()
			if !ok || !bytes.Equal(end, name) {
				return false
			}
			return s.leave(depth, parent, name, text, children)
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?'):
			return false // a comment, a declaration or a processing instruction
		default:
			s.i++
			children = true
			p := ""
			if depth == 1 && string(name) == s.list {
				p = s.list
			}
			if !s.element(depth+1, p) {
				return false
			}
		}
	}
}

// join appends t to the text of an element; the first piece is used in
// place.
func (s *flatScanner) join(text []byte, pieces int, t []byte) ([]byte, int) {
	switch pieces {
	case 0:
		return t, 1
	case 1:
		s.buf = append(s.buf[:0], text...)
	}
	s.buf = append(s.buf, t...)
	return s.buf, pieces + 1
}

// leave hands a finished element to the visitor.
func (s *flatScanner) leave(depth int, parent string, name, text []byte, children bool) bool {
	switch {
	case depth == 1 && !children:
		return s.visit(name, text, false)
	case depth == 1:
		// A list, or an element no field reads: ignored. A value that holds
		// elements is not the flat shape.
		return !s.leaves[string(name)]
	case depth == 2 && parent != "" && string(name) == "Item":
		if children {
			return false
		}
		return s.visit(name, text, true)
	}
	return true
}

// validText reports whether t is text encoding/xml takes as it is: valid
// UTF-8 of XML characters without a carriage return (which it rewrites),
// and outside CDATA without an entity or "]]>" (which it refuses).
func validText(t []byte, cdata bool) bool {
	for i := 0; i < len(t); {
		c := t[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' || !cdata && c == '&' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(t[i:])
		if r == utf8.RuneError && size == 1 || !(r <= 0xD7FF || 0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0x10FFFF) {
			return false
		}
		i += size
	}
	return cdata || !bytes.Contains(t, []byte("]]>"))
}

// parseInt reads a numeric element as encoding/xml does: empty is 0,
// otherwise the integer between spaces.
func parseInt(text []byte, bits int) (int64, bool) {
	if len(text) == 0 {
		return 0, true
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(text)), 10, bits)
	return n, err == nil
}

// eventLeaves are the elements of an Event that hold a value.
var eventLeaves = map[string]bool{
	"ToUserName": true, "FromUserName": true, "CreateTime": true, "MsgType": true, "Event": true, "ChangeType": true,
	"AgentID": true, "EventKey": true, "MsgId": true, "Content": true, "UserID": true, "ExternalUserID": true,
	"State": true, "WelcomeCode": true, "Source": true, "FailReason": true, "ChatId": true, "UpdateDetail": true,
	"JoinScene": true, "QuitScene": true, "MemChangeCnt": true, "LastMemVer": true, "CurMemVer": true,
	"Id": true, "TagType": true, "StrategyId": true,
}

// envelopeLeaves are the elements of an Envelope.
var envelopeLeaves = map[string]bool{"ToUserName": true, "AgentID": true, "Encrypt": true}

// parseEventFlat parses a flat event document, or reports false.
func parseEventFlat(b []byte) (*Event, bool) {
	e := &Event{XMLName: xml.Name{Local: "xml"}}
	ok := scanFlat(b, eventLeaves, "MemChangeList", func(name, text []byte, item bool) bool {
		if item {
			e.MemChangeList = append(e.MemChangeList, string(text))
			return true
		}
		ok := true
		switch string(name) {
		case "ToUserName":
			e.ToUserName = string(text)
		case "FromUserName":
			e.FromUserName = string(text)
		case "CreateTime":
			e.CreateTime, ok = parseInt(text, 64)
		case "MsgType":
			e.MsgType = string(text)
		case "Event":
			e.Event = string(text)
		case "ChangeType":
			e.ChangeType = string(text)
		case "AgentID":
			e.AgentID, ok = parseInt(text, 64)
		case "EventKey":
			e.EventKey = string(text)
		case "MsgId":
			e.MsgID = string(text)
		case "Content":
			e.Content = string(text)
		case "UserID":
			e.UserID = string(text)
		case "ExternalUserID":
			e.ExternalUserID = string(text)
		case "State":
			e.State = string(text)
		case "WelcomeCode":
			e.WelcomeCode = string(text)
		case "Source":
			e.Source = string(text)
		case "FailReason":
			e.FailReason = string(text)
		case "ChatId":
			e.ChatID = string(text)
		case "UpdateDetail":
			e.UpdateDetail = string(text)
		case "JoinScene":
			e.JoinScene, ok = parseIntField(text)
		case "QuitScene":
			e.QuitScene, ok = parseIntField(text)
		case "MemChangeCnt":
			e.MemChangeCnt, ok = parseIntField(text)
		case "LastMemVer":
			e.LastMemVer = string(text)
		case "CurMemVer":
			e.CurMemVer = string(text)
		case "Id":
			e.ID = string(text)
		case "TagType":
			e.TagType = string(text)
		case "StrategyId":
			e.StrategyID, ok = parseInt(text, 64)
		}
		return ok
	})
	return e, ok
}

// parseIntField reads a numeric element into an int.
func parseIntField(text []byte) (int, bool) {
	n, ok := parseInt(text, strconv.IntSize)
	return int(n), ok
}

// parseEnvelopeFlat parses a flat envelope, or reports false.
func parseEnvelopeFlat(b []byte) (*Envelope, bool) {
	var env Envelope
	ok := scanFlat(b, envelopeLeaves, "", func(name, text []byte, item bool) bool {
		switch string(name) {
		case "ToUserName":
			env.ToUserName = string(text)
		case "AgentID":
			env.AgentID = string(text)
		case "Encrypt":
			env.Encrypt = string(text)
		}
		return true
	})
	return &env, ok
}
