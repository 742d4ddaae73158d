package consent

import (
	"time"
)

// Purpose is what consent is given for. One event is about one purpose.
type Purpose string

// The purposes Kith knows (seeded by migration 00007). More may be added to
// consent_purposes; Record accepts any purpose the table holds.
const (
	// Service covers order and after-sales messages.
	Service Purpose = "service"
	// Marketing covers promotions, new products and member offers.
	Marketing Purpose = "marketing"
	// Archive covers archiving WeCom conversations; it needs separate
	// consent (单独同意, P-12).
	Archive Purpose = "archive"
	// Profiling covers personalised segments built from purchases and
	// behaviour.
	Profiling Purpose = "profiling"
)

// Channel is how a person is reached.
type Channel string

// The channels consent is recorded for.
const (
	ChannelWeCom Channel = "wecom"
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
)

// Channels lists every channel.
var Channels = []Channel{ChannelWeCom, ChannelSMS, ChannelEmail}

func (c Channel) valid() bool { return c == ChannelWeCom || c == ChannelSMS || c == ChannelEmail }

// Action is what a person did.
type Action string

// Actions.
const (
	Grant    Action = "grant"    // gave consent
	Withdraw Action = "withdraw" // took consent back
	Refuse   Action = "refuse"   // said no (or opted out) without having consented
)

func (a Action) valid() bool { return a == Grant || a == Withdraw || a == Refuse }

// Source says how an event reached Kith.
type Source string

// Sources.
const (
	SourceCustomer        Source = "customer"         // the person's own action (a form, a button, a reply to a consent request)
	SourceImport          Source = "import"           // a list imported with its provenance (P-15)
	SourceOptOutReply     Source = "opt_out_reply"    // an SMS (or WeCom) reply with an opt-out keyword
	SourceOneClick        Source = "one_click"        // an RFC 8058 one-click unsubscribe POST
	SourceUnsubscribeLink Source = "unsubscribe_link" // the unsubscribe link in a message, confirmed on its page
	SourceMemberDeleted   Source = "member_deleted"   // a WeCom customer deleted the member (del_follow_user)
	SourceConsole         Source = "console"          // an operator or agent on the person's behalf (assisted)
	SourceAPI             Source = "api"              // the merchant's own system through Kith's API
)

func (s Source) valid() bool {
	switch s {
	case SourceCustomer, SourceImport, SourceOptOutReply, SourceOneClick, SourceUnsubscribeLink,
		SourceMemberDeleted, SourceConsole, SourceAPI:
		return true
	}
	return false
}

// grantSource reports whether a grant may come from s: an opt-out or a
// deleted member never grants anything.
func (s Source) grantSource() bool {
	return s == SourceCustomer || s == SourceImport || s == SourceConsole || s == SourceAPI
}

// Evidence says what the person saw and did: a flat JSON object of strings,
// at most MaxEvidenceBytes when encoded. Use the Evidence… keys where they
// fit; any other lower-case key is kept as given.
type Evidence map[string]string

// MaxEvidenceBytes bounds the encoded evidence of one event.
const MaxEvidenceBytes = 2048

// Evidence keys with a meaning Record knows.
const (
	EvidenceMessageID    = "message_id"       // the inbound message (SMS MO id, WeCom msgid) in which the person answered
	EvidenceText         = "text"             // the raw text the person sent
	EvidenceURL          = "url"              // the page the person acted on
	EvidenceNotice       = "notice"           // how the notice was shown (screen, message template id)
	EvidenceIP           = "ip"               // where a web action came from
	EvidenceUserAgent    = "user_agent"       // the browser of a web action
	EvidenceProvenance   = "provenance"       // an import: the system the list came from (P-15)
	EvidenceBatch        = "batch"            // an import: the batch id
	EvidenceCollectedAt  = "collected_at"     // an import: when the source collected the consent
	EvidenceAttachment   = "attachment"       // a console entry: the stored proof (screenshot, recording) of the person's words
	EvidenceMember       = "member"           // the WeCom member involved
	EvidenceInboundEvent = "inbound_event_id" // the stored inbound event that carried the action
	EvidenceNote         = "note"             // free text
)

// Scope is what a grant covers beyond purpose and channel (P-22): the
// message types, a frequency the person accepted, and an end.
type Scope struct {
	Types      []string   `json:"types,omitempty"`
	MaxPerWeek int        `json:"max_per_week,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"` // the grant reads as expired after this instant
}

// Event is one consent event.
type Event struct {
	ID       int64 // set by the database
	Person   Person
	Purpose  Purpose
	Channel  Channel
	Action   Action
	Source   Source
	Evidence Evidence
	// NoticeVersion and NoticeHash name the notice the person saw: required
	// for a grant, optional otherwise. The hash must be the stored one's:
	// it proves the person saw the text Kith holds under that version.
	NoticeVersion int
	NoticeHash    string
	Scope         *Scope // a grant's declared scope; nil for none
	// RecordedBy is who wrote the event: "user:<name>", "sms", "wecom",
	// "import:<batch>", ….
	RecordedBy string
	OccurredAt time.Time // when the person acted
	ReceivedAt time.Time // when Kith learned of it
	PrevHash   string    // set by Record
	Hash       string    // set by Record
}

// Status is a person's consent for one purpose on one channel.
type Status string

// Statuses.
const (
	StatusNone      Status = "none"      // no event: consent was never given (silence is not consent)
	StatusGranted   Status = "granted"   // the last event is a grant still valid
	StatusExpired   Status = "expired"   // the last event is a grant whose valid_until has passed
	StatusWithdrawn Status = "withdrawn" // the last event is a withdrawal
	StatusRefused   Status = "refused"   // the last event is a refusal
)

// State is a person's consent for one purpose on one channel at one time.
type State struct {
	Person  Person
	Purpose Purpose
	Channel Channel
	Status  Status
	// Last is the event the status comes from; nil for StatusNone.
	Last *Event
	// Scope is the last event's scope when it is a grant.
	Scope *Scope
	// Suppressed is true when the person was erased or suppressed for this
	// purpose and channel; SuppressedAt says when.
	Suppressed   bool
	SuppressedAt time.Time
}

// Permits reports whether the state allows processing for the purpose on
// the channel: a valid grant, and — for a suppressed person — one the
// person gave themself after the suppression (an import or an agent cannot
// bring an erased person back).
func (s State) Permits() bool {
	if s.Status != StatusGranted || s.Last == nil {
		return false
	}
	if s.Suppressed {
		return s.Last.Source == SourceCustomer && s.Last.ReceivedAt.After(s.SuppressedAt)
	}
	return true
}

// Notice is a published notice text.
type Notice struct {
	Purpose   Purpose
	Version   int
	Language  string
	Text      string
	TextHash  string // hex SHA-256 of Text
	CreatedAt time.Time
}

// PurposeInfo describes a purpose.
type PurposeInfo struct {
	Key             Purpose
	Name            string
	Description     string
	SeparateConsent bool // 单独同意 (P-12): an imported list cannot grant it
	Commercial      bool // withdrawn by an opt-out on a channel (P-20)
}
