package orders

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// WriteErrors writes a report's refused rows as CSV (row, column,
// order_no, reason, message): the error file of the CLI's --errors and
// the console's download. Cells a spreadsheet would run as a formula get
// a leading apostrophe, since the file repeats what the refused rows held.
func WriteErrors(w io.Writer, errs []RowError) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"row", "column", "order_no", "reason", "message"})
	for _, e := range errs {
		cw.Write([]string{fmt.Sprint(e.Row), SpreadsheetSafe(e.Column), SpreadsheetSafe(e.OrderNo), e.Code, SpreadsheetSafe(e.Message)})
	}
	cw.Flush()
	return cw.Error()
}

// SpreadsheetSafe neutralises a cell a spreadsheet would run as a formula
// (one starting with = + - @, a tab or a carriage return) with a leading
// apostrophe.
func SpreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
