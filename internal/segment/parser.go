package segment

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Parse reads a segment expression:
//
//	tag:"VIP" and (tag:复购 or spent_90d >= 500) and not channel:"双11直播"
//
// Keywords and field names may be written in any case; full-width
// parentheses, colon and comparison signs are read as their ASCII forms,
// and names may be quoted with "…" or “…”. A mistake returns an *Error
// that says where (the column) and what was expected; an empty expression
// is a mistake, never "all customers". Parse does not know which tags,
// members or channels exist: Check does.
//
// And and or chains are flattened (a and (b and c) is one And of three
// terms), and parentheses around a single condition disappear.
func Parse(src string) (Expr, error) {
	if len(src) > MaxLen {
		return nil, errorf(posAt(src, MaxLen), "the expression is %d bytes long; the limit is %d (4 KiB)", len(src), MaxLen)
	}
	if !utf8.ValidString(src) {
		bad := 0
		for bad < len(src) {
			r, n := utf8.DecodeRuneInString(src[bad:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			bad += n
		}
		return nil, errorf(posAt(src, bad), "the expression is not valid UTF-8 text")
	}
	if strings.TrimFunc(src, unicode.IsSpace) == "" {
		return nil, errorf(Pos{Col: 1}, "the expression is empty; write a condition such as tag:VIP")
	}
	p := &parser{lex: lexer{src: src, col: 1}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		if p.tok.kind == tRParen {
			return nil, errorf(p.tok.at, "this ')' closes nothing")
		}
		return nil, errorf(p.tok.at, "expected and, or or the end, found %s", p.tok.describe())
	}
	return e, nil
}

// MustParse is Parse for expressions known to be right, such as those in
// tests; it panics on a mistake.
func MustParse(src string) Expr {
	e, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return e
}

// posAt returns the position of byte offset off in src.
func posAt(src string, off int) Pos {
	off = min(off, len(src))
	return Pos{Offset: off, Col: utf8.RuneCountInString(src[:off]) + 1}
}

// parser is a recursive-descent parser with one token of look-ahead.
//
//	or      = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" or ")" | term
//	term    = FIELD ":" NAME | FIELD ":" DATE [ ".." DATE ] | FIELD CMP ( NUMBER | DATE )
type parser struct {
	lex lexer
	tok token // the current token
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// isKeyword reports whether a word is one of the keywords and, or, not, in
// any case and width.
func isKeyword(s string) bool {
	s = narrow(s)
	return strings.EqualFold(s, "and") || strings.EqualFold(s, "or") || strings.EqualFold(s, "not")
}

// narrow folds full-width letters, digits and signs (ＴＡＧ, １２．５) to
// ASCII, for the words that are not names: keywords, fields, numbers,
// dates and reachable's channels. Names keep the width they were written in.
func narrow(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return width.Narrow.String(s)
		}
	}
	return s // ASCII already: the common case, without an allocation
}

// atKeyword reports whether the current token is the keyword kw.
func (p *parser) atKeyword(kw string) bool {
	return p.tok.kind == tWord && strings.EqualFold(narrow(p.tok.text), kw)
}

func (p *parser) or(depth int) (Expr, error) {
	return p.chain(depth, "or", p.and)
}

func (p *parser) and(depth int) (Expr, error) {
	return p.chain(depth, "and", p.unary)
}

// chain reads operands joined by the keyword kw into one flat And or Or.
func (p *parser) chain(depth int, kw string, operand func(int) (Expr, error)) (Expr, error) {
	first, err := operand(depth)
	if err != nil {
		return nil, err
	}
	if !p.atKeyword(kw) {
		return first, nil
	}
	var terms []Expr
	add := func(e Expr) {
		// a and (b and c) is a and b and c.
		switch x := e.(type) {
		case *And:
			if kw == "and" {
				terms = append(terms, x.Terms...)
				return
			}
		case *Or:
			if kw == "or" {
				terms = append(terms, x.Terms...)
				return
			}
		}
		terms = append(terms, e)
	}
	add(first)
	for p.atKeyword(kw) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		next, err := operand(depth)
		if err != nil {
			return nil, err
		}
		add(next)
	}
	if kw == "and" {
		return &And{At: first.Position(), Terms: terms}, nil
	}
	return &Or{At: first.Position(), Terms: terms}, nil
}

func (p *parser) deeper(depth int) (int, error) {
	if depth >= MaxDepth {
		return 0, errorf(p.tok.at, "the expression nests parentheses and not more than %d deep", MaxDepth)
	}
	return depth + 1, nil
}

func (p *parser) unary(depth int) (Expr, error) {
	if !p.atKeyword("not") {
		return p.primary(depth)
	}
	at := p.tok.at
	depth, err := p.deeper(depth)
	if err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	return &Not{At: at, X: x}, nil
}

func (p *parser) primary(depth int) (Expr, error) {
	switch {
	case p.tok.kind == tLParen:
		open := p.tok.at
		depth, err := p.deeper(depth)
		if err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.or(depth)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, errorf(p.tok.at, "expected and, or or ')' to close the '(' at column %d, found %s", open.Col, p.tok.describe())
		}
		return x, p.advance()
	case p.tok.kind == tWord && !isKeyword(p.tok.text):
		return p.term()
	}
	return nil, errorf(p.tok.at, "expected a condition (such as tag:VIP), '(' or not, found %s", p.tok.describe())
}

