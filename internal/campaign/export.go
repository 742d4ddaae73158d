package campaign

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ExportColumns are the columns of an export, one row per delivery.
// opted_out_at is when the recipient opted out after the campaign (see
// Summary), empty otherwise.
var ExportColumns = []string{"customer_id", "external_userid", "channel", "sender", "state", "reason", "detail", "provider_id", "updated_at",
	"name", "opted_out_at"}

// Export formats.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// ExportOptions say how to export.
type ExportOptions struct {
	Format string // FormatCSV (default) or FormatXLSX
	// Reveal shows the personal data (the customer's external_userid and
	// name) in full; otherwise they are masked. The caller checks the
	// permission and audits a revealed export.
	Reveal bool
}

// ExportCSV writes the deliveries of campaign id as CSV, masked (Export).
func (s *Service) ExportCSV(ctx context.Context, id int64, w io.Writer) error {
	return s.Export(ctx, id, w, ExportOptions{Format: FormatCSV})
}

// rowWriter is a CSV or XLSX writer.
type rowWriter interface {
	Write([]string) error
}

// Export writes one row per delivery of campaign id, by customer, as CSV
// or XLSX: a cell a spreadsheet would run as a formula (=, +, -, @, tab,
// carriage return first) is written with a leading apostrophe. Phone
// numbers and e-mail addresses are not exported; the external_userid and
// the name are masked unless o.Reveal.
func (s *Service) Export(ctx context.Context, id int64, w io.Writer, o ExportOptions) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	outs, err := s.optedOut(ctx, id)
	if err != nil {
		return err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT d.customer_id, COALESCE(c.external_userid, ''), COALESCE(c.name, ''), d.channel, d.sender, d.state, d.reason,
		d.detail, d.provider_id, d.updated_at
		FROM campaign_deliveries d LEFT JOIN customers c ON c.id = d.customer_id WHERE d.campaign_id = $1 ORDER BY d.customer_id`, id)
	if err != nil {
		return fmt.Errorf("campaign: export %d: %w", id, err)
	}
	defer rows.Close()
	var out rowWriter
	var finish func() error
	switch o.Format {
	case FormatXLSX:
		x, err := NewXLSXWriter(w, "deliveries")
		if err != nil {
			return fmt.Errorf("campaign: export %d: %w", id, err)
		}
		out, finish = x, x.Close
	case FormatCSV, "":
		cw := csv.NewWriter(w)
		out, finish = cw, func() error { cw.Flush(); return cw.Error() }
	default:
		return fmt.Errorf("campaign: export %d: format %q: use csv or xlsx", id, o.Format)
	}
	if err := out.Write(ExportColumns); err != nil {
		return err
	}
	rec := make([]string, len(ExportColumns))
	for rows.Next() {
		var customer int64
		var ext, name, ch, sender, state, reason, detail, provider string
		var at sql.NullTime
		if err := rows.Scan(&customer, &ext, &name, &ch, &sender, &state, &reason, &detail, &provider, &at); err != nil {
			return fmt.Errorf("campaign: export %d: %w", id, err)
		}
		if !o.Reveal {
			ext, name = maskID(ext), maskName(name)
		}
		opted := ""
		if oo, ok := outs[customer]; ok {
			opted = oo.At.UTC().Format(time.RFC3339)
		}
		rec = append(rec[:0], strconv.FormatInt(customer, 10), ext, ch, sender, state, reason, detail, provider, at.Time.UTC().Format(time.RFC3339), name, opted)
		for i := range rec {
			rec[i] = defuse(rec[i])
		}
		if err := out.Write(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return finish()
}

// maskID shows the start of an identifier only (as the console does).
func maskID(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	return string(r[:min(4, len(r))]) + "***"
}

// maskName shows a name's first character only.
func maskName(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	return string(r[:1]) + "**"
}

// defuse keeps a spreadsheet from running a cell as a formula.
func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
