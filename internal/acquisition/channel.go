package acquisition

import (
	"time"
)

// Kind is the kind of a channel.
type Kind string

// Channel kinds.
const (
	// KindCode is a 「联系我」 contact way with a QR code (add_contact_way).
	KindCode Kind = "code"
	// KindLink is a customer-acquisition link (获客助手 create_link), for SMS
	// and web pages outside WeChat; its state travels as customer_channel.
	KindLink Kind = "link"
)

// Platform limits (WeCom research notes §3–4).
const (
	MaxMembers         = 100  // members of one multi-user contact way (41041)
	MaxNameChars       = 30   // a contact way's remark, which carries the name
	MaxCodeStateChars  = 30   // a contact way's state
	MaxLinkStateBytes  = 64   // a link's customer_channel
	MaxWelcomeBytes    = 4000 // text.content of send_welcome_msg
	MaxAttachments     = 9    // attachments of send_welcome_msg
	MaxGroupChars      = 30   // the channel's group (Kith's own limit)
	NamePlaceholder    = "{name}"
	placeholderReserve = 64 // bytes a {name} may grow to
)

// Channel is one way customers arrive: a code or a link, its plan and
// what is on WeCom now.
type Channel struct {
	ID         int64
	Kind       Kind
	Name       string
	Group      string
	State      string // attributes every customer who arrives through it
	SkipVerify bool   // customers are added without the member confirming
	DailyCap   int    // new customers per member per day; 0 means no cap
	Spec

	RemoteID  string     // config_id or link_id
	URL       string     // the QR code image or the link
	Roster    []string   // the members on the code now
	RosterAt  *time.Time // when the roster was last put on WeCom
	SyncError string     // WeCom's last refusal, shown in the console
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Spec is the plan of a channel: who is on it when, and what arrivals get.
type Spec struct {
	Members []string `json:"members,omitempty"` // always on the code
	Shifts  []Shift  `json:"shifts,omitempty"`  // on the code within their windows
	Backups []string `json:"backups,omitempty"` // used when nobody else is available
	Tags    []string `json:"tags,omitempty"`    // corp tag ids marked on arrival
	Welcome *Welcome `json:"welcome,omitempty"` // nil: the default welcome
}

// Shift puts members on the code on some weekdays between two times of day.
type Shift struct {
	Days    []time.Weekday `json:"days"`
	From    int            `json:"from"` // minutes after midnight, inclusive
	To      int            `json:"to"`   // minutes after midnight, exclusive; at most 1440
	Members []string       `json:"members"`
}

// covers reports whether the shift is on at local time t.
func (s Shift) covers(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	for _, d := range s.Days {
		if d == t.Weekday() && m >= s.From && m < s.To {
			return true
		}
	}
	return false
}

// Welcome is a welcome message: text in which {name} becomes the
// customer's name, and attachments.
type Welcome struct {
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Empty reports whether the message has nothing to send.
func (w *Welcome) Empty() bool { return w == nil || (w.Text == "" && len(w.Attachments) == 0) }

// Attachment types of a welcome message.
const (
	AttachImage       = "image"
	AttachLink        = "link"
	AttachMiniProgram = "miniprogram"
)

// Attachment is an image, a link or a mini program in a welcome message.
type Attachment struct {
	Type    string `json:"type"`
	Title   string `json:"title,omitempty"`    // link, miniprogram
	URL     string `json:"url,omitempty"`      // link
	Desc    string `json:"desc,omitempty"`     // link
	PicURL  string `json:"pic_url,omitempty"`  // image (from the image upload), link cover
	MediaID string `json:"media_id,omitempty"` // image, miniprogram cover (pic_media_id)
	AppID   string `json:"appid,omitempty"`    // miniprogram
	Page    string `json:"page,omitempty"`     // miniprogram
}

// AllMembers returns every member named in the spec, once each, in order:
// members, shift members, backups.
func (s Spec) AllMembers() []string {
	seen := map[string]bool{}
	var out []string
	add := func(ids []string) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	add(s.Members)
	for _, sh := range s.Shifts {
		add(sh.Members)
	}
	add(s.Backups)
	return out
}

// without returns the spec with member removed everywhere; a shift left
// without members is dropped.
func (s Spec) without(member string) Spec {
	drop := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if id != member {
				out = append(out, id)
			}
		}
		return out
	}
	out := s
	out.Members = drop(s.Members)
	out.Backups = drop(s.Backups)
	out.Shifts = nil
	for _, sh := range s.Shifts {
		sh.Members = drop(sh.Members)
		if len(sh.Members) > 0 {
			out.Shifts = append(out.Shifts, sh)
		}
	}
	return out
}
