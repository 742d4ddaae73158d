package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
)

// SessionInfo describes the client a session was opened from.
type SessionInfo struct {
	IP        string
	UserAgent string
}

// CreateSession opens a session for the user and returns the token to put in
// the cookie. Only the token's hash is stored.
func (s *Service) CreateSession(ctx context.Context, u *User, info SessionInfo) (string, error) {
	token, hash := newSecret("")
	now := s.clock.Now()
	ua := info.UserAgent
	if len(ua) > 300 {
		ua = ua[:300]
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES ($1, $2, $3, $3, $4, $5, $6)`, hash, u.ID, now, now.Add(SessionIdle), info.IP, ua)
	if err != nil {
		return "", fmt.Errorf("auth: create session: %w", err)
	}
	return token, nil
}

// SessionPrincipal returns the principal of a live session token, or an
// EUNAUTHORIZED error. It extends an active session's idle expiry, writing
// at most once a minute per session.
func (s *Service) SessionPrincipal(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > 100 {
		return nil, errNoSession
	}
	hash := hashSecret(token)
	now := s.clock.Now()
	var (
		p                      = &Principal{Kind: "user", SessionHash: hash}
		created, seen, expires time.Time
		disabled               bool
	)
	err := s.db.R.QueryRowContext(ctx, `SELECT u.id, u.username, u.role, u.must_change_password, u.disabled, s.created_at, s.last_seen_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`, hash).
		Scan(&p.ID, &p.Name, &p.Role, &p.MustChangePassword, &disabled, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load session: %w", err)
	}
	if disabled || !now.Before(expires) || now.Sub(created) >= SessionMaxAge {
		return nil, errNoSession
	}
	if now.Sub(seen) >= sessionTouchGap {
		next := now.Add(SessionIdle)
		if max := created.Add(SessionMaxAge); next.After(max) {
			next = max
		}
		if _, err := s.db.W.ExecContext(ctx, "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3", now, next, hash); err != nil {
			return nil, fmt.Errorf("auth: touch session: %w", err)
		}
	}
	return p, nil
}

var errNoSession = errors.New("auth: no live session")

// IsNoSession reports whether err means the session token is unknown or
// expired.
func IsNoSession(err error) bool { return errors.Is(err, errNoSession) }

// EndSession deletes the session with the given token hash.
func (s *Service) EndSession(ctx context.Context, sessionHash string) error {
	if _, err := s.db.W.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = $1", sessionHash); err != nil {
		return fmt.Errorf("auth: end session: %w", err)
	}
	return nil
}

// PruneExpired deletes ended sessions and failed sign-ins older than the
// counting window. It returns how many rows it removed.
func (s *Service) PruneExpired(ctx context.Context) (int64, error) {
	now := s.clock.Now()
	var total int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= $1 OR created_at <= $2", now, now.Add(-SessionMaxAge))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		total += n
		res, err = tx.ExecContext(ctx, "DELETE FROM login_failures WHERE at <= $1", now.Add(-failureWindow))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		total += n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("auth: prune: %w", err)
	}
	return total, nil
}

// SignOut ends a user's session and audits it.
func (s *Service) SignOut(ctx context.Context, p *Principal, ip string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = $1", p.SessionHash); err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
		return s.logAudit(ctx, tx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorUser, Name: p.Name}, Action: audit.ActionSignOut,
			ObjectType: "user", ObjectID: strconv.FormatInt(p.ID, 10), Outcome: audit.OutcomeOK, Detail: ipDetail(ip, "")})
	})
}
