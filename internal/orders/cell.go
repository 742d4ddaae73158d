package orders

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// cleanCell undoes what store exports do to keep spreadsheets from
// reformatting a cell: a ="…" wrapper (Taobao), a leading tab (Douyin,
// PDD), a leading apostrophe, full-width and no-break spaces, and
// placeholder dashes for "none".
func cleanCell(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u3000' || r == '\ufeff' })
	if len(s) >= 3 && strings.HasPrefix(s, `="`) && strings.HasSuffix(s, `"`) {
		s = strings.TrimSpace(s[2 : len(s)-1])
	}
	s = strings.TrimPrefix(s, "'")
	switch s {
	case "—", "-", "--", "——", "null", "NULL", "无", "/":
		return ""
	}
	return s
}

// isFormula reports whether a cleaned cell is a spreadsheet formula rather
// than a value: it would run when the error file or an export is opened.
func isFormula(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '@':
		return true
	case '+', '-':
		// "-12.5" or "+86 138…" are values; "+cmd|…" or "-2+3" are not.
		for _, r := range s[1:] {
			if !(r >= '0' && r <= '9' || r == '.' || r == ' ' || r == ',') {
				return true
			}
		}
	}
	return false
}

// cellError is why a cell was refused: a reason code (for the summary)
// and a message naming what is wrong.
type cellError struct {
	code, msg string
}

func (e *cellError) Error() string { return e.msg }

// Reason codes of refused rows, counted in Report.Rejected.
const (
	ReasonMissing     = "missing_value"
	ReasonAmount      = "bad_amount"
	ReasonNegative    = "negative_amount"
	ReasonAbsurd      = "absurd_amount"
	ReasonDate        = "bad_date"
	ReasonFormula     = "formula"
	ReasonStatus      = "unknown_status"
	ReasonNumber      = "bad_number"
	ReasonTooLong     = "too_long"
	ReasonConflict    = "conflict"
	ReasonDuplicate   = "duplicate_in_file"
	ReasonInvalid     = "invalid_order"
	ReasonExcelNumber = "mangled_by_excel"
)

// amountNoise is what amounts carry besides digits: currency signs,
// thousands separators, spaces.
var amountNoise = strings.NewReplacer("¥", "", "￥", "", "元", "", ",", "", "，", "", " ", "")

// parseFen reads an amount in yuan ("1,234.50", "¥12", "12元") as fen.
func parseFen(s string) (int64, *cellError) {
	t := amountNoise.Replace(s)
	if t == "" {
		return 0, &cellError{ReasonAmount, "is not an amount"}
	}
	if strings.ContainsAny(t, "eE") {
		return 0, &cellError{ReasonExcelNumber, "is in scientific notation (" + s + "); a spreadsheet has rounded it, export it again as text"}
	}
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "-"), "+")
	whole, frac, hasDot := strings.Cut(t, ".")
	if whole == "" && !hasDot || len(frac) > 2 || !digits(whole) || !digits(frac) || whole == "" && frac == "" {
		if len(frac) > 2 && digits(whole) && digits(frac) {
			return 0, &cellError{ReasonAmount, "has more than two decimals (" + s + ")"}
		}
		return 0, &cellError{ReasonAmount, "is not an amount (" + truncate(s, 40) + ")"}
	}
	if len(whole) > 12 {
		return 0, &cellError{ReasonAbsurd, "is absurdly large (" + truncate(s, 40) + ")"}
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	fen := w*100 + f
	switch {
	case neg && fen != 0:
		return 0, &cellError{ReasonNegative, "is negative (" + s + ")"}
	case fen > MaxAmountFen:
		return 0, &cellError{ReasonAbsurd, "is more than " + strconv.Itoa(MaxAmountFen/100) + " yuan (" + s + ")"}
	}
	return fen, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// dateLayouts are the time formats store exports use, most common first.
var dateLayouts = []string{
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006/01/02 15:04:05", "2006/1/2 15:04:05", "2006/01/02 15:04", "2006/1/2 15:04",
	"2006-1-2 15:04:05", "2006-1-2 15:04", "2006-01-02T15:04:05", "2006.01.02 15:04:05", "2006年01月02日 15:04:05", "2006年1月2日 15:04",
	"2006-01-02", "2006/01/02", "2006/1/2", "2006-1-2", "2006年1月2日", "20060102150405",
}

// parseTime reads a time as exports write it, in loc when it names no
// zone: several layouts, RFC 3339, and spreadsheet serial day numbers.
func parseTime(s string, loc *time.Location) (time.Time, *cellError) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return checkYear(t, s)
		}
	}
	// Spreadsheets store dates as days since 1899-12-30 (XLSX date cells
	// without a text format arrive so).
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 20000 && f < 80000 && !math.IsNaN(f) {
		days := math.Floor(f)
		secs := math.Round((f - days) * 86400)
		t := time.Date(1899, 12, 30, 0, 0, 0, 0, loc).AddDate(0, 0, int(days)).Add(time.Duration(secs) * time.Second)
		return checkYear(t, s)
	}
	return time.Time{}, &cellError{ReasonDate, "is not a date and time (" + truncate(s, 40) + "); use e.g. 2026-01-31 14:05:00"}
}

func checkYear(t time.Time, s string) (time.Time, *cellError) {
	if t.Year() < 2000 || t.Year() > 2100 {
		return time.Time{}, &cellError{ReasonDate, "is not a plausible date (" + s + ")"}
	}
	return t.UTC(), nil
}

// parseQuantity reads a whole positive quantity.
func parseQuantity(s string) (int, *cellError) {
	t := strings.TrimSuffix(strings.TrimSuffix(s, "件"), ".0")
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > MaxQuantity {
		return 0, &cellError{ReasonNumber, "is not a quantity from 1 to " + strconv.Itoa(MaxQuantity) + " (" + truncate(s, 20) + ")"}
	}
	return n, nil
}

// parseStatus maps a shop's status words to a Status; "" when unknown.
func parseStatus(s string) Status {
	l := strings.ToLower(s)
	if st := Status(l); st.Valid() {
		return st
	}
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("退款成功", "已退款", "全额退款"):
		return StatusRefunded
	case has("成功", "完成", "已签收", "已收货"):
		return StatusCompleted
	case has("关闭", "取消"):
		return StatusCancelled
	case has("已发货", "待收货", "等待确认收货", "等待买家确认"):
		return StatusShipped
	case has("待发货", "已付款", "等待出库", "已支付", "待审核", "锁定", "已客审"):
		return StatusPaid
	case has("待付款", "待支付", "未付款", "等待付款", "等待买家付款", "未支付"):
		return StatusPending
	}
	switch l {
	case "waitpay":
		return StatusPending
	case "delivering", "waitconfirm", "waitfconfirm", "waitoutersent", "question":
		return StatusPaid
	case "sent":
		return StatusShipped
	case "cancelled", "canceled":
		return StatusCancelled
	}
	return ""
}
