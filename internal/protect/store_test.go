package protect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var now = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// protector returns a Protector whose current field key is fieldKeys[0].
func protector(tb testing.TB, fieldKeys ...byte) *protect.Protector {
	tb.Helper()
	var prev [][]byte
	for _, b := range fieldKeys[1:] {
		prev = append(prev, key(b))
	}
	p, err := protect.New(key(fieldKeys[0]), key(99), prev...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustSeal(tb testing.TB, p *protect.Protector, field, v string) protect.Sealed {
	tb.Helper()
	s, err := p.Seal(field, v)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestProtectedValues(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := protector(t, 1)
		alice, bob := protect.Owner{Kind: "customer", ID: "1"}, protect.Owner{Kind: "customer", ID: "2"}
		order := protect.Owner{Kind: "order", ID: "1"}
		mail := mustSeal(t, p, protect.FieldEmail, "Chen.Jing@Example.com")
		addr := mustSeal(t, p, protect.FieldAddress, "浙江省杭州市西湖区文三路90号")
		if err := protect.PutValues(ctx, db.W, alice, protect.FieldEmail, []protect.Sealed{mail, mail}, now); err != nil {
			t.Fatal(err)
		}
		for _, o := range []protect.Owner{alice, bob, order} {
			if err := protect.PutValues(ctx, db.W, o, protect.FieldAddress, []protect.Sealed{addr}, now); err != nil {
				t.Fatal(err)
			}
		}
		var raw string
		if err := db.R.QueryRowContext(ctx, "SELECT sealed FROM protected_values WHERE field = 'email'").Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(raw), "chen") || !strings.HasPrefix(raw, "fc1:") {
			t.Fatalf("stored %q", raw)
		}
		vals, err := protect.Values(ctx, db.R, alice)
		if err != nil || len(vals) != 2 || vals[0].Field != protect.FieldAddress || vals[1].Field != protect.FieldEmail {
			t.Fatalf("Values = %+v %v", vals, err)
		}
		if vals[1].Masked != "c***@example.com" || vals[0].Masked != "浙江省杭州市****" {
			t.Fatalf("masked %q %q", vals[1].Masked, vals[0].Masked)
		}
		if got, err := p.Open(protect.FieldEmail, vals[1].Sealed); err != nil || got != "chen.jing@example.com" {
			t.Fatalf("Open = %q %v", got, err)
		}
		// Look-ups and duplicates through the index alone.
		owners, err := protect.FindOwners(ctx, db.R, "customer", protect.FieldAddress, p.Index(protect.FieldAddress, " 浙江省杭州市西湖区文三路90号"))
		if err != nil || fmt.Sprint(owners) != "[1 2]" {
			t.Fatalf("FindOwners = %v %v", owners, err)
		}
		if owners, _ := protect.FindOwners(ctx, db.R, "customer", protect.FieldEmail, p.Index(protect.FieldEmail, "CHEN.JING@example.com")); fmt.Sprint(owners) != "[1]" {
			t.Fatalf("by e-mail: %v", owners)
		}
		if owners, _ := protect.FindOwners(ctx, db.R, "customer", protect.FieldEmail, p.Index(protect.FieldEmail, "other@example.com")); len(owners) != 0 {
			t.Fatalf("another address found %v", owners)
		}
		// Plaintext, or a value sealed for nothing, is refused.
		for name, bad := range map[string]protect.Sealed{
			"plaintext": {Value: "chen.jing@example.com", Index: mail.Index, KeyID: mail.KeyID, Masked: mail.Masked},
			"no index":  {Value: mail.Value, KeyID: mail.KeyID, Masked: mail.Masked},
			"no mask":   {Value: mail.Value, Index: mail.Index, KeyID: mail.KeyID},
			"wrong key": {Value: mail.Value, Index: mail.Index, KeyID: "00000000", Masked: mail.Masked},
		} {
			if err := protect.PutValues(ctx, db.W, bob, protect.FieldEmail, []protect.Sealed{bad}, now); kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := protect.PutValues(ctx, db.W, bob, "national_id", nil, now); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("unknown field: %v", err)
		}
		// Replacing and erasing.
		if err := protect.PutValues(ctx, db.W, alice, protect.FieldEmail, nil, now); err != nil {
			t.Fatal(err)
		}
		if vals, _ := protect.Values(ctx, db.R, alice); len(vals) != 1 {
			t.Fatalf("after clearing e-mails: %+v", vals)
		}
		if n, err := protect.DeleteOwner(ctx, db.W, bob); err != nil || n != 1 {
			t.Fatalf("DeleteOwner = %d %v", n, err)
		}
		if vals, _ := protect.Values(ctx, db.R, order); len(vals) != 1 {
			t.Fatal("erasing a customer touched an order")
		}
	})
}

