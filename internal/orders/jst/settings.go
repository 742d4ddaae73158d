package jst

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

// Settings are the connector's settings, edited on the console's order
// connector page and kept in the settings table under "jst.": the app
// secret and access token sealed with the field key ("settings:" + key, as
// the WeCom secret), so key rotation re-seals them.
type Settings struct {
	Enabled     bool          // pull on schedule
	Interval    time.Duration // between scheduled pulls; DefaultInterval when 0
	BaseURL     string        // the gateway; DefaultBaseURL when empty, the sandbox's in sandbox mode
	AppKey      string
	AppSecret   string // sealed at rest, never shown back
	AccessToken string // the merchant's access_token; sealed at rest, never shown back
	// Shops maps a 聚水潭 shop number to the Kith shop key its orders get,
	// "platform:name" as file imports write it (orders.ShopKey), so an order
	// pulled here and the same order in a shop's export file are one order.
	// A shop not listed gets the platform its site names and its name.
	Shops map[int64]string
}

// Bounds of the pull interval.
const (
	DefaultInterval = 15 * time.Minute
	MinInterval     = 5 * time.Minute
	MaxInterval     = 24 * time.Hour
	maxShops        = 500
)

// Configured reports whether the connector can call the platform.
func (s Settings) Configured() bool {
	return s.AppKey != "" && s.AppSecret != "" && s.AccessToken != ""
}

// Every is the interval in use.
func (s Settings) Every() time.Duration {
	if s.Interval == 0 {
		return DefaultInterval
	}
	return s.Interval
}

// Check validates the settings, naming the first wrong field and how to
// put it right.
func (s Settings) Check() error {
	bad := func(field, format string, args ...any) error {
		return kith.Errorf(kith.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
	}
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return bad("API base URL", "%q is not an http(s) address such as %s", s.BaseURL, DefaultBaseURL)
		}
	}
	for _, f := range []struct{ name, v string }{{"app key", s.AppKey}, {"app secret", s.AppSecret}, {"access token", s.AccessToken}} {
		if len(f.v) > 128 {
			return bad(f.name, "is longer than 128 characters")
		}
		if strings.ContainsAny(f.v, " \t\r\n") {
			return bad(f.name, "contains spaces; copy it again from the 聚水潭 open platform")
		}
	}
	if s.Interval != 0 && (s.Interval < MinInterval || s.Interval > MaxInterval) {
		return bad("interval", "must be from %d minutes to %d hours, not %s", int(MinInterval.Minutes()), int(MaxInterval.Hours()), s.Interval)
	}
	if s.Enabled && !s.Configured() {
		return bad("on", "the app key, app secret and access token are all needed before the connector can be turned on")
	}
	if len(s.Shops) > maxShops {
		return bad("shops", "at most %d shops can be mapped", maxShops)
	}
	for id, key := range s.Shops {
		p, n, ok := strings.Cut(key, ":")
		if !ok || strings.TrimSpace(p) == "" || strings.TrimSpace(n) == "" || len(key) > 256 {
			return bad("shops", "shop %d maps to %q; write platform:shop name, e.g. taobao:天猫旗舰店", id, key)
		}
	}
	return nil
}

// ParseShops reads the shop mapping as the console's text box holds it: one
// "NUMBER = platform:shop name" a line; empty lines and lines starting with
// # are skipped. Keys are normalised with orders.ShopKey.
func ParseShops(text string) (map[int64]string, error) {
	out := map[int64]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, key, ok := strings.Cut(line, "=")
		if !ok {
			return nil, kith.Errorf(kith.EINVALID, "shops, line %d: %q has no =; write 10 = taobao:天猫旗舰店", i+1, clip(line))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err != nil || n < 0 {
			return nil, kith.Errorf(kith.EINVALID, "shops, line %d: %q is not a 聚水潭 shop number (shop_id)", i+1, clip(strings.TrimSpace(id)))
		}
		p, name, ok := strings.Cut(key, ":")
		if !ok || strings.TrimSpace(p) == "" || strings.TrimSpace(name) == "" {
			return nil, kith.Errorf(kith.EINVALID, "shops, line %d: %q is not platform:shop name, e.g. taobao:天猫旗舰店", i+1, clip(strings.TrimSpace(key)))
		}
		if _, dup := out[n]; dup {
			return nil, kith.Errorf(kith.EINVALID, "shops, line %d: shop %d is mapped twice", i+1, n)
		}
		out[n] = orders.ShopKey(p, name)
	}
	return out, nil
}

