package campaign_test

import (
	"context"
	"testing"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// refusingTransport refuses every permit before claiming it, as the
// Claimer does when the gate's recheck at consumption refuses.
type refusingTransport struct{ calls int }

func (r *refusingTransport) Send(_ context.Context, permits []gate.Permit, _ campaign.Batch) ([]channel.Result, error) {
	r.calls++
	out := make([]channel.Result, len(permits))
	for i, p := range permits {
		out[i] = channel.Refusal(p, &gate.Refusal{Reason: gate.NoConsent, Message: "withdrawn since the decision"})
	}
	return out, nil
}

// TestRefusedAtConsumeIsFinal: a delivery whose permit is refused when
// consumed is refused, not handed over again forever.
func TestRefusedAtConsumeIsFinal(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) { testRefusedAtConsume(t, db) })
}

func testRefusedAtConsume(t *testing.T, db *store.DB) {
	w := newWorld(t, db, 6)
	rt := &refusingTransport{}
	w.svc.Register(campaign.WeCom, rt, nil)
	c := w.create(t, wecomInput(campaign.Audience{Tags: []string{"vip"}}))
	ctx := context.Background()
	if _, err := w.svc.Schedule(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	p, err := w.svc.Plan(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st := runAll(t, w.svc, c.ID); st != campaign.Finished {
		t.Fatalf("step %d; want Finished", st)
	}
	got := w.deliveries(t, c.ID)
	if got["refused"] != p.Audience || got["planned"] != 0 || rt.calls != 1 {
		t.Fatalf("deliveries %v after %d calls; want all %d refused after one call", got, rt.calls, p.Audience)
	}
}
