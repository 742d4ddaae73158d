package orders

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/kith-scrm/kith/internal/kith"
)

// rowReader yields a file's rows, header first.
type rowReader interface {
	// Next returns the next row's cells, io.EOF after the last.
	Next() ([]string, error)
	// Line is the row's number in the file, counting the header as 1.
	Line() int
}

// Encodings a CSV file may be in.
const (
	EncUTF8    = "UTF-8"
	EncGB18030 = "GB18030" // GBK's superset: what Taobao and others export
	EncUTF16   = "UTF-16"
)

// maxLine bounds one CSV record: a file without line breaks is not an
// order export, and would otherwise be read into memory whole.
const maxLine = 1 << 20

// sniffEncoding tells a CSV file's encoding from its first bytes: a
// byte-order mark, else UTF-8 when they are valid UTF-8, else GB18030.
func sniffEncoding(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return EncUTF8
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return EncUTF16
	}
	// The sample may end inside a character: drop up to three trailing
	// bytes of an incomplete one before judging.
	for i := 0; i < 3 && len(head) > 0 && !utf8.Valid(head); i++ {
		if r, _ := utf8.DecodeLastRune(head); r != utf8.RuneError {
			break
		}
		head = head[:len(head)-1]
	}
	if utf8.Valid(head) {
		return EncUTF8
	}
	return EncGB18030
}

// newCSVReader decodes r (whose first bytes head holds, unread) as CSV in
// its detected encoding, with commas or tabs, whichever the header uses.
func newCSVReader(br *bufio.Reader) (rowReader, string, error) {
	head, _ := br.Peek(64 << 10)
	enc := sniffEncoding(head)
	var r io.Reader = br
	switch enc {
	case EncUTF8:
		r = transform.NewReader(br, unicode.BOMOverride(transform.Nop))
	case EncUTF16:
		r = transform.NewReader(br, unicode.BOMOverride(unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()))
	case EncGB18030:
		r = transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder())
	}
	lr := &lineLimit{r: r}
	dec := bufio.NewReaderSize(lr, 256<<10)
	first, _ := dec.Peek(8 << 10)
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	c := csv.NewReader(dec)
	if bytes.Count(first, []byte{'\t'}) > bytes.Count(first, []byte{','}) {
		c.Comma = '\t'
	}
	c.FieldsPerRecord = -1
	c.LazyQuotes = true
	c.ReuseRecord = true
	return &csvRows{c: c, lim: lr}, enc, nil
}

type csvRows struct {
	c    *csv.Reader
	lim  *lineLimit
	line int
}

func (r *csvRows) Next() ([]string, error) {
	rec, err := r.c.Read()
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			return nil, kith.Errorf(kith.EINVALID, "row %d is longer than %d KB: this is not an order export", r.line+1, maxLine>>10)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, kith.Errorf(kith.EINVALID, "row %d cannot be read as CSV: %v", pe.StartLine, pe.Err)
		}
		return nil, err
	}
	r.line, _ = r.c.FieldPos(0)
	return rec, nil
}

func (r *csvRows) Line() int { return r.line }

var errLineTooLong = errors.New("line too long")

// lineLimit fails once maxLine bytes pass without a line break.
type lineLimit struct {
	r   io.Reader
	run int
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.run = 0
		} else if l.run++; l.run > maxLine {
			return 0, errLineTooLong
		}
	}
	return n, err
}

// counter counts the bytes read through it, for progress.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// humanBytes writes a size for people: 2.0 GB, 512 MB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", (n+1023)>>10)
}