// fill stores n protected values, n phones and a sealed setting under p's
// current key.
func fill(t *testing.T, db *store.DB, p *protect.Protector, n int) {
	t.Helper()
	ctx := context.Background()
	var cid int64
	if err := db.W.QueryRowContext(ctx, "INSERT INTO customers (external_userid, created_at, updated_at) VALUES ('wm1', $1, $1) RETURNING id", now).Scan(&cid); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		o := protect.Owner{Kind: "customer", ID: fmt.Sprintf("%04d", i)}
		if err := protect.PutValues(ctx, db.W, o, protect.FieldEmail, []protect.Sealed{mustSeal(t, p, protect.FieldEmail, fmt.Sprintf("u%d@example.com", i))}, now); err != nil {
			t.Fatal(err)
		}
		m := fmt.Sprintf("m%04d", i)
		storetest.MustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, $2, $3, $3)", cid, m, now)
		ph := mustSeal(t, p, protect.FieldPhone, fmt.Sprintf("138%08d", i))
		storetest.MustExec(t, db, "INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id) VALUES ($1, $2, $3, $4, $5)", cid, m, ph.Value, ph.Index, ph.KeyID)
	}
	storetest.MustExec(t, db, "INSERT INTO settings (key, value, updated_at) VALUES ('wecom.secret', $1, $2), ('wecom.corp_id', 'ww123', $2)",
		p.Sealer().Seal("s3cret", "settings:wecom.secret"), now)
}

// readAll opens every sealed value with p and fails on any it cannot.
func readAll(t *testing.T, db *store.DB, p *protect.Protector) map[string]int {
	t.Helper()
	ctx := context.Background()
	byKey := map[string]int{}
	rows, err := db.R.QueryContext(ctx, "SELECT field, sealed, key_id FROM protected_values")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f string
		var s protect.Sealed
		rows.Scan(&f, &s.Value, &s.KeyID)
		if _, err := p.Open(f, s); err != nil || fieldcrypt.SealedWith(s.Value) != s.KeyID {
			t.Fatalf("a protected value is unreadable or names the wrong key: %v", err)
		}
		byKey[s.KeyID]++
	}
	rows.Close()
	rows, _ = db.R.QueryContext(ctx, "SELECT phone_sealed, key_id FROM customer_phones")
	for rows.Next() {
		var s protect.Sealed
		rows.Scan(&s.Value, &s.KeyID)
		if v, err := p.Open(protect.FieldPhone, s); err != nil || !strings.HasPrefix(v, "138") || fieldcrypt.SealedWith(s.Value) != s.KeyID {
			t.Fatalf("a phone is unreadable or names the wrong key: %q %v", v, err)
		}
		byKey[s.KeyID]++
	}
	rows.Close()
	var secret string
	db.R.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'wecom.secret'").Scan(&secret)
	if v, err := p.Sealer().Open(secret, "settings:wecom.secret"); err != nil || v != "s3cret" {
		t.Fatalf("the WeCom secret is unreadable: %v", err)
	}
	byKey[fieldcrypt.SealedWith(secret)]++
	return byKey
}

func TestRotate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fill(t, db, protector(t, 1), 25)
		// A value sealed under a key the instance no longer has fails, and
		// stays as it is.
		lost := mustSeal(t, protector(t, 7), protect.FieldEmail, "lost@example.com")
		if err := protect.PutValues(ctx, db.W, protect.Owner{Kind: "customer", ID: "lost"}, protect.FieldEmail, []protect.Sealed{lost}, now); err != nil {
			t.Fatal(err)
		}
		rotated := protector(t, 2, 1)
		oldID, newID := fieldcrypt.KeyID(key(1)), fieldcrypt.KeyID(key(2))
		// Two values already current before the rotation.
		if err := protect.PutValues(ctx, db.W, protect.Owner{Kind: "order", ID: "9"}, protect.FieldAddress,
			[]protect.Sealed{mustSeal(t, rotated, protect.FieldAddress, "上海市浦东新区1号"), mustSeal(t, rotated, protect.FieldAddress, "上海市浦东新区2号")}, now); err != nil {
			t.Fatal(err)
		}
		var calls int
		rep, err := protect.Rotate(ctx, db, rotated.Sealer(), 10, func(protect.RotateReport) { calls++ })
		if err != nil {
			t.Fatal(err)
		}
		// 25 e-mails + 25 phones + 1 setting re-sealed; the lost one failed.
		if rep.Resealed != 51 || rep.AlreadyCurrent != 2 || rep.Failed != 1 || rep.Changed != 0 {
			t.Fatalf("report %+v", rep)
		}
		if len(rep.Failures) != 1 || rep.Failures[0].Row != "customer/lost/email/"+lost.Index || rep.Failures[0].KeyID != fieldcrypt.KeyID(key(7)) {
			t.Fatalf("failures %+v", rep.Failures)
		}
		if calls != rep.Batches || rep.Batches < 6 {
			t.Fatalf("progress called %d times for %d batches", calls, rep.Batches)
		}
		storetest.MustExec(t, db, "DELETE FROM protected_values WHERE owner_id = 'lost'")
		if byKey := readAll(t, db, protector(t, 2)); byKey[newID] != 53 || byKey[oldID] != 0 {
			t.Fatalf("after rotation, values by key: %v", byKey)
		}
		// Idempotent: a second run re-seals nothing.
		rep, err = protect.Rotate(ctx, db, rotated.Sealer(), 10, nil)
		if err != nil || rep.Resealed != 0 || rep.AlreadyCurrent != 53 || rep.Failed != 0 {
			t.Fatalf("second run %+v %v", rep, err)
		}
		if _, err := protect.Rotate(ctx, db, rotated.Sealer(), 0, nil); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("batch 0: %v", err)
		}
	})
}

