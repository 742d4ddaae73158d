package callback

import (
	"errors"
	"testing"
	"time"
)

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const skew = 5 * time.Minute
	tests := []struct {
		ts string
		ok bool
	}{
		{"1700000000", true},
		{"1699999700", true},  // exactly 5 minutes old
		{"1700000300", true},  // exactly 5 minutes ahead
		{"1699999699", false}, // one second too old
		{"1700000301", false}, // one second too far ahead
		{"1409659813", false}, // the 2014 vector, replayed
		{"0", false},
		{"999999999999999999", false},   // far future, no overflow
		{"9223372036854775807", false},  // too many digits
		{"99999999999999999999", false}, // would overflow
		{"", false},
		{"abc", false},
		{"17000000O0", false},
		{"-1700000000", false},
		{"+1700000000", false},
		{" 1700000000", false},
		{"1700000000.5", false},
	}
	for _, tt := range tests {
		err := CheckTimestamp(tt.ts, now, skew)
		if tt.ok && err != nil {
			t.Errorf("CheckTimestamp(%q) = %v, want nil", tt.ts, err)
		}
		if !tt.ok && !errors.Is(err, ErrStale) {
			t.Errorf("CheckTimestamp(%q) = %v, want ErrStale", tt.ts, err)
		}
	}
}
