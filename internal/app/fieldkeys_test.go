package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/secrets"
)

// TestFieldKeyRotationKeepsStarting: a database made before field keys
// could rotate still starts, adding a field key never stops a start, and
// dropping a key values may still use does.
func TestFieldKeyRotationKeepsStarting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() (*app.App, error) { return app.Open(ctx, cfgFor(dir), quiet, app.ForServe) }
	a, err := open()
	if err != nil {
		t.Fatal(err)
	}
	first := a.Keys
	// Make it look like a database of the previous version: the fingerprint
	// covered the field key, and no key was recorded.
	if _, err := a.DB.W.ExecContext(ctx, "UPDATE instance_meta SET value = $1 WHERE key = 'secrets_fingerprint'", first.LegacyFingerprint(first.Field)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.W.ExecContext(ctx, "DELETE FROM field_keys"); err != nil {
		t.Fatal(err)
	}
	a.Close()

	a, err = open()
	if err != nil {
		t.Fatalf("a database with the old fingerprint: %v", err)
	}
	var fp string
	a.DB.R.QueryRowContext(ctx, "SELECT value FROM instance_meta WHERE key = 'secrets_fingerprint'").Scan(&fp)
	if fp != first.Fingerprint() {
		t.Fatal("the old fingerprint was not replaced")
	}
	a.Close()

	if _, _, err := secrets.AddFieldKey(dir); err != nil {
		t.Fatal(err)
	}
	a, err = open()
	if err != nil {
		t.Fatalf("start after adding a field key: %v", err)
	}
	newID := fieldcrypt.KeyID(a.Keys.Field)
	if newID == fieldcrypt.KeyID(first.Field) || len(a.Keys.FieldKeys()) != 2 {
		t.Fatal("the new key is not current")
	}
	var n int
	a.DB.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM field_keys WHERE retired_at IS NULL").Scan(&n)
	a.Close()
	if n != 2 {
		t.Fatalf("%d keys recorded, want 2", n)
	}

	// Dropping the old key before it is retired stops the start.
	if ok, err := secrets.DropPreviousFieldKey(dir, fieldcrypt.KeyID(first.Field)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	_, err = open()
	if err == nil || !strings.Contains(err.Error(), fieldcrypt.KeyID(first.Field)) || !strings.Contains(err.Error(), "lack") {
		t.Fatalf("start without a key in use: %v", err)
	}
}
