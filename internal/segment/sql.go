package segment

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// SQLOptions fix what an expression's days and "now" mean.
type SQLOptions struct {
	// Location is the instance's time zone: a day is midnight to midnight
	// there. Required.
	Location *time.Location
	// Now is the instant consent validity is judged at. Required.
	Now time.Time
}

// SQL returns the reference query for e: the ids of the matching customers,
// in ascending order, as
//
//	SELECT c.id FROM customers c WHERE … ORDER BY c.id
//
// with every value of e passed as an argument ($1, $2, …), never written
// into the text. The text is the same for both dialects today; dialect is
// there for the day it must differ. It is the definition the bitmap index is tested against,
// and what answers when the index is not ready.
//
// Semantics: tag, group, member and channel look at active follows only;
// added is the day of the customer's earliest active follow; a date or
// fact a customer lacks (no active follow, no last order) never matches, so
// "not" (over every customer) does include them; reachable reads
// consent_state as CONTRACTS defines it. Days become instants in Go (the
// start of the day in opts.Location), never through SQL time-zone
// functions.
func SQL(dialect store.Dialect, e Expr, opts SQLOptions) (query string, args []any, err error) {
	if dialect != store.SQLite && dialect != store.Postgres {
		return "", nil, fmt.Errorf("segment: SQL for unknown dialect %q", dialect)
	}
	if opts.Location == nil || opts.Now.IsZero() {
		return "", nil, errors.New("segment: SQL needs a Location and Now")
	}
	if err := Validate(e); err != nil {
		return "", nil, err
	}
	g := &sqlGen{opts: opts}
	g.b.WriteString("SELECT c.id FROM customers c WHERE ")
	g.expr(e)
	g.b.WriteString(" ORDER BY c.id")
	return g.b.String(), g.args, nil
}

type sqlGen struct {
	b    strings.Builder
	args []any
	opts SQLOptions
}

// arg adds a value and returns its placeholder.
func (g *sqlGen) arg(v any) string {
	g.args = append(g.args, v)
	return "$" + strconv.Itoa(len(g.args))
}

// dayStart is the placeholder of the instant day d begins.
func (g *sqlGen) dayStart(d int32) string {
	return g.arg(DayStart(d, g.opts.Location))
}

func (g *sqlGen) expr(e Expr) {
	switch x := e.(type) {
	case *And:
		g.list(x.Terms, " AND ")
	case *Or:
		g.list(x.Terms, " OR ")
	case *Not:
		// Every term's condition is TRUE or FALSE, never NULL, so NOT is
		// the complement over all customers.
		g.b.WriteString("NOT (")
		g.expr(x.X)
		g.b.WriteByte(')')
	case *Term:
		g.term(x)
	}
}

func (g *sqlGen) list(terms []Expr, sep string) {
	g.b.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			g.b.WriteString(sep)
		}
		g.expr(t)
	}
	g.b.WriteByte(')')
}

// Active follows and their tags, for set terms.
const (
	activeFollows = "SELECT f.customer_id FROM follows f WHERE f.status = 'active' AND "
	activeTagged  = "SELECT f.customer_id FROM follows f" +
		" JOIN follow_tags ft ON ft.customer_id = f.customer_id AND ft.member_userid = f.member_userid" +
		" JOIN tags t ON t.tag_id = ft.tag_id"
	// A consent_state row that lets marketing through on a channel.
	marketingAllowed = "s.purpose = 'marketing' AND s.action = 'grant' AND s.suppressed = FALSE"
)

// factColumns maps numeric fields to their columns on customers.
var factColumns = map[Field]string{
	FieldOrders:     "c.order_count",
	FieldSpent30d:   "c.spent_30d_fen",
	FieldSpent90d:   "c.spent_90d_fen",
	FieldSpent365d:  "c.spent_365d_fen",
	FieldSpentTotal: "c.spent_total_fen",
	FieldAOV:        "c.avg_order_fen",
	FieldRefunds:    "c.refund_count",
	FieldRefunded:   "c.refund_fen",
	FieldRFM:        "c.rfm_score",
	FieldRFMR:       "c.rfm_r",
	FieldRFMF:       "c.rfm_f",
	FieldRFMM:       "c.rfm_m",
}

