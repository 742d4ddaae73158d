package web

import (
	"net/http"
	"strings"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/kith"
)

// maxAttachmentsField bounds the attachments text of the campaign form.
const maxAttachmentsField = 32 << 10

// parseAttachments reads the form's attachments, one a line:
//
//	image MEDIA_ID
//	video MEDIA_ID
//	link URL TITLE…  (a cover image's media_id may follow the URL after "|")
//
// The campaign checks types, sizes and counts for its channel; this says
// which line cannot be read.
func parseAttachments(s string) ([]campaign.Attachment, error) {
	if len(s) > maxAttachmentsField {
		return nil, kith.Errorf(kith.EINVALID, "campaign: attachments: more than %d bytes", maxAttachmentsField)
	}
	var out []campaign.Attachment
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch kind {
		case "image", "video", "file":
			if rest == "" || strings.ContainsAny(rest, " \t") {
				return nil, kith.Errorf(kith.EINVALID, "campaign: attachments: line %d: write %q and the media_id of the uploaded file", i+1, kind)
			}
			out = append(out, campaign.Attachment{Type: kind, MediaID: rest})
		case "link":
			u, title, _ := strings.Cut(rest, " ")
			u, cover, _ := strings.Cut(u, "|")
			out = append(out, campaign.Attachment{Type: "link", URL: u, Title: strings.TrimSpace(title), MediaID: cover})
		default:
			return nil, kith.Errorf(kith.EINVALID, "campaign: attachments: line %d: start with image, video or link, not %q", i+1, kind)
		}
	}
	return out, nil
}

// splitCampaignList reads a list written with commas (either width) or new lines.
func splitCampaignList(s string) []string {
	var out []string
	for v := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '，' || r == '\n' }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// momentInput adds the form's attachments and sending members to in.
func (s *Server) momentInput(r *http.Request, f campaignForm, in *campaign.Input) *problem {
	atts, err := parseAttachments(f.Attachments)
	if err != nil {
		return s.problemOf(r, err)
	}
	if len(atts) > 0 {
		in.Content.Attachments = atts
	}
	in.Audience.Members = splitCampaignList(f.Members)
	return nil
}
