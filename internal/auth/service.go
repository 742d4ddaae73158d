package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Limits on sessions and sign-in attempts.
const (
	SessionIdle     = 12 * time.Hour     // a session unused this long ends
	SessionMaxAge   = 7 * 24 * time.Hour // no session lives longer
	sessionTouchGap = time.Minute        // last_seen_at is written at most this often
	failureWindow   = 15 * time.Minute   // failed sign-ins are counted over this window
	maxUserFailures = 5                  // per user name within the window
	maxIPFailures   = 20                 // per client address within the window
	maxUsernameLen  = 64
)

// Service manages users, sessions and API tokens.
type Service struct {
	db     *store.DB
	clock  kith.Clock
	params HashParams
	log    *slog.Logger
	// hashing bounds how many argon2id computations run at once, so a flood
	// of sign-ins cannot take all memory (each takes Memory KiB).
	hashing chan struct{}
	dummy   string // a hash to verify against when the user does not exist
	audit   *audit.Log
}

// UseAudit makes the service log sign-ins, failed sign-ins and token
// changes to the audit log (the server always sets it).
func (s *Service) UseAudit(l *audit.Log) { s.audit = l }

// logAudit appends an entry in the caller's transaction when an audit log
// is set.
func (s *Service) logAudit(ctx context.Context, q store.Querier, e audit.Entry) error {
	if s.audit == nil {
		return nil
	}
	return s.audit.Append(ctx, q, e)
}

func ipDetail(ip, reason string) string {
	d := map[string]string{"ip": ip}
	if reason != "" {
		d["reason"] = reason
	}
	b, _ := json.Marshal(d)
	return string(b)
}

// NewService returns a Service. params may be zero for DefaultHashParams.
func NewService(db *store.DB, clock kith.Clock, params HashParams, log *slog.Logger) *Service {
	if params == (HashParams{}) {
		params = DefaultHashParams
	}
	s := &Service{db: db, clock: clock, params: params, log: log, hashing: make(chan struct{}, 4)}
	s.dummy, _ = HashPassword(rand.Text(), params)
	return s
}

func (s *Service) hash(password string) (string, error) {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return HashPassword(password, s.params)
}

func (s *Service) verify(password, hash string) (bool, error) {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return VerifyPassword(password, hash)
}

// User is a console account.
type User struct {
	ID                 int64
	Username           string
	DisplayName        string
	Role               Role
	MustChangePassword bool
	Disabled           bool
	CreatedAt          time.Time
	LastLoginAt        *time.Time
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username           string
	DisplayName        string
	Role               Role
	Password           string
	MustChangePassword bool
}

// CheckUsername returns an EINVALID error when a user name cannot be used.
func CheckUsername(name string) error {
	if name == "" || len(name) > maxUsernameLen {
		return kith.Errorf(kith.EINVALID, "The user name must have 1 to %d characters.", maxUsernameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '@') {
			return kith.Errorf(kith.EINVALID, "The user name %q may hold only lower-case letters, digits and . _ - @.", name)
		}
	}
	return nil
}