func (g *sqlGen) term(t *Term) {
	b := &g.b
	switch t.Field {
	case FieldTag:
		b.WriteString("c.id IN (" + activeTagged + " WHERE f.status = 'active' AND t.name = " + g.arg(t.Name) + ")")
	case FieldTagGroup:
		b.WriteString("c.id IN (" + activeTagged + " JOIN tag_groups tg ON tg.group_id = t.group_id" +
			" WHERE f.status = 'active' AND tg.name = " + g.arg(t.Name) + ")")
	case FieldMember:
		b.WriteString("c.id IN (" + activeFollows + "f.member_userid = " + g.arg(t.Name) + ")")
	case FieldChannel:
		b.WriteString("c.id IN (" + activeFollows + "f.state = " + g.arg(t.Name) + ")")
	case FieldReachable:
		g.reachable(t.Name)
	case FieldAdded:
		// The earliest active follow's day: a customer without one is in no
		// group, so never matches.
		b.WriteString("c.id IN (SELECT f.customer_id FROM follows f WHERE f.status = 'active'" +
			" GROUP BY f.customer_id HAVING " + g.dayCondition("MIN(f.added_at)", t) + ")")
	case FieldLastOrder:
		// IS NOT NULL first, so a customer without orders gives FALSE, not
		// NULL (which NOT would keep NULL and drop).
		b.WriteString("(c.last_order_at IS NOT NULL AND " + g.dayCondition("c.last_order_at", t) + ")")
	case FieldFirstOrder:
		b.WriteString("(c.first_order_at IS NOT NULL AND " + g.dayCondition("c.first_order_at", t) + ")")
	case FieldSKU:
		b.WriteString("c.id IN (SELECT cs.customer_id FROM customer_skus cs WHERE cs.sku = " + g.arg(t.Name) + ")")
	case FieldCategory:
		b.WriteString("c.id IN (SELECT cs.customer_id FROM customer_skus cs WHERE cs.category = " + g.arg(t.Name) + ")")
	default:
		// The fact columns are NOT NULL: every customer has them.
		b.WriteString(factColumns[t.Field] + " " + sqlOps[t.Op] + " " + g.arg(t.Num))
	}
}

// sqlOps spells the comparisons in SQL.
var sqlOps = map[Op]string{OpEq: "=", OpNe: "<>", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">="}

// dayCondition compares the timestamp expression col with t's days, as
// half-open ranges of instants: "on day d" is [start(d), start(d+1)).
func (g *sqlGen) dayCondition(col string, t *Term) string {
	from, to := t.Day, t.Day // the days [from, to] the operator is about
	if t.Op == OpIs {
		from, to = t.From, t.To
	}
	switch t.Op {
	case OpIs, OpEq:
		return col + " >= " + g.dayStart(from) + " AND " + col + " < " + g.dayStart(to+1)
	case OpNe:
		return "(" + col + " < " + g.dayStart(from) + " OR " + col + " >= " + g.dayStart(to+1) + ")"
	case OpLt:
		return col + " < " + g.dayStart(from)
	case OpLe:
		return col + " < " + g.dayStart(to+1)
	case OpGt:
		return col + " >= " + g.dayStart(to+1)
	}
	return col + " >= " + g.dayStart(from) // OpGe
}

// reachable writes the one definition of reachable:CHANNEL (CONTRACTS.md).
func (g *sqlGen) reachable(channel string) {
	b := &g.b
	switch channel {
	case "wecom":
		b.WriteString("c.external_userid IN (SELECT s.person_key FROM consent_state s" +
			" WHERE s.person_kind = 'external_userid' AND s.channel = 'wecom' AND " + marketingAllowed +
			" AND (s.valid_until IS NULL OR s.valid_until > " + g.arg(g.opts.Now.UTC()) + "))")
	case "sms":
		b.WriteString("c.id IN (SELECT p.customer_id FROM customer_phones p" +
			" JOIN consent_state s ON s.person_index = p.phone_index" +
			" WHERE s.person_kind = 'phone' AND s.channel = 'sms' AND " + marketingAllowed +
			" AND (s.valid_until IS NULL OR s.valid_until > " + g.arg(g.opts.Now.UTC()) + "))")
	default:
		// No customer has an email identity yet: nobody is reachable there.
		b.WriteString("1 = 0")
	}
}

// CountSQL counts e's customers with the reference query, through q: the
// answer while the bitmap index is not built, and `kith segment count --sql`.
func CountSQL(ctx context.Context, q store.Querier, dialect store.Dialect, e Expr, opts SQLOptions) (uint64, error) {
	query, args, err := SQL(dialect, e, opts)
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ("+query+") matched", args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("segment: count: %w", err)
	}
	return n, nil
}
