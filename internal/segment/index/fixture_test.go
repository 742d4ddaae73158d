package index

import (
	"context"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// fixedClock is a kith.Clock that says what the test says.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

var (
	shanghai = mustLoc("Asia/Shanghai")
	testNow  = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
)

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// day is the day number of a date.
func day(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// sh is an instant given as Shanghai wall time.
func sh(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, shanghai).UTC()
}

func mustOpen(t testing.TB, db *store.DB, clock *fixedClock) *Index {
	t.Helper()
	ix, err := Open(context.Background(), db, shanghai, clock)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ix
}

// Helpers writing the tables the index reads.

func addCustomer(t testing.TB, db *store.DB, id int64, ext string) {
	t.Helper()
	q := `INSERT INTO customers (id, external_userid, created_at, updated_at) VALUES ($1, $2, $3, $3)`
	if db.Dialect == store.Postgres {
		q = `INSERT INTO customers (id, external_userid, created_at, updated_at) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $3)`
	}
	storetest.MustExec(t, db, q, id, ext, testNow)
}

func setFacts(t testing.TB, db *store.DB, id int64, orders int64, spent [4]int64, last *time.Time) {
	t.Helper()
	storetest.MustExec(t, db, `UPDATE customers SET order_count = $1, spent_30d_fen = $2, spent_90d_fen = $3, spent_365d_fen = $4, spent_total_fen = $5, last_order_at = $6 WHERE id = $7`,
		orders, spent[0], spent[1], spent[2], spent[3], last, id)
}

func addFollow(t testing.TB, db *store.DB, id int64, member, state, status string, added time.Time) {
	t.Helper()
	storetest.MustExec(t, db, `INSERT INTO follows (customer_id, member_userid, state, status, added_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		id, member, state, status, added)
}

func addTag(t testing.TB, db *store.DB, id int64, member, tag string) {
	t.Helper()
	storetest.MustExec(t, db, `INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, $3)`, id, member, tag)
}

func addCorpTag(t testing.TB, db *store.DB, group, groupName, tag, name string) {
	t.Helper()
	if db.Dialect == store.Postgres {
		storetest.MustExec(t, db, `INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING`, group, groupName, testNow)
	} else {
		storetest.MustExec(t, db, `INSERT OR IGNORE INTO tag_groups (group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)`, group, groupName, testNow)
	}
	storetest.MustExec(t, db, `INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`, tag, group, name, testNow)
}

func addPhone(t testing.TB, db *store.DB, id int64, member, index string) {
	t.Helper()
	storetest.MustExec(t, db, `INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id) VALUES ($1, $2, 'sealed', $3, 'k1')`, id, member, index)
}

// setConsent writes a marketing consent_state row for a person.
func setConsent(t testing.TB, db *store.DB, kind, key, index, channel, action string, until *time.Time, suppressed bool) {
	t.Helper()
	storetest.MustExec(t, db, `INSERT INTO consent_state (person_kind, person_key, purpose, channel, action, valid_until, event_id, suppressed, person_index, updated_at,
    occurred_at, received_at, source, seq)
VALUES ($1, $2, 'marketing', $3, $4, $5, 1, $6, $7, $8, $8, $8, 'customer', 1)`, kind, key, channel, action, until, suppressed, index, testNow)
}
