package app

import (
	"context"
	"log/slog"
	"net"
	"strconv"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/email/smtpsink"
	"github.com/kith-scrm/kith/internal/channel/emailcampaign"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/channel/smscampaign"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/providers"
	"github.com/kith-scrm/kith/internal/store"
)

// providerChannels registers the SMS and e-mail campaign transports on
// svc: each batch sends with the senders made from the provider settings
// saved in the console (Settings → Providers), made again when they
// change. Until a provider is configured, a running campaign of that
// channel fails its batch with an error that says so, and nothing is
// claimed. The Senders returned are closed at the stop.
func providerChannels(svc *campaign.Service, db *store.DB, prov *providers.Store, tokenKey []byte, clock kith.Clock) *providers.Senders {
	senders := &providers.Senders{Store: prov, Claim: svc.Claimer(), Clock: clock, TokenKey: tokenKey}
	// The SMS cost estimate uses the price saved with the SMS provider.
	svc.SetSMSPricer(func(ctx context.Context) (float64, bool, error) {
		set, err := prov.Get(ctx)
		if err != nil {
			return 0, false, err
		}
		return set.SMS.PriceFen, set.SMS.Provider != "" && set.SMS.PriceFen > 0, nil
	})
	svc.Register(campaign.SMS, smscampaign.CampaignTransport{Provider: liveSMS{senders}}, nil)
	svc.Register(campaign.Email, emailcampaign.CampaignTransport{DB: db, Mailer: func(ctx context.Context) (emailcampaign.Sender, error) {
		m, err := senders.Mailer(ctx)
		if err != nil {
			return nil, err
		}
		return m, nil
	}}, nil)
	return senders
}

// liveSMS sends with the SMS provider of the current settings.
type liveSMS struct{ s *providers.Senders }

// Send implements smscampaign.Provider.
func (l liveSMS) Send(ctx context.Context, permits []gate.Permit, m sms.Message) ([]channel.Result, error) {
	p, err := l.s.SMS(ctx)
	if err != nil {
		return nil, err
	}
	return p.Send(ctx, permits, m)
}

// sandboxMail starts the SMTP sink of `serve --sandbox` and points the
// e-mail settings at it (whatever is saved): messages stay on this
// machine, unsubscribe links point at kithURL, and a DKIM key made for
// this start signs them when none is saved.
func sandboxMail(prov *providers.Store, kithURL string, log *slog.Logger) (*smtpsink.Sink, error) {
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	key, err := email.GenerateDKIMKey()
	if err != nil {
		sink.Close()
		return nil, err
	}
	host, portText, _ := net.SplitHostPort(sink.Addr())
	port, _ := strconv.Atoi(portText)
	prov.Fixed = func(s *providers.Settings) {
		s.SMTP.Host, s.SMTP.Port, s.SMTP.TLS, s.SMTP.Username, s.SMTP.Password = host, port, email.NoTLS, "", ""
		s.SMTP.PublicURL = kithURL
		if s.SMTP.From == "" {
			s.SMTP.From, s.SMTP.FromName = "news@shop.example", "Kith sandbox"
		}
		if !s.DKIM.HasKey {
			s.DKIM = providers.DKIM{Domain: "shop.example", Selector: "sandbox", PrivateKey: key, HasKey: true}
		}
		s.Sandbox = true
	}
	log.Info("sandbox: campaign e-mail goes to the local SMTP sink", "addr", sink.Addr())
	return sink, nil
}
