package segment

import (
	"fmt"
	"strconv"
	"strings"
)

// Precedence levels, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
)

// String writes e in its canonical form: lower-case keywords and fields,
// names quoted only when they need it, and/or chains flattened, and only
// the parentheses the meaning needs. Parse(String(e)) is e again (up to
// positions) for every e that Parse returns, and String(Parse(s)) is the
// form a saved segment keeps.
func String(e Expr) string {
	var b strings.Builder
	write(&b, e, precOr)
	return b.String()
}

func write(b *strings.Builder, e Expr, outer int) {
	switch x := e.(type) {
	case *Or:
		writeChain(b, x.Terms, " or ", precOr, outer)
	case *And:
		writeChain(b, x.Terms, " and ", precAnd, outer)
	case *Not:
		b.WriteString("not ")
		write(b, x.X, precNot)
	case *Term:
		b.WriteString(TermString(x))
	}
}

// writeChain writes the terms of an And or Or. A chain nested in a chain
// of the same kind needs no parentheses: it is written flat.
func writeChain(b *strings.Builder, terms []Expr, sep string, prec, outer int) {
	if len(terms) == 1 {
		write(b, terms[0], outer)
		return
	}
	paren := outer > prec || len(terms) == 0
	if paren {
		b.WriteByte('(')
	}
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		write(b, t, prec)
	}
	if paren {
		b.WriteByte(')')
	}
}

// TermString writes one term in its canonical form: tag:VIP,
// spent_90d >= 500, added:2026-01-01..2026-01-31.
func TermString(t *Term) string {
	f := string(t.Field)
	switch t.Field.Kind() {
	case KindNumber:
		if t.Field.IsAmount() {
			return f + " " + string(t.Op) + " " + FormatAmount(t.Num)
		}
		return f + " " + string(t.Op) + " " + strconv.FormatInt(t.Num, 10)
	case KindDate:
		switch {
		case t.Op != OpIs:
			return f + " " + string(t.Op) + " " + FormatDay(t.Day)
		case t.From == t.To:
			return f + ":" + FormatDay(t.From)
		}
		return f + ":" + FormatDay(t.From) + ".." + FormatDay(t.To)
	}
	return f + ":" + QuoteName(t.Name)
}

// QuoteName returns name as an expression writes it: bare when it is made
// of letters, digits and _ - . @ only and is not a keyword, otherwise in
// double quotes with \" and \\ escaped.
func QuoteName(name string) string {
	bare := name != "" && !isKeyword(name)
	for _, r := range name {
		if !isWordRune(r) {
			bare = false
			break
		}
	}
	if bare {
		return name
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// Equal reports whether a and b are the same tree, whatever their
// positions.
func Equal(a, b Expr) bool {
	switch x := a.(type) {
	case *And:
		y, ok := b.(*And)
		return ok && equalList(x.Terms, y.Terms)
	case *Or:
		y, ok := b.(*Or)
		return ok && equalList(x.Terms, y.Terms)
	case *Not:
		y, ok := b.(*Not)
		return ok && Equal(x.X, y.X)
	case *Term:
		y, ok := b.(*Term)
		if !ok {
			return false
		}
		u, v := *x, *y
		u.At, v.At = Pos{}, Pos{}
		return u == v
	}
	return a == nil && b == nil
}

func equalList(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Explain writes e as an indented tree, one node a line, each term with
// what it means, for `kith segment explain`:
//
//	and: all of
//	  tag:VIP  has the tag "VIP" (in any group) on an active follow
//	  not: all customers except
//	    channel:双11直播  arrived through the channel "双11直播" (state of an active follow)
func Explain(e Expr) string {
	var b strings.Builder
	explain(&b, e, 0)
	return b.String()
}

func explain(b *strings.Builder, e Expr, depth int) {
	indent := strings.Repeat("  ", depth)
	switch x := e.(type) {
	case *And:
		b.WriteString(indent + "and: all of\n")
		for _, t := range x.Terms {
			explain(b, t, depth+1)
		}
	case *Or:
		b.WriteString(indent + "or: any of\n")
		for _, t := range x.Terms {
			explain(b, t, depth+1)
		}
	case *Not:
		b.WriteString(indent + "not: all customers except\n")
		explain(b, x.X, depth+1)
	case *Term:
		b.WriteString(indent + TermString(x) + "  " + Meaning(x) + "\n")
	}
}

// opWords says an operator in words.
var opWords = map[Op]string{OpEq: "=", OpNe: "≠", OpLt: "<", OpLe: "≤", OpGt: ">", OpGe: "≥"}

// Meaning says in a sentence which customers t matches.
func Meaning(t *Term) string {
	switch t.Field {
	case FieldTag:
		return fmt.Sprintf("has the tag %q (in any group) on an active follow", t.Name)
	case FieldTagGroup:
		return fmt.Sprintf("has a tag of the group %q on an active follow", t.Name)
	case FieldMember:
		return fmt.Sprintf("is followed by the member %q (active follow)", t.Name)
	case FieldChannel:
		return fmt.Sprintf("arrived through the channel %q (state of an active follow)", t.Name)
	case FieldReachable:
		if t.Name == "email" {
			return "may be sent marketing by email (no customer has an email identity yet: matches nobody)"
		}
		return fmt.Sprintf("may be sent marketing on %s: consent granted, not expired, not suppressed", t.Name)
	case FieldOrders:
		return fmt.Sprintf("order count %s %d", opWords[t.Op], t.Num)
	case FieldSpent30d, FieldSpent90d, FieldSpent365d:
		days := strings.TrimSuffix(strings.TrimPrefix(string(t.Field), "spent_"), "d")
		return fmt.Sprintf("spent in the last %s days %s ¥%s", days, opWords[t.Op], FormatAmount(t.Num))
	case FieldSpentTotal:
		return fmt.Sprintf("spent in total %s ¥%s", opWords[t.Op], FormatAmount(t.Num))
	case FieldAdded:
		return "the earliest active follow was added " + dayWords(t) + " (no active follow: never matches)"
	case FieldLastOrder:
		return "the last order was " + dayWords(t) + " (no orders: never matches)"
	}
	if m := factMeaning(t); m != "" {
		return m
	}
	return "unknown field " + string(t.Field)
}

func dayWords(t *Term) string {
	switch {
	case t.Op == OpIs && t.From == t.To:
		return "on " + FormatDay(t.From)
	case t.Op == OpIs:
		return "from " + FormatDay(t.From) + " to " + FormatDay(t.To) + " inclusive"
	}
	return "on a day " + opWords[t.Op] + " " + FormatDay(t.Day)
}
