// Package settings keeps the instance settings that can be edited in the
// console — the WeCom connection first — with secret values sealed under the
// field key. A setting given in the environment wins over the stored one and
// is shown read-only.
package settings

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// DefaultAPIBase is Tencent's WeCom API host.
const DefaultAPIBase = "https://qyapi.weixin.qq.com"

// WeCom is the connection to a WeCom corp.
type WeCom struct {
	CorpID         string // ww… (or wx… for old corps)
	AgentID        int64  // the self-built app's id (optional)
	Secret         string // the app's secret; sealed at rest
	CallbackToken  string // sealed at rest
	CallbackAESKey string // the 43-character EncodingAESKey; sealed at rest
	APIBase        string // DefaultAPIBase, or the sandbox

	// FromEnv names the fields fixed by environment variables.
	FromEnv map[string]bool
}

// Environment variables of the WeCom connection.
const (
	EnvCorpID         = "KITH_WECOM_CORP_ID"
	EnvAgentID        = "KITH_WECOM_AGENT_ID"
	EnvSecret         = "KITH_WECOM_SECRET"
	EnvCallbackToken  = "KITH_WECOM_CALLBACK_TOKEN"
	EnvCallbackAESKey = "KITH_WECOM_CALLBACK_AES_KEY"
	EnvAPIBase        = "KITH_WECOM_API_BASE"
)

// Configured reports whether Kith can call the API and take callbacks.
func (w WeCom) Configured() bool {
	return w.CorpID != "" && w.Secret != "" && w.CallbackToken != "" && w.CallbackAESKey != ""
}

var (
	corpIDRe = regexp.MustCompile(`^w[wx][0-9a-zA-Z]{1,62}$`)
	aesKeyRe = regexp.MustCompile(`^[A-Za-z0-9]{43}$`)
	tokenRe  = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
)

// Check validates every field that is set, naming the first wrong one.
func (w WeCom) Check() error {
	bad := func(field, format string, args ...any) error {
		return kith.Errorf(kith.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
	}
	if w.CorpID != "" && !corpIDRe.MatchString(w.CorpID) {
		return bad("corp ID", "%q is not a WeCom corp ID (ww followed by letters and digits; find it under 我的企业 → 企业信息)", w.CorpID)
	}
	if w.AgentID < 0 {
		return bad("agent ID", "must be a positive number")
	}
	if len(w.Secret) > 128 {
		return bad("secret", "is longer than 128 characters")
	}
	if w.CallbackToken != "" && !tokenRe.MatchString(w.CallbackToken) {
		return bad("callback token", "must be 1 to 32 letters and digits, as WeCom generates it")
	}
	if w.CallbackAESKey != "" && !aesKeyRe.MatchString(w.CallbackAESKey) {
		return bad("callback EncodingAESKey", "must be exactly 43 letters and digits, as WeCom generates it")
	}
	if w.APIBase != "" {
		u, err := url.Parse(w.APIBase)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return bad("API base", "%q is not an http(s) address such as %s", w.APIBase, DefaultAPIBase)
		}
	}
	return nil
}

// WeComFromEnv reads the WeCom connection from the environment and checks
// it; fields not set stay empty.
func WeComFromEnv(getenv func(string) string) (WeCom, error) {
	w := WeCom{
		CorpID: getenv(EnvCorpID), Secret: getenv(EnvSecret), CallbackToken: getenv(EnvCallbackToken),
		CallbackAESKey: getenv(EnvCallbackAESKey), APIBase: strings.TrimRight(getenv(EnvAPIBase), "/"), FromEnv: map[string]bool{},
	}
	if v := getenv(EnvAgentID); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return w, fmt.Errorf("%s is %q; use the app's numeric AgentId", EnvAgentID, v)
		}
		w.AgentID = id
	}
	for field, env := range map[string]string{"corp_id": EnvCorpID, "agent_id": EnvAgentID, "secret": EnvSecret, "callback_token": EnvCallbackToken, "callback_aes_key": EnvCallbackAESKey, "api_base": EnvAPIBase} {
		if getenv(env) != "" {
			w.FromEnv[field] = true
		}
	}
	if err := w.Check(); err != nil {
		return w, fmt.Errorf("%s (from the KITH_WECOM_* environment variables)", kith.ErrorMessage(err))
	}
	return w, nil
}

