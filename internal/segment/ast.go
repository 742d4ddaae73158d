package segment

// This file is the contract between the language (parser, printer, the
// reference SQL) and the bitmap index: both read the same tree.

// Pos is where a node starts in the expression text.
type Pos struct {
	Offset int // byte offset, 0-based
	Col    int // column in runes (characters), 1-based; what errors show
}

// Expr is a node of a parsed segment expression: *And, *Or, *Not or *Term.
type Expr interface {
	Position() Pos
	expr()
}

// And holds when every one of its terms holds (two or more).
type And struct {
	At    Pos
	Terms []Expr
}

// Or holds when at least one of its terms holds (two or more).
type Or struct {
	At    Pos
	Terms []Expr
}

// Not holds when X does not hold, over all customers.
type Not struct {
	At Pos
	X  Expr
}

// Field is what a term asks about.
type Field string

// Fields. Set fields take Op ":" and a name; numeric and date fields take a
// comparison (or ":" with a range for dates: added:2026-01-01..2026-01-31).
const (
	// Set fields: a customer is in or out.
	FieldTag       Field = "tag"       // has the corp tag of that name (any group) on an active follow
	FieldTagGroup  Field = "group"     // has any tag of the tag group of that name on an active follow
	FieldMember    Field = "member"    // is followed (active) by the member with that userid
	FieldChannel   Field = "channel"   // arrived through the channel whose state is that value (follows.state, active follow)
	FieldReachable Field = "reachable" // marketing consent granted on that channel and not suppressed: wecom, sms, email
	FieldSKU       Field = "sku"       // bought that SKU code (customer_skus: paid, not refunded in full)
	FieldCategory  Field = "category"  // bought a SKU of that category of the merchant's catalogue (customer_skus.category)

	// Numeric facts (columns on customers, filled by the orders work).
	FieldOrders     Field = "orders"      // order count, integer
	FieldSpent30d   Field = "spent_30d"   // amount spent in the last 30 days, yuan with up to 2 decimals (stored in fen)
	FieldSpent90d   Field = "spent_90d"   // … 90 days
	FieldSpent365d  Field = "spent_365d"  // … 365 days
	FieldSpentTotal Field = "spent_total" // … ever
	FieldAOV        Field = "aov"         // average order value (net of refunds), yuan (avg_order_fen)
	FieldRefunds    Field = "refunds"     // purchases with money back, count (refund_count)
	FieldRefunded   Field = "refunded"    // money refunded in total, yuan (refund_fen)
	FieldRFM        Field = "rfm"         // RFM score 100 R + 10 F + M, e.g. 555; 0 without purchases (rfm:555 is rfm = 555)
	FieldRFMR       Field = "rfm_r"       // recency quintile 1–5, 0 without purchases
	FieldRFMF       Field = "rfm_f"       // frequency quintile 1–5
	FieldRFMM       Field = "rfm_m"       // monetary quintile 1–5

	// Date facts, compared as calendar days in the instance's time zone.
	FieldAdded      Field = "added"       // the day of the customer's earliest active follow
	FieldLastOrder  Field = "last_order"  // the day of the customer's last order (customers without orders never match)
	FieldFirstOrder Field = "first_order" // the day of the customer's first order (customers without orders never match)
)

// Op is a term's operator.
type Op string

// Operators.
const (
	OpIs Op = ":"  // set membership, or a date range
	OpEq Op = "="  // numeric/date equality
	OpNe Op = "!=" // numeric/date inequality (customers without the fact do not match)
	OpLt Op = "<"
	OpLe Op = "<="
	OpGt Op = ">"
	OpGe Op = ">="
)

// Term is one condition.
type Term struct {
	At    Pos
	Field Field
	Op    Op
	// Name is the value of a set field (tag name, group name, member
	// userid, channel state, reachable channel), exactly as the operator
	// wrote it once unquoted.
	Name string
	// Num is the value of a numeric field: a count for orders, an amount in
	// fen for spent_*.
	Num int64
	// Day is the value of a date field, and From..To (inclusive) its range
	// for OpIs: days since 1970-01-01 in the instance's time zone.
	Day, From, To int32
}

// Position implements Expr.
func (e *And) Position() Pos  { return e.At }
func (e *Or) Position() Pos   { return e.At }
func (e *Not) Position() Pos  { return e.At }
func (e *Term) Position() Pos { return e.At }

func (*And) expr()  {}
func (*Or) expr()   {}
func (*Not) expr()  {}
func (*Term) expr() {}
