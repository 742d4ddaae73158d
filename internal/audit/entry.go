package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// Actor kinds: who acted.
const (
	ActorUser      = "user"      // a signed-in console user; Name is the user name
	ActorToken     = "token"     // an API token; Name is the token's name
	ActorJob       = "job"       // a background job; Name is its kind
	ActorSystem    = "system"    // Kith itself or a command run on the server; Name says which
	ActorAnonymous = "anonymous" // nobody signed in (a failed sign-in)
)

// Actions. An action is lowercase and dotted; these are the ones Kith
// writes, and others of the same shape may be added.
const (
	ActionSignIn             = "auth.sign_in"
	ActionSignInFailed       = "auth.sign_in_failed"
	ActionSignOut            = "auth.sign_out"
	ActionTokenCreate        = "token.create"
	ActionTokenRevoke        = "token.revoke"
	ActionPIIRead            = "pii.read"   // personal data shown in the console or returned by the API
	ActionPIIReveal          = "pii.reveal" // a masked value shown in full
	ActionPIIWrite           = "pii.write"  // personal data changed (a remark, tags)
	ActionExport             = "export"     // personal data leaving Kith in a file
	ActionConsentChange      = "consent.change"
	ActionSettingsChange     = "settings.change"
	ActionSegmentChange      = "segment.change" // a saved segment created, changed or deleted
	ActionGateOverride       = "gate.override_attempt"
	ActionAuditRead          = "audit.read"           // the log itself read in the console or API
	ActionAuditExport        = "audit.export"         // the log itself exported
	ActionAuditChangeAttempt = "audit.change_attempt" // a refused request to edit or delete an entry
)

// ActionTestSend is a provider's test message from the settings page, to
// an address or number the operator typed.
const ActionTestSend = "message.test_send"

// Outcomes.
const (
	OutcomeOK     = "ok"     // done
	OutcomeDenied = "denied" // refused: not allowed
	OutcomeFailed = "failed" // tried and failed (a wrong password, an error)
)

// Genesis is the prev_hash of the first entry: 64 zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Bounds on an entry's fields, in bytes.
const (
	MaxDetail = 2048
	maxAction = 64
	maxType   = 64
	maxText   = 200 // actor, object id, person, purpose
)

// Actor is who did something.
type Actor struct {
	Kind string // ActorUser, ActorToken, ActorJob, ActorSystem or ActorAnonymous
	Name string // user name, token name, job kind; may be empty for anonymous
}

// String names the actor as "kind:name".
func (a Actor) String() string {
	if a.Name == "" {
		return a.Kind
	}
	return a.Kind + ":" + a.Name
}

// Entry is one line of the audit log. Append sets Seq, At, PrevHash and
// Hash; whatever the caller put there is replaced.
type Entry struct {
	Seq        int64
	At         time.Time // UTC, microseconds
	Actor      Actor
	Action     string // e.g. ActionPIIRead
	ObjectType string // e.g. "customer"
	ObjectID   string
	Person     string // pseudonymous id of the data subject, "" if none
	Purpose    string // why, e.g. "customer_service" or a ticket id
	Outcome    string // OutcomeOK, OutcomeDenied or OutcomeFailed
	Detail     string // "" or a JSON object of at most MaxDetail bytes
	PrevHash   string
	Hash       string
}

// hashVersion opens every encoding, so a later format cannot be confused
// with this one.
const hashVersion = "kith.audit.v1"

// timeLayout is how At is written in the encoding and in exports: UTC with
// exactly six fraction digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t as the encoding does.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// Canonical returns the entry's canonical encoding (see the package
// documentation): every field, length-prefixed, in a fixed order.
func (e *Entry) Canonical() []byte {
	fields := [...]string{
		hashVersion, strconv.FormatInt(e.Seq, 10), FormatTime(e.At),
		e.Actor.Kind, e.Actor.Name, e.Action, e.ObjectType, e.ObjectID,
		e.Person, e.Purpose, e.Outcome, e.Detail, e.PrevHash,
	}
	n := 0
	for _, f := range fields {
		n += 8 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// ComputeHash returns the hash the entry's fields give: the lowercase hex
// SHA-256 of Canonical.
func (e *Entry) ComputeHash() string {
	sum := sha256.Sum256(e.Canonical())
	return hex.EncodeToString(sum[:])
}

// MarshalJSON writes the entry as one flat object with the fields named as
// in the database and At as in the encoding, so that a reader can
// recompute the hash from it.
func (e Entry) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Seq        int64  `json:"seq"`
		At         string `json:"at"`
		ActorKind  string `json:"actor_kind"`
		Actor      string `json:"actor"`
		Action     string `json:"action"`
		ObjectType string `json:"object_type"`
		ObjectID   string `json:"object_id"`
		Person     string `json:"person"`
		Purpose    string `json:"purpose"`
		Outcome    string `json:"outcome"`
		Detail     string `json:"detail"`
		PrevHash   string `json:"prev_hash"`
		Hash       string `json:"hash"`
	}{e.Seq, FormatTime(e.At), e.Actor.Kind, e.Actor.Name, e.Action, e.ObjectType, e.ObjectID,
		e.Person, e.Purpose, e.Outcome, e.Detail, e.PrevHash, e.Hash})
}

var actionRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// ValidActorKind reports whether k is one of the actor kinds.
func ValidActorKind(k string) bool {
	switch k {
	case ActorUser, ActorToken, ActorJob, ActorSystem, ActorAnonymous:
		return true
	}
	return false
}

// check validates what a caller gives, with messages that say what to fix.
func (e *Entry) check() error {
	bad := func(format string, args ...any) error {
		return kith.Errorf(kith.EINVALID, "audit entry: "+format, args...)
	}
	if !ValidActorKind(e.Actor.Kind) {
		return bad("actor kind %q is unknown; use user, token, job, system or anonymous", e.Actor.Kind)
	}
	if len(e.Action) > maxAction || !actionRe.MatchString(e.Action) {
		return bad("action %q must be lowercase words joined by dots, such as pii.read (at most %d bytes)", e.Action, maxAction)
	}
	switch e.Outcome {
	case OutcomeOK, OutcomeDenied, OutcomeFailed:
	default:
		return bad("outcome %q is unknown; use ok, denied or failed", e.Outcome)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"actor", e.Actor.Name, maxText}, {"object type", e.ObjectType, maxType}, {"object id", e.ObjectID, maxText},
		{"person", e.Person, maxText}, {"purpose", e.Purpose, maxText},
	} {
		if len(f.value) > f.max {
			return bad("%s is %d bytes long; at most %d", f.name, len(f.value), f.max)
		}
		if !plainText(f.value) {
			return bad("%s must be valid UTF-8 without control characters", f.name)
		}
	}
	if e.Detail != "" {
		if len(e.Detail) > MaxDetail {
			return bad("detail is %d bytes long; at most %d", len(e.Detail), MaxDetail)
		}
		// json.Valid refuses raw control characters in strings, so a NUL
		// (which PostgreSQL cannot store) can only appear escaped.
		if !utf8.ValidString(e.Detail) || !json.Valid([]byte(e.Detail)) || !strings.HasPrefix(strings.TrimSpace(e.Detail), "{") {
			return bad("detail must be a JSON object")
		}
	}
	return nil
}

// plainText reports whether s is valid UTF-8 with no control characters:
// they would not survive PostgreSQL (NUL) or would garble a terminal.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}
