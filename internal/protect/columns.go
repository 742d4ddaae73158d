package protect

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/store"
)

// Column is one place in the database where values sealed under the field
// key are kept: what `kith keys rotate` re-seals and `kith keys list`
// counts.
type Column struct {
	Name  string   // shown in progress and summaries
	Table string   // the table
	Key   []string // its primary-key columns, in order: rotation pages by them
	Value string   // the column holding the sealed value
	KeyID string   // the column holding the sealing key's id beside it, "" when the value alone names it
	Where string   // a condition selecting the rows that hold sealed values, "" for every row
	// The value's fieldcrypt context is ContextPrefix followed by the
	// value of ContextColumn ("" for none).
	ContextPrefix, ContextColumn string
}

var (
	columnsMu sync.Mutex
	columns   = []Column{
		{Name: "customer_phones", Table: "customer_phones", Key: []string{"customer_id", "member_userid", "phone_index"},
			Value: "phone_sealed", KeyID: "key_id", ContextPrefix: sealContext(FieldPhone)},
		{Name: "protected_values", Table: "protected_values", Key: []string{"owner_kind", "owner_id", "field", "value_index"},
			Value: "sealed", KeyID: "key_id", ContextPrefix: sealContext(""), ContextColumn: "field"},
		// Secret settings (the WeCom secret, callback token and AES key) are
		// sealed by internal/settings with the context "settings:" + key.
		{Name: "settings", Table: "settings", Key: []string{"key"}, Value: "value", Where: "value LIKE 'fc1:%'",
			ContextPrefix: "settings:", ContextColumn: "key"},
	}
)

// RegisterColumn adds a place sealed values are kept, such as a table of
// the orders work with a sealed receiver address; call it from an init
// function, so rotation and retirement never miss it.
func RegisterColumn(c Column) {
	columnsMu.Lock()
	defer columnsMu.Unlock()
	columns = append(columns, c)
}

// Columns returns every place sealed values are kept.
func Columns() []Column {
	columnsMu.Lock()
	defer columnsMu.Unlock()
	return append([]Column(nil), columns...)
}

func (c Column) where(extra ...string) string {
	var conds []string
	if c.Where != "" {
		conds = append(conds, "("+c.Where+")")
	}
	for _, e := range extra {
		if e != "" {
			conds = append(conds, e)
		}
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// CountByKey returns how many sealed values each field key id seals,
// over every column.
func CountByKey(ctx context.Context, q store.Querier) (map[string]int64, error) {
	out := map[string]int64{}
	for _, c := range Columns() {
		if err := c.countByKey(ctx, q, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c Column) countByKey(ctx context.Context, q store.Querier, out map[string]int64) error {
	if c.KeyID != "" {
		rows, err := q.QueryContext(ctx, "SELECT "+c.KeyID+", COUNT(*) FROM "+c.Table+c.where()+" GROUP BY "+c.KeyID)
		if err != nil {
			return fmt.Errorf("protect: count %s by key: %w", c.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int64
			if err := rows.Scan(&id, &n); err != nil {
				return fmt.Errorf("protect: count %s by key: %w", c.Name, err)
			}
			out[id] += n
		}
		return rows.Err()
	}
	// No key-id column: the few values (settings) name their key.
	rows, err := q.QueryContext(ctx, "SELECT "+c.Value+" FROM "+c.Table+c.where())
	if err != nil {
		return fmt.Errorf("protect: count %s by key: %w", c.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("protect: count %s by key: %w", c.Name, err)
		}
		out[fieldcrypt.SealedWith(v)]++
	}
	return rows.Err()
}
