package providers

import (
	"context"
	"net/mail"
	"strconv"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// SMSSender is an SMS provider's sender (*sms.Tencent or *sms.Aliyun).
type SMSSender interface {
	Send(ctx context.Context, permits []gate.Permit, m sms.Message) ([]channel.Result, error)
}

// Senders makes the e-mail and SMS senders from the stored settings, and
// makes them again when the settings change (checked at every call: the
// console's save takes effect at the next batch).
type Senders struct {
	Store *Store
	Claim *channel.Claimer
	Clock kith.Clock
	// TokenKey is the instance's unsubscribe-token key.
	TokenKey []byte

	mu       sync.Mutex
	version  string
	mailer   *email.Mailer
	mailErr  error
	smsSend  SMSSender
	smsErr   error
	settings Settings
}

// refresh rebuilds the senders when the settings changed.
func (s *Senders) refresh(ctx context.Context) error {
	set, err := s.Store.Get(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if set.Version == s.version && s.version != "" {
		return nil
	}
	if s.mailer != nil {
		s.mailer.Close()
	}
	s.version, s.settings = set.Version, set
	s.mailer, s.mailErr = NewMailer(set, s.Claim, s.Clock, s.TokenKey)
	s.smsSend, s.smsErr = NewSMS(set, s.Claim, s.Clock)
	return nil
}

// Mailer returns the e-mail sender of the current settings, or an
// EUNAVAILABLE error saying what is missing.
func (s *Senders) Mailer(ctx context.Context) (*email.Mailer, error) {
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mailer, s.mailErr
}

// SMS returns the SMS sender of the current settings, or an EUNAVAILABLE
// error saying what is missing.
func (s *Senders) SMS(ctx context.Context) (SMSSender, error) {
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.smsSend, s.smsErr
}

// Close closes the e-mail sender's connections.
func (s *Senders) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mailer != nil {
		s.mailer.Close()
	}
}

// NewMailer makes the e-mail sender of set; claim consumes the permits.
func NewMailer(set Settings, claim *channel.Claimer, clock kith.Clock, tokenKey []byte) (*email.Mailer, error) {
	if !set.EmailReady() {
		return nil, kith.Errorf(kith.EUNAVAILABLE, "providers: no SMTP server is configured (Settings → Providers)")
	}
	var dkim *email.DKIM
	if set.DKIM.HasKey {
		key, err := email.ParseDKIMKey([]byte(set.DKIM.PrivateKey))
		if err != nil {
			return nil, err
		}
		if dkim, err = email.NewDKIM(set.DKIM.Domain, set.DKIM.Selector, key); err != nil {
			return nil, err
		}
	}
	c := set.SMTP
	mailto := c.UnsubscribeMailto
	if mailto == "" {
		mailto = c.From
	}
	comp, err := email.NewComposer(email.Sender{From: mail.Address{Name: c.FromName, Address: c.From}, UnsubscribeURL: c.PublicURL + "/u/",
		UnsubscribeMailto: mailto, TokenKey: tokenKey}, dkim, clock)
	if err != nil {
		return nil, err
	}
	var limiter *channel.Limiter
	if c.PerMinute > 0 {
		if limiter, err = channel.NewLimiter(clock, channel.Window{N: c.PerMinute, Per: time.Minute}); err != nil {
			return nil, err
		}
	}
	return email.NewMailer(email.SMTPConfig{Addr: c.Host + ":" + strconv.Itoa(c.Port), TLS: c.TLS, Username: c.Username, Password: c.Password},
		comp, claim, limiter)
}

// NewSMS makes the SMS sender of set; claim consumes the permits.
func NewSMS(set Settings, claim *channel.Claimer, clock kith.Clock) (SMSSender, error) {
	if !set.SMSReady() {
		return nil, kith.Errorf(kith.EUNAVAILABLE, "providers: no SMS provider is configured (Settings → Providers)")
	}
	v := set.SMS
	if v.Provider == Aliyun {
		return sms.NewAliyun(sms.AliyunConfig{AccessKeyID: v.SecretID, AccessKeySecret: v.SecretKey, RegionID: v.Region, Endpoint: v.Endpoint}, claim, nil, clock)
	}
	return sms.NewTencent(sms.TencentConfig{SecretID: v.SecretID, SecretKey: v.SecretKey, SdkAppID: v.SdkAppID, Region: v.Region, Endpoint: v.Endpoint}, claim, nil, clock)
}
