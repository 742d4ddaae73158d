package secrets

import (
	"fmt"
	"path/filepath"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
)

// AddFieldKey generates a new field key in the secrets file in dataDir and
// makes it the current one; the key it replaces becomes the first previous
// field key, so every value sealed so far still opens. It returns the keys
// as written and the new key's id. The key itself is never shown.
func AddFieldKey(dataDir string) (*Keys, string, error) {
	k, src, err := Load(dataDir, nil)
	if err != nil {
		return nil, "", err
	}
	if src != FromFile {
		return nil, "", fmt.Errorf("secrets: there is no %s in %s to add a key to", FileName, dataDir)
	}
	next := &Keys{Session: k.Session, Field: random(), BlindIndex: k.BlindIndex,
		PreviousField: append([][]byte{k.Field}, k.PreviousField...)}
	if err := next.check(); err != nil {
		return nil, "", fmt.Errorf("secrets: %v", err) // a random key equal to another: not in this universe
	}
	if err := writeFile(filepath.Join(dataDir, FileName), next); err != nil {
		return nil, "", err
	}
	return next, fieldcrypt.KeyID(next.Field), nil
}

// DropPreviousFieldKey removes the previous field key with the given id
// from the secrets file in dataDir. It refuses the current key, and reports
// false when the file holds no previous key with that id.
func DropPreviousFieldKey(dataDir, id string) (bool, error) {
	k, src, err := Load(dataDir, nil)
	if err != nil {
		return false, err
	}
	if src != FromFile {
		return false, fmt.Errorf("secrets: there is no %s in %s", FileName, dataDir)
	}
	if fieldcrypt.KeyID(k.Field) == id {
		return false, fmt.Errorf("secrets: field key %s is the current key and cannot be dropped", id)
	}
	var keep [][]byte
	for _, p := range k.PreviousField {
		if fieldcrypt.KeyID(p) != id {
			keep = append(keep, p)
		}
	}
	if len(keep) == len(k.PreviousField) {
		return false, nil
	}
	k.PreviousField = keep
	if err := writeFile(filepath.Join(dataDir, FileName), k); err != nil {
		return false, err
	}
	return true, nil
}
