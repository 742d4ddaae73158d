package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// migration returns the Up and Down parts of a migration file for the
// database's dialect.
func migration(t *testing.T, db *store.DB, file string) (up, down string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "store", "migrations", string(db.Dialect), file))
	if err != nil {
		t.Fatal(err)
	}
	up, down, ok := strings.Cut(string(b), "-- +goose Down")
	if !ok {
		t.Fatalf("migration %s has no Down part", file)
	}
	return up, down
}

// TestMigration00024 checks that events stored with the old text keys (the
// hex SHA-256 alone) are still recognised after the upgrade: a retry of an
// event stored before it is answered as a duplicate, not stored again; keys
// of other sources keep their bytes; and the Down part gives the old keys
// back.
func TestMigration00024(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		up, down := migration(t, db, "00024_inbound_dedupe_blob.sql")
		storetest.MustExec(t, db, down) // back to the text keys of 00003

		const created = 1700000123
		body := `<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000123</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmold]]></ExternalUserID></xml>`
		sum := sha256.Sum256([]byte(body))
		oldKey := hex.EncodeToString(sum[:])
		now := time.Now().UTC()
		var wecomID, otherID int64
		if err := db.W.QueryRowContext(ctx, `INSERT INTO inbound_events (source, dedupe_key, kind, body, received_at, status)
			VALUES ('wecom', $1, 'change_external_contact/del_follow_user', $2, $3, 'applied') RETURNING id`, oldKey, body, now).Scan(&wecomID); err != nil {
			t.Fatal(err)
		}
		if err := db.W.QueryRowContext(ctx, `INSERT INTO inbound_events (source, dedupe_key, kind, body, received_at, status)
			VALUES ('sms', 'reply-42', 'reply', 'hello', $1, 'stored') RETURNING id`, now).Scan(&otherID); err != nil {
			t.Fatal(err)
		}

		storetest.MustExec(t, db, up)

		svc := ingest.NewService(db, nil, kith.SystemClock{}, quiet)
		e, err := callback.ParseEvent([]byte(body))
		if err != nil || e.CreateTime != created {
			t.Fatalf("ParseEvent: %+v, %v", e, err)
		}
		id, dup, err := svc.Accept(ctx, ingest.Inbound{Source: "wecom", DedupeKey: callback.DedupeKey(e.CreateTime, []byte(body)), Kind: e.Kind(), Body: []byte(body)})
		if err != nil || !dup || id != wecomID {
			t.Errorf("retry of an event stored before 00024: id %d, duplicate %v, %v; want id %d, duplicate", id, dup, err, wecomID)
		}
		id, dup, err = svc.Accept(ctx, ingest.Inbound{Source: "sms", DedupeKey: "reply-42", Kind: "reply", Body: []byte("hello")})
		if err != nil || !dup || id != otherID {
			t.Errorf("repeat of another source's event: id %d, duplicate %v, %v; want id %d, duplicate", id, dup, err, otherID)
		}
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM inbound_events").Scan(&n); err != nil || n != 2 {
			t.Errorf("%d events after the retries (%v), want 2", n, err)
		}

		// Down gives the old text keys back.
		storetest.MustExec(t, db, down)
		var got string
		if err := db.R.QueryRowContext(ctx, "SELECT dedupe_key FROM inbound_events WHERE id = $1", wecomID).Scan(&got); err != nil || got != oldKey {
			t.Errorf("after Down the key is %q (%v), want %q", got, err, oldKey)
		}
		if err := db.R.QueryRowContext(ctx, "SELECT dedupe_key FROM inbound_events WHERE id = $1", otherID).Scan(&got); err != nil || got != "reply-42" {
			t.Errorf("after Down the other key is %q (%v), want reply-42", got, err)
		}
		storetest.MustExec(t, db, up) // leave the schema as migrated
	})
}

// TestMigration00027 checks the events' status rule as a chain of ORs: each
// status is accepted, any other refused, and rebuilding the table (Down,
// then Up again) keeps every event.
func TestMigration00027(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		up, down := migration(t, db, "00027_inbound_status_check.sql")
		now := time.Now().UTC()
		insert := func(key, status string) error {
			_, err := db.W.ExecContext(ctx, `INSERT INTO inbound_events (source, dedupe_key, kind, body, received_at, status)
				VALUES ('test', $1, 'k', 'b', $2, $3)`, []byte(key), now, status)
			return err
		}
		for _, st := range []string{ingest.StatusPending, ingest.StatusApplied, ingest.StatusStored, ingest.StatusFailed} {
			if err := insert("k-"+st, st); err != nil {
				t.Fatalf("status %s refused: %v", st, err)
			}
		}
		if err := insert("k-bad", "done"); err == nil {
			t.Fatal("status done accepted")
		}
		storetest.MustExec(t, db, down)
		storetest.MustExec(t, db, up)
		if err := insert("k-bad2", "Pending"); err == nil {
			t.Fatal("status Pending accepted after the rebuild")
		}
		var n int
		if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM inbound_events WHERE source = 'test'").Scan(&n); err != nil || n != 4 {
			t.Fatalf("%d events after Down and Up (%v), want 4", n, err)
		}
	})
}