func (p *parser) term() (Expr, error) {
	name := p.tok
	f := Field(strings.ToLower(narrow(name.text)))
	if f.Kind() == 0 {
		if s := suggest(name.text, fieldNames()); s != "" {
			return nil, errorf(name.at, "unknown field '%s'; did you mean %s?", name.text, s)
		}
		return nil, errorf(name.at, "unknown field '%s'; a condition is a field, ':' and a value, like tag:VIP (fields: %s)",
			name.text, strings.Join(fieldNames(), ", "))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tOp {
		want := "':' and a name"
		if f.Kind() != KindSet {
			want = "a comparison (=, !=, <, <=, >, >=)"
		}
		return nil, errorf(p.tok.at, "expected %s after %s, found %s", want, f, p.tok.describe())
	}
	t := &Term{At: name.at, Field: f, Op: Op(p.tok.text)}
	opTok := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch f.Kind() {
	case KindSet:
		return t, p.setValue(t, opTok)
	case KindNumber:
		return t, p.numberValue(t, opTok)
	}
	return t, p.dateValue(t, opTok)
}

func fieldNames() []string {
	names := make([]string, len(Fields))
	for i, f := range Fields {
		names[i] = string(f)
	}
	return names
}

func (p *parser) setValue(t *Term, op token) error {
	if t.Op != OpIs {
		return errorf(op.at, "%s takes ':' and a name, like %s:%s, not '%s'", t.Field, t.Field, example(t.Field), op.text)
	}
	v := p.tok
	switch {
	case v.kind == tWord && isKeyword(v.text):
		return errorf(v.at, "expected a %s name after ':', found the keyword '%s'; if it is the name, quote it: %s:%q", t.Field, v.text, t.Field, v.text)
	case v.kind != tWord && v.kind != tString:
		return errorf(v.at, "expected a %s name after ':', found %s", t.Field, v.describe())
	case v.text == "":
		return errorf(v.at, "the %s name is empty", t.Field)
	}
	t.Name = v.text
	if t.Field == FieldReachable {
		t.Name = strings.ToLower(narrow(v.text))
		if !isReachableChannel(t.Name) {
			return errorf(v.at, "reachable takes wecom, sms or email, not %q", v.text)
		}
	}
	return p.advance()
}

func isReachableChannel(s string) bool {
	for _, c := range ReachableChannels {
		if s == c {
			return true
		}
	}
	return false
}

// example is a value of f for messages.
func example(f Field) string {
	switch f {
	case FieldMember:
		return "zhangsan"
	case FieldChannel:
		return "双11直播"
	case FieldReachable:
		return "wecom"
	case FieldTagGroup:
		return "会员等级"
	case FieldSKU:
		return "SKU123"
	case FieldCategory:
		return "女装"
	}
	return "VIP"
}

func (p *parser) numberValue(t *Term, op token) error {
	if t.Op == OpIs && t.Field == FieldRFM {
		t.Op = OpEq // rfm:555 reads as an RFM segment's name: the score equals 555
	}
	if t.Op == OpIs {
		return errorf(op.at, "%s takes a comparison, like %s >= %s, not ':'", t.Field, t.Field, numberExample(t.Field))
	}
	v := p.tok
	want := "a count such as 3"
	if t.Field.IsAmount() {
		want = "an amount in yuan such as 500 or 99.90 (at most two decimals)"
	}
	if v.kind != tWord {
		return errorf(v.at, "%s wants %s, not %s", t.Field, want, v.describe())
	}
	var ok bool
	if t.Field.IsAmount() {
		t.Num, ok = parseAmount(narrow(v.text))
	} else {
		t.Num, ok = parseCount(narrow(v.text))
	}
	if !ok {
		return errorf(v.at, "%s wants %s, not %s", t.Field, want, v.describe())
	}
	return p.advance()
}

func numberExample(f Field) string {
	switch {
	case f.IsAmount():
		return "500"
	case f == FieldRFM:
		return "444"
	}
	return "3"
}

func (p *parser) dateValue(t *Term, op token) error {
	v := p.tok
	if v.kind != tWord {
		return errorf(v.at, "%s wants a date such as 2026-01-31, not %s", t.Field, v.describe())
	}
	if err := p.advance(); err != nil {
		return err
	}
	text := narrow(v.text)
	// Tolerate spaces around the range's "..": 2026-01-01 .. 2026-01-31.
	if t.Op == OpIs && p.tok.kind == tWord && strings.HasPrefix(narrow(p.tok.text), "..") && !strings.Contains(text, "..") {
		text += narrow(p.tok.text)
		if err := p.advance(); err != nil {
			return err
		}
	}
	if t.Op == OpIs && strings.HasSuffix(text, "..") && p.tok.kind == tWord {
		text += narrow(p.tok.text)
		if err := p.advance(); err != nil {
			return err
		}
	}
	from, to, isRange := strings.Cut(text, "..")
	if isRange && t.Op != OpIs {
		return errorf(op.at, "a range of days takes ':', like %s:2026-01-01..2026-01-31, not '%s'", t.Field, op.text)
	}
	if !isRange {
		to = from
	}
	d1, ok := parseDay(from)
	if !ok {
		return errorf(v.at, "%s wants a date such as 2026-01-31, not '%s'", t.Field, from)
	}
	d2, ok := parseDay(to)
	if !ok {
		return errorf(v.at, "%s wants a range of dates such as 2026-01-01..2026-01-31, not '%s'", t.Field, text)
	}
	if t.Op != OpIs {
		t.Day = d1
		return nil
	}
	if d2 < d1 {
		return errorf(v.at, "the range %s ends before it starts", text)
	}
	t.From, t.To = d1, d2
	return nil
}
