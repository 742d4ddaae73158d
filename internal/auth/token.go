package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// TokenPrefix starts every API token, so a leaked one is easy to recognise
// in code and logs.
const TokenPrefix = "kith_"

// Token describes an API token; the secret itself is shown only at creation.
type Token struct {
	ID         int64
	Name       string
	Role       Role
	Prefix     string // the first characters, for telling tokens apart
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// CreateToken makes an API token with the role on the command line's
// behalf (kith token create); see CreateTokenBy.
func (s *Service) CreateToken(ctx context.Context, name string, role Role) (*Token, string, error) {
	return s.CreateTokenBy(ctx, audit.Actor{Kind: audit.ActorSystem, Name: "cli"}, name, role)
}

// CreateTokenBy makes an API token with the role and returns it with its
// secret, which is not stored and cannot be shown again. The creation is
// audited as done by `by`, in the same transaction.
func (s *Service) CreateTokenBy(ctx context.Context, by audit.Actor, name string, role Role) (*Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, "", kith.Errorf(kith.EINVALID, "The token name must have 1 to 100 characters.")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, "", err
	}
	secret, hash := newSecret(TokenPrefix)
	t := &Token{Name: name, Role: role, Prefix: secret[:len(TokenPrefix)+6], CreatedAt: s.clock.Now()}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, role, token_hash, prefix, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, name, string(role), hash, t.Prefix, t.CreatedAt).Scan(&t.ID); err != nil {
			return err
		}
		return s.logAudit(ctx, tx, audit.Entry{Actor: by, Action: audit.ActionTokenCreate, ObjectType: "api_token",
			ObjectID: strconv.FormatInt(t.ID, 10), Outcome: audit.OutcomeOK, Detail: tokenDetail(name, role)})
	})
	if store.IsUniqueViolation(err) {
		return nil, "", kith.Errorf(kith.ECONFLICT, "A token named %q exists already; choose another name or revoke it first.", name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: create token: %w", err)
	}
	return t, secret, nil
}

// TokenPrincipal returns the principal of a live API token, or an
// EUNAUTHORIZED error.
func (s *Service) TokenPrincipal(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return nil, errBadToken
	}
	hash := hashSecret(secret)
	p := &Principal{Kind: "token"}
	var lastUsed sql.NullTime
	err := s.db.R.QueryRowContext(ctx, "SELECT id, name, role, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", hash).
		Scan(&p.ID, &p.Name, &p.Role, &lastUsed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load token: %w", err)
	}
	now := s.clock.Now()
	if !lastUsed.Valid || now.Sub(lastUsed.Time) >= sessionTouchGap {
		if _, err := s.db.W.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", now, p.ID); err != nil {
			return nil, fmt.Errorf("auth: touch token: %w", err)
		}
	}
	return p, nil
}

var errBadToken = kith.Errorf(kith.EUNAUTHORIZED, "The API token is unknown or revoked.")

// RevokeToken ends a token by name, on the command line's behalf.
func (s *Service) RevokeToken(ctx context.Context, name string) error {
	var id int64
	var role Role
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING id, role",
			s.clock.Now(), name).Scan(&id, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return kith.Errorf(kith.ENOTFOUND, "No live token is named %q.", name)
		}
		if err != nil {
			return fmt.Errorf("auth: revoke token: %w", err)
		}
		return s.logAudit(ctx, tx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem, Name: "cli"}, Action: audit.ActionTokenRevoke,
			ObjectType: "api_token", ObjectID: strconv.FormatInt(id, 10), Outcome: audit.OutcomeOK, Detail: tokenDetail(name, role)})
	})
	return err
}

func tokenDetail(name string, role Role) string {
	b, _ := json.Marshal(map[string]string{"name": name, "role": string(role)})
	return string(b)
}

// ListTokens returns the live tokens, newest first.
func (s *Service) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT id, name, role, prefix, created_at, last_used_at FROM api_tokens WHERE revoked_at IS NULL ORDER BY id DESC")
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var last sql.NullTime
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &t.Prefix, &t.CreatedAt, &last); err != nil {
			return nil, fmt.Errorf("auth: list tokens: %w", err)
		}
		if last.Valid {
			t.LastUsedAt = &last.Time
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
