package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// Required reports whether an import cannot read an order without f.
func Required(f Field) bool { return slices.Contains(required, f) }

// ColumnsIn says which of header's columns m reads for each field ("" when
// none), as a mapping form shows it.
func (m Mapping) ColumnsIn(header []string) map[Field]string {
	idx := map[string]int{}
	for i, h := range header {
		if _, dup := idx[normHeader(h)]; !dup {
			idx[normHeader(h)] = i
		}
	}
	out := map[Field]string{}
	for _, f := range Fields {
		for _, name := range m.Columns[f] {
			if i, ok := idx[normHeader(name)]; ok {
				out[f] = header[i]
				break
			}
		}
	}
	return out
}

// Unmapped lists the required fields that chosen (field → column) leaves
// without a column.
func Unmapped(chosen map[Field]string) []Field {
	var out []Field
	for _, f := range required {
		if chosen[f] == "" {
			out = append(out, f)
		}
	}
	return out
}

// MappingOf builds a mapping from one column per field, as a mapping form
// gives it; it fails with an EINVALID error naming any required field left
// without a column, or a bad name or platform.
func MappingOf(name, platform string, chosen map[Field]string) (Mapping, error) {
	m := Mapping{Name: name, Platform: platform, Columns: map[Field][]string{}}
	for _, f := range Fields {
		if c := chosen[f]; c != "" {
			m.Columns[f] = []string{c}
		}
	}
	return m, m.check()
}

// SavedMappings returns the remembered custom mappings, the most recently
// saved first.
func (s *Store) SavedMappings(ctx context.Context) ([]Mapping, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT columns FROM order_mappings ORDER BY updated_at DESC, name`)
	if err != nil {
		return nil, fmt.Errorf("orders: list mappings: %w", err)
	}
	defer rows.Close()
	var out []Mapping
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("orders: list mappings: %w", err)
		}
		var m Mapping
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("orders: list mappings: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Recognise picks the mapping for a header row: a preset recognised from
// it, else the most recently saved mapping that finds every required
// column in it.
func (s *Store) Recognise(ctx context.Context, header []string) (*Mapping, error) {
	if p, ok := DetectPreset(header); ok {
		return &p, nil
	}
	saved, err := s.SavedMappings(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range saved {
		if _, err := m.bind(header); err == nil {
			return &m, nil
		}
	}
	return nil, nil
}
