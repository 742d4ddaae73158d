package campaign

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// Purpose is why a campaign is sent: the gate's message class.
type Purpose string

// Purposes.
const (
	PurposeService   Purpose = "service"
	PurposeMarketing Purpose = "marketing"
)

// Channel is where a campaign is sent.
type Channel string

// Channels.
const (
	WeCom Channel = "wecom" // WeCom group messages (add_msg_template), confirmed by each member
	// WeComMoment is WeCom customer moments (add_moment_task), published by
	// each member and seen only by customers the gate permitted (moment.go).
	WeComMoment Channel = "wecom_moment"
	SMS         Channel = "sms"
	Email       Channel = "email"
)

// consent returns the consent channel of c.
func (c Channel) consent() consent.Channel {
	switch c {
	case WeCom, WeComMoment:
		return consent.ChannelWeCom
	case SMS:
		return consent.ChannelSMS
	case Email:
		return consent.ChannelEmail
	}
	return ""
}

// State is where a campaign is in its life.
type State string

// States.
const (
	Draft     State = "draft"
	Scheduled State = "scheduled"
	Running   State = "running"
	Done      State = "done"
	Cancelled State = "cancelled"
	Failed    State = "failed"
)

// transitions lists the moves a campaign may make.
var transitions = map[State][]State{
	Draft:     {Scheduled, Cancelled},
	Scheduled: {Draft, Running, Cancelled},
	Running:   {Done, Cancelled, Failed},
}

// CanMove reports whether a campaign may move from one state to another.
func CanMove(from, to State) bool { return slices.Contains(transitions[from], to) }

// Limits of a campaign's content (wecom.md §5; sms template limits in
// internal/channel/sms).
const (
	MaxNameChars       = 100
	MaxWeComTextBytes  = 4000
	MaxWeComAttach     = 9
	MaxEmailSubject    = 200
	MaxEmailBodyBytes  = 512 << 10
	maxAttachFieldSize = 2048
)

// AttachmentTypes are the attachment kinds a WeCom group message takes.
var AttachmentTypes = []string{"image", "link", "miniprogram", "video", "file"}

// Attachment is one attachment of a WeCom group message: MediaID for
// image, video and file (from the media upload), Title and URL for a link,
// Title, AppID, Page and MediaID (the cover) for a mini-program.
type Attachment struct {
	Type    string `json:"type"`
	MediaID string `json:"media_id,omitempty"`
	Title   string `json:"title,omitempty"`
	URL     string `json:"url,omitempty"`
	AppID   string `json:"appid,omitempty"`
	Page    string `json:"page,omitempty"`
}

