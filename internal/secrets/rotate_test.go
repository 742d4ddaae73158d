package secrets

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
)

func TestAddAndDropFieldKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, id, err := AddFieldKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id != fieldcrypt.KeyID(k2.Field) || bytes.Equal(k2.Field, k1.Field) {
		t.Fatalf("new key id %s", id)
	}
	loaded, _, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := loaded.FieldKeyIDs()
	if len(ids) != 2 || ids[0] != id || ids[1] != fieldcrypt.KeyID(k1.Field) {
		t.Fatalf("field key ids after add: %v", ids)
	}
	if loaded.Fingerprint() != k1.Fingerprint() {
		t.Fatal("adding a field key changed the fingerprint: the node would refuse to start")
	}
	if loaded.LegacyFingerprint(k1.Field) == k1.Fingerprint() || loaded.LegacyFingerprint(k1.Field) != k1.LegacyFingerprint(k1.Field) {
		t.Fatal("legacy fingerprint is not a function of session, field and blind-index keys")
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after add", fi.Mode().Perm())
	}
	if _, err := DropPreviousFieldKey(dir, id); err == nil {
		t.Fatal("the current key was dropped")
	}
	if ok, err := DropPreviousFieldKey(dir, "00000000"); ok || err != nil {
		t.Fatalf("unknown id: %v %v", ok, err)
	}
	if ok, err := DropPreviousFieldKey(dir, ids[1]); !ok || err != nil {
		t.Fatalf("drop previous: %v %v", ok, err)
	}
	loaded, _, _ = Load(dir, nil)
	if got := loaded.FieldKeyIDs(); len(got) != 1 || got[0] != id {
		t.Fatalf("after drop: %v", got)
	}
	if _, _, err := AddFieldKey(t.TempDir()); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("add without a file: %v", err)
	}
}

func TestPreviousFieldKeysFromEnvironment(t *testing.T) {
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, KeySize)) }
	env := map[string]string{EnvSessionKey: key('a'), EnvFieldKey: key('b'), EnvBlindIndexKey: key('c'),
		EnvPreviousFieldKeys: key('d') + ", " + key('e')}
	k, err := FromEnv(func(s string) string { return env[s] })
	if err != nil {
		t.Fatal(err)
	}
	if len(k.FieldKeys()) != 3 || k.FieldKeys()[2][0] != 'e' {
		t.Fatalf("field keys %d", len(k.FieldKeys()))
	}
	for name, prev := range map[string]string{"short": key('d') + ",AAAA", "same as current": key('b'), "twice": key('d') + "," + key('d')} {
		env[EnvPreviousFieldKeys] = prev
		_, err := FromEnv(func(s string) string { return env[s] })
		if err == nil || !strings.Contains(err.Error(), EnvPreviousFieldKeys) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), key('b')) {
			t.Errorf("%s: the error shows a key", name)
		}
	}
	alone := map[string]string{EnvPreviousFieldKeys: key('d')}
	if _, err := FromEnv(func(s string) string { return alone[s] }); err == nil || !strings.Contains(err.Error(), EnvFieldKey) {
		t.Errorf("previous keys without the others: %v", err)
	}
}

func TestFileWithEqualKeysIsRefused(t *testing.T) {
	dir := t.TempDir()
	b := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, KeySize))
	c := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, KeySize))
	a := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, KeySize))
	for name, file := range map[string]string{
		"field key twice":          `{"session_key":"` + a + `","field_key":"` + b + `","previous_field_keys":["` + b + `"],"blind_index_key":"` + c + `"}`,
		"previous field key twice": `{"session_key":"` + a + `","field_key":"` + c + `","previous_field_keys":["` + b + `","` + b + `"],"blind_index_key":"` + a + `"}`,
	} {
		os.WriteFile(filepath.Join(dir, FileName), []byte(file), 0o600)
		if _, _, err := Load(dir, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
