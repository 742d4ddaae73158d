package sms

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
)

// Provider names as reports and replies carry them.
const (
	ProviderTencent = "tencent"
	ProviderAliyun  = "aliyun"
)

// Callback limits: a body and a batch larger than any provider sends are
// refused (Tencent pushes at most 100 reports at once).
const (
	MaxCallbackBytes = 1 << 20
	MaxCallbackItems = 1000
)

// The answers the providers expect once a push is stored (any other answer
// makes them push again).
const (
	TencentAck = `{"result":0,"errmsg":"OK"}`
	AliyunAck  = `{"code":0,"msg":"接收成功"}`
)

// beijing is the zone of the providers' local times.
var beijing = time.FixedZone("CST", 8*3600)

const providerTime = "2006-01-02 15:04:05"

// Report is a delivery report: what the carrier said about one message.
type Report struct {
	Provider string
	Phone    string // as consent.Phone normalises it (a mainland number without +86)
	// ProviderID is the id the send returned: Tencent's SerialNo (sid),
	// Aliyun's BizId (biz_id).
	ProviderID string
	Session    string // Tencent's ext (SessionContext), Aliyun's out_id
	Delivered  bool
	// Code is the carrier's receipt code, verbatim (DELIVRD, UNDELIV,
	// MK:0001…; Aliyun: DELIVERED or the carrier code).
	Code        string
	Description string
	At          time.Time // when the handset received it (or the report came)
	Parts       int       // billed parts (Aliyun sms_size; 0 when not given)
}

// Reply is a message a person sent back (upstream, MO). It carries no id
// of the message it answers: the signature or extension code says which
// merchant it is for.
type Reply struct {
	Provider string
	// ID identifies the reply for dedupe and as consent evidence: Aliyun's
	// sequence_id, or for Tencent (which gives none) a hash of the fields.
	ID     string
	Phone  string // as consent.Phone normalises it
	Text   string // verbatim
	Sign   string // the signature replied to, when the provider says
	Extend string // the extension code (Tencent extend, Aliyun dest_code)
	At     time.Time
}

func invalidCallback(provider, format string, args ...any) error {
	return kith.Errorf(kith.EINVALID, "sms: %s callback: "+format, append([]any{provider}, args...)...)
}

// decodeArray reads a JSON array of objects into items, refusing a body
// or batch over the limits.
func decodeArray[T any](provider string, body []byte) ([]T, error) {
	if len(body) > MaxCallbackBytes {
		return nil, invalidCallback(provider, "the body is %d bytes; at most %d", len(body), MaxCallbackBytes)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, invalidCallback(provider, "the body must be a JSON array of reports")
	}
	var items []T
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, invalidCallback(provider, "the body is not the JSON the provider sends: %v", err)
	}
	if len(items) > MaxCallbackItems {
		return nil, invalidCallback(provider, "%d items in one push; at most %d", len(items), MaxCallbackItems)
	}
	return items, nil
}

// phone checks and normalises a number from a callback.
func phone(provider, where, number string) (string, error) {
	p, err := consent.ParsePerson("phone:" + number)
	if err != nil {
		return "", invalidCallback(provider, "%s: %q is not a phone number", where, number)
	}
	return p.Key, nil
}

// localTime reads a provider's "2006-01-02 15:04:05" Beijing time.
func localTime(provider, where, s string) (time.Time, error) {
	t, err := time.ParseInLocation(providerTime, strings.TrimSpace(s), beijing)
	if err != nil {
		return time.Time{}, invalidCallback(provider, "%s: %q is not a time like 2006-01-02 15:04:05", where, s)
	}
	return t.UTC(), nil
}

// flexString is a JSON string or number, kept as text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flexString(n.String())
	return nil
}

type tencentReport struct {
	UserReceiveTime string `json:"user_receive_time"`
	NationCode      string `json:"nationcode"`
	Mobile          string `json:"mobile"`
	ReportStatus    string `json:"report_status"`
	ErrMsg          string `json:"errmsg"`
	Description     string `json:"description"`
	SID             string `json:"sid"`
	Ext             string `json:"ext"`
}

// tencentNumber joins a national number and its country code.
func tencentNumber(nation, mobile string) string {
	if nation == "" || nation == "86" {
		return mobile
	}
	return "+" + nation + mobile
}