// Content is what a campaign says. WeCom uses Text and Attachments; SMS
// uses Sign, TemplateID, Text (the approved template text) and Params; an
// e-mail Subject, Text and HTML.
type Content struct {
	Text        string            `json:"text,omitempty"`
	Attachments []Attachment      `json:"attachments,omitempty"`
	Subject     string            `json:"subject,omitempty"`
	HTML        string            `json:"html,omitempty"`
	Sign        string            `json:"sign,omitempty"`
	TemplateID  string            `json:"template_id,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
}

// Hash identifies the content as the platform will show it (text and
// attachments): a WeCom task is matched to its batch by it after a crash.
func (c Content) Hash() string {
	return ContentHash(c.Text, c.Attachments)
}

// ContentHash is the hash of a text and its attachments (see Content.Hash).
func ContentHash(text string, attachments []Attachment) string {
	norm := make([]Attachment, len(attachments))
	for i, a := range attachments {
		// Only the fields the platform keeps for the type count.
		switch a.Type {
		case "image", "video", "file":
			norm[i] = Attachment{Type: a.Type, MediaID: a.MediaID}
		case "link":
			norm[i] = Attachment{Type: a.Type, Title: a.Title, URL: a.URL}
		default:
			norm[i] = a
		}
	}
	b, _ := json.Marshal(struct {
		T string       `json:"t"`
		A []Attachment `json:"a"`
	}{text, norm})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// SMSMessage returns the SMS content as the sms adapter sends it.
func (c Content) SMSMessage(p Purpose) sms.Message {
	m := sms.Message{Sign: c.Sign, Template: sms.Template{ID: c.TemplateID, Text: c.Text, Marketing: p == PurposeMarketing}}
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m.Params = append(m.Params, sms.Param{Name: k, Value: c.Params[k]})
	}
	return m
}

// gateContent is what the gate checks for ch. An e-mail's unsubscribe
// headers are added by the mailer to every message, so the gate is shown
// them as the mailer writes them.
func (c Content) gateContent(ch Channel, p Purpose) gate.Content {
	switch ch {
	case SMS:
		return c.SMSMessage(p).Content()
	case Email:
		subject := c.Subject
		if p == PurposeMarketing {
			subject = email.LabelledSubject(subject)
		}
		return gate.Content{Subject: subject, Body: c.EmailText(), Headers: map[string]string{
			"List-Unsubscribe": "<https://unsubscribe.invalid/u>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}
	}
	return gate.Content{Body: c.Text}
}

// validate checks c for ch and p; the error says what is wrong and where.
func (c Content) validate(ch Channel, p Purpose) error {
	switch ch {
	case WeComMoment:
		return c.validateMoment()
	case WeCom:
		if strings.TrimSpace(c.Text) == "" && len(c.Attachments) == 0 {
			return kith.Errorf(kith.EINVALID, "campaign: content: a WeCom group message needs text or an attachment")
		}
		if len(c.Text) > MaxWeComTextBytes {
			return kith.Errorf(kith.EINVALID, "campaign: content: the text is %d bytes; WeCom allows at most %d", len(c.Text), MaxWeComTextBytes)
		}
		if len(c.Attachments) > MaxWeComAttach {
			return kith.Errorf(kith.EINVALID, "campaign: content: %d attachments; WeCom allows at most %d", len(c.Attachments), MaxWeComAttach)
		}
		for i, a := range c.Attachments {
			if err := a.validate(); err != nil {
				return kith.Errorf(kith.EINVALID, "campaign: content: attachment %d: %s", i+1, kith.ErrorMessage(err))
			}
		}
	case SMS:
		if len(c.Attachments) > 0 || c.HTML != "" || c.Subject != "" {
			return kith.Errorf(kith.EINVALID, "campaign: content: an SMS has only a signature, a template and its values")
		}
		if err := c.SMSMessage(p).Validate(); err != nil {
			return kith.Errorf(kith.EINVALID, "campaign: content: %s", kith.ErrorMessage(err))
		}
	case Email:
		switch {
		case len(c.Attachments) > 0:
			return kith.Errorf(kith.EINVALID, "campaign: content: e-mail campaigns take no attachments")
		case strings.TrimSpace(c.Subject) == "":
			return kith.Errorf(kith.EINVALID, "campaign: content: the e-mail's subject is empty")
		case utf8.RuneCountInString(c.Subject) > MaxEmailSubject:
			return kith.Errorf(kith.EINVALID, "campaign: content: the subject has more than %d characters", MaxEmailSubject)
		case strings.TrimSpace(c.Text) == "" && strings.TrimSpace(c.HTML) == "":
			return kith.Errorf(kith.EINVALID, "campaign: content: the e-mail needs a plain-text or an HTML body")
		case len(c.Text)+len(c.HTML) > MaxEmailBodyBytes:
			return kith.Errorf(kith.EINVALID, "campaign: content: the body is larger than %d bytes", MaxEmailBodyBytes)
		}
		if err := email.CheckVariables(c.EmailMessage(p), EmailVariables...); err != nil {
			return kith.Errorf(kith.EINVALID, "campaign: content: %s", kith.ErrorMessage(err))
		}
	}
	return nil
}

func (a Attachment) validate() error {
	if !slices.Contains(AttachmentTypes, a.Type) {
		return kith.Errorf(kith.EINVALID, "type %q is not one of %s", a.Type, strings.Join(AttachmentTypes, ", "))
	}
	for _, f := range []string{a.MediaID, a.Title, a.URL, a.AppID, a.Page} {
		if len(f) > maxAttachFieldSize {
			return kith.Errorf(kith.EINVALID, "a field is longer than %d bytes", maxAttachFieldSize)
		}
	}
	switch a.Type {
	case "image", "video", "file":
		if a.MediaID == "" {
			return kith.Errorf(kith.EINVALID, "a %s needs the media_id of an uploaded file", a.Type)
		}
	case "link":
		if a.Title == "" || !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			return kith.Errorf(kith.EINVALID, "a link needs a title and an http(s) URL")
		}
	case "miniprogram":
		if a.Title == "" || a.AppID == "" || a.Page == "" || a.MediaID == "" {
			return kith.Errorf(kith.EINVALID, "a mini-program needs a title, an appid, a page and a cover media_id")
		}
	}
	return nil
}

// Audience is whom a campaign goes to: a saved segment (snapshotted when
// the campaign starts), or customers with any of the tags (by name).
type Audience struct {
	SegmentID int64    `json:"segment_id,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Members, when set (WeCom channels), are the sending members: only
	// their customers are reached (moment.go).
	Members []string `json:"members,omitempty"`
}

