package gate

import (
	"database/sql"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Class says whether a message is commercial or transactional (P-18).
type Class string

// Message classes.
const (
	Service   Class = "service"   // order, delivery, after-sales: no promotional content allowed
	Marketing Class = "marketing" // anything commercial: needs consent, caps, quiet hours
)

// Reason is the machine-readable outcome of a decision.
type Reason string

// Reasons. OK is the only one that allows.
const (
	OK                 Reason = "OK"
	InvalidRequest     Reason = "INVALID_REQUEST"     // a required field is missing or wrong
	NoConsent          Reason = "NO_CONSENT"          // the person never consented
	ConsentWithdrawn   Reason = "CONSENT_WITHDRAWN"   // the person withdrew
	ConsentRefused     Reason = "CONSENT_REFUSED"     // the person said no (opted out)
	ConsentExpired     Reason = "CONSENT_EXPIRED"     // the grant's validity ended
	TypeNotInScope     Reason = "TYPE_NOT_IN_SCOPE"   // the message type is not one the person agreed to
	Suppressed         Reason = "SUPPRESSED"          // erased or on a suppression list
	PromoInService     Reason = "PROMO_IN_SERVICE"    // a service message with promotional content
	MissingOptOut      Reason = "MISSING_OPT_OUT"     // a marketing SMS without an opt-out instruction
	MissingSignature   Reason = "MISSING_SIGNATURE"   // a marketing SMS without 【signature】
	MissingUnsubscribe Reason = "MISSING_UNSUBSCRIBE" // a marketing e-mail without RFC 8058 headers
	MissingADLabel     Reason = "MISSING_AD_LABEL"    // a marketing e-mail whose subject does not start with 广告/AD
	FreqCap            Reason = "FREQ_CAP"            // the merchant's cap is reached
	PlatformCap        Reason = "PLATFORM_CAP"        // the platform's cap is reached
	ConsentFrequency   Reason = "CONSENT_FREQUENCY"   // the frequency the person agreed to is reached
	QuietHours         Reason = "QUIET_HOURS"         // inside quiet hours in the person's zone
	GateError          Reason = "GATE_ERROR"          // the gate could not decide (fail closed)
	PermitMissing      Reason = "PERMIT_MISSING"      // Consume was given the zero Permit
	PermitForged       Reason = "PERMIT_FORGED"       // unknown id or wrong token
	PermitReused       Reason = "PERMIT_REUSED"       // already consumed
	PermitExpired      Reason = "PERMIT_EXPIRED"      // not consumed in time
)

// Content is what a message says, as far as the gate checks it.
type Content struct {
	Subject string            // e-mail subject; empty elsewhere
	Body    string            // the text as the person will read it (SMS with its 【signature】)
	Headers map[string]string // e-mail headers, e.g. List-Unsubscribe
}

// Request asks whether one message may go to one person.
type Request struct {
	Person   consent.Person
	Channel  consent.Channel
	Purpose  consent.Purpose // what consent is needed for; Marketing when empty for marketing class
	Class    Class
	Campaign string // campaign id, or "" for a one-off
	Sender   string // the member or system sending
	// Type is the message type (e.g. "promotion", "new_product",
	// "research"); a marketing message must name one the person's consent
	// declares when the consent lists types (P-22).
	Type     string
	Content  Content
	At       time.Time      // when it would be sent; the gate's clock when zero
	Location *time.Location // the person's zone; DefaultLocation when nil
}

// Decision is the gate's answer to a Request.
type Decision struct {
	ID      string // the decision's id (also the permit's when allowed)
	Allowed bool
	Reason  Reason
	// Message says why in one English sentence; Reason is the key to
	// translate it in the console.
	Message string
	// NotBefore is, for a QUIET_HOURS refusal, the first instant the message
	// may be sent.
	NotBefore time.Time
	// ConsentEventID is the consent event the decision rests on (0 for none).
	ConsentEventID int64
	Permit         Permit // the zero Permit unless Allowed
}

// Refusal is the error Consume and SetPolicy return when they refuse.
type Refusal struct {
	Reason  Reason
	Message string
}

// Error implements error.
func (r *Refusal) Error() string { return "gate: " + string(r.Reason) + ": " + r.Message }

// DefaultLocation is the zone of a person whose zone is unknown.
var DefaultLocation = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// PermitTTL is how long a permit may wait before Consume.
const PermitTTL = 24 * time.Hour

// Gate decides. It is safe for concurrent use. Make one per process and
// share it: it keeps the consent, cap and policy state in memory.
type Gate struct {
	db        *store.DB
	key       []byte
	permitKey []byte
	clock     kith.Clock
	cache     *cache
	stats     *stats

	// group commit of Decide (record.go)
	gmu     sync.Mutex
	open    *group
	writing bool

	stmtMu     sync.Mutex
	insertStmt *sql.Stmt // the INSERT of a gate_batches row, on the writer
}

// New returns the gate of db. suppressionKey is the instance's blind-index
// key (as consent.NewLedger takes it); the permit key is derived from it.
// The gate loads its state at the first decision.
func New(db *store.DB, suppressionKey []byte, clock kith.Clock) *Gate {
	return &Gate{db: db, key: suppressionKey, permitKey: permitKey(suppressionKey), clock: clock, cache: newCache(suppressionKey), stats: newStats()}
}
