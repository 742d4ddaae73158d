package index

import (
	"slices"
	"testing"

	"github.com/kith-scrm/kith/internal/store"
)

func TestTailHoles(t *testing.T) {
	tl := &tailState{db: &store.DB{Dialect: store.Postgres}, w: 10, top: 10}
	tl.saw([]int64{11, 14, 15, 19})
	if tl.top != 19 || !slices.Equal(tl.holes, []seqRange{{12, 13}, {16, 18}}) {
		t.Fatalf("after reading: top %d holes %v", tl.top, tl.holes)
	}
	tl.filled([]int64{12, 17})
	if !slices.Equal(tl.holes, []seqRange{{13, 13}, {16, 16}, {18, 18}}) {
		t.Fatalf("after late rows: %v", tl.holes)
	}
	tl.advance(16)
	if tl.w != 16 || !slices.Equal(tl.holes, []seqRange{{18, 18}}) {
		t.Fatalf("after advancing: w %d holes %v", tl.w, tl.holes)
	}
	tl.advance(12) // never backwards
	if tl.w != 16 {
		t.Fatalf("watermark went back to %d", tl.w)
	}
	// Many holes are asked about as fewer, wider ranges that cover them all.
	tl = &tailState{db: &store.DB{Dialect: store.Postgres}}
	var seqs []int64
	for i := int64(1); i <= 3*maxHoleRanges; i++ {
		seqs = append(seqs, i*3+i%7)
	}
	tl.saw(seqs)
	rs := tl.holeRanges()
	if len(rs) > maxHoleRanges {
		t.Fatalf("%d ranges", len(rs))
	}
	for _, h := range tl.holes {
		if !slices.ContainsFunc(rs, func(r seqRange) bool { return r.lo <= h.lo && h.hi <= r.hi }) {
			t.Fatalf("hole %v not covered by %v", h, rs)
		}
	}
	// On SQLite numbers become visible in order: no holes.
	tl = &tailState{db: &store.DB{Dialect: store.SQLite}}
	tl.saw([]int64{3, 9})
	if len(tl.holes) != 0 || tl.top != 9 {
		t.Fatalf("SQLite holes %v", tl.holes)
	}
}
