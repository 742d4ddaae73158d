package bench

import (
	"context"
	"testing"
)

// The segments benchmark loads what it generates, and the index and the
// reference SQL agree on every expression.
func TestSegmentsReport(t *testing.T) {
	rep, err := Segments(context.Background(), SegmentOptions{Customers: 3000, DataDir: t.TempDir(), SQLRuns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Customers != 3000 || rep.Follows < 3000 || rep.FollowTags < 3000 || rep.BuildSeconds <= 0 || rep.BitmapBytes == 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Results) != len(SegmentExpressions) {
		t.Fatalf("%d results", len(rep.Results))
	}
	matched := 0
	for _, r := range rep.Results {
		if !r.Agree || r.Terms < 1 || r.IndexRuns < 20 || r.SQLiteRuns != 1 || r.IndexP50 <= 0 || r.SQLiteP50 <= 0 {
			t.Errorf("result %+v", r)
		}
		if r.Matches > 0 {
			matched++
		}
	}
	if matched < len(rep.Results)-1 {
		t.Errorf("only %d expressions match anyone in the generated data", matched)
	}
}
