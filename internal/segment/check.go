package segment

import (
	"slices"
	"strings"
	"unicode"
)

// Catalog knows which names exist for the set fields whose values are the
// merchant's own: tags, tag groups, members and channels. (reachable's
// channels are fixed and checked by Parse.)
type Catalog interface {
	// Has reports whether name exists for f.
	Has(f Field, name string) bool
	// Names lists f's names, for suggestions.
	Names(f Field) []string
}

// Check reports the first name in e (in the order it is written) that the
// catalog does not have, as an *Error at its term with the closest known
// name as a suggestion. A segment with an unknown tag would silently match
// nobody; a typo deserves an answer instead.
func Check(e Expr, c Catalog) error {
	var err error
	Walk(e, func(t *Term) bool {
		if !catalogued(t.Field) || c.Has(t.Field, t.Name) {
			return true
		}
		msg := "unknown " + fieldNoun(t.Field) + " " + QuoteName(t.Name)
		if s := suggest(t.Name, c.Names(t.Field)); s != "" {
			msg += "; did you mean " + string(t.Field) + ":" + QuoteName(s) + "?"
		}
		err = &Error{Pos: t.At, Msg: msg}
		return false
	})
	return err
}

// catalogued reports whether f's names come from a Catalog.
func catalogued(f Field) bool {
	return f == FieldTag || f == FieldTagGroup || f == FieldMember || f == FieldChannel || f == FieldSKU || f == FieldCategory
}

func fieldNoun(f Field) string {
	switch f {
	case FieldTagGroup:
		return "tag group"
	case FieldSKU:
		return "SKU"
	}
	return string(f)
}

// Walk calls fn for each term of e in the order they are written, until fn
// returns false.
func Walk(e Expr, fn func(*Term) bool) bool {
	switch x := e.(type) {
	case *And:
		for _, t := range x.Terms {
			if !Walk(t, fn) {
				return false
			}
		}
	case *Or:
		for _, t := range x.Terms {
			if !Walk(t, fn) {
				return false
			}
		}
	case *Not:
		return Walk(x.X, fn)
	case *Term:
		return fn(x)
	}
	return true
}

// MapCatalog is a Catalog held in memory.
type MapCatalog map[Field]map[string]bool

// Add records names for f.
func (m MapCatalog) Add(f Field, names ...string) {
	if m[f] == nil {
		m[f] = map[string]bool{}
	}
	for _, n := range names {
		m[f][n] = true
	}
}

// Has implements Catalog.
func (m MapCatalog) Has(f Field, name string) bool { return m[f][name] }

// Names implements Catalog; the names are sorted.
func (m MapCatalog) Names(f Field) []string {
	names := make([]string, 0, len(m[f]))
	for n := range m[f] {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// suggest returns the candidate closest to s by edit distance over
// characters (so 复购 and 复购客 are one apart), ignoring case, when it is
// close enough to be a likely typo; "" otherwise. Ties go to the first
// candidate in sorted order.
func suggest(s string, candidates []string) string {
	want := []rune(strings.ToLower(s))
	best, bestDist := "", -1
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	for _, c := range sorted {
		have := []rune(strings.ToLower(c))
		d := editDistance(want, have)
		// Allow about one mistake in three characters, at least one, and
		// never a candidate that shares nothing with s.
		limit := max(1, (max(len(want), len(have))+1)/3)
		if d > limit || d >= max(len(want), len(have)) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counting a
// transposition of neighbours as one edit (VPI → VIP).
func editDistance(a, b []rune) int {
	if len(a) > 256 || len(b) > 256 {
		// Long names are not typos of each other worth the quadratic cost.
		if slices.Equal(a, b) {
			return 0
		}
		return max(len(a), len(b))
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Validate checks a tree built in Go rather than parsed: And and Or with
// two or more terms, known fields with operators and values of their kind,
// names without control characters, days in years 1000 to 9999, and no
// deeper than the parser allows. Parse never returns a tree that fails it.
func Validate(e Expr) error {
	return validate(e, 1)
}

// maxTreeDepth is the deepest tree Validate accepts (levels of nodes).
const maxTreeDepth = 2*MaxDepth + 3

func validate(e Expr, depth int) error {
	// Each parenthesis the parser allows can hold an or of ands, so a
	// parsed tree is at most about twice MaxDepth levels deep.
	if depth > maxTreeDepth {
		return errorf(e.Position(), "the expression nests more than %d deep", MaxDepth)
	}
	switch x := e.(type) {
	case *And:
		return validateList(x.At, x.Terms, depth)
	case *Or:
		return validateList(x.At, x.Terms, depth)
	case *Not:
		if x.X == nil {
			return errorf(x.At, "not has no condition")
		}
		return validate(x.X, depth+1)
	case *Term:
		return validateTerm(x)
	case nil:
		return errorf(Pos{Col: 1}, "the expression is empty")
	}
	return errorf(e.Position(), "unknown node %T", e)
}

func validateList(at Pos, terms []Expr, depth int) error {
	if len(terms) < 2 {
		return errorf(at, "and/or needs two or more conditions, has %d", len(terms))
	}
	for _, t := range terms {
		if t == nil {
			return errorf(at, "and/or has an empty condition")
		}
		if err := validate(t, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func validateTerm(t *Term) error {
	switch t.Field.Kind() {
	case KindSet:
		switch {
		case t.Op != OpIs:
			return errorf(t.At, "%s takes ':', not '%s'", t.Field, t.Op)
		case t.Name == "":
			return errorf(t.At, "the %s name is empty", fieldNoun(t.Field))
		case strings.IndexFunc(t.Name, unicode.IsControl) >= 0:
			return errorf(t.At, "a name cannot contain a control character")
		case t.Field == FieldReachable && !isReachableChannel(t.Name):
			return errorf(t.At, "reachable takes wecom, sms or email, not %q", t.Name)
		}
	case KindNumber:
		if !isComparison(t.Op) {
			return errorf(t.At, "%s takes a comparison, not '%s'", t.Field, t.Op)
		}
		if !t.Field.IsAmount() && (t.Num < 0 || t.Num > maxCount) {
			return errorf(t.At, "%s wants a count from 0 to %d", t.Field, maxCount)
		}
		if t.Field.IsAmount() && (t.Num <= -maxFen || t.Num >= maxFen) {
			return errorf(t.At, "%s wants an amount of at most 15 digits of yuan", t.Field)
		}
	case KindDate:
		switch {
		case t.Op == OpIs && (t.From < minDay || t.To > maxDay || t.From > t.To):
			return errorf(t.At, "%s wants a range of days from 1000-01-01 to 9999-12-31, first day first", t.Field)
		case t.Op != OpIs && !isComparison(t.Op):
			return errorf(t.At, "%s takes ':' or a comparison, not '%s'", t.Field, t.Op)
		case t.Op != OpIs && (t.Day < minDay || t.Day > maxDay):
			return errorf(t.At, "%s wants a day from 1000-01-01 to 9999-12-31", t.Field)
		}
	default:
		return errorf(t.At, "unknown field %q", t.Field)
	}
	return nil
}

func isComparison(op Op) bool {
	switch op {
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		return true
	}
	return false
}
