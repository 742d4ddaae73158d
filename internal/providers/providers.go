// Package providers keeps the settings of the SMS and e-mail providers
// Kith sends campaigns through (issue 7) — the SMS provider (Tencent Cloud
// or Aliyun), the SMTP server and the DKIM key — in the settings table,
// with every secret sealed under the field key, and makes the senders from
// them.
package providers

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// SMTP is the server campaign e-mail goes through.
type SMTP struct {
	Host      string `json:"host"`
	Port      int    `json:"port"`
	TLS       string `json:"tls"` // email.StartTLS, email.Implicit or email.NoTLS
	Username  string `json:"username,omitempty"`
	Password  string `json:"-"` // sealed at rest; never shown
	From      string `json:"from"`
	FromName  string `json:"from_name,omitempty"`
	PerMinute int    `json:"per_minute,omitempty"` // 0: no limit of Kith's own
	// PublicURL is the address customers reach this Kith at (https); the
	// unsubscribe links are PublicURL + /u/ + token.
	PublicURL string `json:"public_url"`
	// UnsubscribeMailto receives refusals by e-mail; From when empty.
	UnsubscribeMailto string `json:"unsubscribe_mailto,omitempty"`
	// HasPassword says a password is stored (the form shows "set").
	HasPassword bool `json:"-"`
}

// DKIM is the key that signs campaign e-mail.
type DKIM struct {
	Domain     string `json:"domain"`
	Selector   string `json:"selector"`
	PrivateKey string `json:"-"` // PEM, sealed at rest; never shown
	HasKey     bool   `json:"-"`
}

// SMS providers.
const (
	Tencent = "tencent"
	Aliyun  = "aliyun"
)

// SMSTemplate is a template the provider approved.
type SMSTemplate struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Text      string `json:"text"`
	Marketing bool   `json:"marketing,omitempty"`
}

// SMS is the SMS provider.
type SMS struct {
	Provider  string        `json:"provider"` // Tencent or Aliyun
	SecretID  string        `json:"secret_id"`
	SecretKey string        `json:"-"` // sealed at rest; never shown
	SdkAppID  string        `json:"sdk_app_id,omitempty"`
	Region    string        `json:"region,omitempty"`
	SignName  string        `json:"sign_name"`
	Templates []SMSTemplate `json:"templates,omitempty"`
	PriceFen  float64       `json:"price_fen,omitempty"` // per billed message (part), for the cost estimate; 4.5 for 0.045 yuan
	// Endpoint replaces the provider's address (a local sandbox).
	Endpoint string `json:"endpoint,omitempty"`
	HasKey   bool   `json:"-"`
}

// Settings are all the providers.
type Settings struct {
	SMTP SMTP
	DKIM DKIM
	SMS  SMS
	// Version changes whenever a setting changes: senders made from older
	// settings are made again.
	Version string
	// Sandbox says the e-mail settings are fixed by `serve --sandbox`
	// (messages go to its local SMTP sink).
	Sandbox bool
}

// EmailReady reports whether e-mail can be sent (DKIM is needed for
// marketing mail only).
func (s Settings) EmailReady() bool {
	return s.SMTP.Host != "" && s.SMTP.From != "" && s.SMTP.PublicURL != ""
}

// SMSReady reports whether SMS can be sent.
func (s Settings) SMSReady() bool {
	return s.SMS.Provider != "" && s.SMS.SecretID != "" && s.SMS.SecretKey != ""
}

// Keys of the settings table.
const (
	keySMTP = "providers.smtp"
	keyDKIM = "providers.dkim"
	keySMS  = "providers.sms"
)

// stored is one settings row: the public fields as JSON and the secret
// sealed.
type stored struct {
	Public json.RawMessage `json:"public"`
	Secret string          `json:"secret,omitempty"` // fieldcrypt sealed
}

// Store reads and writes the providers' settings.
type Store struct {
	db     *store.DB
	sealer *fieldcrypt.Sealer
	clock  kith.Clock
	// Fixed, when set, changes the settings Get returns after reading
	// them: `serve --sandbox` points e-mail at its local SMTP sink with
	// it. The settings page says so.
	Fixed func(*Settings)
}

// NewStore returns a Store; sealer seals the secrets.
func NewStore(db *store.DB, sealer *fieldcrypt.Sealer, clock kith.Clock) *Store {
	return &Store{db: db, sealer: sealer, clock: clock}
}

