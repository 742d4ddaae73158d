package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestMomentsMigrationKeepsCampaigns: on SQLite, 00021 rebuilds campaigns
// (to allow the wecom_moment channel) and its two child tables; their rows
// survive, the new channel is accepted, and deleting a campaign still
// cascades to its batches.
func TestMomentsMigrationKeepsCampaigns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kith.db")
	conn, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	db := &DB{Dialect: SQLite}
	p, err := db.goose(conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO campaigns (id, name, purpose, channel, content, content_hash, audience, schedule_kind, state, created_at, updated_at)
		VALUES (7, 'spring', 'marketing', 'wecom', '{}', 'h', '{}', 'now', 'done', $1, $1)`, now)
	exec(`INSERT INTO campaign_batches (id, campaign_id, sender, state, size, provider_id, marked_at) VALUES (3, 7, 'alice', 'settled', 1, 'msg1', $1)`, now)
	exec(`INSERT INTO campaign_deliveries (campaign_id, customer_id, channel, sender, state, batch_id, updated_at) VALUES (7, 1, 'wecom', 'alice', 'sent', 3, $1)`, now)
	if _, err := conn.ExecContext(ctx, `INSERT INTO campaigns (name, purpose, channel, content, content_hash, audience, schedule_kind, state, created_at, updated_at)
		VALUES ('m', 'marketing', 'wecom_moment', '{}', 'h', '{}', 'now', 'draft', $1, $1)`, now); err == nil {
		t.Fatal("00018 accepted wecom_moment")
	}
	if _, err := p.UpTo(ctx, 21); err != nil {
		t.Fatal(err)
	}
	var name, provider, state string
	if err := conn.QueryRowContext(ctx, `SELECT c.name, b.provider_id, d.state FROM campaigns c JOIN campaign_batches b ON b.campaign_id = c.id
		JOIN campaign_deliveries d ON d.batch_id = b.id WHERE c.id = 7`).Scan(&name, &provider, &state); err != nil || name != "spring" || provider != "msg1" || state != "sent" {
		t.Fatalf("after 00021: %q %q %q %v", name, provider, state, err)
	}
	exec(`INSERT INTO campaigns (id, name, purpose, channel, content, content_hash, audience, schedule_kind, state, created_at, updated_at)
		VALUES (8, 'm', 'marketing', 'wecom_moment', '{}', 'h', '{}', 'now', 'draft', $1, $1)`, now)
	exec(`INSERT INTO moment_tasks (batch_id, campaign_id, sender, created_at) VALUES (3, 8, 'alice', $1)`, now)
	exec(`PRAGMA foreign_keys = ON`)
	exec(`DELETE FROM campaigns WHERE id = 7`)
	var n int
	conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM campaign_batches").Scan(&n)
	if n != 0 {
		t.Errorf("%d batches left after deleting their campaign", n)
	}
	if _, err := p.DownTo(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 21); err != nil {
		t.Fatal(err)
	}
}
