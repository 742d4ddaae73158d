package secrets

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateThenLoad(t *testing.T) {
	dir := t.TempDir()
	k0, _, err := Load(dir, nil)
	if k0 != nil || err != nil {
		t.Fatalf("Load on an empty folder: %v, %v; want nil, nil", k0, err)
	}
	k1, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, src, err := Load(dir, nil)
	if err != nil || src != FromFile {
		t.Fatalf("second call: %v, %v", src, err)
	}
	if k1.Fingerprint() != k2.Fingerprint() {
		t.Fatal("keys changed between starts")
	}
	if string(k1.Session) == string(k1.Field) || string(k1.Field) == string(k1.BlindIndex) {
		t.Fatal("keys are not independent")
	}
	if strings.Contains(k1.String(), base64.StdEncoding.EncodeToString(k1.Session)) {
		t.Fatal("String() shows a key")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".secrets-*"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

func TestFromEnvironment(t *testing.T) {
	key := func(b byte) string {
		return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), KeySize)))
	}
	env := map[string]string{EnvSessionKey: key('a'), EnvFieldKey: key('b'), EnvBlindIndexKey: key('c')}
	dir := t.TempDir()
	ek, err := FromEnv(func(s string) string { return env[s] })
	if err != nil {
		t.Fatal(err)
	}
	k, src, err := Load(dir, ek)
	if err != nil || src != FromEnvironment {
		t.Fatalf("%v %v", src, err)
	}
	if string(k.Field) != strings.Repeat("b", KeySize) {
		t.Fatal("field key not taken from the environment")
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !os.IsNotExist(err) {
		t.Fatal("a secrets file was written although the keys came from the environment")
	}
}

func TestBadEnvironment(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(make([]byte, KeySize))
	cases := map[string]map[string]string{
		"partial":   {EnvSessionKey: good},
		"short":     {EnvSessionKey: good, EnvFieldKey: base64.StdEncoding.EncodeToString([]byte("short")), EnvBlindIndexKey: good},
		"notbase64": {EnvSessionKey: good, EnvFieldKey: good, EnvBlindIndexKey: "!!!"},
	}
	want := map[string]string{"partial": "or none", "short": EnvFieldKey, "notbase64": EnvBlindIndexKey}
	for name, env := range cases {
		_, err := FromEnv(func(s string) string { return env[s] })
		if err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, want[name])
		}
	}
}

func TestCorruptFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte(`{"session_key": "AAAA"}`), 0o600)
	_, _, err := Load(dir, nil)
	if err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("error %v, want one naming the file", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(b), "AAAA") {
		t.Fatal("the corrupt file was overwritten")
	}
}
