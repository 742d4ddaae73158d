package campaign_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// benchMailAddresser gives customer id the address c<id>@bench.example.
type benchMailAddresser struct{}

func (benchMailAddresser) Addresses(_ context.Context, _ campaign.Channel, ids []int64) (map[int64]campaign.Recipient, error) {
	out := make(map[int64]campaign.Recipient, len(ids))
	for _, id := range ids {
		out[id] = campaign.Recipient{CustomerID: id, Person: consent.Email(fmt.Sprintf("c%d@bench.example", id))}
	}
	return out, nil
}

// BenchmarkPlanEmail plans an e-mail campaign to N customers
// (KITH_BENCH_RECIPIENTS, 20,000 by default) on SQLite, half of them with
// consent, in steps of Service.PlanStep: the audience snapshot, the gate's
// decisions and the delivery rows.
func BenchmarkPlanEmail(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("KITH_BENCH_RECIPIENTS")); err == nil && v > 0 {
		n = v
	}
	db := storetest.MustSQLite(b)
	ctx := context.Background()
	at := wed10.Add(-48 * time.Hour)
	exec := func(q string, args []any) {
		if _, err := db.W.ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	exec("INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ('g1', 'level', $1, $1)", []any{at})
	exec("INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ('t1', 'g1', 'vip', $1, $1)", []any{at})
	const batch = 500
	for start := 1; start <= n; start += batch {
		var cust, fol, tag, cons []string
		var cargs, fargs, targs, sargs []any
		for i := start; i < min(start+batch, n+1); i++ {
			member := fmt.Sprint("m", i%50)
			cargs = append(cargs, i, fmt.Sprint("wm", i), at)
			cust = append(cust, fmt.Sprintf("($%d, $%d, $%d, $%[3]d)", len(cargs)-2, len(cargs)-1, len(cargs)))
			fargs = append(fargs, i, member, at)
			fol = append(fol, fmt.Sprintf("($%d, $%d, $%d, $%[3]d)", len(fargs)-2, len(fargs)-1, len(fargs)))
			targs = append(targs, i, member)
			tag = append(tag, fmt.Sprintf("($%d, $%d, 't1')", len(targs)-1, len(targs)))
			if i%2 == 0 {
				sargs = append(sargs, fmt.Sprintf("c%d@bench.example", i), i, at)
				cons = append(cons, fmt.Sprintf("('email', $%d, 'marketing', 'email', 'grant', $%d, $%d, $%[3]d, $%[3]d, 'customer', $%[2]d)", len(sargs)-2, len(sargs)-1, len(sargs)))
			}
		}
		exec("INSERT INTO customers (id, external_userid, created_at, updated_at) VALUES "+strings.Join(cust, ", "), cargs)
		exec("INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES "+strings.Join(fol, ", "), fargs)
		exec("INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES "+strings.Join(tag, ", "), targs)
		exec(`INSERT INTO consent_state (person_kind, person_key, purpose, channel, action, event_id, updated_at,
			occurred_at, received_at, source, seq) VALUES `+strings.Join(cons, ", "), sargs)
	}
	clock := kith.NewFixedClock(wed10)
	g := gate.New(db, testKey, clock)
	svc := campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock, Addresses: benchMailAddresser{}})
	content := campaign.Content{Subject: "AD the spring collection is in", Text: "Dear customer, the spring collection has arrived.",
		HTML: "<p>Dear customer, the spring collection has arrived.</p>"}
	// The gate loads its state once per process; a running server has it.
	if _, err := g.Decide(ctx, gate.Request{Person: consent.Email("warm@bench.example"), Channel: consent.ChannelEmail, Class: gate.Service,
		Content: gate.Content{Subject: "Your order", Body: "Your order has shipped."}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := svc.Create(ctx, 0, campaign.Input{Name: fmt.Sprint("bench ", i), Purpose: campaign.PurposeMarketing, Channel: campaign.Email,
			Content: content, Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Schedule(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p, err := svc.Plan(ctx, c.ID)
		if err != nil || p.Audience != n || p.Permitted != n/2 {
			b.Fatalf("plan: %+v %v", p, err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "recipients/s")
	}
}
