package smscampaign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/channel/sms/smstest"
	"github.com/kith-scrm/kith/internal/channel/smscampaign"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

func mustExec(tb testing.TB, db *store.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// provider answers SendSms like Tencent, every number Ok, except that it
// cuts the connection of the first request after reading it (the answer
// is lost: the messages may have gone out).
type provider struct {
	mu      sync.Mutex
	numbers map[string]int
	calls   int
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		PhoneNumberSet []string
		SessionContext string
	}
	json.Unmarshal(body, &req)
	p.mu.Lock()
	p.calls++
	first := p.calls == 1
	for _, n := range req.PhoneNumberSet {
		p.numbers[n]++
	}
	p.mu.Unlock()
	if first {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	var set []string
	for i, n := range req.PhoneNumberSet {
		set = append(set, fmt.Sprintf(`{"SerialNo":"sn-%d","PhoneNumber":%q,"Fee":1,"SessionContext":%q,"Code":"Ok","Message":"send success","IsoCode":"CN"}`, i, n, req.SessionContext))
	}
	fmt.Fprintf(w, `{"Response":{"SendStatusSet":[%s],"RequestId":"r1"}}`, strings.Join(set, ","))
}

// TestSMSCampaign: customers' sealed numbers are opened to address them
// (one without a number is refused NO_ADDRESS); a batch whose answer was
// lost is reported unknown and never resent; the others are sent once.
func TestSMSCampaign(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		svc, c, fake := smsCampaign(t, db)
		ctx := context.Background()
		runCampaign(t, svc, c.ID)
		r, err := svc.Results(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.ByState["unknown"] != 2 || r.ByState["sent"] != 4 || r.ByReason["refused"][campaign.NoAddress] != 1 {
			t.Errorf("results = %+v", r)
		}
		if len(fake.numbers) != 6 {
			t.Errorf("the provider saw %d numbers, want 6", len(fake.numbers))
		}
		for n, k := range fake.numbers {
			if k != 1 {
				t.Errorf("%s was sent %d times", n, k)
			}
		}
	})
}

