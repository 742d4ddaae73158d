package wecom

import (
	"context"
	"net/http"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of send_welcome_msg (path/92137).
const (
	MaxWelcomeTextBytes   = 4000 // text.content
	MaxWelcomeAttachments = 9
)

// WelcomeMsg is a welcome message for the welcome_code of an
// add_external_contact event.
type WelcomeMsg struct {
	WelcomeCode string              `json:"welcome_code"`
	Text        *WelcomeText        `json:"text,omitempty"`
	Attachments []WelcomeAttachment `json:"attachments,omitempty"`
}

// WelcomeText is the message's text.
type WelcomeText struct {
	Content string `json:"content"`
}

// WelcomeAttachment is one attachment; MsgType says which field is set.
type WelcomeAttachment struct {
	MsgType     string              `json:"msgtype"` // image, link or miniprogram
	Image       *WelcomeImage       `json:"image,omitempty"`
	Link        *WelcomeLink        `json:"link,omitempty"`
	MiniProgram *WelcomeMiniProgram `json:"miniprogram,omitempty"`
}

// WelcomeImage is an image: a media_id, or a pic_url from the image upload.
type WelcomeImage struct {
	MediaID string `json:"media_id,omitempty"`
	PicURL  string `json:"pic_url,omitempty"`
}

// WelcomeLink is a link card.
type WelcomeLink struct {
	Title  string `json:"title"`
	PicURL string `json:"picurl,omitempty"`
	Desc   string `json:"desc,omitempty"`
	URL    string `json:"url"`
}

// WelcomeMiniProgram is a mini-program card.
type WelcomeMiniProgram struct {
	Title      string `json:"title"`
	PicMediaID string `json:"pic_media_id"`
	AppID      string `json:"appid"`
	Page       string `json:"page"`
}

// SendWelcomeMsg sends a welcome message with an event's welcome code
// (POST externalcontact/send_welcome_msg). WeCom accepts a code once and
// for 20 seconds: 41050 when it expired, 41051 when it was used or the
// member already chats with the customer. Never call it twice for a code.
//
// Only internal/channel/wecomwelcome calls this, with a gate permit.
func (c *Client) SendWelcomeMsg(ctx context.Context, m WelcomeMsg) error {
	if m.WelcomeCode == "" {
		return kith.Errorf(kith.EINVALID, "wecom: send_welcome_msg needs the event's welcome_code")
	}
	if m.Text == nil && len(m.Attachments) == 0 {
		return kith.Errorf(kith.EINVALID, "wecom: a welcome message needs text or an attachment")
	}
	if m.Text != nil && len(m.Text.Content) > MaxWelcomeTextBytes {
		return kith.Errorf(kith.EINVALID, "wecom: welcome text is %d bytes; WeCom allows at most %d", len(m.Text.Content), MaxWelcomeTextBytes)
	}
	if len(m.Attachments) > MaxWelcomeAttachments {
		return kith.Errorf(kith.EINVALID, "wecom: a welcome message has at most %d attachments, not %d", MaxWelcomeAttachments, len(m.Attachments))
	}
	return c.call(ctx, http.MethodPost, "externalcontact/send_welcome_msg", nil, m, nil)
}
