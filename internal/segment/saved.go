package segment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Limits on a saved segment's texts, in characters.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
)

// Saved is a segment an operator saved under a name.
type Saved struct {
	ID          int64
	Name        string // unique
	OwnerID     int64  // the user who created it
	Description string
	Expression  string // canonical form (String)
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Input is what an operator writes to save a segment.
type Input struct {
	Name        string
	Description string
	Expression  string // any form Parse reads; saved canonical
}

// Store keeps saved segments.
type Store struct {
	db    *store.DB
	clock kith.Clock
}

// NewStore returns a Store on db.
func NewStore(db *store.DB, clock kith.Clock) *Store { return &Store{db: db, clock: clock} }

// prepare checks in and returns it cleaned, with the expression parsed,
// checked against the catalog in q and written canonically.
func prepare(ctx context.Context, q store.Querier, in Input) (Input, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	switch {
	case in.Name == "":
		return in, kith.Errorf(kith.EINVALID, "segment: the name is empty")
	case utf8.RuneCountInString(in.Name) > MaxNameLen:
		return in, kith.Errorf(kith.EINVALID, "segment: the name is longer than %d characters", MaxNameLen)
	case strings.IndexFunc(in.Name, unicode.IsControl) >= 0:
		return in, kith.Errorf(kith.EINVALID, "segment: the name contains a control character")
	case !utf8.ValidString(in.Name) || !utf8.ValidString(in.Description):
		return in, kith.Errorf(kith.EINVALID, "segment: the name or description is not valid UTF-8 text")
	case utf8.RuneCountInString(in.Description) > MaxDescriptionLen:
		return in, kith.Errorf(kith.EINVALID, "segment: the description is longer than %d characters", MaxDescriptionLen)
	}
	e, err := Parse(in.Expression)
	if err != nil {
		return in, err
	}
	cat, err := LoadCatalog(ctx, q, e)
	if err != nil {
		return in, err
	}
	if err := Check(e, cat); err != nil {
		return in, err
	}
	in.Expression = String(e)
	return in, nil
}

// Create saves a new segment owned by the user owner. A name already taken
// is a kith.ECONFLICT error; a bad expression an *Error.
func (s *Store) Create(ctx context.Context, owner int64, in Input) (Saved, error) {
	var out Saved
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		in, err := prepare(ctx, tx, in)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		out = Saved{Name: in.Name, OwnerID: owner, Description: in.Description, Expression: in.Expression, CreatedAt: now, UpdatedAt: now}
		err = tx.QueryRowContext(ctx, `INSERT INTO segments (name, owner_id, description, expression, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`, out.Name, owner, out.Description, out.Expression, now).Scan(&out.ID)
		return nameErr(err, in.Name, "create")
	})
	return out, err
}

// Update replaces a segment's name, description and expression; its owner
// and creation time stay.
func (s *Store) Update(ctx context.Context, id int64, in Input) (Saved, error) {
	var out Saved
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		in, err := prepare(ctx, tx, in)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `UPDATE segments SET name = $1, description = $2, expression = $3, updated_at = $4
			WHERE id = $5 RETURNING `+savedColumns, in.Name, in.Description, in.Expression, s.clock.Now(), id).
			Scan(out.fields()...)
		if errors.Is(err, sql.ErrNoRows) {
			return kith.Errorf(kith.ENOTFOUND, "segment: no segment %d", id)
		}
		return nameErr(err, in.Name, "update")
	})
	return out, err
}

func nameErr(err error, name, what string) error {
	switch {
	case err == nil:
		return nil
	case store.IsUniqueViolation(err):
		return kith.Errorf(kith.ECONFLICT, "segment: a segment named %q already exists", name)
	}
	return fmt.Errorf("segment: %s: %w", what, err)
}

// Delete removes a segment.
func (s *Store) Delete(ctx context.Context, id int64) error {
	res, err := s.db.W.ExecContext(ctx, "DELETE FROM segments WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("segment: delete %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("segment: delete %d: %w", id, err)
	} else if n == 0 {
		return kith.Errorf(kith.ENOTFOUND, "segment: no segment %d", id)
	}
	return nil
}

const savedColumns = "id, name, owner_id, description, expression, created_at, updated_at"

func (v *Saved) fields() []any {
	return []any{&v.ID, &v.Name, &v.OwnerID, &v.Description, &v.Expression, &v.CreatedAt, &v.UpdatedAt}
}

// Get returns the segment with id.
func (s *Store) Get(ctx context.Context, id int64) (Saved, error) {
	return s.getBy(ctx, "id", id, fmt.Sprint(id))
}

// GetByName returns the segment called name.
func (s *Store) GetByName(ctx context.Context, name string) (Saved, error) {
	return s.getBy(ctx, "name", name, fmt.Sprintf("%q", name))
}

func (s *Store) getBy(ctx context.Context, col string, v any, desc string) (Saved, error) {
	var out Saved
	err := s.db.R.QueryRowContext(ctx, "SELECT "+savedColumns+" FROM segments WHERE "+col+" = $1", v).Scan(out.fields()...)
	if errors.Is(err, sql.ErrNoRows) {
		return out, kith.Errorf(kith.ENOTFOUND, "segment: no segment %s", desc)
	}
	if err != nil {
		return out, fmt.Errorf("segment: get %s: %w", desc, err)
	}
	return out, nil
}

// List returns every saved segment, by name.
func (s *Store) List(ctx context.Context) ([]Saved, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT "+savedColumns+" FROM segments ORDER BY name, id")
	if err != nil {
		return nil, fmt.Errorf("segment: list: %w", err)
	}
	defer rows.Close()
	var out []Saved
	for rows.Next() {
		var v Saved
		if err := rows.Scan(v.fields()...); err != nil {
			return nil, fmt.Errorf("segment: list: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment: list: %w", err)
	}
	return out, nil
}
