package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A --keep folder is generated once and measured again by a later run with
// the same size; another size, or a folder holding something else, is an
// error and is left as it is.
func TestBenchSegmentsKeepReuses(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "kept")
	o := SegmentOptions{Customers: 2000, DataDir: dir, Keep: true, SQLRuns: 1}
	first, err := Segments(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if first.Reused || first.LoadSeconds <= 0 {
		t.Fatalf("first run: reused %v, load %v s", first.Reused, first.LoadSeconds)
	}
	if _, err := os.Stat(filepath.Join(dir, segKeepMarker)); err != nil {
		t.Fatalf("no marker after the first run: %v", err)
	}
	dbInfo, err := os.Stat(filepath.Join(dir, "kith.db"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Segments(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Reused || second.LoadSeconds != 0 || second.Customers != 2000 || second.Follows != first.Follows || second.FollowTags != first.FollowTags {
		t.Fatalf("second run: %+v, first %+v", second, first)
	}
	for i := range first.Results {
		if first.Results[i].Matches != second.Results[i].Matches || !second.Results[i].Agree {
			t.Errorf("expression %d: %d then %d matches (agree %v)", i, first.Results[i].Matches, second.Results[i].Matches, second.Results[i].Agree)
		}
	}

	// Another size is refused, and the database is left alone.
	o.Customers = 3000
	if _, err := Segments(ctx, o); err == nil || !strings.Contains(err.Error(), "holds 2000 customers") {
		t.Fatalf("another size: %v", err)
	}
	if after, err := os.Stat(filepath.Join(dir, "kith.db")); err != nil || after.Size() < dbInfo.Size() {
		t.Fatalf("the kept database changed: %v", err)
	}

	// A folder with other files and no marker (an interrupted load) is refused.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "kith.db"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Segments(ctx, SegmentOptions{Customers: 2000, DataDir: other, Keep: true}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a folder without a marker: %v", err)
	}
	// A marker of another generator is refused.
	if err := os.WriteFile(filepath.Join(dir, segKeepMarker), []byte(`{"customers":2000,"generator":0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Segments(ctx, SegmentOptions{Customers: 2000, DataDir: dir, Keep: true}); err == nil || !strings.Contains(err.Error(), "generator version 0") {
		t.Fatalf("another generator: %v", err)
	}
}

func TestSegmentsSQLDefaults(t *testing.T) {
	for _, c := range []struct {
		n, runs   int
		limit     time.Duration
		wantRuns  int
		wantLimit time.Duration
	}{
		{1_000_000, 0, 0, 3, 2 * time.Minute},
		{2_000_000, 0, 0, 3, 2 * time.Minute},
		{2_000_001, 0, 0, 1, 30 * time.Second},
		{10_000_000, 2, 5 * time.Second, 2, 5 * time.Second},
	} {
		r, l := sqlDefaults(c.n, c.runs, c.limit)
		if r != c.wantRuns || l != c.wantLimit {
			t.Errorf("sqlDefaults(%d, %d, %s) = %d, %s", c.n, c.runs, c.limit, r, l)
		}
	}
}