// Store reads and writes settings.
type Store struct {
	db     *store.DB
	sealer *fieldcrypt.Sealer
	clock  kith.Clock
	env    WeCom // the environment's WeCom fields, which win
}

// NewStore returns a Store; env holds the settings fixed by the environment.
func NewStore(db *store.DB, sealer *fieldcrypt.Sealer, clock kith.Clock, env WeCom) *Store {
	if env.FromEnv == nil {
		env.FromEnv = map[string]bool{}
	}
	return &Store{db: db, sealer: sealer, clock: clock, env: env}
}

var secretFields = map[string]bool{"secret": true, "callback_token": true, "callback_aes_key": true}

// WeCom returns the WeCom connection: the stored settings with the
// environment's on top, and DefaultAPIBase when none is set.
func (s *Store) WeCom(ctx context.Context) (WeCom, error) {
	w := WeCom{FromEnv: s.env.FromEnv}
	rows, err := s.db.R.QueryContext(ctx, "SELECT key, value FROM settings WHERE key LIKE 'wecom.%'")
	if err != nil {
		return w, fmt.Errorf("settings: read: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return w, fmt.Errorf("settings: read: %w", err)
		}
		field := strings.TrimPrefix(k, "wecom.")
		if secretFields[field] {
			if v, err = s.sealer.Open(v, "settings:"+k); err != nil {
				return w, fmt.Errorf("settings: %s cannot be decrypted with this instance's field key: %w", k, err)
			}
		}
		setField(&w, field, v)
	}
	if err := rows.Err(); err != nil {
		return w, err
	}
	for field := range s.env.FromEnv {
		setField(&w, field, getField(s.env, field))
	}
	if w.APIBase == "" {
		w.APIBase = DefaultAPIBase
	}
	return w, nil
}

func setField(w *WeCom, field, v string) {
	switch field {
	case "corp_id":
		w.CorpID = v
	case "agent_id":
		w.AgentID, _ = strconv.ParseInt(v, 10, 64)
	case "secret":
		w.Secret = v
	case "callback_token":
		w.CallbackToken = v
	case "callback_aes_key":
		w.CallbackAESKey = v
	case "api_base":
		w.APIBase = v
	}
}

func getField(w WeCom, field string) string {
	switch field {
	case "corp_id":
		return w.CorpID
	case "agent_id":
		if w.AgentID == 0 {
			return ""
		}
		return strconv.FormatInt(w.AgentID, 10)
	case "secret":
		return w.Secret
	case "callback_token":
		return w.CallbackToken
	case "callback_aes_key":
		return w.CallbackAESKey
	case "api_base":
		return w.APIBase
	}
	return ""
}

// SaveWeCom stores the WeCom connection. Empty secret fields keep their
// stored value (the console never shows secrets back); fields fixed by the
// environment cannot be changed here.
func (s *Store) SaveWeCom(ctx context.Context, w WeCom, by string) error {
	w.APIBase = strings.TrimRight(w.APIBase, "/")
	if err := w.Check(); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, field := range []string{"corp_id", "agent_id", "secret", "callback_token", "callback_aes_key", "api_base"} {
			v := getField(w, field)
			if s.env.FromEnv[field] {
				if v != "" && v != getField(s.env, field) {
					return kith.Errorf(kith.EINVALID, "%s is set by the environment (%s); change it there", field, envName(field))
				}
				continue
			}
			key := "wecom." + field
			if v == "" {
				if secretFields[field] {
					continue // keep the stored secret
				}
				if _, err := tx.ExecContext(ctx, "DELETE FROM settings WHERE key = $1", key); err != nil {
					return fmt.Errorf("settings: save %s: %w", key, err)
				}
				continue
			}
			if secretFields[field] {
				v = s.sealer.Seal(v, "settings:"+key)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
				key, v, now, by); err != nil {
				return fmt.Errorf("settings: save %s: %w", key, err)
			}
		}
		return nil
	})
}

func envName(field string) string {
	return map[string]string{"corp_id": EnvCorpID, "agent_id": EnvAgentID, "secret": EnvSecret, "callback_token": EnvCallbackToken, "callback_aes_key": EnvCallbackAESKey, "api_base": EnvAPIBase}[field]
}