// TestRotateStoppedBetweenBatches: a rotation cancelled after its first
// batch leaves every value readable under the old and new keys, and a
// second run finishes the job.
func TestRotateStoppedBetweenBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		fill(t, db, protector(t, 1), 30)
		rotated := protector(t, 2, 1)
		ctx, cancel := context.WithCancel(context.Background())
		rep, err := protect.Rotate(ctx, db, rotated.Sealer(), 7, func(protect.RotateReport) { cancel() })
		if !errors.Is(err, context.Canceled) || rep.Resealed != 7 || rep.Batches != 1 {
			t.Fatalf("stopped run: %+v %v", rep, err)
		}
		byKey := readAll(t, db, rotated)
		if byKey[fieldcrypt.KeyID(key(2))] != 7 || byKey[fieldcrypt.KeyID(key(1))] != 54 {
			t.Fatalf("after the stop, values by key: %v", byKey)
		}
		rep, err = protect.Rotate(context.Background(), db, rotated.Sealer(), 7, nil)
		if err != nil || rep.Resealed != 54 || rep.AlreadyCurrent != 7 {
			t.Fatalf("resumed run: %+v %v", rep, err)
		}
		if byKey := readAll(t, db, protector(t, 2)); byKey[fieldcrypt.KeyID(key(2))] != 61 {
			t.Fatalf("after the resumed run: %v", byKey)
		}
	})
}

func TestFieldKeyRegistry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		k1, k2, k3 := fieldcrypt.KeyID(key(1)), fieldcrypt.KeyID(key(2)), fieldcrypt.KeyID(key(3))
		// A database made before keys were recorded: its values name k1.
		fill(t, db, protector(t, 1), 3)
		if err := protect.CheckFieldKeys(ctx, db, []string{k2}, now); err == nil || !strings.Contains(err.Error(), k1) {
			t.Fatalf("secrets without the key values use: %v", err)
		}
		if err := protect.CheckFieldKeys(ctx, db, []string{k2, k1}, now); err != nil {
			t.Fatal(err)
		}
		keys, err := protect.ListKeys(ctx, db, []string{k2, k1})
		if err != nil || len(keys) != 2 || keys[0].ID != k2 || !keys[0].Current || keys[0].Values != 0 ||
			keys[1].ID != k1 || keys[1].Values != 7 || !keys[1].Loaded || keys[1].FirstUsedAt == nil {
			t.Fatalf("ListKeys = %+v %v", keys, err)
		}
		// Retiring: not the current key, not an unknown one, not while in use.
		if err := protect.RetireKey(ctx, db, k2, k2, now); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Fatalf("retire current: %v", err)
		}
		if err := protect.RetireKey(ctx, db, k2, k3, now); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("retire unknown: %v", err)
		}
		if err := protect.RetireKey(ctx, db, k2, k1, now); kith.ErrorCode(err) != kith.ECONFLICT || !strings.Contains(err.Error(), "7 values") {
			t.Fatalf("retire in use: %v", err)
		}
		if _, err := protect.Rotate(ctx, db, protector(t, 2, 1).Sealer(), 100, nil); err != nil {
			t.Fatal(err)
		}
		if err := protect.RetireKey(ctx, db, k2, k1, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		keys, _ = protect.ListKeys(ctx, db, []string{k2})
		if len(keys) != 2 || keys[1].ID != k1 || keys[1].RetiredAt == nil || keys[1].Loaded || keys[0].Values != 7 {
			t.Fatalf("after retiring: %+v", keys)
		}
		// Once retired the key may leave the secrets, but may not come back
		// as the current key.
		if err := protect.CheckFieldKeys(ctx, db, []string{k2}, now); err != nil {
			t.Fatalf("start without the retired key: %v", err)
		}
		if err := protect.CheckFieldKeys(ctx, db, []string{k1, k2}, now); err == nil || !strings.Contains(err.Error(), "retired") {
			t.Fatalf("start sealing under a retired key: %v", err)
		}
	})
}
