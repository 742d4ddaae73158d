package segment

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind is the kind of a lexical token.
type tokenKind int

const (
	tEOF    tokenKind = iota
	tWord             // a bare word: field, keyword, name, number, date
	tString           // a quoted name, unquoted
	tLParen           // (
	tRParen           // )
	tOp               // : = != < <= > >=
)

// token is one lexical token; text is the word, the unquoted string or the
// operator (always in its ASCII form).
type token struct {
	kind tokenKind
	text string
	at   Pos
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return strconv.Quote(t.text)
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	}
	return "'" + t.text + "'"
}

// fullWidth maps the full-width punctuation a Chinese input method types to
// its ASCII form.
var fullWidth = map[rune]rune{
	'（': '(', '）': ')', '：': ':', '＝': '=', '＜': '<', '＞': '>', '！': '!',
	'．': '.', '－': '-', '＿': '_', '＠': '@',
}

// closingQuote maps each opening quote to the quote that closes it.
var closingQuote = map[rune]rune{'"': '"', '＂': '＂', '“': '”'}

// isWordRune reports whether r may appear in a bare word. Everything else in
// a name needs quotes.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) ||
		r == '_' || r == '-' || r == '.' || r == '@'
}

// lexer splits an expression into tokens, one at a time.
type lexer struct {
	src string
	off int // byte offset of the next rune
	col int // its column, 1-based
}

func (l *lexer) pos() Pos { return Pos{Offset: l.off, Col: l.col} }

// peekRune returns the next rune, normalised, and its width in bytes; 0 and
// 0 at the end.
func (l *lexer) peekRune() (rune, int) {
	if l.off >= len(l.src) {
		return 0, 0
	}
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	if a, ok := fullWidth[r]; ok {
		r = a
	}
	return r, n
}

func (l *lexer) advance(n int) {
	l.off += n
	l.col++
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	for {
		r, n := l.peekRune()
		if n == 0 || !unicode.IsSpace(r) {
			break
		}
		l.advance(n)
	}
	at := l.pos()
	r, n := l.peekRune()
	switch {
	case n == 0:
		return token{kind: tEOF, at: at}, nil
	case r == '(':
		l.advance(n)
		return token{kind: tLParen, text: "(", at: at}, nil
	case r == ')':
		l.advance(n)
		return token{kind: tRParen, text: ")", at: at}, nil
	case r == ':' || r == '=':
		l.advance(n)
		return token{kind: tOp, text: string(r), at: at}, nil
	case r == '<' || r == '>' || r == '!':
		l.advance(n)
		if r2, n2 := l.peekRune(); r2 == '=' {
			l.advance(n2)
			return token{kind: tOp, text: string(r) + "=", at: at}, nil
		}
		if r == '!' {
			return token{}, errorf(at, "expected '!=', found '!' alone; write not before a condition to negate it")
		}
		return token{kind: tOp, text: string(r), at: at}, nil
	case closingQuote[r] != 0:
		return l.quoted(at, r, n)
	case isWordRune(r):
		for {
			r, n := l.peekRune()
			if n == 0 || !isWordRune(r) {
				break
			}
			l.advance(n)
		}
		return token{kind: tWord, text: l.src[at.Offset:l.off], at: at}, nil
	}
	return token{}, errorf(at, "unexpected character %q; put names that contain it in quotes, like tag:\"50%%off\"", r)
}

// quoted reads a name in quotes, which may contain \" and \\.
func (l *lexer) quoted(at Pos, open rune, n int) (token, error) {
	closing := closingQuote[open]
	l.advance(n)
	var b strings.Builder
	for {
		p := l.pos()
		// Inside quotes every rune is itself: no full-width folding.
		r, n := utf8.DecodeRuneInString(l.src[l.off:])
		switch {
		case l.off >= len(l.src):
			return token{}, errorf(at, "this quoted name has no closing %c", closing)
		case r == closing:
			l.advance(n)
			return token{kind: tString, text: b.String(), at: at}, nil
		case r == '\\':
			l.advance(n)
			e, n := utf8.DecodeRuneInString(l.src[l.off:])
			if e != '\\' && closingQuote[e] == 0 && e != '”' {
				return token{}, errorf(p, `unknown escape; inside quotes write \" for a quote and \\ for a backslash`)
			}
			b.WriteRune(e)
			l.advance(n)
		case unicode.IsControl(r):
			return token{}, errorf(p, "a name cannot contain a control character (%U)", r)
		default:
			b.WriteString(l.src[l.off : l.off+n])
			l.advance(n)
		}
	}
}
