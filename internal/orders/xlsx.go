package orders

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
)

// A small streaming XLSX reader: the first worksheet, read row by row
// through encoding/xml, with the shared strings in memory. It needs no
// module beyond the standard library and never holds the sheet itself in
// memory, which a 1 M-row export would make hundreds of MB.

// maxXLSXPart bounds the uncompressed size of one part of the workbook, so
// a small file that inflates to gigabytes (a zip bomb) is refused.
const maxXLSXPart = 4 << 30

// maxSharedStrings bounds the strings table held in memory.
const maxSharedStrings = 512 << 20

type xlsxRows struct {
	d      *xml.Decoder
	rc     io.Closer
	shared []string
	line   int
	row    []string
}

func openXLSX(zr *zip.Reader) (*xlsxRows, error) {
	sheet, err := firstSheet(zr)
	if err != nil {
		return nil, err
	}
	shared, err := sharedStrings(zr)
	if err != nil {
		return nil, err
	}
	f := findPart(zr, sheet)
	if f == nil {
		return nil, kith.Errorf(kith.EINVALID, "the workbook names a worksheet %s it does not contain", sheet)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, kith.Errorf(kith.EINVALID, "the worksheet cannot be opened: %v", err)
	}
	return &xlsxRows{d: xml.NewDecoder(io.LimitReader(rc, maxXLSXPart)), rc: rc, shared: shared}, nil
}

func findPart(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// firstSheet finds the part name of the workbook's first worksheet.
func firstSheet(zr *zip.Reader) (string, error) {
	var wb struct {
		Sheets []struct {
			ID string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rel []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := readXMLPart(zr, "xl/workbook.xml", &wb); err != nil {
		return "", err
	}
	if err := readXMLPart(zr, "xl/_rels/workbook.xml.rels", &rels); err != nil {
		return "", err
	}
	if len(wb.Sheets) == 0 {
		return "", kith.Errorf(kith.EINVALID, "the workbook has no worksheet")
	}
	for _, r := range rels.Rel {
		if r.ID == wb.Sheets[0].ID {
			if strings.HasPrefix(r.Target, "/") {
				return strings.TrimPrefix(r.Target, "/"), nil
			}
			return path.Join("xl", r.Target), nil
		}
	}
	return "", kith.Errorf(kith.EINVALID, "the workbook's first worksheet has no part")
}

func readXMLPart(zr *zip.Reader, name string, v any) error {
	f := findPart(zr, name)
	if f == nil {
		return kith.Errorf(kith.EINVALID, "this is not an XLSX workbook: it has no %s", name)
	}
	rc, err := f.Open()
	if err != nil {
		return kith.Errorf(kith.EINVALID, "%s cannot be opened: %v", name, err)
	}
	defer rc.Close()
	if err := xml.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(v); err != nil {
		return kith.Errorf(kith.EINVALID, "%s cannot be read: %v", name, err)
	}
	return nil
}

// sharedStrings reads the workbook's strings table (absent when every
// string is inline).
func sharedStrings(zr *zip.Reader) ([]string, error) {
	f := findPart(zr, "xl/sharedStrings.xml")
	if f == nil {
		return nil, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, kith.Errorf(kith.EINVALID, "the strings table cannot be opened: %v", err)
	}
	defer rc.Close()
	d := xml.NewDecoder(io.LimitReader(rc, maxXLSXPart))
	var out []string
	var cur strings.Builder
	inSI, inT, inRPh := false, false, false
	total := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, kith.Errorf(kith.EINVALID, "the strings table cannot be read: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				inSI = true
				cur.Reset()
			case "t":
				inT = true
			case "rPh": // phonetic hints are not part of the text
				inRPh = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				inSI = false
				total += cur.Len()
				if total > maxSharedStrings {
					return nil, kith.Errorf(kith.EINVALID, "the workbook's strings take more than %d MB", maxSharedStrings>>20)
				}
				out = append(out, cur.String())
			case "t":
				inT = false
			case "rPh":
				inRPh = false
			}
		case xml.CharData:
			if inSI && inT && !inRPh {
				cur.Write(t)
			}
		}
	}
}

// Next returns the next non-empty row's cells.
func (x *xlsxRows) Next() ([]string, error) {
	var cellType, ref string
	var val strings.Builder
	inV, inCell, inRow := false, false, false
	col := 0
	for {
		tok, err := x.d.Token()
		if err == io.EOF {
			x.rc.Close()
			return nil, io.EOF
		}
		if err != nil {
			return nil, kith.Errorf(kith.EINVALID, "the worksheet cannot be read after row %d: %v", x.line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				inRow, col = true, 0
				x.row = x.row[:0]
				next := x.line + 1
				for _, a := range t.Attr {
					if a.Name.Local == "r" {
						if n, err := strconv.Atoi(a.Value); err == nil {
							next = n
						}
					}
				}
				x.line = next
			case "c":
				inCell, cellType, ref = true, "", ""
				val.Reset()
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "t":
						cellType = a.Value
					case "r":
						ref = a.Value
					}
				}
			case "v", "t":
				inV = inCell
			}
		case xml.CharData:
			if inV {
				val.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v", "t":
				inV = false
			case "c":
				inCell = false
				if c, ok := columnOf(ref); ok {
					col = c
				}
				if col > 16384 {
					return nil, kith.Errorf(kith.EINVALID, "row %d has a cell beyond the last spreadsheet column", x.line)
				}
				for len(x.row) < col {
					x.row = append(x.row, "")
				}
				s, err := x.cellValue(cellType, val.String())
				if err != nil {
					return nil, err
				}
				x.row = append(x.row, s)
				col++
			case "row":
				if inRow {
					return x.row, nil
				}
			}
		}
	}
}

func (x *xlsxRows) cellValue(typ, v string) (string, error) {
	if typ != "s" {
		return v, nil
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || i < 0 || i >= len(x.shared) {
		return "", kith.Errorf(kith.EINVALID, "row %d refers to a string %q the workbook does not have", x.line, v)
	}
	return x.shared[i], nil
}

func (x *xlsxRows) Line() int { return x.line }

// columnOf returns the zero-based column of a cell reference like "AB12".
func columnOf(ref string) (int, bool) {
	n, i := 0, 0
	for ; i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z'; i++ {
		n = n*26 + int(ref[i]-'A'+1)
		if n > 1<<20 {
			return 0, false
		}
	}
	if i == 0 {
		return 0, false
	}
	return n - 1, true
}

var errNotXLSX = errors.New("not xlsx")

func xlsxError(err error) error {
	return kith.Errorf(kith.EINVALID, "the file looks like an XLSX workbook but cannot be opened: %v", fmt.Sprint(err))
}

// Close releases the worksheet's reader.
func (x *xlsxRows) Close() error { return x.rc.Close() }
