package wecomtest

import (
	"strconv"
	"strings"
)

// Event names (the Event element) of the callbacks the sandbox sends.
const (
	EventChangeExternalContact = "change_external_contact"
	EventChangeExternalTag     = "change_external_tag"
	EventChangeExternalChat    = "change_external_chat"
	EventChangeContact         = "change_contact"
)

// ChangeType values (the ChangeType element).
const (
	ChangeAddExternalContact     = "add_external_contact"
	ChangeAddHalfExternalContact = "add_half_external_contact"
	ChangeEditExternalContact    = "edit_external_contact"
	ChangeDelExternalContact     = "del_external_contact"
	ChangeDelFollowUser          = "del_follow_user"
	ChangeTransferFail           = "transfer_fail"
	ChangeCreate                 = "create"  // change_external_tag, change_external_chat
	ChangeUpdate                 = "update"  // change_external_tag, change_external_chat
	ChangeDelete                 = "delete"  // change_external_tag
	ChangeShuffle                = "shuffle" // change_external_tag
	ChangeDismiss                = "dismiss" // change_external_chat
	ChangeDeleteUser             = "delete_user"
)

// Event is one callback's plaintext: the decrypted XML WeCom sends, with the
// official element names (path/92277 客户变更, path/92130 标签/客户群变更,
// path/90970 通讯录变更). Empty fields are left out of the XML.
type Event struct {
	ToUserName     string   `json:"ToUserName"`   // the CorpID
	FromUserName   string   `json:"FromUserName"` // "sys" for these events
	CreateTime     int64    `json:"CreateTime"`
	MsgType        string   `json:"MsgType"` // "event"
	Event          string   `json:"Event"`
	ChangeType     string   `json:"ChangeType"`
	UserID         string   `json:"UserID,omitempty"`
	ExternalUserID string   `json:"ExternalUserID,omitempty"`
	State          string   `json:"State,omitempty"`
	WelcomeCode    string   `json:"WelcomeCode,omitempty"`
	Source         string   `json:"Source,omitempty"`     // del_external_contact: "DELETE_BY_TRANSFER" after a transfer
	FailReason     string   `json:"FailReason,omitempty"` // transfer_fail: customer_refused or customer_limit_exceed
	ID             string   `json:"Id,omitempty"`         // change_external_tag: the tag or group id
	TagType        string   `json:"TagType,omitempty"`    // change_external_tag: "tag" or "tag_group"; absent for shuffle
	ChatID         string   `json:"ChatId,omitempty"`     // change_external_chat
	UpdateDetail   string   `json:"UpdateDetail,omitempty"`
	JoinScene      int      `json:"JoinScene,omitempty"` // add_member: 0 invited, 1 by link, 3 by QR code
	QuitScene      int      `json:"QuitScene,omitempty"` // del_member: 0 left, 1 removed
	MemChangeCnt   int      `json:"MemChangeCnt,omitempty"`
	MemChangeList  []string `json:"MemChangeList,omitempty"`
}

// XML renders the event the way WeCom does: <xml>, one element per line,
// text in CDATA, numbers bare.
func (e Event) XML() []byte {
	var b strings.Builder
	b.WriteString("<xml>")
	text := func(name, v string) {
		if v != "" {
			b.WriteString("<" + name + ">" + cdata(v) + "</" + name + ">\n")
		}
	}
	num := func(name string, v int64) {
		b.WriteString("<" + name + ">" + strconv.FormatInt(v, 10) + "</" + name + ">\n")
	}
	text("ToUserName", e.ToUserName)
	text("FromUserName", e.FromUserName)
	num("CreateTime", e.CreateTime)
	text("MsgType", e.MsgType)
	text("Event", e.Event)
	switch e.Event {
	case EventChangeExternalTag:
		// 92130 lists Id, TagType, ChangeType in this order.
		text("Id", e.ID)
		text("TagType", e.TagType)
		text("ChangeType", e.ChangeType)
	case EventChangeExternalChat:
		text("ChatId", e.ChatID)
		text("ChangeType", e.ChangeType)
		text("UpdateDetail", e.UpdateDetail)
		if e.ChangeType == ChangeUpdate {
			num("JoinScene", int64(e.JoinScene))
			num("QuitScene", int64(e.QuitScene))
			num("MemChangeCnt", int64(e.MemChangeCnt))
			if len(e.MemChangeList) > 0 {
				b.WriteString("<MemChangeList>")
				for _, m := range e.MemChangeList {
					b.WriteString("<Item>" + cdata(m) + "</Item>")
				}
				b.WriteString("</MemChangeList>\n")
			}
		}
	default:
		text("ChangeType", e.ChangeType)
		text("UserID", e.UserID)
		text("ExternalUserID", e.ExternalUserID)
		text("State", e.State)
		text("WelcomeCode", e.WelcomeCode)
		text("Source", e.Source)
		text("FailReason", e.FailReason)
	}
	b.WriteString("</xml>")
	return []byte(b.String())
}

// cdata wraps s in a CDATA section, splitting any "]]>" inside it.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}
