package campaign_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// mixedTransport withdraws one person's consent just before the claim (so
// the gate refuses that permit at Consume) and answers each message as
// outcome says.
type mixedTransport struct {
	svc       *campaign.Service
	db        *store.DB
	withdraw  consent.Person
	outcome   map[string]channel.Result // by person key
	batchSize int
}

func (m *mixedTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	m.batchSize = len(permits)
	at := wed10
	if err := consent.NewLedger(nil, testKey).Record(ctx, m.db.W, consent.Event{Person: m.withdraw, Purpose: consent.Marketing, Channel: consent.ChannelWeCom,
		Action: consent.Withdraw, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/p"},
		RecordedBy: "web", OccurredAt: at, ReceivedAt: at}); err != nil {
		return nil, err
	}
	refusals, err := m.svc.Claimer().Claim(ctx, permits)
	if err != nil {
		return nil, err
	}
	out := make([]channel.Result, len(permits))
	for i, p := range permits {
		if refusals[i] != nil {
			out[i] = channel.Refusal(p, refusals[i])
			continue
		}
		out[i] = m.outcome[p.Person().Key]
		out[i].Permit = p.ID()
	}
	return out, nil
}

// TestSettleMixed: one batch whose messages end every way — sent, failed,
// unknown, retryable (planned again, or failed after MaxAttempts claims),
// refused at Consume — is settled, each delivery with its own state,
// reason, detail and provider id, in the statements of a batch; the
// deliveries of other batches do not move.
func TestSettleMixed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 24)
		sent := func(id string) channel.Result { return channel.Result{Status: channel.Sent, ProviderID: id} }
		mt := &mixedTransport{svc: w.svc, db: db, withdraw: consent.ExternalUser("wm16"), outcome: map[string]channel.Result{
			"wm2":  sent("msg-2"),
			"wm4":  {Status: channel.Failed, Code: "550", Message: "no such user"},
			"wm8":  {Status: channel.Unknown, Message: "connection lost after the message"},
			"wm10": {Status: channel.Retryable, Code: "451", Message: "try later"},
			"wm14": sent("msg-14"),
			"wm20": sent("msg-20"),
			"wm22": {Status: channel.Retryable, Code: "421", Message: "busy"},
		}}
		w.svc.Register(campaign.WeCom, mt, nil)
		c := started(t, w)
		// wm22 was claimed twice before: this third claim is its last.
		mustExec(t, db, "UPDATE campaign_deliveries SET attempts = $1 WHERE campaign_id = $2 AND customer_id = 22", campaign.MaxAttempts-1, c.ID)
		var before string
		db.R.QueryRowContext(ctx, "SELECT state || ' ' || reason FROM campaign_deliveries WHERE campaign_id = $1 AND customer_id = 6", c.ID).Scan(&before)
		if st, err := w.svc.RunBatch(ctx, c.ID); err != nil || st != campaign.Progressed {
			t.Fatalf("RunBatch: %v %v", st, err)
		}
		if mt.batchSize != 8 {
			t.Fatalf("the batch held %d permits, want 8", mt.batchSize)
		}
		var batch int64
		var bstate, bprovider string
		if err := db.R.QueryRowContext(ctx, "SELECT id, state, provider_id FROM campaign_batches WHERE campaign_id = $1", c.ID).Scan(&batch, &bstate, &bprovider); err != nil {
			t.Fatal(err)
		}
		if bstate != "settled" || bprovider != "msg-2" {
			t.Errorf("batch %s, provider %q; want settled, msg-2", bstate, bprovider)
		}
		type row struct {
			state, reason, detail, provider string
			inBatch                         bool
		}
		want := map[int64]row{
			2:  {"sent", "", "", "msg-2", true},
			4:  {"failed", "550", "no such user", "", true},
			8:  {"unknown", "", "connection lost after the message", "", true},
			10: {"planned", "451", "try later", "", false},
			14: {"sent", "", "", "msg-14", true},
			16: {"refused", string(gate.ConsentWithdrawn), "", "", false},
			20: {"sent", "", "", "msg-20", true},
			22: {"failed", "421", "busy", "", false},
		}
		rows, err := db.R.QueryContext(ctx, "SELECT customer_id, state, reason, detail, provider_id, batch_id FROM campaign_deliveries WHERE campaign_id = $1 ORDER BY customer_id", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := 0
		for rows.Next() {
			var id int64
			var r row
			var b sql.NullInt64
			if err := rows.Scan(&id, &r.state, &r.reason, &r.detail, &r.provider, &b); err != nil {
				t.Fatal(err)
			}
			r.inBatch = b.Valid && b.Int64 == batch
			wr, ok := want[id]
			if !ok {
				if id == 6 && fmt.Sprint(r.state, " ", r.reason) != before {
					t.Errorf("customer 6 (not in the batch) moved from %q to %s %s", before, r.state, r.reason)
				}
				continue
			}
			seen++
			if id == 16 {
				if r.detail == "" {
					t.Errorf("customer 16: no detail for the refusal")
				}
				r.detail = ""
			}
			if r != wr {
				t.Errorf("customer %d: %+v, want %+v", id, r, wr)
			}
		}
		if seen != len(want) {
			t.Errorf("%d deliveries checked, want %d", seen, len(want))
		}
	})
}
