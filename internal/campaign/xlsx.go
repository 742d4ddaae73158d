package campaign

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"io"
	"strconv"
	"unicode/utf8"
)

// A small streaming XLSX writer: one worksheet of inline strings, written
// row by row into the zip as it goes, so an export of a million rows
// never holds the sheet in memory. It writes only what a spreadsheet
// needs to open the file: the content types, the package and workbook
// relationships, the workbook and the sheet.

// XLSXWriter writes rows of text to one worksheet.
type XLSXWriter struct {
	zw  *zip.Writer
	w   *bufio.Writer
	row int
	err error
}

const xlsxContentTypes = xml.Header + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
	`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
	`<Default Extension="xml" ContentType="application/xml"/>` +
	`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
	`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
	`</Types>`

const xlsxRootRels = xml.Header + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
	`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
	`</Relationships>`

const xlsxWorkbookRels = xml.Header + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
	`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>` +
	`</Relationships>`

// NewXLSXWriter starts a workbook on w with one sheet named sheet (at
// most 31 characters, no []:*?/\ — the caller's constant).
func NewXLSXWriter(w io.Writer, sheet string) (*XLSXWriter, error) {
	x := &XLSXWriter{zw: zip.NewWriter(w)}
	var name []byte
	name, _ = xmlText(name, sheet)
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", xlsxContentTypes},
		{"_rels/.rels", xlsxRootRels},
		{"xl/_rels/workbook.xml.rels", xlsxWorkbookRels},
		{"xl/workbook.xml", xml.Header + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ` +
			`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="` + string(name) +
			`" sheetId="1" r:id="rId1"/></sheets></workbook>`},
	}
	for _, p := range parts {
		f, err := x.zw.Create(p.name)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(f, p.body); err != nil {
			return nil, err
		}
	}
	f, err := x.zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		return nil, err
	}
	x.w = bufio.NewWriterSize(f, 32<<10)
	x.w.WriteString(xml.Header + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	return x, nil
}

// Write adds one row; each cell is an inline string.
func (x *XLSXWriter) Write(cells []string) error {
	if x.err != nil {
		return x.err
	}
	x.row++
	buf := x.w.AvailableBuffer()
	buf = append(buf, `<row r="`...)
	buf = strconv.AppendInt(buf, int64(x.row), 10)
	buf = append(buf, `">`...)
	for _, c := range cells {
		buf = append(buf, `<c t="inlineStr"><is><t xml:space="preserve">`...)
		buf, _ = xmlText(buf, c)
		buf = append(buf, `</t></is></c>`...)
	}
	buf = append(buf, `</row>`...)
	_, x.err = x.w.Write(buf)
	return x.err
}

// Close ends the sheet and the zip; the file is complete only then.
func (x *XLSXWriter) Close() error {
	if x.err != nil {
		return x.err
	}
	x.w.WriteString(`</sheetData></worksheet>`)
	if err := x.w.Flush(); err != nil {
		return err
	}
	return x.zw.Close()
}

// xmlText appends s escaped as XML character data; characters XML 1.0
// cannot hold (control characters but tab, newline and carriage return;
// invalid UTF-8) become U+FFFD, so the sheet is always well-formed. It
// reports whether anything was replaced.
func xmlText(dst []byte, s string) ([]byte, bool) {
	replaced := false
	for _, r := range s {
		switch {
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '"':
			dst = append(dst, "&quot;"...)
		case r == '\r':
			dst = append(dst, "&#13;"...)
		case r == '\t' || r == '\n':
			dst = append(dst, byte(r))
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) || r == '\uFFFD':
			if r != '\uFFFD' {
				replaced = true
			}
			dst = append(dst, "\uFFFD"...)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst, replaced
}
