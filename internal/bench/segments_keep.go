package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A --keep folder holds the generated SQLite database and a marker that
// says which customers are in it: a later run with the same --customers
// and the same generator measures that database again instead of
// generating it (at 10 M customers generating takes twenty minutes or
// more).

// segGeneratorVersion changes whenever genCustomer, the catalog or the
// loaded tables change what a run generates: a database kept by another
// version is not reused.
const segGeneratorVersion = 1

// segKeepMarker is the marker's file name in the --keep folder.
const segKeepMarker = "kith-bench-segments.json"

type segKeepInfo struct {
	Customers int `json:"customers"`
	Generator int `json:"generator"`
}

// prepareKeep readies dir for a run over n customers: it reports reuse
// when dir holds a complete database of n customers from this generator,
// and otherwise makes sure dir is new or empty (creating it). A folder
// holding something else — another size, another generator, an
// interrupted load, unrelated files — is an error, never overwritten.
func prepareKeep(dir string, n int) (reuse bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, segKeepMarker))
	switch {
	case err == nil:
		var k segKeepInfo
		if err := json.Unmarshal(b, &k); err != nil {
			return false, fmt.Errorf("bench: --keep %s: unreadable %s: %w", dir, segKeepMarker, err)
		}
		if k.Customers != n || k.Generator != segGeneratorVersion {
			return false, fmt.Errorf("bench: --keep %s holds %d customers from generator version %d; this run wants %d from version %d: name another folder or empty this one",
				dir, k.Customers, k.Generator, n, segGeneratorVersion)
		}
		if _, err := os.Stat(filepath.Join(dir, "kith.db")); err != nil {
			return false, fmt.Errorf("bench: --keep %s has a marker but no kith.db: empty the folder", dir)
		}
		return true, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("bench: --keep %s is not empty and holds no complete benchmark database (an interrupted load?): name a new or empty folder", dir)
	}
	return false, os.MkdirAll(dir, 0o700)
}

// writeKeepMarker records that dir now holds n complete customers.
func writeKeepMarker(dir string, n int) error {
	b, err := json.Marshal(segKeepInfo{Customers: n, Generator: segGeneratorVersion})
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, segKeepMarker+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, segKeepMarker))
}
