package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
)

// Snapshot is a segment frozen at one moment, for a campaign to keep: the
// customers matching then, whatever changes after. Stored in
// segment_snapshots as a portable roaring bitmap.
type Snapshot struct {
	ID         int64
	Expression string // canonical (segment.String)
	CreatedAt  time.Time
	Count      uint64
	bm         *roaring.Bitmap
}

// IDs returns the customer ids in ascending order.
func (s *Snapshot) IDs() []uint32 { return s.bm.ToArray() }

// Contains reports whether customer id is in the snapshot.
func (s *Snapshot) Contains(id uint32) bool { return s.bm.Contains(id) }

// Bitmap returns a copy of the snapshot's bitmap.
func (s *Snapshot) Bitmap() *roaring.Bitmap { return s.bm.Clone() }

// Snapshot evaluates e now and stores the result.
func (ix *Index) Snapshot(ctx context.Context, e segment.Expr) (*Snapshot, error) {
	bm, err := ix.Eval(ctx, e)
	if err != nil {
		return nil, err
	}
	bm.RunOptimize()
	blob, err := bm.ToBytes()
	if err != nil {
		return nil, fmt.Errorf("segment index: serialise snapshot: %w", err)
	}
	s := &Snapshot{Expression: segment.String(e), CreatedAt: ix.clock.Now(), Count: bm.GetCardinality(), bm: bm}
	err = ix.db.W.QueryRowContext(ctx, `INSERT INTO segment_snapshots (expression, created_at, count, bitmap) VALUES ($1, $2, $3, $4) RETURNING id`,
		s.Expression, s.CreatedAt, int64(s.Count), blob).Scan(&s.ID)
	if err != nil {
		return nil, fmt.Errorf("segment index: store snapshot: %w", err)
	}
	return s, nil
}

// LoadSnapshot reads a stored snapshot.
func LoadSnapshot(ctx context.Context, db *store.DB, id int64) (*Snapshot, error) {
	s := &Snapshot{ID: id}
	var (
		count int64
		blob  []byte
	)
	err := db.R.QueryRowContext(ctx, `SELECT expression, created_at, count, bitmap FROM segment_snapshots WHERE id = $1`, id).Scan(&s.Expression, &s.CreatedAt, &count, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kith.Errorf(kith.ENOTFOUND, "segment snapshot %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("segment index: load snapshot %d: %w", id, err)
	}
	s.bm = roaring.New()
	if err := s.bm.UnmarshalBinary(blob); err != nil {
		return nil, fmt.Errorf("segment index: snapshot %d is damaged: %w", id, err)
	}
	if s.Count = uint64(count); s.bm.GetCardinality() != s.Count {
		return nil, fmt.Errorf("segment index: snapshot %d holds %d customers, its count says %d", id, s.bm.GetCardinality(), count)
	}
	return s, nil
}
