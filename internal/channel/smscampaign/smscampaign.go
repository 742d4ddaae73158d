// Package smscampaign sends campaigns by SMS: a campaign.Transport over
// internal/channel/sms's Tencent or Aliyun sender. (A package of its own:
// campaign uses the sms package's message rules, so sms cannot import it.)
package smscampaign

import (
	"context"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/gate"
)

// Provider is an SMS sender (*sms.Tencent or *sms.Aliyun).
type Provider interface {
	Send(ctx context.Context, permits []gate.Permit, m sms.Message) ([]channel.Result, error)
}

// CampaignTransport sends campaign batches through a Provider made with
// the campaign Service's Claimer (so each delivery is claimed with its
// permit). A batch whose answer is lost comes back Unknown and, SMS having
// no way to ask the provider, stays unknown: it is never resent.
type CampaignTransport struct{ Provider Provider }

// Send implements campaign.Transport: the campaign's signature, template
// and values; the batch's id as the session, echoed in delivery reports.
func (t CampaignTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	m := b.Campaign.Content.SMSMessage(b.Campaign.Purpose)
	m.Session = campaign.SMSSession(b.Campaign.ID, b.ID)
	return t.Provider.Send(ctx, permits, m)
}

var _ campaign.Transport = CampaignTransport{}