// ParseTencentReports reads a Tencent delivery-report push (短信下发状态通知,
// sms-email.md §1.6): a JSON array of reports. report_status SUCCESS is
// delivered, FAIL is not; anything else, a missing sid or number, or a
// malformed time is refused with the item's index.
func ParseTencentReports(body []byte) ([]Report, error) {
	items, err := decodeArray[tencentReport](ProviderTencent, body)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(items))
	for i, it := range items {
		where := fmt.Sprintf("report %d", i)
		r := Report{Provider: ProviderTencent, ProviderID: it.SID, Session: it.Ext, Code: it.ErrMsg, Description: it.Description}
		switch it.ReportStatus {
		case "SUCCESS":
			r.Delivered = true
		case "FAIL":
		default:
			return nil, invalidCallback(ProviderTencent, "%s: report_status %q is neither SUCCESS nor FAIL", where, it.ReportStatus)
		}
		if it.SID == "" {
			return nil, invalidCallback(ProviderTencent, "%s: sid is missing", where)
		}
		if r.Phone, err = phone(ProviderTencent, where+": mobile", tencentNumber(it.NationCode, it.Mobile)); err != nil {
			return nil, err
		}
		if r.At, err = localTime(ProviderTencent, where+": user_receive_time", it.UserReceiveTime); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ParseTencentReply reads a Tencent reply push (短信回复, §1.7): one JSON
// object with mobile, nationcode, sign, extend, text and time (Unix
// seconds, a number or a numeric string).
func ParseTencentReply(body []byte) (Reply, error) {
	if len(body) > MaxCallbackBytes {
		return Reply{}, invalidCallback(ProviderTencent, "the body is %d bytes; at most %d", len(body), MaxCallbackBytes)
	}
	var it struct {
		Extend     string     `json:"extend"`
		Mobile     string     `json:"mobile"`
		NationCode string     `json:"nationcode"`
		Sign       string     `json:"sign"`
		Text       *string    `json:"text"`
		Time       flexString `json:"time"`
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Reply{}, invalidCallback(ProviderTencent, "the body must be a JSON object")
	}
	if err := json.Unmarshal(body, &it); err != nil {
		return Reply{}, invalidCallback(ProviderTencent, "the body is not the JSON the provider sends: %v", err)
	}
	if it.Text == nil {
		return Reply{}, invalidCallback(ProviderTencent, "text is missing")
	}
	number, err := phone(ProviderTencent, "mobile", tencentNumber(it.NationCode, it.Mobile))
	if err != nil {
		return Reply{}, err
	}
	secs, err := strconv.ParseInt(string(it.Time), 10, 64)
	if err != nil || secs <= 0 || secs > 1<<40 {
		return Reply{}, invalidCallback(ProviderTencent, "time %q is not a Unix time in seconds", it.Time)
	}
	r := Reply{Provider: ProviderTencent, Phone: number, Text: *it.Text, Sign: it.Sign, Extend: it.Extend, At: time.Unix(secs, 0).UTC()}
	// Tencent gives a reply no id; the same push retried has the same fields.
	h := sha256.Sum256([]byte(strings.Join([]string{r.Phone, string(it.Time), r.Sign, r.Extend, r.Text}, "\x00")))
	r.ID = "tencent-" + hex.EncodeToString(h[:12])
	return r, nil
}

type aliyunReport struct {
	PhoneNumber string     `json:"phone_number"`
	SendTime    string     `json:"send_time"`
	ReportTime  string     `json:"report_time"`
	Success     *bool      `json:"success"`
	ErrCode     string     `json:"err_code"`
	ErrMsg      string     `json:"err_msg"`
	SmsSize     flexString `json:"sms_size"`
	BizID       string     `json:"biz_id"`
	OutID       string     `json:"out_id"`
}

// ParseAliyunReports reads an Aliyun SmsReport push (§2.5): a JSON array
// with success a boolean and sms_size a string (a number is accepted too).
func ParseAliyunReports(body []byte) ([]Report, error) {
	items, err := decodeArray[aliyunReport](ProviderAliyun, body)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(items))
	for i, it := range items {
		where := fmt.Sprintf("report %d", i)
		if it.Success == nil {
			return nil, invalidCallback(ProviderAliyun, "%s: success is missing", where)
		}
		if it.BizID == "" {
			return nil, invalidCallback(ProviderAliyun, "%s: biz_id is missing", where)
		}
		r := Report{Provider: ProviderAliyun, ProviderID: it.BizID, Session: it.OutID, Delivered: *it.Success, Code: it.ErrCode, Description: it.ErrMsg}
		if r.Phone, err = phone(ProviderAliyun, where+": phone_number", it.PhoneNumber); err != nil {
			return nil, err
		}
		at := it.ReportTime
		if at == "" {
			at = it.SendTime
		}
		if r.At, err = localTime(ProviderAliyun, where+": report_time", at); err != nil {
			return nil, err
		}
		if it.SmsSize != "" {
			n, err := strconv.Atoi(string(it.SmsSize))
			if err != nil || n < 0 || n > 100 {
				return nil, invalidCallback(ProviderAliyun, "%s: sms_size %q is not a number of parts", where, it.SmsSize)
			}
			r.Parts = n
		}
		out = append(out, r)
	}
	return out, nil
}

type aliyunReply struct {
	PhoneNumber string     `json:"phone_number"`
	Content     *string    `json:"content"`
	SendTime    string     `json:"send_time"`
	DestCode    flexString `json:"dest_code"`
	SequenceID  flexString `json:"sequence_id"`
	SignName    string     `json:"sign_name"`
}

// ParseAliyunReplies reads an Aliyun SmsUp push (§2.6): a JSON array of
// replies, sequence_id a number (older page) or a string (current page),
// sign_name present or not.
func ParseAliyunReplies(body []byte) ([]Reply, error) {
	items, err := decodeArray[aliyunReply](ProviderAliyun, body)
	if err != nil {
		return nil, err
	}
	out := make([]Reply, 0, len(items))
	for i, it := range items {
		where := fmt.Sprintf("reply %d", i)
		if it.Content == nil {
			return nil, invalidCallback(ProviderAliyun, "%s: content is missing", where)
		}
		if it.SequenceID == "" {
			return nil, invalidCallback(ProviderAliyun, "%s: sequence_id is missing", where)
		}
		r := Reply{Provider: ProviderAliyun, ID: "aliyun-" + string(it.SequenceID), Text: *it.Content, Sign: it.SignName, Extend: string(it.DestCode)}
		if r.Phone, err = phone(ProviderAliyun, where+": phone_number", it.PhoneNumber); err != nil {
			return nil, err
		}
		if r.At, err = localTime(ProviderAliyun, where+": send_time", it.SendTime); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