// Get returns the settings, secrets opened.
func (s *Store) Get(ctx context.Context) (Settings, error) {
	var out Settings
	var version strings.Builder
	for _, k := range []string{keySMTP, keyDKIM, keySMS} {
		var raw string
		err := s.db.R.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = $1", k).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			version.WriteString("-;")
			continue
		}
		if err != nil {
			return out, fmt.Errorf("providers: read %s: %w", k, err)
		}
		version.WriteString(strconv.Itoa(len(raw)) + ":" + raw + ";")
		var st stored
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return out, fmt.Errorf("providers: %s is not valid: %w", k, err)
		}
		secret := ""
		if st.Secret != "" {
			if secret, err = s.sealer.Open(st.Secret, "settings:"+k); err != nil {
				return out, fmt.Errorf("providers: %s cannot be decrypted with this instance's field key: %w", k, err)
			}
		}
		switch k {
		case keySMTP:
			err = json.Unmarshal(st.Public, &out.SMTP)
			out.SMTP.Password, out.SMTP.HasPassword = secret, secret != ""
		case keyDKIM:
			err = json.Unmarshal(st.Public, &out.DKIM)
			out.DKIM.PrivateKey, out.DKIM.HasKey = secret, secret != ""
		case keySMS:
			err = json.Unmarshal(st.Public, &out.SMS)
			out.SMS.SecretKey, out.SMS.HasKey = secret, secret != ""
		}
		if err != nil {
			return out, fmt.Errorf("providers: %s is not valid: %w", k, err)
		}
	}
	out.Version = fmt.Sprintf("%x", sha256.Sum256([]byte(version.String())))
	if s.Fixed != nil {
		s.Fixed(&out)
	}
	return out, nil
}

// put stores one row: public as JSON, secret sealed (an empty secret keeps
// the stored one).
func (s *Store) put(ctx context.Context, key string, public any, secret, by string) error {
	b, err := json.Marshal(public)
	if err != nil {
		return err
	}
	st := stored{Public: b}
	if secret != "" {
		st.Secret = s.sealer.Seal(secret, "settings:"+key)
	} else {
		var raw string
		err := s.db.R.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = $1", key).Scan(&raw)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("providers: read %s: %w", key, err)
		}
		var old stored
		if raw != "" && json.Unmarshal([]byte(raw), &old) == nil {
			st.Secret = old.Secret
		}
	}
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	if _, err := s.db.W.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		key, string(v), now, by); err != nil {
		return fmt.Errorf("providers: save %s: %w", key, err)
	}
	return nil
}

