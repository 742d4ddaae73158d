package segment

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind says what values a field takes.
type Kind int

// Field kinds.
const (
	KindSet    Kind = iota + 1 // ':' and a name
	KindNumber                 // a comparison with a count or an amount
	KindDate                   // a comparison with a day, or ':' and a day or a range of days
)

// Fields lists every field, in the order the documentation shows them.
var Fields = []Field{
	FieldTag, FieldTagGroup, FieldMember, FieldChannel, FieldReachable,
	FieldOrders, FieldSpent30d, FieldSpent90d, FieldSpent365d, FieldSpentTotal,
	FieldAdded, FieldLastOrder,
	FieldSKU, FieldCategory, FieldAOV, FieldRefunds, FieldRefunded,
	FieldRFM, FieldRFMR, FieldRFMF, FieldRFMM, FieldFirstOrder,
}

// Kind returns what values f takes; 0 for an unknown field.
func (f Field) Kind() Kind {
	switch f {
	case FieldTag, FieldTagGroup, FieldMember, FieldChannel, FieldReachable, FieldSKU, FieldCategory:
		return KindSet
	case FieldOrders, FieldSpent30d, FieldSpent90d, FieldSpent365d, FieldSpentTotal,
		FieldAOV, FieldRefunds, FieldRefunded, FieldRFM, FieldRFMR, FieldRFMF, FieldRFMM:
		return KindNumber
	case FieldAdded, FieldLastOrder, FieldFirstOrder:
		return KindDate
	}
	return 0
}

// IsAmount reports whether f's numbers are amounts of money (yuan written,
// fen stored) rather than counts.
func (f Field) IsAmount() bool {
	switch f {
	case FieldSpent30d, FieldSpent90d, FieldSpent365d, FieldSpentTotal, FieldAOV, FieldRefunded:
		return true
	}
	return false
}

// ReachableChannels are the channels reachable: takes.
var ReachableChannels = []string{"wecom", "sms", "email"}

// maxCount is the largest count orders accepts (the column is a 32-bit
// INTEGER on PostgreSQL).
const maxCount = 1<<31 - 1

// maxFen bounds amounts: 15 digits of yuan, in fen.
const maxFen = 1e17

// parseCount reads a non-negative integer such as 3.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxCount {
		return 0, false
	}
	return n, true
}

// parseAmount reads an amount in yuan with at most two decimals (500,
// 99.9, -12.50) and returns it in fen.
func parseAmount(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 15 || strings.TrimLeft(whole, "0123456789") != "" {
		return 0, false
	}
	if hasDot && (frac == "" || len(frac) > 2 || strings.TrimLeft(frac, "0123456789") != "") {
		return 0, false
	}
	y, _ := strconv.ParseInt(whole, 10, 64) // at most 15 digits: cannot fail
	fen := y * 100
	if frac != "" {
		f, _ := strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
		fen += f
	}
	if neg {
		fen = -fen
	}
	return fen, true
}

// FormatAmount writes an amount in fen as yuan, with no more decimals than
// it needs: 50000 → "500", 9990 → "99.9", 1 → "0.01".
func FormatAmount(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen)
	}
	s := sign + strconv.FormatUint(u/100, 10)
	switch c := u % 100; {
	case c == 0:
	case c%10 == 0:
		s += "." + strconv.FormatUint(c/10, 10)
	default:
		s += fmt.Sprintf(".%02d", c)
	}
	return s
}

// Day numbers count calendar days since 1970-01-01 (day 0), whatever the
// time zone: they name dates, not instants.

const (
	minDay = -354285 // 1000-01-01
	maxDay = 2932896 // 9999-12-31
)

// parseDay reads a date written 2026-01-31.
func parseDay(s string) (int32, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil || t.Year() < 1000 {
		return 0, false
	}
	return int32(t.Unix() / 86400), true
}

// DayDate returns the calendar date of a day number.
func DayDate(day int32) (year int, month time.Month, dayOfMonth int) {
	return time.Unix(int64(day)*86400, 0).UTC().Date()
}

// FormatDay writes a day number as 2026-01-31.
func FormatDay(day int32) string {
	y, m, d := DayDate(day)
	return fmt.Sprintf("%04d-%02d-%02d", y, int(m), d)
}

// DayOf returns the day number of the calendar day t falls on in loc.
func DayOf(t time.Time, loc *time.Location) int32 {
	y, m, d := t.In(loc).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayStart returns the instant the day begins in loc (in UTC).
func DayStart(day int32, loc *time.Location) time.Time {
	y, m, d := DayDate(day)
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
}
