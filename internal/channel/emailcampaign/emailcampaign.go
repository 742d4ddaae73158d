// Package emailcampaign sends campaigns by e-mail: a campaign.Transport
// over internal/channel/email's Mailer. (A package of its own: campaign
// uses the email package's message rules, so email cannot import it.)
package emailcampaign

import (
	"context"
	"fmt"
	"strings"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store"
)

// Sender is an e-mail sender (*email.Mailer).
type Sender interface {
	Send(ctx context.Context, permits []gate.Permit, msg email.Message, vars []email.Vars) ([]channel.Result, error)
}

// CampaignTransport sends campaign batches through the Sender that Mailer
// returns (made with the campaign Service's Claimer, so each delivery is
// claimed with its permit), one message per recipient, personalised with
// the customer's name ({{name}}). A message whose answer is lost comes
// back Unknown and is never resent.
type CampaignTransport struct {
	DB *store.DB
	// Mailer returns the sender to use now (settings may have changed
	// since the last batch); an error means no e-mail can be sent.
	Mailer func(ctx context.Context) (Sender, error)
}

// Send implements campaign.Transport.
func (t CampaignTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	m, err := t.Mailer(ctx)
	if err != nil {
		return nil, err
	}
	names, err := t.names(ctx, b.Recipients)
	if err != nil {
		return nil, err
	}
	vars := make([]email.Vars, len(b.Recipients))
	for i, r := range b.Recipients {
		vars[i] = email.Vars{"name": names[r.CustomerID]}
	}
	return m.Send(ctx, permits, b.Campaign.Content.EmailMessage(b.Campaign.Purpose), vars)
}

// names returns the recipients' customer names.
func (t CampaignTransport) names(ctx context.Context, rs []campaign.Recipient) (map[int64]string, error) {
	out := make(map[int64]string, len(rs))
	for start := 0; start < len(rs); start += 500 {
		part := rs[start:min(start+500, len(rs))]
		args := make([]any, len(part))
		ph := make([]string, len(part))
		for i, r := range part {
			args[i] = r.CustomerID
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		rows, err := t.DB.R.QueryContext(ctx, "SELECT id, name FROM customers WHERE id IN ("+strings.Join(ph, ",")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("emailcampaign: customer names: %w", err)
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("emailcampaign: customer names: %w", err)
			}
			out[id] = name
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var _ campaign.Transport = CampaignTransport{}
