package wecom

import (
	"context"
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per API path. WeCom limits each API per corp
// (10 000 calls a minute, path/90454), so each path gets its own bucket: a
// busy sync of customers does not slow down tag edits.
//
// A bucket holds at most burst tokens and gains rate tokens a second, so in
// any minute at most burst + 60×rate calls start. Callers reserve a token and
// then sleep until it is due; a bucket can go negative, which queues callers
// in order without a goroutine per bucket.
type limiter struct {
	rate  float64 // tokens a second
	burst float64
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{
		rate:    rate,
		burst:   math.Max(1, math.Ceil(rate)),
		now:     now,
		sleep:   sleep,
		buckets: map[string]*bucket{},
	}
}

// reserve takes a token from api's bucket and says how long to wait before
// using it.
func (l *limiter) reserve(api string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[api]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[api] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / l.rate * float64(time.Second))
}

// cancel gives back a token reserved but not used.
func (l *limiter) cancel(api string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[api]; b != nil {
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

// wait blocks until a call to api may start, or ctx ends.
func (l *limiter) wait(ctx context.Context, api string) error {
	d := l.reserve(api)
	if d <= 0 {
		return nil
	}
	if err := l.sleep(ctx, d); err != nil {
		l.cancel(api)
		return err
	}
	return nil
}

// sleepCtx sleeps for d or until ctx ends.
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
