package channel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// Window is one rate limit: at most N messages in any span of Per.
type Window struct {
	N   int
	Per time.Duration
}

// Limiter holds a send rate under one or more Windows (a provider's 14
// per second and 50,000 per day, a campaign's own 100 per minute). It
// counts with a sliding window, as listmonk's sender does, but without its
// stall: each window keeps the count of the current and the previous fixed
// period, and the count over the last Per is estimated as
//
//	previous × (1 − elapsed/Per) + current
//
// which needs no log of send times (constant memory at any rate) and never
// lets a burst at a period's boundary double the rate, as a fixed window
// would. Wait blocks until every window has room. It is safe for
// concurrent use.
type Limiter struct {
	clock kith.Clock
	sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	windows []window
}

type window struct {
	Window
	period    int64 // index of the current period since the Unix epoch
	prev, cur int
}

// NewLimiter returns a Limiter for the windows given; with none it never
// waits. A window with N < 1 or Per <= 0 is refused.
func NewLimiter(clock kith.Clock, windows ...Window) (*Limiter, error) {
	l := &Limiter{clock: clock, sleep: sleepCtx}
	for _, w := range windows {
		if w.N < 1 || w.Per <= 0 {
			return nil, kith.Errorf(kith.EINVALID, "channel: rate limit %d per %s: the count must be at least 1 and the period positive", w.N, w.Per)
		}
		l.windows = append(l.windows, window{Window: w, period: -1})
	}
	return l, nil
}

// SetSleep replaces how Wait pauses (tests move a fixed clock instead).
func (l *Limiter) SetSleep(sleep func(ctx context.Context, d time.Duration) error) { l.sleep = sleep }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait takes one message's room in every window, waiting until there is
// some. It returns ctx's error if ctx ends first.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		d := l.take()
		if d == 0 {
			return nil
		}
		if err := l.sleep(ctx, d); err != nil {
			return fmt.Errorf("channel: rate limit: %w", err)
		}
	}
}

// take counts one message and returns 0 when every window has room, or
// how long to wait before asking again (counting nothing).
func (l *Limiter) take() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	var wait time.Duration
	for i := range l.windows {
		if d := l.windows[i].room(now); d > wait {
			wait = d
		}
	}
	if wait > 0 {
		return wait
	}
	for i := range l.windows {
		l.windows[i].cur++
	}
	return 0
}

// room advances w to now and returns 0 when one more message fits, or the
// time until the estimate falls enough for it to fit.
func (w *window) room(now time.Time) time.Duration {
	per := int64(w.Per)
	ns := now.UnixNano()
	period := ns / per
	switch {
	case period == w.period+1:
		w.prev, w.cur = w.cur, 0
	case period != w.period:
		w.prev, w.cur = 0, 0
	}
	w.period = period
	start := period * per
	elapsed := float64(ns-start) / float64(per)
	if float64(w.prev)*(1-elapsed)+float64(w.cur)+1 <= float64(w.N) {
		return 0
	}
	if w.cur+1 > w.N || w.prev == 0 {
		// Full on this period's count alone: wait for the next period.
		return time.Duration(start + per - ns)
	}
	// prev·(1−f) + cur + 1 ≤ N  ⇔  f ≥ 1 − (N − cur − 1)/prev
	f := 1 - float64(w.N-w.cur-1)/float64(w.prev)
	d := time.Duration(float64(per)*f) - time.Duration(ns-start)
	if d < time.Microsecond {
		d = time.Microsecond
	}
	return d
}

// ParseWindows reads rate limits written as "N/duration" separated by
// commas, e.g. "14/1s,50000/24h" (the form a configuration key takes). An
// empty string is no limit.
func ParseWindows(s string) ([]Window, error) {
	var out []Window
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, per, ok := strings.Cut(part, "/")
		count, err := strconv.Atoi(strings.TrimSpace(n))
		d, derr := time.ParseDuration(strings.TrimSpace(per))
		if !ok || err != nil || derr != nil || count < 1 || d <= 0 {
			return nil, kith.Errorf(kith.EINVALID, "channel: rate limit %q: write count/duration, e.g. 14/1s or 50000/24h", part)
		}
		out = append(out, Window{N: count, Per: d})
	}
	return out, nil
}