func (a Audience) validate() error {
	switch {
	case a.SegmentID == 0 && len(a.Tags) == 0:
		return kith.Errorf(kith.EINVALID, "campaign: audience: choose a saved segment or at least one tag")
	case a.SegmentID != 0 && len(a.Tags) > 0:
		return kith.Errorf(kith.EINVALID, "campaign: audience: choose a saved segment or tags, not both")
	}
	for i, t := range a.Tags {
		if strings.TrimSpace(t) == "" {
			return kith.Errorf(kith.EINVALID, "campaign: audience: tag %d is empty", i+1)
		}
	}
	return nil
}

// Campaign is one campaign.
type Campaign struct {
	ID         int64
	Name       string
	Purpose    Purpose
	Channel    Channel
	Type       string // the marketing message type the gate checks against the consent's scope ("" for any)
	Content    Content
	Audience   Audience
	Schedule   Schedule
	State      State
	Reason     string // why it failed or was cancelled
	CreatedBy  int64
	PlannedAt  time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// ResumeAt is, while quiet hours hold a running campaign, when it may
	// send again.
	ResumeAt time.Time
}

// Input is what an operator writes to create or edit a campaign.
type Input struct {
	Name     string
	Purpose  Purpose
	Channel  Channel
	Type     string
	Content  Content
	Audience Audience
	Schedule Schedule
}

// validate checks in; now judges a schedule in the past.
func (in *Input) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		return kith.Errorf(kith.EINVALID, "campaign: the name is empty")
	case utf8.RuneCountInString(in.Name) > MaxNameChars:
		return kith.Errorf(kith.EINVALID, "campaign: the name is longer than %d characters", MaxNameChars)
	case in.Purpose != PurposeService && in.Purpose != PurposeMarketing:
		return kith.Errorf(kith.EINVALID, "campaign: purpose %q: it must be service or marketing", in.Purpose)
	case in.Channel.consent() == "":
		return kith.Errorf(kith.EINVALID, "campaign: channel %q: it must be wecom_moment, wecom, sms or email", in.Channel)
	}
	if err := in.Content.validate(in.Channel, in.Purpose); err != nil {
		return err
	}
	if err := in.Audience.validate(); err != nil {
		return err
	}
	if err := in.Audience.validateMembers(in.Channel); err != nil {
		return err
	}
	return in.Schedule.validate()
}
