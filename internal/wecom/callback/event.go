package callback

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"time"
)

// MsgType of every event; plain messages carry their own type ("text",
// "image", …).
const MsgTypeEvent = "event"

// Events this package knows the fields of (developer.work.weixin.qq.com
// path/92277 and path/96361 for contacts, path/92130 for customer groups,
// path/96320 for tags; wecom.md §3 and §11).
const (
	EventChangeExternalContact = "change_external_contact" // a member↔customer relation changed
	EventChangeExternalChat    = "change_external_chat"    // a customer group changed
	EventChangeExternalTag     = "change_external_tag"     // a corporate tag or tag group changed
)

// ChangeTypes of change_external_contact.
const (
	ChangeAddExternalContact     = "add_external_contact"      // a member added a customer: UserID, ExternalUserID, State, WelcomeCode
	ChangeEditExternalContact    = "edit_external_contact"     // a member edited the remark or tags in the client
	ChangeAddHalfExternalContact = "add_half_external_contact" // a customer added a member who skips verification; not yet mutual
	ChangeDelExternalContact     = "del_external_contact"      // the member deleted the customer: Source
	ChangeDelFollowUser          = "del_follow_user"           // the customer deleted the member
	ChangeTransferFail           = "transfer_fail"             // a takeover failed: FailReason
	ChangeMsgAuditApproved       = "msg_audit_approved"        // the customer agreed to conversation archiving
)

// Values of Source (del_external_contact) and FailReason (transfer_fail).
const (
	SourceDeleteByTransfer    = "DELETE_BY_TRANSFER"    // removed from the handing-over member by an on-job transfer
	FailCustomerRefused       = "customer_refused"      // the customer refused the takeover
	FailCustomerLimitExceeded = "customer_limit_exceed" // the taking-over member is at the customer limit
)

// ChangeTypes of change_external_chat.
const (
	ChatCreate  = "create"
	ChatUpdate  = "update" // see UpdateDetail
	ChatDismiss = "dismiss"
)

// UpdateDetail values of change_external_chat/update.
const (
	ChatAddMember    = "add_member" // JoinScene, MemChangeCnt, MemChangeList
	ChatDelMember    = "del_member" // QuitScene, MemChangeCnt, MemChangeList
	ChatChangeOwner  = "change_owner"
	ChatChangeName   = "change_name"
	ChatChangeNotice = "change_notice"
)

// JoinScene and QuitScene values of change_external_chat/update.
const (
	JoinByInvite  = 0 // invited by a member, directly or by an invite link
	JoinByQRCode  = 3 // scanned the group QR code
	QuitBySelf    = 0 // left the group
	QuitByRemoval = 1 // removed by the owner or an admin
)

// ChangeTypes and TagTypes of change_external_tag.
const (
	TagCreate  = "create"
	TagUpdate  = "update"
	TagDelete  = "delete"
	TagShuffle = "shuffle" // the order of tags changed; Id is the group, if any

	TagTypeTag   = "tag"
	TagTypeGroup = "tag_group"
)