// FormatShops writes the shop mapping as ParseShops reads it, by number.
func FormatShops(m map[int64]string) string {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d = %s\n", id, m[id])
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// The settings keys.
const (
	keyEnabled  = "jst.enabled"
	keyInterval = "jst.interval_minutes"
	keyBaseURL  = "jst.base_url"
	keyAppKey   = "jst.app_key"
	keySecret   = "jst.app_secret"
	keyToken    = "jst.access_token"
	keyShops    = "jst.shops"
)

var secretKeys = map[string]bool{keySecret: true, keyToken: true}

// Settings returns the saved settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	var out Settings
	rows, err := s.DB.R.QueryContext(ctx, "SELECT key, value FROM settings WHERE key LIKE 'jst.%'")
	if err != nil {
		return out, fmt.Errorf("jst: read settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return out, fmt.Errorf("jst: read settings: %w", err)
		}
		if secretKeys[k] {
			if v, err = s.Sealer.Open(v, "settings:"+k); err != nil {
				return out, fmt.Errorf("jst: %s cannot be decrypted with this instance's field key: %w", k, err)
			}
		}
		switch k {
		case keyEnabled:
			out.Enabled = v == "1"
		case keyInterval:
			m, _ := strconv.Atoi(v)
			out.Interval = time.Duration(m) * time.Minute
		case keyBaseURL:
			out.BaseURL = v
		case keyAppKey:
			out.AppKey = v
		case keySecret:
			out.AppSecret = v
		case keyToken:
			out.AccessToken = v
		case keyShops:
			if out.Shops, err = ParseShops(v); err != nil {
				return out, fmt.Errorf("jst: the stored shop mapping: %w", err)
			}
		}
	}
	return out, rows.Err()
}

// WithStoredSecrets returns typed with the saved secrets where typed has
// none: the console never shows a secret back, and an empty field keeps it.
func (s *Service) WithStoredSecrets(ctx context.Context, typed Settings) (Settings, error) {
	if typed.AppSecret != "" && typed.AccessToken != "" {
		return typed, nil
	}
	old, err := s.Settings(ctx)
	if err != nil {
		return typed, err
	}
	if typed.AppSecret == "" {
		typed.AppSecret = old.AppSecret
	}
	if typed.AccessToken == "" {
		typed.AccessToken = old.AccessToken
	}
	return typed, nil
}

// Save checks and stores the settings. Empty secrets keep the stored ones
// (the check of "on" sees them).
func (s *Service) Save(ctx context.Context, in Settings, by string) error {
	in.BaseURL = strings.TrimRight(strings.TrimSpace(in.BaseURL), "/")
	full, err := s.WithStoredSecrets(ctx, in)
	if err != nil {
		return err
	}
	if err := full.Check(); err != nil {
		return err
	}
	enabled, interval := "0", ""
	if in.Enabled {
		enabled = "1"
	}
	if in.Interval != 0 {
		interval = strconv.Itoa(int(in.Interval.Minutes()))
	}
	values := map[string]string{keyEnabled: enabled, keyInterval: interval, keyBaseURL: in.BaseURL, keyAppKey: in.AppKey,
		keySecret: in.AppSecret, keyToken: in.AccessToken, keyShops: FormatShops(in.Shops)}
	now := s.Clock.Now()
	return s.DB.InTx(ctx, func(tx *sql.Tx) error {
		for _, k := range []string{keyEnabled, keyInterval, keyBaseURL, keyAppKey, keySecret, keyToken, keyShops} {
			v := values[k]
			if v == "" {
				if secretKeys[k] {
					continue // keep the stored secret
				}
				if _, err := tx.ExecContext(ctx, "DELETE FROM settings WHERE key = $1", k); err != nil {
					return fmt.Errorf("jst: save %s: %w", k, err)
				}
				continue
			}
			if secretKeys[k] {
				v = s.Sealer.Seal(v, "settings:"+k)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
				k, v, now, by); err != nil {
				return fmt.Errorf("jst: save %s: %w", k, err)
			}
		}
		return nil
	})
}
