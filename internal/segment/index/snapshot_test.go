package index

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestSnapshotKeepsItsCustomers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		ix := mustOpen(t, db, &fixedClock{testNow})
		ctx := context.Background()
		e := segment.MustParse(`tag:VIP or reachable:sms`)
		snap, err := ix.Snapshot(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if snap.ID == 0 || snap.Count != 3 || !slices.Equal(snap.IDs(), []uint32{1, 2, 5}) || snap.Expression != "tag:VIP or reachable:sms" {
			t.Fatalf("snapshot %+v ids %v", snap, snap.IDs())
		}
		addTag(t, db, 4, "m2", "t1") // the segment grows; the snapshot does not
		mustStep(t, ix)
		if n, _ := ix.Count(ctx, e); n != 4 {
			t.Fatalf("live count %d", n)
		}
		got, err := LoadSnapshot(ctx, db, snap.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.IDs(), []uint32{1, 2, 5}) || got.Count != 3 || !got.Contains(5) || got.Contains(4) ||
			!got.CreatedAt.Equal(testNow) || got.Expression != snap.Expression {
			t.Fatalf("loaded %+v ids %v", got, got.IDs())
		}
		if _, err := LoadSnapshot(ctx, db, snap.ID+100); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("missing snapshot: %v", err)
		}
		storetest.MustExec(t, db, `UPDATE segment_snapshots SET count = 7 WHERE id = $1`, snap.ID)
		if _, err := LoadSnapshot(ctx, db, snap.ID); err == nil || errors.Is(err, context.Canceled) {
			t.Fatal("a snapshot whose count disagrees loaded")
		}
	})
}
