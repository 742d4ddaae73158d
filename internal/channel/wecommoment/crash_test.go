package wecommoment_test

import (
	"context"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// crashOnce runs one RunBatch that must panic (the process dying).
func crashOnce(t *testing.T, e *env, id int64) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("no crash")
		}
	}()
	e.svc.RunBatch(context.Background(), id)
}

// reasons returns the campaign's batches' reasons, in order.
func reasons(t *testing.T, db *store.DB, id int64) []string {
	t.Helper()
	rows, err := db.R.QueryContext(context.Background(), "SELECT state || ':' || reason FROM campaign_batches WHERE campaign_id = $1 ORDER BY id", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// checkOnce: one moment per member, every permitted customer sent once.
func checkOnce(t *testing.T, e *env, id int64, sent int) {
	t.Helper()
	ms := e.moments()
	if len(ms[e.members[0]]) != 1 || len(ms[e.members[1]]) != 1 {
		t.Fatalf("moments per member: %d and %d, want 1 and 1", len(ms[e.members[0]]), len(ms[e.members[1]]))
	}
	r, _ := e.svc.Results(context.Background(), id)
	if r.ByState["sent"] != sent {
		t.Errorf("results = %+v, want %d sent", r, sent)
	}
}

// TestMomentLostAnswer: WeCom created the task but its answer was lost
// (no jobid recorded); the batch is reconciled by get_moment_list, matched
// by content hash and by get_moment_task naming the member, and no second
// moment is created.
func TestMomentLostAnswer(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 6)
		e.rt.lose.Store(1)
		c := e.plan(t, spring)
		e.run(t, c.ID)
		checkOnce(t, e, c.ID, 4)
		got := reasons(t, db, c.ID)
		if len(got) != 2 || got[0] != "settled:reconciled" {
			t.Errorf("batches = %v", got)
		}
	})
}

// TestMomentCrashBeforeCall: the process dies after the permits were
// claimed and the customers tagged, before add_moment_task; the reconciler
// finds no moment, so the batch is made again (new permits, a new tag) and
// posted once. The first batch's tag is on no moment.
func TestMomentCrashBeforeCall(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 6)
		e.rt.crashBefore.Store(1)
		c := e.plan(t, spring)
		crashOnce(t, e, c.ID)
		e.clock.Add(time.Minute)
		e.run(t, c.ID)
		checkOnce(t, e, c.ID, 4)
		got := reasons(t, db, c.ID)
		if len(got) != 3 || got[0] != "void:not found on the platform" {
			t.Errorf("batches = %v", got)
		}
	})
}

// TestMomentCrashAfterCall: the process dies after add_moment_task
// answered and its jobid was recorded, before the moment's id was read;
// get_moment_task_result settles the batch, and nothing is posted twice.
func TestMomentCrashAfterCall(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 6)
		e.rt.crashResult.Store(1)
		c := e.plan(t, spring)
		crashOnce(t, e, c.ID)
		e.run(t, c.ID)
		checkOnce(t, e, c.ID, 4)
		got := reasons(t, db, c.ID)
		if len(got) != 2 || got[0] != "settled:reconciled" {
			t.Errorf("batches = %v", got)
		}
		var moment string
		db.R.QueryRowContext(ctx, "SELECT provider_id FROM campaign_batches WHERE campaign_id = $1 ORDER BY id LIMIT 1", c.ID).Scan(&moment)
		if moment == "" || moment != e.moments()[e.members[0]][0].MomentID && moment != e.moments()[e.members[1]][0].MomentID {
			t.Errorf("the reconciled batch holds %q", moment)
		}
	})
}

// TestMomentSameContentTwice: two campaigns with the same content; a lost
// answer of the second is matched to its own moment, not the first's.
func TestMomentSameContentTwice(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 2)
		first := e.plan(t, campaign.Content{Text: "同样的话"})
		e.run(t, first.ID)
		e.clock.Add(time.Minute)
		e.rt.lose.Store(1)
		second := e.plan(t, campaign.Content{Text: "同样的话"})
		e.run(t, second.ID)
		rows, _ := db.R.QueryContext(ctx, "SELECT provider_id FROM campaign_batches WHERE provider_id <> '' ORDER BY id")
		seen := map[string]bool{}
		n := 0
		for rows.Next() {
			var id string
			rows.Scan(&id)
			if seen[id] {
				t.Errorf("moment %s is held by two batches", id)
			}
			seen[id] = true
			n++
		}
		rows.Close()
		if n != 4 || len(e.sb.Moments()) != 4 {
			t.Errorf("batches %d, moments %d", n, len(e.sb.Moments()))
		}
	})
}
