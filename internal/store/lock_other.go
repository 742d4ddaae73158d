//go:build !unix

package store

// lockFile is a no-op where flock does not exist; SQLite's own locking still
// keeps each migration atomic, and a second migrator fails instead of
// waiting.
func lockFile(path string) (func(), error) { return func() {}, nil }
