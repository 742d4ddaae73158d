package callback

import (
	"fmt"
	"strconv"
	"time"
)

// maxTimestampDigits bounds the length of a timestamp so that parsing never
// overflows; Unix seconds need 10 digits until the year 2286.
const maxTimestampDigits = 18

// CheckTimestamp refuses a callback whose timestamp query parameter (Unix
// seconds, decimal) is more than maxSkew away from now in either direction,
// which limits how long a captured request can be replayed. A missing or
// malformed timestamp is refused too. Both refusals wrap ErrStale. The
// signature covers the timestamp, so call it after Open or VerifyURL
// succeeded, or before, to save the work.
func CheckTimestamp(ts string, now time.Time, maxSkew time.Duration) error {
	if ts == "" {
		return fmt.Errorf("%w: timestamp is missing", ErrStale)
	}
	if len(ts) > maxTimestampDigits {
		return fmt.Errorf("%w: timestamp has %d digits", ErrStale, len(ts))
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return fmt.Errorf("%w: timestamp is not a decimal number of seconds", ErrStale)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not a decimal number of seconds", ErrStale)
	}
	// time.Time.Sub saturates instead of overflowing, so the difference is
	// safe to compare even for absurd timestamps.
	skew := now.Sub(time.Unix(sec, 0))
	switch {
	case skew > maxSkew:
		return fmt.Errorf("%w: timestamp is %s behind the server clock, more than %s",
			ErrStale, skew.Round(time.Second), maxSkew)
	case skew < -maxSkew:
		return fmt.Errorf("%w: timestamp is ahead of the server clock by more than %s", ErrStale, maxSkew)
	}
	return nil
}
