package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
)

// FileName is the secrets file inside the data folder.
const FileName = "secrets.json"

// KeySize is the size of every key in bytes.
const KeySize = 32

// Environment variables that, when all set, replace the file.
const (
	EnvSessionKey    = "KITH_SESSION_KEY"
	EnvFieldKey      = "KITH_FIELD_KEY"
	EnvBlindIndexKey = "KITH_BLIND_INDEX_KEY"
	// EnvPreviousFieldKeys optionally lists more field keys (base64,
	// separated by commas) that open values but seal none.
	EnvPreviousFieldKeys = "KITH_PREVIOUS_FIELD_KEYS"
)

// Keys are the instance secrets. Never log them.
type Keys struct {
	Session []byte `json:"session_key"`
	// Field is the current field key: new values are sealed under it.
	Field []byte `json:"field_key"`
	// PreviousField are field keys that still open values sealed under
	// them but seal none: the keys before Field until they are retired (and,
	// while a cluster is switching, the next key before it becomes Field).
	PreviousField [][]byte `json:"previous_field_keys,omitempty"`
	BlindIndex    []byte   `json:"blind_index_key"`
}

// FieldKeys returns every field key, the current one first: what
// fieldcrypt.New takes.
func (k *Keys) FieldKeys() [][]byte {
	return append([][]byte{k.Field}, k.PreviousField...)
}

// FieldKeyIDs returns the ids (fieldcrypt.KeyID) of every field key, the
// current one first.
func (k *Keys) FieldKeyIDs() []string {
	var ids []string
	for _, f := range k.FieldKeys() {
		ids = append(ids, fieldcrypt.KeyID(f))
	}
	return ids
}

// Source says where the keys came from.
type Source string

// Where keys come from.
const (
	FromEnvironment Source = "environment"
	FromFile        Source = "file"
	Generated       Source = "generated"
)

// Fingerprint is a short hash of the keys that never change: the session
// and blind-index keys. It is stored in the database so a node started with
// other keys than the database was made with is stopped before it writes
// anything it could not read back. The field keys are left out because they
// rotate; the database checks them by id instead (protect.CheckFieldKeys).
func (k *Keys) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte("kith-secrets-v2\x00"))
	h.Write(k.Session)
	h.Write(k.BlindIndex)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// LegacyFingerprint is the fingerprint databases made before field keys
// could rotate hold: a hash of the session key, the given field key and the
// blind-index key. A node recognises its database by it once, then stores
// Fingerprint instead.
func (k *Keys) LegacyFingerprint(field []byte) string {
	h := sha256.New()
	h.Write([]byte("kith-secrets-v1\x00"))
	h.Write(k.Session)
	h.Write(field)
	h.Write(k.BlindIndex)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// String hides the keys from any accidental print.
func (k *Keys) String() string { return "secrets.Keys{fingerprint " + k.Fingerprint() + "}" }

// FromEnv returns the keys given in KITH_SESSION_KEY, KITH_FIELD_KEY and
// KITH_BLIND_INDEX_KEY (base64 of 32 bytes each), nil when none is set, and
// an error naming the variable when one is missing or malformed.
func FromEnv(getenv func(string) string) (*Keys, error) {
	envs := []string{EnvSessionKey, EnvFieldKey, EnvBlindIndexKey}
	set := 0
	for _, e := range envs {
		if getenv(e) != "" {
			set++
		}
	}
	if set == 0 {
		if getenv(EnvPreviousFieldKeys) != "" {
			return nil, fmt.Errorf("%s is set but %s, %s and %s are not; previous field keys go with the keys in the environment",
				EnvPreviousFieldKeys, envs[0], envs[1], envs[2])
		}
		return nil, nil
	}
	if set < len(envs) {
		return nil, fmt.Errorf("set all of %s, %s and %s, or none", envs[0], envs[1], envs[2])
	}
	k := &Keys{}
	for i, dst := range []*[]byte{&k.Session, &k.Field, &k.BlindIndex} {
		b, err := decodeKey(getenv(envs[i]))
		if err != nil {
			return nil, fmt.Errorf("%s %v", envs[i], err)
		}
		*dst = b
	}
	if prev := strings.TrimSpace(getenv(EnvPreviousFieldKeys)); prev != "" {
		for i, p := range strings.Split(prev, ",") {
			b, err := decodeKey(strings.TrimSpace(p))
			if err != nil {
				return nil, fmt.Errorf("%s: key %d %v", EnvPreviousFieldKeys, i+1, err)
			}
			k.PreviousField = append(k.PreviousField, b)
		}
	}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("%s, %s and %s: %v", EnvFieldKey, EnvPreviousFieldKeys, EnvBlindIndexKey, err)
	}
	return k, nil
}

// check refuses a field key given twice: the current key listed again as
// a previous one would make the one key count as two. (That the blind-index
// key differs from the field keys protect.New checks.)
func (k *Keys) check() error {
	seen := map[string]string{}
	for i, f := range k.FieldKeys() {
		name := "the current field key"
		if i > 0 {
			name = fmt.Sprintf("previous field key %d", i)
		}
		if other, dup := seen[string(f)]; dup {
			return fmt.Errorf("%s is the same as %s; every field key must differ", name, other)
		}
		seen[string(f)] = name
	}
	return nil
}

// Load returns the instance keys: envKeys when given (from FromEnv), else
// those in the file in dataDir. It returns nil keys and no error when
// neither exists, so the caller can decide whether new keys may be made
// (they may not for a database that already has data).
func Load(dataDir string, envKeys *Keys) (*Keys, Source, error) {
	if envKeys != nil {
		return envKeys, FromEnvironment, nil
	}
	path := filepath.Join(dataDir, FileName)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("secrets: read %s: %w", path, err)
	}
	k, err := parseFile(b)
	if err != nil {
		return nil, "", fmt.Errorf("secrets: %s: %v; restore it from a backup", path, err)
	}
	return k, FromFile, nil
}

// Create generates new keys and writes them atomically, mode 0600, to the
// file in dataDir.
func Create(dataDir string) (*Keys, error) {
	k := &Keys{Session: random(), Field: random(), BlindIndex: random()}
	if err := writeFile(filepath.Join(dataDir, FileName), k); err != nil {
		return nil, err
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("is not base64 (generate one with: openssl rand -base64 32)")
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes; it must be %d (openssl rand -base64 32)", len(b), KeySize)
	}
	return b, nil
}

func parseFile(b []byte) (*Keys, error) {
	var k Keys
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	for name, v := range map[string][]byte{"session_key": k.Session, "field_key": k.Field, "blind_index_key": k.BlindIndex} {
		if len(v) != KeySize {
			return nil, fmt.Errorf("%s has %d bytes, want %d", name, len(v), KeySize)
		}
	}
	for i, v := range k.PreviousField {
		if len(v) != KeySize {
			return nil, fmt.Errorf("previous_field_keys[%d] has %d bytes, want %d", i, len(v), KeySize)
		}
	}
	if err := k.check(); err != nil {
		return nil, err
	}
	return &k, nil
}

func random() []byte {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b
}

// writeFile writes the keys to a temporary file and renames it into place,
// so a crash never leaves a half-written secrets file.
func writeFile(path string, k *Keys) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return fmt.Errorf("secrets: encode: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-*.tmp")
	if err != nil {
		return fmt.Errorf("secrets: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: write %s: %w", path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secrets: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("secrets: write %s: %w", path, err)
	}
	return nil
}
