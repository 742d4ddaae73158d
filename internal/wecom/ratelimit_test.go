package wecom

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDefaultRateStaysUnderWeComLimit(t *testing.T) {
	l := newLimiter(DefaultRatePerSecond, time.Now, sleepCtx)
	// At most burst + 60×rate calls start in any minute; WeCom allows 10 000.
	if perMinute := l.burst + 60*l.rate; perMinute >= 10000 {
		t.Errorf("default allows %v calls a minute", perMinute)
	}
}

func TestRateLimiterBuckets(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, func() time.Time { return now }, sleepCtx)
	for i := range 10 {
		if d := l.reserve("a"); d != 0 {
			t.Fatalf("call %d of the burst waits %s", i+1, d)
		}
	}
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		if d := l.reserve("a"); d != want {
			t.Errorf("call %d waits %s; want %s", 11+i, d, want)
		}
	}
	if d := l.reserve("b"); d != 0 {
		t.Errorf("another API waits %s; buckets are per API", d)
	}
	l.cancel("a") // the last caller gave up: its slot is free again
	if d := l.reserve("a"); d != 300*time.Millisecond {
		t.Errorf("after a cancel the next call waits %s; want 300ms", d)
	}
	now = now.Add(time.Hour)
	for range 10 {
		if d := l.reserve("a"); d != 0 {
			t.Fatalf("after an idle hour a call waits %s; the bucket holds at most the burst", d)
		}
	}
	if d := l.reserve("a"); d != 100*time.Millisecond {
		t.Errorf("past the burst a call waits %s; want 100ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context = %v", err)
	}
}

func TestRateLimiterBoundsCalls(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RatePerSecond = 5 })
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, answerCodes(followOK))
	start := h.clock.Now()
	for range 20 {
		if _, err := h.FollowUserList(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 5, then 15 calls at 5 a second: 3 s of waiting in all, on
	// the fake clock.
	if got := h.clock.Now().Sub(start); got != 3*time.Second {
		t.Errorf("20 calls at 5/s took %s; want 3s", got)
	}
	if n := h.fake.count(api); n != 20 {
		t.Errorf("API called %d times", n)
	}
}

func BenchmarkFollowUserList(b *testing.B) {
	h := newHarness(b, func(c *Config) { c.RatePerSecond = 1e9 })
	h.sleep = sleepCtx
	h.fake.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.FollowUserList(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
