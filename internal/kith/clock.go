package kith

import (
	"sync"
	"time"
)

// Clock tells the time. Services take one so that schedules, expiries and
// reports are deterministic in tests.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock. It returns UTC truncated to microseconds,
// the precision both SQLite (as text) and PostgreSQL keep, so a time written
// and read back compares equal.
type SystemClock struct{}

// Now returns the current UTC time truncated to microseconds.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// FixedClock is a clock for tests: it stands still until moved.
type FixedClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixedClock returns a FixedClock set to t.
func NewFixedClock(t time.Time) *FixedClock { return &FixedClock{t: t.UTC()} }

// Now returns the clock's time.
func (c *FixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *FixedClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
