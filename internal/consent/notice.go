package consent

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// MaxNoticeBytes bounds a notice text.
const MaxNoticeBytes = 64 << 10

var languageRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// NoticeHash returns the hash a notice text is known by: the hex SHA-256
// of its UTF-8 bytes, exactly as shown (no trimming, no normalisation).
func NoticeHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// PublishNotice stores text as the next version of a purpose's notice and
// returns it. Published versions never change: a new text is a new version,
// and grants keep naming the version their person saw.
func PublishNotice(ctx context.Context, q store.Querier, purpose Purpose, language, text string, now time.Time) (Notice, error) {
	if !purposeRe.MatchString(string(purpose)) {
		return Notice{}, invalid("purpose %q is not a purpose key", purpose)
	}
	if !languageRe.MatchString(language) {
		return Notice{}, invalid("language %q is not a language tag such as zh-CN or en", language)
	}
	if strings.TrimSpace(text) == "" {
		return Notice{}, invalid("text is required: the notice the person will see")
	}
	if len(text) > MaxNoticeBytes || !utf8.ValidString(text) {
		return Notice{}, invalid("text must be UTF-8 of at most %d bytes", MaxNoticeBytes)
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM consent_purposes WHERE key = $1", string(purpose)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Notice{}, invalid("purpose %q is unknown", purpose)
	}
	if err != nil {
		return Notice{}, fmt.Errorf("consent: publish notice: %w", err)
	}
	n := Notice{Purpose: purpose, Language: language, Text: text, TextHash: NoticeHash(text), CreatedAt: now.UTC().Truncate(time.Microsecond)}
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) + 1 FROM consent_notices WHERE purpose = $1", string(purpose)).Scan(&n.Version); err != nil {
		return Notice{}, fmt.Errorf("consent: publish notice: %w", err)
	}
	_, err = q.ExecContext(ctx, `INSERT INTO consent_notices (purpose, version, language, text, text_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		string(purpose), n.Version, language, text, n.TextHash, n.CreatedAt)
	if store.IsUniqueViolation(err) {
		return Notice{}, kith.Errorf(kith.ECONFLICT, "consent: another %s notice was published at the same time; try again", purpose)
	}
	if err != nil {
		return Notice{}, fmt.Errorf("consent: publish notice: %w", err)
	}
	return n, nil
}

// Notice returns a published notice; version 0 means the newest.
func (l *Ledger) Notice(ctx context.Context, purpose Purpose, version int) (Notice, error) {
	q := "SELECT purpose, version, language, text, text_hash, created_at FROM consent_notices WHERE purpose = $1 AND version = $2"
	args := []any{string(purpose), version}
	if version == 0 {
		q = "SELECT purpose, version, language, text, text_hash, created_at FROM consent_notices WHERE purpose = $1 ORDER BY version DESC LIMIT 1"
		args = args[:1]
	}
	var n Notice
	var p string
	err := l.q.QueryRowContext(ctx, q, args...).Scan(&p, &n.Version, &n.Language, &n.Text, &n.TextHash, &n.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Notice{}, kith.Errorf(kith.ENOTFOUND, "consent: no notice %d for purpose %s", version, purpose)
	}
	if err != nil {
		return Notice{}, fmt.Errorf("consent: notice %s/%d: %w", purpose, version, err)
	}
	n.Purpose = Purpose(p)
	return n, nil
}

// Notices returns every published notice, by purpose and version.
func (l *Ledger) Notices(ctx context.Context) ([]Notice, error) {
	rows, err := l.q.QueryContext(ctx, "SELECT purpose, version, language, text, text_hash, created_at FROM consent_notices ORDER BY purpose, version")
	if err != nil {
		return nil, fmt.Errorf("consent: notices: %w", err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var p string
		if err := rows.Scan(&p, &n.Version, &n.Language, &n.Text, &n.TextHash, &n.CreatedAt); err != nil {
			return nil, fmt.Errorf("consent: notices: %w", err)
		}
		n.Purpose = Purpose(p)
		out = append(out, n)
	}
	return out, rows.Err()
}