// smsCampaign makes 7 customers with sealed numbers (the 7th without),
// an SMS campaign to them through a fake Tencent, and plans it.
func smsCampaign(t *testing.T, db *store.DB) (*campaign.Service, campaign.Campaign, *provider) {
	t.Helper()
	ctx := context.Background()
	clock := kith.NewFixedClock(wed10)
	prot, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	at := wed10.Add(-48 * time.Hour)
	ov := ""
	if db.Dialect == store.Postgres {
		ov = " OVERRIDING SYSTEM VALUE"
	}
	mustExec(t, db, "INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ('g1', 'level', $1, $1)", at)
	mustExec(t, db, "INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ('t1', 'g1', 'vip', $1, $1)", at)
	notice, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 7; i++ {
		mustExec(t, db, "INSERT INTO customers (id, external_userid, created_at, updated_at)"+ov+" VALUES ($1, $2, $3, $3)", i, fmt.Sprintf("wm%d", i), at)
		mustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, 'alice', $2, $2)", i, at)
		mustExec(t, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, 'alice', 't1')", i)
		if i == 7 {
			continue // no number
		}
		number := fmt.Sprintf("1380000000%d", i)
		sealed, err := prot.Seal(protect.FieldPhone, number)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id) VALUES ($1, 'alice', $2, $3, $4)",
			i, sealed.Value, sealed.Index, sealed.KeyID)
		if err := consent.NewLedger(nil, testKey).Record(ctx, db.W, consent.Event{Person: consent.Phone(number), Purpose: consent.Marketing,
			Channel: consent.ChannelSMS, Action: consent.Grant, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"},
			NoticeVersion: notice.Version, NoticeHash: notice.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	g := gate.New(db, testKey, clock)
	svc := campaign.New(campaign.Config{DB: db, Gate: g, Clock: clock, Addresses: &campaign.PhoneAddresser{DB: db, Opener: prot}})
	svc.BatchSize = 2
	fake := &provider{numbers: map[string]int{}}
	srv := httptest.NewServer(fake)
	tc, err := sms.NewTencent(sms.TencentConfig{SecretID: "AKIDtest", SecretKey: "secret", SdkAppID: "1400006666", Endpoint: srv.URL}, svc.Claimer(), nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(campaign.SMS, smscampaign.CampaignTransport{Provider: tc}, nil)
	c, err := svc.Create(ctx, 0, campaign.Input{Name: "sms", Purpose: campaign.PurposeMarketing, Channel: campaign.SMS,
		Content:  campaign.Content{Sign: "小店", TemplateID: "1001", Text: "春季新品到店，拒收请回复R"},
		Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}})
	if err != nil {
		t.Fatal(err)
	}
	svc.Schedule(ctx, c.ID)
	p, err := svc.Plan(ctx, c.ID)
	if err != nil || p.Permitted != 6 || p.Refused[campaign.NoAddress] != 1 || p.SMSParts != 1 || p.SMSCostFen != 27 {
		t.Fatalf("plan: %+v %v", p, err)
	}
	t.Cleanup(srv.Close)
	return svc, c, fake
}

// runCampaign hands over the campaign's batches until it is finished.
func runCampaign(t *testing.T, svc *campaign.Service, id int64) {
	t.Helper()
	for range 20 {
		st, err := svc.RunBatch(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st == campaign.Finished {
			return
		}
	}
	t.Fatal("the campaign did not finish in 20 batches")
}

// sentTo returns the provider id of each sent delivery, by number.
func sentTo(t *testing.T, db *store.DB, id int64) map[string]string {
	t.Helper()
	rows, err := db.R.QueryContext(context.Background(), `SELECT g.person_key, d.provider_id FROM campaign_deliveries d JOIN gate_sends g ON g.permit_id = d.permit_id
		WHERE d.campaign_id = $1 AND d.state = 'sent'`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var phone, pid string
		rows.Scan(&phone, &pid)
		out[phone] = pid
	}
	return out
}

// TestSMSReports: delivery reports move sent deliveries to delivered, or
// failed with the carrier's code; a push sent again, or a later report of
// another outcome, changes nothing; a report for another number of the
// same id, or for no delivery, is kept unapplied; a report that came
// before its send was settled is applied by the next poll.
func TestSMSReports(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, c, _ := smsCampaign(t, db)
		runCampaign(t, svc, c.ID)
		sent := sentTo(t, db, c.ID)
		var phones []string
		for p := range sent {
			phones = append(phones, p)
		}
		slices.Sort(phones)
		if len(phones) != 4 {
			t.Fatalf("sent to %v", sent)
		}
		a, b, early := phones[0], phones[1], phones[2]
		at := wed10.Add(time.Minute)
		push := []sms.Report{
			{Provider: sms.ProviderTencent, ProviderID: sent[a], Phone: a, Delivered: true, Code: "DELIVRD", At: at},
			{Provider: sms.ProviderTencent, ProviderID: sent[b], Phone: b, Code: "UNDELIV", Description: "用户关机", At: at},
			{Provider: sms.ProviderTencent, ProviderID: sent[a], Phone: "13900000000", Delivered: true, Code: "DELIVRD", At: at},
			{Provider: sms.ProviderTencent, ProviderID: "nobody", Phone: a, Delivered: true, Code: "DELIVRD", At: at},
		}
		if stored, applied, err := svc.TakeSMSReports(ctx, push); err != nil || stored != 4 || applied != 2 {
			t.Fatalf("take: %d stored, %d applied, %v; want 4 and 2", stored, applied, err)
		}
		check := func(when string, delivered, failed int) {
			t.Helper()
			sum, err := svc.Summarize(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Delivered != delivered || sum.Failed != failed || sum.FailedBy["UNDELIV"] != failed || sum.Sent != 4 {
				t.Errorf("%s: %+v", when, sum)
			}
		}
		check("after the push", 1, 1)
		// SMS has no member to confirm: none is listed while reports wait.
		if r, err := svc.Results(ctx, c.ID); err != nil || len(r.Unconfirmed) != 0 {
			t.Errorf("unconfirmed members of an SMS campaign: %q, %v", r.Unconfirmed, err)
		}
		if sum, _ := svc.Summarize(ctx, c.ID); len(sum.Unconfirmed) != 0 {
			t.Errorf("summary's unconfirmed members of an SMS campaign: %v", sum.Unconfirmed)
		}
		var detail string
		db.R.QueryRowContext(ctx, "SELECT detail FROM campaign_deliveries WHERE campaign_id = $1 AND state = 'failed'", c.ID).Scan(&detail)
		if detail != "用户关机" {
			t.Errorf("failed detail %q", detail)
		}
		if stored, applied, err := svc.TakeSMSReports(ctx, push); err != nil || stored != 0 || applied != 0 {
			t.Errorf("the same push again: %d stored, %d applied, %v", stored, applied, err)
		}
		late := []sms.Report{{Provider: sms.ProviderTencent, ProviderID: sent[a], Phone: a, Code: "UNDELIV", At: at}}
		if stored, applied, err := svc.TakeSMSReports(ctx, late); err != nil || stored != 1 || applied != 0 {
			t.Errorf("another outcome later: %d stored, %d applied, %v", stored, applied, err)
		}
		check("after a later report", 1, 1)
		// A report before its send was settled: the delivery has no
		// provider id yet.
		mustExec(t, db, "UPDATE campaign_deliveries SET provider_id = '' WHERE provider_id = $1 AND campaign_id = $2", sent[early], c.ID)
		early1 := []sms.Report{{Provider: sms.ProviderTencent, ProviderID: sent[early], Phone: early, Delivered: true, Code: "DELIVRD", At: at}}
		if _, applied, err := svc.TakeSMSReports(ctx, early1); err != nil || applied != 0 {
			t.Fatalf("early: %d applied, %v", applied, err)
		}
		mustExec(t, db, "UPDATE campaign_deliveries SET provider_id = $1 WHERE provider_id = '' AND state = 'sent' AND campaign_id = $2", sent[early], c.ID)
		if _, err := svc.Poll(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		check("after the poll", 2, 1)
		var pending int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM sms_reports WHERE applied_at IS NULL").Scan(&pending)
		if pending != 2 {
			t.Errorf("%d reports pending, want 2 (another number, no delivery)", pending)
		}
	})
}

// TestSMSPrice: the preview's cost estimate uses the saved price per
// billed part, the default when none is saved, and the default (not a
// failed preview) when the price cannot be read.
func TestSMSPrice(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, c, _ := smsCampaign(t, db)
		for _, tc := range []struct {
			name   string
			pricer campaign.SMSPricer
			want   int64 // 6 permitted × 1 part
		}{
			{"none set", nil, 27},
			{"saved 6 fen", func(context.Context) (float64, bool, error) { return 6, true, nil }, 36},
			{"saved 3.8 fen", func(context.Context) (float64, bool, error) { return 3.8, true, nil }, 23},
			{"none saved", func(context.Context) (float64, bool, error) { return 0, false, nil }, 27},
			{"unreadable", func(context.Context) (float64, bool, error) { return 0, false, errors.New("settings unreadable") }, 27},
		} {
			svc.SetSMSPricer(tc.pricer)
			p, err := svc.Preview(ctx, c.ID)
			if err != nil || p.SMSCostFen != tc.want {
				t.Errorf("%s: cost %d fen, %v; want %d", tc.name, p.SMSCostFen, err, tc.want)
			}
		}
		svc.SetSMSPricer(func(context.Context) (float64, bool, error) { return 6, true, nil })
		if fen, saved, err := svc.SMSPrice(ctx); fen != 6 || !saved || err != nil {
			t.Errorf("SMSPrice = %v %v %v", fen, saved, err)
		}
	})
}

