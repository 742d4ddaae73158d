package orders

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// MaxCatalogue is the most SKU codes one catalogue file may name.
const MaxCatalogue = 1_000_000

// The header names a catalogue file's columns may have.
var (
	skuHeaders      = []string{"sku", "商家编码", "sku编码", "货号", "商品编码"}
	categoryHeaders = []string{"category", "类目", "分类", "商品类目", "品类"}
)

// ReadCategories reads a catalogue file: CSV (UTF-8, GBK/GB18030 or
// UTF-16; commas or tabs) with a header row naming a SKU column (sku,
// 商家编码 …) and a category column (category, 类目, 分类 …), one SKU a
// row. An empty category takes the SKU out of the catalogue. A row without
// a SKU code, a formula, a SKU named twice with different categories or a
// file over maxBytes is refused with an EINVALID error naming the row.
func ReadCategories(r io.Reader, maxBytes int64) (map[string]string, error) {
	cnt := &counter{r: io.LimitReader(r, maxBytes+1)}
	br := bufio.NewReaderSize(cnt, 64<<10)
	rows, _, err := newCSVReader(br)
	if err != nil {
		return nil, err
	}
	header, err := rows.Next()
	if errors.Is(err, io.EOF) {
		return nil, kith.Errorf(kith.EINVALID, "the file is empty")
	}
	if err != nil {
		return nil, err
	}
	header = append([]string(nil), header...) // the reader reuses its rows
	find := func(names []string) int {
		for i, h := range header {
			h = strings.ToLower(normHeader(h))
			for _, n := range names {
				if h == n {
					return i
				}
			}
		}
		return -1
	}
	skuCol, catCol := find(skuHeaders), find(categoryHeaders)
	if skuCol < 0 || catCol < 0 {
		return nil, kith.Errorf(kith.EINVALID, "the header row (%s) needs a SKU column (%s) and a category column (%s)",
			truncate(strings.Join(header, ", "), 80), strings.Join(skuHeaders, ", "), strings.Join(categoryHeaders, ", "))
	}
	out := map[string]string{}
	first := map[string]int{}
	for {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			if cnt.n > maxBytes {
				return nil, kith.Errorf(kith.EINVALID, "the file is larger than %s", humanBytes(maxBytes))
			}
			break
		}
		if err != nil {
			return nil, err
		}
		if cnt.n > maxBytes {
			return nil, kith.Errorf(kith.EINVALID, "the file is larger than %s", humanBytes(maxBytes))
		}
		if blank(row) {
			continue
		}
		line := rows.Line()
		cell := func(i int) string {
			if i < len(row) {
				return cleanCell(row[i])
			}
			return ""
		}
		sku, cat := cell(skuCol), cell(catCol)
		switch {
		case sku == "":
			return nil, kith.Errorf(kith.EINVALID, "row %d: %s is empty", line, header[skuCol])
		case isFormula(sku) || isFormula(cat):
			return nil, kith.Errorf(kith.EINVALID, "row %d: holds a spreadsheet formula, not a value", line)
		case !utf8.ValidString(sku) || !utf8.ValidString(cat):
			return nil, kith.Errorf(kith.EINVALID, "row %d: not valid text in the file's encoding", line)
		case len(sku) > maxText || len(cat) > maxText:
			return nil, kith.Errorf(kith.EINVALID, "row %d: a SKU code or category is longer than %d bytes", line, maxText)
		}
		if prev, ok := out[sku]; ok && prev != cat {
			return nil, kith.Errorf(kith.EINVALID, "row %d: SKU %s is in category %q on row %d and %q here", line, truncate(sku, 40), prev, first[sku], cat)
		}
		if _, ok := out[sku]; !ok {
			if len(out) >= MaxCatalogue {
				return nil, kith.Errorf(kith.EINVALID, "row %d: more than %d SKU codes; split the file", line, MaxCatalogue)
			}
			first[sku] = line
		}
		out[sku] = cat
	}
	return out, nil
}
