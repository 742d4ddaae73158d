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

// ExportColumns are the columns of ExportCSV.
var ExportColumns = []string{"customer_id", "external_userid", "channel", "sender", "state", "reason", "detail", "provider_id", "updated_at"}

// ExportCSV writes one row per delivery of campaign id, by customer, for
// spreadsheets: a cell a spreadsheet would run as a formula (=, +, -, @,
// tab, carriage return first) is written with a leading apostrophe. Phone
// numbers and e-mail addresses are not exported.
func (s *Service) ExportCSV(ctx context.Context, id int64, w io.Writer) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT d.customer_id, COALESCE(c.external_userid, ''), d.channel, d.sender, d.state, d.reason, d.detail, d.provider_id, d.updated_at
		FROM campaign_deliveries d LEFT JOIN customers c ON c.id = d.customer_id WHERE d.campaign_id = $1 ORDER BY d.customer_id`, id)
	if err != nil {
		return fmt.Errorf("campaign: export %d: %w", id, err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return err
	}
	for rows.Next() {
		var customer int64
		var ext, ch, sender, state, reason, detail, provider string
		var at sql.NullTime
		if err := rows.Scan(&customer, &ext, &ch, &sender, &state, &reason, &detail, &provider, &at); err != nil {
			return fmt.Errorf("campaign: export %d: %w", id, err)
		}
		rec := []string{strconv.FormatInt(customer, 10), ext, ch, sender, state, reason, detail, provider, at.Time.UTC().Format(time.RFC3339)}
		for i := range rec {
			rec[i] = defuse(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// defuse keeps a spreadsheet from running a cell as a formula.
func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