// TestSMSCampaignStandIn: an SMS campaign sent through the Tencent sender
// to the stand-in (which verifies its TC3-HMAC-SHA256 signature as the API
// does) reaches every permitted number once, and the delivery reports the
// stand-in pushes back move the deliveries to delivered, or failed with
// the carrier's code.
func TestSMSCampaignStandIn(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, c, _ := smsCampaign(t, db)
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			reports, err := sms.ParseTencentReports(body)
			if err == nil {
				_, _, err = svc.TakeSMSReports(r.Context(), reports)
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			io.WriteString(w, sms.TencentAck)
		}))
		defer receiver.Close()
		clock := kith.NewFixedClock(wed10)
		sb := smstest.New(smstest.Options{Signs: []string{"小店"}, Templates: map[string]string{"1001": "春季新品到店，拒收请回复R"},
			ReportURL: receiver.URL, Undeliverable: map[string]bool{"+8613800000002": true}, Now: clock.Now})
		srv := httptest.NewServer(sb)
		defer srv.Close()
		defer sb.Close()
		tc, err := sms.NewTencent(sms.TencentConfig{SecretID: smstest.SecretID, SecretKey: smstest.SecretKey, SdkAppID: smstest.SdkAppID, Endpoint: srv.URL},
			svc.Claimer(), nil, clock)
		if err != nil {
			t.Fatal(err)
		}
		svc.Register(campaign.SMS, smscampaign.CampaignTransport{Provider: tc}, nil)
		runCampaign(t, svc, c.ID)
		if n := len(sb.Messages()); n != 6 {
			t.Fatalf("the stand-in took %d messages, want 6", n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			// Reports that came before their batch was settled wait for the
			// campaign's poll.
			if _, err := svc.Poll(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			sum, err := svc.Summarize(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Delivered == 5 && sum.FailedBy["UNDELIV"] == 1 && sum.Sent == 6 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the reports: %+v", sum)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// TestSMSReportSettlesUnknown: a batch whose answer was lost leaves its
// deliveries unknown (never resent); a delivery report that names the
// batch (its session context) and a number in it settles that number's
// delivery as delivered or failed, with the report's id. A report naming
// another batch, or a number not in the batch, settles nothing and stays
// pending; one that came while the delivery was still claimed is applied
// by the poll once the delivery is unknown.
func TestSMSReportSettlesUnknown(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, c, _ := smsCampaign(t, db)
		runCampaign(t, svc, c.ID)
		rows, err := db.R.QueryContext(ctx, `SELECT g.person_key, d.batch_id FROM campaign_deliveries d JOIN gate_sends g ON g.permit_id = d.permit_id
			WHERE d.campaign_id = $1 AND d.state = 'unknown' ORDER BY g.person_key`, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var phones []string
		var batch int64
		for rows.Next() {
			var p string
			if err := rows.Scan(&p, &batch); err != nil {
				t.Fatal(err)
			}
			phones = append(phones, p)
		}
		rows.Close()
		if len(phones) != 2 {
			t.Fatalf("unknown deliveries to %v, want 2", phones)
		}
		sent := sentTo(t, db, c.ID)
		var other string // a number sent in another batch
		for p := range sent {
			other = p
		}
		session := campaign.SMSSession(c.ID, batch)
		at := wed10.Add(time.Minute)
		push := []sms.Report{
			// Another batch's session for an unknown number: nothing.
			{Provider: sms.ProviderTencent, ProviderID: "x-1", Phone: phones[0], Delivered: true, Session: campaign.SMSSession(c.ID, batch+100), At: at},
			// The batch's session, a number not in it: nothing.
			{Provider: sms.ProviderTencent, ProviderID: "x-2", Phone: other, Delivered: true, Session: session, At: at},
			// No session at all: nothing.
			{Provider: sms.ProviderTencent, ProviderID: "x-3", Phone: phones[0], Delivered: true, At: at},
			{Provider: sms.ProviderTencent, ProviderID: "sn-a", Phone: phones[0], Delivered: true, Code: "DELIVRD", Session: session, At: at},
			{Provider: sms.ProviderTencent, ProviderID: "sn-b", Phone: phones[1], Code: "UNDELIV", Description: "空号", Session: session, At: at},
		}
		if stored, applied, err := svc.TakeSMSReports(ctx, push); err != nil || stored != 5 || applied != 2 {
			t.Fatalf("take: %d stored, %d applied, %v; want 5 and 2", stored, applied, err)
		}
		state := func(phone string) (st, reason, pid string) {
			t.Helper()
			if err := db.R.QueryRowContext(ctx, `SELECT d.state, d.reason, d.provider_id FROM campaign_deliveries d JOIN gate_sends g ON g.permit_id = d.permit_id
				WHERE d.campaign_id = $1 AND g.person_key = $2`, c.ID, phone).Scan(&st, &reason, &pid); err != nil {
				t.Fatal(err)
			}
			return st, reason, pid
		}
		if st, _, pid := state(phones[0]); st != campaign.DeliveryDelivered || pid != "sn-a" {
			t.Errorf("%s: %s with id %q, want delivered with sn-a", phones[0], st, pid)
		}
		if st, reason, pid := state(phones[1]); st != campaign.DeliveryFailed || reason != "UNDELIV" || pid != "sn-b" {
			t.Errorf("%s: %s (%s) with id %q, want failed UNDELIV with sn-b", phones[1], st, reason, pid)
		}
		if st, _, _ := state(other); st != campaign.DeliverySent {
			t.Errorf("%s (another batch): %s, want sent", other, st)
		}
		var pending int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM sms_reports WHERE applied_at IS NULL").Scan(&pending)
		if pending != 3 {
			t.Errorf("%d reports pending, want 3", pending)
		}

		// A report that came while the delivery was still claimed waits; once
		// the delivery is unknown, the poll applies it.
		mustExec(t, db, `UPDATE campaign_deliveries SET state = 'claimed', provider_id = '' WHERE campaign_id = $1 AND provider_id = 'sn-a'`, c.ID)
		early := []sms.Report{{Provider: sms.ProviderTencent, ProviderID: "sn-a2", Phone: phones[0], Delivered: true, Session: session, At: at}}
		if _, applied, err := svc.TakeSMSReports(ctx, early); err != nil || applied != 0 {
			t.Fatalf("report before the delivery was unknown: %d applied, %v", applied, err)
		}
		mustExec(t, db, `UPDATE campaign_deliveries SET state = 'unknown' WHERE campaign_id = $1 AND state = 'claimed'`, c.ID)
		if _, err := svc.Poll(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if st, _, pid := state(phones[0]); st != campaign.DeliveryDelivered || pid != "sn-a2" {
			t.Errorf("after the poll %s: %s with id %q, want delivered with sn-a2", phones[0], st, pid)
		}
	})
}

// TestPruneSMSReports: reports received more than KeepSMSReports ago are
// deleted, in several statements when there are many; younger ones stay.
func TestPruneSMSReports(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _, _ := smsCampaign(t, db)
		old := wed10.Add(-campaign.KeepSMSReports - time.Hour)
		young := wed10.Add(-campaign.KeepSMSReports + time.Hour)
		insert := func(prefix string, n int, at time.Time) {
			t.Helper()
			mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
				INSERT INTO sms_reports (provider, provider_id, phone, delivered, reported_at, received_at)
				SELECT 'tencent', $2 || CAST(i AS TEXT), '13800000001', true, $3, $3 FROM n`, n, prefix, at)
		}
		insert("old-", 2500, old)
		insert("young-", 3, young)
		n, err := svc.PruneSMSReports(ctx)
		if err != nil || n != 2500 {
			t.Fatalf("pruned %d, %v; want 2500", n, err)
		}
		var left int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM sms_reports WHERE provider_id LIKE 'young-%'").Scan(&left)
		var all int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM sms_reports").Scan(&all)
		if left != 3 || all != 3 {
			t.Errorf("%d young reports and %d in all left, want 3 and 3", left, all)
		}
		if n, err := svc.PruneSMSReports(ctx); err != nil || n != 0 {
			t.Errorf("second prune: %d, %v", n, err)
		}
	})
}