// CreateUser adds a user with a hashed password.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	if err := CheckUsername(nu.Username); err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(nu.Role)); err != nil {
		return nil, err
	}
	if err := CheckNewPassword(nu.Password, nu.Username); err != nil {
		return nil, err
	}
	h, err := s.hash(nu.Password)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	u := &User{Username: nu.Username, DisplayName: nu.DisplayName, Role: nu.Role, MustChangePassword: nu.MustChangePassword, CreatedAt: now}
	err = s.db.W.QueryRowContext(ctx, `INSERT INTO users (username, display_name, role, password_hash, must_change_password, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		nu.Username, nu.DisplayName, string(nu.Role), h, nu.MustChangePassword, now).Scan(&u.ID)
	if store.IsUniqueViolation(err) {
		return nil, kith.Errorf(kith.ECONFLICT, "A user named %q exists already.", nu.Username)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: create user %q: %w", nu.Username, err)
	}
	return u, nil
}

// EnsureOwner creates the owner account "owner" when the instance has no
// user yet. With an empty password it generates one that must be changed at
// first sign-in. It returns the password it used, or "" when users existed.
// Several nodes may call it at once; only one creates the owner.
func (s *Service) EnsureOwner(ctx context.Context, password string) (string, error) {
	var n int
	if err := s.db.W.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return "", fmt.Errorf("auth: count users: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	mustChange := password == ""
	if mustChange {
		password = GeneratePassword()
	}
	_, err := s.CreateUser(ctx, NewUser{Username: "owner", DisplayName: "Owner", Role: RoleOwner, Password: password, MustChangePassword: mustChange})
	if kith.ErrorCode(err) == kith.ECONFLICT {
		return "", nil // another node created it first
	}
	if err != nil {
		return "", err
	}
	return password, nil
}

// ErrBadCredentials is returned for a wrong user name or password; the two
// are not told apart.
var ErrBadCredentials = kith.Errorf(kith.EUNAUTHORIZED, "The user name or password is wrong.")

// Authenticate checks a user name and password from the address ip. Failed
// attempts are counted per user name and per address; past the limits it
// refuses with ETOOMANY before checking the password.
func (s *Service) Authenticate(ctx context.Context, username, password, ip string) (*User, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	if len(username) > maxUsernameLen || len(password) > 1024 {
		return nil, ErrBadCredentials
	}
	now := s.clock.Now()
	since := now.Add(-failureWindow)
	var byUser, byIP int
	err := s.db.R.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM login_failures WHERE username = $1 AND at > $3),
		(SELECT count(*) FROM login_failures WHERE ip = $2 AND at > $3)`, username, ip, since).Scan(&byUser, &byIP)
	if err != nil {
		return nil, fmt.Errorf("auth: count failures: %w", err)
	}
	if byUser >= maxUserFailures || byIP >= maxIPFailures {
		if s.audit != nil {
			// The typed name is not logged: people type passwords there, and
			// the log cannot be erased.
			if err := s.audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorAnonymous}, Action: audit.ActionSignInFailed,
				ObjectType: "user", Outcome: audit.OutcomeDenied, Detail: ipDetail(ip, "rate_limited")}); err != nil {
				return nil, fmt.Errorf("auth: audit: %w", err)
			}
		}
		return nil, kith.Errorf(kith.ETOOMANY, "Too many failed sign-in attempts. Try again in %d minutes.", int(failureWindow.Minutes()))
	}

	var u User
	var hash string
	err = s.db.R.QueryRowContext(ctx, `SELECT id, username, display_name, role, password_hash, must_change_password, disabled
		FROM users WHERE username = $1`, username).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &hash, &u.MustChangePassword, &u.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as for a real user, so timing does not tell
		// which user names exist.
		s.verify(password, s.dummy)
		return nil, s.fail(ctx, nil, username, ip, now)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load user: %w", err)
	}
	ok, err := s.verify(password, hash)
	if err != nil {
		return nil, fmt.Errorf("auth: user %d: %w", u.ID, err)
	}
	if !ok || u.Disabled {
		return nil, s.fail(ctx, &u, username, ip, now)
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE username = $1", username); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET last_login_at = $1 WHERE id = $2", now, u.ID); err != nil {
			return err
		}
		return s.logAudit(ctx, tx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorUser, Name: u.Username}, Action: audit.ActionSignIn,
			ObjectType: "user", ObjectID: strconv.FormatInt(u.ID, 10), Outcome: audit.OutcomeOK, Detail: ipDetail(ip, "")})
	})
	if err != nil {
		return nil, fmt.Errorf("auth: record sign-in: %w", err)
	}
	u.LastLoginAt = &now
	return &u, nil
}

// fail records a failed sign-in; u is the user when the name exists.
func (s *Service) fail(ctx context.Context, u *User, username, ip string, now time.Time) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO login_failures (username, ip, at) VALUES ($1, $2, $3)", username, ip, now); err != nil {
			return err
		}
		// Only a name that exists is logged: an unknown one may be a
		// password typed into the wrong field, and the log cannot be erased.
		e := audit.Entry{Actor: audit.Actor{Kind: audit.ActorAnonymous}, Action: audit.ActionSignInFailed, ObjectType: "user",
			Outcome: audit.OutcomeFailed, Detail: ipDetail(ip, "unknown_user")}
		if u != nil {
			e.Actor = audit.Actor{Kind: audit.ActorUser, Name: u.Username}
			e.ObjectID = strconv.FormatInt(u.ID, 10)
			e.Detail = ipDetail(ip, "wrong_password")
			if u.Disabled {
				e.Detail = ipDetail(ip, "disabled")
			}
		}
		return s.logAudit(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("auth: record failure: %w", err)
	}
	s.log.Info("sign-in failed", "username", username, "ip", ip)
	return ErrBadCredentials
}

// ChangePassword sets a user's password after checking the current one, and
// ends the user's other sessions.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string) error {
	if p == nil || p.Kind != "user" {
		return kith.Errorf(kith.EFORBIDDEN, "Only a signed-in user can change a password.")
	}
	var hash string
	if err := s.db.R.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE id = $1", p.ID).Scan(&hash); err != nil {
		return fmt.Errorf("auth: load user %d: %w", p.ID, err)
	}
	ok, err := s.verify(current, hash)
	if err != nil {
		return fmt.Errorf("auth: user %d: %w", p.ID, err)
	}
	if !ok {
		return ErrPasswordWrong
	}
	if current == next {
		return ErrPasswordUnchanged
	}
	if err := CheckNewPassword(next, p.Name); err != nil {
		return err
	}
	h, err := s.hash(next)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = $1, must_change_password = FALSE, updated_at = $2 WHERE id = $3", h, s.clock.Now(), p.ID); err != nil {
			return fmt.Errorf("auth: change password: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2", p.ID, p.SessionHash); err != nil {
			return fmt.Errorf("auth: end other sessions: %w", err)
		}
		return nil
	})
}

// CountUsers returns the number of users.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

// newSecret returns a random string with 256 bits and its SHA-256 in hex.
func newSecret(prefix string) (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
