package campaign

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of a customer moment (wecom.md §6): text at most 2000 characters
// and 4000 bytes; attachments at most 9 images, or one video, or one link.
const (
	MaxMomentTextChars = 2000
	MaxMomentTextBytes = 4000
	MaxMomentImages    = 9
	// MaxMembers is the most sending members a campaign may name.
	MaxMembers = 1000
)

// MomentAttachmentTypes are the attachment kinds a moment takes.
var MomentAttachmentTypes = []string{"image", "video", "link"}

// validateMoment checks the content of a wecom_moment campaign.
func (c Content) validateMoment() error {
	switch {
	case c.Subject != "" || c.HTML != "" || c.Sign != "" || c.TemplateID != "" || len(c.Params) > 0:
		return kith.Errorf(kith.EINVALID, "campaign: content: a moment has only text and attachments")
	case strings.TrimSpace(c.Text) == "" && len(c.Attachments) == 0:
		return kith.Errorf(kith.EINVALID, "campaign: content: a moment needs text or an attachment")
	case utf8.RuneCountInString(c.Text) > MaxMomentTextChars:
		return kith.Errorf(kith.EINVALID, "campaign: content: the text has %d characters; a moment allows at most %d", utf8.RuneCountInString(c.Text), MaxMomentTextChars)
	case len(c.Text) > MaxMomentTextBytes:
		return kith.Errorf(kith.EINVALID, "campaign: content: the text is %d bytes; a moment allows at most %d", len(c.Text), MaxMomentTextBytes)
	}
	images, other := 0, 0
	for i, a := range c.Attachments {
		if !slices.Contains(MomentAttachmentTypes, a.Type) {
			return kith.Errorf(kith.EINVALID, "campaign: content: attachment %d: a moment takes an image, a video or a link, not %q", i+1, a.Type)
		}
		if err := a.validate(); err != nil {
			return kith.Errorf(kith.EINVALID, "campaign: content: attachment %d: %s", i+1, kith.ErrorMessage(err))
		}
		if a.Type == "image" {
			images++
		} else {
			other++
		}
	}
	switch {
	case images > MaxMomentImages:
		return kith.Errorf(kith.EINVALID, "campaign: content: %d images; a moment takes at most %d", images, MaxMomentImages)
	case other > 1 || other == 1 && images > 0:
		return kith.Errorf(kith.EINVALID, "campaign: content: a moment takes up to %d images, or one video, or one link, not a mix", MaxMomentImages)
	}
	return nil
}

// validateMembers checks an audience's sending members (WeCom channels only).
func (a Audience) validateMembers(ch Channel) error {
	if len(a.Members) == 0 {
		return nil
	}
	if ch != WeCom && ch != WeComMoment {
		return kith.Errorf(kith.EINVALID, "campaign: audience: sending members apply to WeCom campaigns only")
	}
	if len(a.Members) > MaxMembers {
		return kith.Errorf(kith.EINVALID, "campaign: audience: %d members; at most %d", len(a.Members), MaxMembers)
	}
	for i, m := range a.Members {
		if strings.TrimSpace(m) == "" || len(m) > 64 {
			return kith.Errorf(kith.EINVALID, "campaign: audience: member %d must be a userid of 1 to 64 characters", i+1)
		}
	}
	return nil
}

// addressesOf finds the recipients of customers for campaign c: the
// Service's Addresser, except that a WeCom campaign naming its sending
// members reaches only their customers, each sent by the chosen member who
// has known the customer longest. A customer none of them follows has no
// address (refused NO_ADDRESS).
func (s *Service) addressesOf(ctx context.Context, c Campaign, customers []int64) (map[int64]Recipient, error) {
	if len(c.Audience.Members) == 0 || (c.Channel != WeCom && c.Channel != WeComMoment) {
		return s.address.Addresses(ctx, c.Channel, customers)
	}
	return wecomAddresses(ctx, s.db, customers, c.Audience.Members)
}