// Event is a decrypted callback: a message or an event. Fields carry the
// official XML element names; an element absent from a callback leaves its
// field zero. Events this package does not know still parse, with the common
// fields set.
type Event struct {
	XMLName xml.Name `xml:"xml"`

	// Common to every callback.
	ToUserName   string `xml:"ToUserName"`   // the CorpID
	FromUserName string `xml:"FromUserName"` // "sys" for external-contact events, a member's UserID for messages
	CreateTime   int64  `xml:"CreateTime"`   // Unix seconds
	MsgType      string `xml:"MsgType"`      // MsgTypeEvent, or "text", "image", …
	Event        string `xml:"Event"`        // e.g. EventChangeExternalContact
	ChangeType   string `xml:"ChangeType"`   // e.g. ChangeAddExternalContact
	AgentID      int64  `xml:"AgentID"`      // the app, when the callback concerns one
	EventKey     string `xml:"EventKey"`     // app menu and similar events

	// Messages.
	MsgID   string `xml:"MsgId"`   // de-duplicates message retries
	Content string `xml:"Content"` // text messages

	// change_external_contact.
	UserID         string `xml:"UserID"`         // the member
	ExternalUserID string `xml:"ExternalUserID"` // the customer
	State          string `xml:"State"`          // state of the 联系我 link that brought the customer
	WelcomeCode    string `xml:"WelcomeCode"`    // for send_welcome_msg, valid 20 s
	Source         string `xml:"Source"`         // del_external_contact: SourceDeleteByTransfer
	FailReason     string `xml:"FailReason"`     // transfer_fail: FailCustomerRefused, FailCustomerLimitExceeded

	// change_external_chat.
	ChatID        string   `xml:"ChatId"`
	UpdateDetail  string   `xml:"UpdateDetail"`       // ChatAddMember, ChatDelMember, …
	JoinScene     int      `xml:"JoinScene"`          // JoinByInvite, JoinByQRCode
	QuitScene     int      `xml:"QuitScene"`          // QuitBySelf, QuitByRemoval
	MemChangeCnt  int      `xml:"MemChangeCnt"`       // members who joined or left
	MemChangeList []string `xml:"MemChangeList>Item"` // their ids
	LastMemVer    string   `xml:"LastMemVer"`         // member-list version before the change
	CurMemVer     string   `xml:"CurMemVer"`          // and after it

	// change_external_tag.
	ID         string `xml:"Id"`         // the tag or tag group
	TagType    string `xml:"TagType"`    // TagTypeTag or TagTypeGroup
	StrategyID int64  `xml:"StrategyId"` // the rule group of the tag, for the 客户联系 app only
}

// ParseEvent parses decrypted callback XML. Only malformed XML, a root other
// than <xml> or a numeric element that is not an integer is an error; the
// message does not quote the XML.
func ParseEvent(plaintext []byte) (*Event, error) {
	if e, ok := parseEventFlat(plaintext); ok {
		return e, nil
	}
	return parseEventXML(plaintext)
}

// parseEventXML parses an event with encoding/xml: any shape, and the
// errors.
func parseEventXML(plaintext []byte) (*Event, error) {
	var e Event
	if err := xml.Unmarshal(plaintext, &e); err != nil {
		return nil, fmt.Errorf("callback: parse event: %s", describeXMLError(err))
	}
	return &e, nil
}

// Kind names what the callback is, for routing and metrics: "event/change"
// for events with a ChangeType (e.g. "change_external_contact/add_external_contact"),
// the Event alone for events without one, and the MsgType for messages.
func (e *Event) Kind() string {
	switch {
	case e.MsgType != MsgTypeEvent:
		return e.MsgType
	case e.ChangeType == "":
		return e.Event
	default:
		return e.Event + "/" + e.ChangeType
	}
}

// Time returns CreateTime as a time.
func (e *Event) Time() time.Time { return time.Unix(e.CreateTime, 0) }

// DedupeKeyLen is the length in bytes of a DedupeKey.
const DedupeKeyLen = 8 + sha256.Size

// DedupeKey returns the key for recognising WeCom's retries of a delivery it
// thinks went unanswered: the event's CreateTime (8 bytes, big-endian, as
// two's complement) followed by the SHA-256 of the decrypted body, 40 bytes
// of binary in a string. It hashes the decrypted body, not Encrypt, because
// a retry may be encrypted afresh with a new random prefix; and it hashes
// all of it because the official FromUserName+CreateTime key collides for
// external-contact events (all from "sys") in the same second. The time
// comes first so that the keys of events arriving together sort together:
// storing a burst of them appends to one end of the dedupe index instead
// of touching a random place of it for each (a retry carries the same
// CreateTime, so it still finds its first delivery).
func DedupeKey(createTime int64, plaintext []byte) string {
	var key [DedupeKeyLen]byte
	binary.BigEndian.PutUint64(key[:8], uint64(createTime))
	sum := sha256.Sum256(plaintext)
	copy(key[8:], sum[:])
	return string(key[:])
}