func bad(field, format string, args ...any) error {
	return kith.Errorf(kith.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// SaveSMTP checks and stores the SMTP settings; an empty Password keeps
// the stored one.
func (s *Store) SaveSMTP(ctx context.Context, v SMTP, by string) error {
	v.Host, v.From, v.PublicURL = strings.TrimSpace(v.Host), strings.TrimSpace(v.From), strings.TrimRight(strings.TrimSpace(v.PublicURL), "/")
	if err := v.Check(); err != nil {
		return err
	}
	return s.put(ctx, keySMTP, v, v.Password, by)
}

// Check validates the SMTP settings, naming the first wrong field.
func (v SMTP) Check() error {
	switch {
	case v.Host == "" || strings.ContainsAny(v.Host, " /:@") && net.ParseIP(v.Host) == nil:
		return bad("host", "%q is not a host name such as smtp.example.com", v.Host)
	case v.Port < 1 || v.Port > 65535:
		return bad("port", "%d is not a port (587 for STARTTLS, 465 for TLS)", v.Port)
	case v.TLS != email.StartTLS && v.TLS != email.Implicit && v.TLS != email.NoTLS:
		return bad("TLS", "%q: choose STARTTLS, TLS or none", v.TLS)
	case v.TLS == email.NoTLS && !loopback(v.Host):
		return bad("TLS", "a server other than this machine must be reached with TLS or STARTTLS (the password and the messages would travel in clear)")
	case len(v.Username) > 256 || len(v.Password) > 256:
		return bad("user", "the user name and the password have at most 256 characters")
	case v.PerMinute < 0 || v.PerMinute > 1_000_000:
		return bad("rate", "%d per minute: give 0 (no limit) to 1,000,000", v.PerMinute)
	case strings.ContainsAny(v.FromName, "\r\n") || len(v.FromName) > 100:
		return bad("from name", "one line of at most 100 characters")
	}
	if a, err := mail.ParseAddress(v.From); err != nil || a.Address != v.From {
		return bad("from", "%q is not an e-mail address such as news@shop.example", v.From)
	}
	if v.UnsubscribeMailto != "" {
		if a, err := mail.ParseAddress(v.UnsubscribeMailto); err != nil || a.Address != v.UnsubscribeMailto {
			return bad("unsubscribe address", "%q is not an e-mail address", v.UnsubscribeMailto)
		}
	}
	u, err := url.Parse(v.PublicURL)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || (u.Scheme != "https" && (u.Scheme != "http" || !loopback(u.Hostname()))) {
		return bad("public address", "%q must be the https:// address customers reach Kith at, such as https://kith.shop.example (unsubscribe links point there)", v.PublicURL)
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// SaveDKIM checks and stores the DKIM settings; an empty PrivateKey keeps
// the stored one (there must be one).
func (s *Store) SaveDKIM(ctx context.Context, v DKIM, by string) error {
	v.Domain, v.Selector = strings.ToLower(strings.TrimSpace(v.Domain)), strings.TrimSpace(v.Selector)
	if !dnsLabel.MatchString(v.Selector) {
		return bad("selector", "%q must be one DNS label, such as kith1", v.Selector)
	}
	labels := strings.Split(v.Domain, ".")
	ok := len(labels) >= 2
	for _, l := range labels {
		ok = ok && dnsLabel.MatchString(l)
	}
	if !ok {
		return bad("domain", "%q is not a domain such as shop.example", v.Domain)
	}
	if v.PrivateKey != "" {
		if _, err := email.ParseDKIMKey([]byte(v.PrivateKey)); err != nil {
			return bad("private key", "%s", kith.ErrorMessage(err))
		}
	} else {
		cur, err := s.Get(ctx)
		if err != nil {
			return err
		}
		if !cur.DKIM.HasKey {
			return bad("private key", "paste a PEM private key or generate one")
		}
	}
	return s.put(ctx, keyDKIM, v, v.PrivateKey, by)
}

// Record returns the DNS TXT record to publish for the DKIM key.
func (v DKIM) Record() (name, value string, err error) {
	k, err := email.ParseDKIMKey([]byte(v.PrivateKey))
	if err != nil {
		return "", "", err
	}
	return email.DNSRecord(v.Domain, v.Selector, k)
}

// MaxSMSTemplates bounds the templates kept.
const MaxSMSTemplates = 50

// SaveSMS checks and stores the SMS provider; an empty SecretKey keeps the
// stored one.
func (s *Store) SaveSMS(ctx context.Context, v SMS, by string) error {
	v.SecretID, v.SignName = strings.TrimSpace(v.SecretID), strings.TrimSpace(v.SignName)
	if err := v.Check(); err != nil {
		return err
	}
	return s.put(ctx, keySMS, v, v.SecretKey, by)
}

// Check validates the SMS settings, naming the first wrong field.
func (v SMS) Check() error {
	switch {
	case v.Provider != Tencent && v.Provider != Aliyun:
		return bad("provider", "%q: choose tencent or aliyun", v.Provider)
	case v.SecretID == "" || len(v.SecretID) > 128 || strings.ContainsAny(v.SecretID, " \r\n"):
		return bad("secret id", "give the API key's id (SecretId / AccessKey ID), without spaces")
	case len(v.SecretKey) > 128:
		return bad("secret key", "is longer than 128 characters")
	case v.Provider == Tencent && !regexp.MustCompile(`^[0-9]{6,20}$`).MatchString(v.SdkAppID):
		return bad("SDK app id", "%q: Tencent's SmsSdkAppId is a number such as 1400006666", v.SdkAppID)
	case v.Region != "" && !regexp.MustCompile(`^[a-z]{2}-[a-z0-9-]{2,30}$`).MatchString(v.Region):
		return bad("region", "%q is not a region such as ap-guangzhou or cn-hangzhou", v.Region)
	case v.SignName == "" || len([]rune(v.SignName)) > 12 || strings.ContainsAny(v.SignName, "【】[]"):
		return bad("signature", "give the approved signature, 2 to 12 characters, without 【】")
	case v.PriceFen < 0 || v.PriceFen > 10000:
		return bad("price", "%g fen per message: give 0 to 10,000, e.g. 4.5", v.PriceFen)
	case len(v.Templates) > MaxSMSTemplates:
		return bad("templates", "at most %d", MaxSMSTemplates)
	}
	if v.Endpoint != "" {
		u, err := url.Parse(v.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("endpoint", "%q is not an http(s) address", v.Endpoint)
		}
	}
	seen := map[string]bool{}
	for i, t := range v.Templates {
		if t.ID == "" || len(t.ID) > 64 || strings.ContainsAny(t.ID, " \r\n") {
			return bad("template "+strconv.Itoa(i+1), "give the provider's template id")
		}
		if seen[t.ID] {
			return bad("template "+t.ID, "is listed twice")
		}
		seen[t.ID] = true
		if strings.TrimSpace(t.Text) == "" || len([]rune(t.Text)) > 500 {
			return bad("template "+t.ID, "give its approved text (at most 500 characters)")
		}
	}
	return nil
}
