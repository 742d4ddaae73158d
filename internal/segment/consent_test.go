package segment_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// phoneIndex stands in for protect.Protector's blind index.
type phoneIndex struct{}

func (phoneIndex) Index(field, value string) string { return "ix:" + field + ":" + value }

// TestReachableFollowsTheLedger writes consent through internal/consent,
// as the product does, and checks that reachable: follows each change.
func TestReachableFollowsTheLedger(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key := []byte("0123456789abcdef0123456789abcdef")
		l := consent.NewLedger(db.R, key).UseIndexer(phoneIndex{})
		t0 := fxNow
		var wecomID, smsID int64
		for _, c := range []struct {
			ext string
			id  *int64
		}{{"wmA", &wecomID}, {"wmB", &smsID}} {
			if err := db.W.QueryRowContext(ctx, "INSERT INTO customers (external_userid, created_at, updated_at) VALUES ($1, $2, $2) RETURNING id",
				c.ext, t0).Scan(c.id); err != nil {
				t.Fatal(err)
			}
		}
		phone := consent.Phone("+86 138-0013-8000")
		storetest.MustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, 'zhangsan', $2, $2)", smsID, t0)
		storetest.MustExec(t, db, `INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id)
			VALUES ($1, 'zhangsan', 'sealed', $2, 'k1')`, smsID, phoneIndex{}.Index("phone", phone.Key))

		reach := func(channel string, now time.Time) []int64 {
			t.Helper()
			q, args, err := segment.SQL(db.Dialect, segment.MustParse("reachable:"+channel), segment.SQLOptions{Location: shanghai, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.R.QueryContext(ctx, q, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			return ids
		}
		record := func(e consent.Event) {
			t.Helper()
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return l.Record(ctx, tx, e) }); err != nil {
				t.Fatalf("record %s %s: %v", e.Action, e.Channel, err)
			}
		}
		notice, err := l.Notice(ctx, consent.Marketing, 0)
		if err != nil {
			t.Fatal(err)
		}
		grant := func(p consent.Person, ch consent.Channel, at time.Time, until *time.Time) consent.Event {
			e := consent.Event{Person: p, Purpose: consent.Marketing, Channel: ch, Action: consent.Grant, Source: consent.SourceCustomer,
				Evidence:      consent.Evidence{consent.EvidenceURL: "https://shop.example/consent", consent.EvidenceNotice: "checkout"},
				NoticeVersion: notice.Version, NoticeHash: notice.TextHash, RecordedBy: "web", OccurredAt: at, ReceivedAt: at}
			if until != nil {
				e.Scope = &consent.Scope{Types: []string{"promotion"}, ValidUntil: until}
			}
			return e
		}
		expect := func(step, channel string, now time.Time, want ...int64) {
			t.Helper()
			if got := reach(channel, now); !slices.Equal(got, want) {
				t.Errorf("%s: reachable:%s = %v, want %v", step, channel, got, want)
			}
		}

		expect("no consent", "wecom", t0)
		expect("no consent", "sms", t0)
		record(grant(consent.ExternalUser("wmA"), consent.ChannelWeCom, t0, nil))
		until := t0.Add(2 * time.Hour)
		record(grant(phone, consent.ChannelSMS, t0, &until))
		expect("granted", "wecom", t0.Add(time.Minute), wecomID)
		expect("granted", "sms", t0.Add(time.Minute), smsID)
		expect("grant expired", "sms", t0.Add(3*time.Hour))
		record(consent.Event{Person: consent.ExternalUser("wmA"), Purpose: consent.Marketing, Channel: consent.ChannelWeCom,
			Action: consent.Withdraw, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/p"},
			RecordedBy: "web", OccurredAt: t0.Add(2 * time.Minute), ReceivedAt: t0.Add(2 * time.Minute)})
		expect("withdrawn", "wecom", t0.Add(3*time.Minute))
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return consent.Suppress(ctx, tx, key, phone, consent.Marketing, consent.ChannelSMS, "complaint", t0.Add(4*time.Minute))
		}); err != nil {
			t.Fatal(err)
		}
		expect("suppressed", "sms", t0.Add(5*time.Minute))
	})
}
