package emailcampaign_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/email/smtpsink"
	"github.com/kith-scrm/kith/internal/channel/emailcampaign"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func mustExec(tb testing.TB, db *store.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// TestEmailAddresserAndServiceCampaign: the addresser answers e-mail with
// each customer's oldest address (opened), nothing for a customer without
// one (refused NO_ADDRESS), and asks the next addresser for other
// channels; a service campaign sends one message per addressed customer
// with the name filled in, escaped in HTML.
func TestEmailAddresserAndServiceCampaign(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := kith.NewFixedClock(time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC))
		prot, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		at := clock.Now().Add(-48 * time.Hour)
		ov := ""
		if db.Dialect == store.Postgres {
			ov = " OVERRIDING SYSTEM VALUE"
		}
		mustExec(t, db, "INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ('g1', 'level', $1, $1)", at)
		mustExec(t, db, "INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ('t1', 'g1', 'vip', $1, $1)", at)
		for i := 1; i <= 4; i++ {
			mustExec(t, db, "INSERT INTO customers (id, external_userid, name, created_at, updated_at)"+ov+" VALUES ($1, $2, $3, $4, $4)", i, fmt.Sprintf("wm%d", i), fmt.Sprintf("<客户%d>", i), at)
			mustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, 'alice', $2, $2)", i, at)
			mustExec(t, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, 'alice', 't1')", i)
			if i == 4 {
				continue // no address
			}
			if _, err := customer.AddEmail(ctx, db.W, prot, int64(i), fmt.Sprintf("first%d@example.com", i), customer.EmailFromAPI, "api", at); err != nil {
				t.Fatal(err)
			}
			if _, err := customer.AddEmail(ctx, db.W, prot, int64(i), fmt.Sprintf("second%d@example.com", i), customer.EmailFromAPI, "api", at.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		addr := &campaign.EmailAddresser{DB: db, Opener: prot, Next: &campaign.DBAddresser{DB: db}}
		got, err := addr.Addresses(ctx, campaign.Email, []int64{1, 2, 3, 4})
		if err != nil || len(got) != 3 || got[2].Person.Key != "first2@example.com" {
			t.Fatalf("addresses: %+v %v", got, err)
		}
		if wc, err := addr.Addresses(ctx, campaign.WeCom, []int64{1}); err != nil || wc[1].Person.Key != "wm1" {
			t.Errorf("wecom: %+v %v", wc, err)
		}

		sink, err := smtpsink.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		g := gate.New(db, testKey, clock)
		svc := campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock, Addresses: addr})
		comp, err := email.NewComposer(email.Sender{From: mail.Address{Address: "news@shop.example"}, UnsubscribeURL: "https://kith.shop.example/u/",
			UnsubscribeMailto: "news@shop.example", TokenKey: testKey}, nil, clock)
		if err != nil {
			t.Fatal(err)
		}
		m, err := email.NewMailer(email.SMTPConfig{Addr: sink.Addr(), TLS: email.NoTLS}, comp, svc.Claimer(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		svc.Register(campaign.Email, emailcampaign.CampaignTransport{DB: db, Mailer: func(context.Context) (emailcampaign.Sender, error) { return m, nil }}, nil)
		c, err := svc.Create(ctx, 0, campaign.Input{Name: "shipped", Purpose: campaign.PurposeService, Channel: campaign.Email,
			Content:  campaign.Content{Subject: "您的订单已发货", HTML: "<p>{{name}}，您好：您的订单已发货。</p>"},
			Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Create(ctx, 0, campaign.Input{Name: "typo", Purpose: campaign.PurposeService, Channel: campaign.Email,
			Content:  campaign.Content{Subject: "Hi {{nmae}}", Text: "x"},
			Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}}); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("unknown variable: %v", err)
		}
		svc.Schedule(ctx, c.ID)
		p, err := svc.Plan(ctx, c.ID)
		if err != nil || p.Permitted != 3 || p.Refused[campaign.NoAddress] != 1 {
			t.Fatalf("plan: %+v %v", p, err)
		}
		for range 20 {
			st, err := svc.RunBatch(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st == campaign.Finished {
				break
			}
		}
		msgs := sink.Messages()
		if len(msgs) != 3 {
			t.Fatalf("%d messages", len(msgs))
		}
		for _, msg := range msgs {
			if !bytes.Contains(msg.Data, []byte("text/html")) || bytes.Contains(msg.Data, []byte("List-Unsubscribe")) {
				t.Errorf("service message to %v: %s", msg.To, msg.Data)
			}
		}
		r, err := svc.Results(ctx, c.ID)
		if err != nil || r.ByState["sent"] != 3 {
			t.Errorf("results %+v %v", r, err)
		}
	})
}
