package orders

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// DefaultMaxBytes is the largest file Import reads unless told otherwise.
const DefaultMaxBytes = 1 << 30

// File is an order file: read front to back, and at random for XLSX.
type File interface {
	io.Reader
	io.ReaderAt
}

// ImportOptions say how to read a file.
type ImportOptions struct {
	Mapping  *Mapping // nil: recognised from the header row
	Shop     string   // the shop's name when the file has no shop column
	DryRun   bool     // read, check and count everything, write nothing
	MaxBytes int64    // 0: DefaultMaxBytes
	// Location is the zone of times written without one (the instance's).
	Location *time.Location
	// MaxErrors bounds the row errors kept in the report (0: 10000); the
	// count of every reason stays exact.
	MaxErrors int
	// Progress, when set, is called every ProgressEvery rows and at the
	// end.
	Progress func(Progress)
	// ProgressEvery is how many rows pass between Progress calls (0:
	// 10000).
	ProgressEvery int
}

// Progress is how far an import is, with its counts so far.
type Progress struct {
	Rows  int
	Bytes int64 // read so far (CSV; 0 for XLSX)
	Total int64 // the file's size

	Inserted, Updated, Unchanged, RejectedRows int
	Rejected                                   map[string]int // rows by reason code: a copy
}

// RowError is a refused row: where, and why.
type RowError struct {
	Row     int    `json:"row"`      // in the file, the header being row 1
	Column  string `json:"column"`   // the header name, "" when the whole row is refused
	Code    string `json:"code"`     // a Reason… code
	Message string `json:"message"`  // what is wrong, for people
	OrderNo string `json:"order_no"` // when known
}

// SampleOrder is an order of a dry run's preview, protected fields masked.
type SampleOrder struct {
	Row       int       `json:"row"`
	Shop      string    `json:"shop"`
	OrderNo   string    `json:"order_no"`
	Status    Status    `json:"status"`
	Total     string    `json:"total"`
	OrderedAt time.Time `json:"ordered_at"`
	Phone     string    `json:"phone,omitempty"`
	Address   string    `json:"address,omitempty"`
	Buyer     bool      `json:"buyer_account"`
	Items     int       `json:"items"`
}

// Report is what an import did, or would do in a dry run.
type Report struct {
	Format        string         `json:"format"` // csv or xlsx
	Encoding      string         `json:"encoding,omitempty"`
	Mapping       string         `json:"mapping"`
	DryRun        bool           `json:"dry_run"`
	Rows          int            `json:"rows"`     // data rows read
	Orders        int            `json:"orders"`   // orders the accepted rows make
	Inserted      int            `json:"inserted"` // new orders
	Updated       int            `json:"updated"`  // known orders that moved on
	Unchanged     int            `json:"unchanged"`
	RejectedRows  int            `json:"rejected_rows"`
	Rejected      map[string]int `json:"rejected"` // rows by reason code
	Errors        []RowError     `json:"errors"`
	ErrorsDropped int            `json:"errors_dropped"`
	NotRead       []string       `json:"columns_not_read"` // never stored (P-8)
	Sample        []SampleOrder  `json:"sample"`
}

var errDryRun = errors.New("dry run")

// Import reads an order file (CSV in UTF-8, GBK/GB18030 or UTF-16, or
// XLSX) and writes its valid orders in one transaction: a failure or a
// cancelled context leaves nothing written. Rows with errors are refused
// and reported by row and column; the same file again changes nothing.
func (s *Store) Import(ctx context.Context, f File, size int64, opt ImportOptions) (*Report, error) {
	if opt.Location == nil {
		opt.Location = s.location()
	}
	im, err := open(f, size, opt)
	if err != nil {
		return nil, err
	}
	if s.db.Dialect == store.SQLite {
		// A big transaction spills SQLite's page cache (2 MB) to the WAL
		// again and again, and each statement writes its statement journal
		// to a temporary file; a larger cache and journals in memory on the
		// writer's one connection, for the import's length, save most of
		// those writes.
		if _, err := s.db.W.ExecContext(ctx, "PRAGMA cache_size = -131072"); err == nil {
			defer s.db.W.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size = -2000")
		}
		if _, err := s.db.W.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err == nil {
			defer s.db.W.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = DEFAULT")
		}
	}
	// The statements run under a context that is never cancelled: with a
	// cancellable one, the SQLite driver and database/sql start a goroutine
	// per statement to watch it, a fifth of an import's time. The import
	// still stops on cancellation: run checks ctx before every row, and
	// the transaction is rolled back when it returns the error.
	dbctx := context.WithoutCancel(ctx)
	err = s.Write(dbctx, func(w *Writer) error {
		if err := im.run(ctx, func(_ context.Context, o *Order) (Outcome, error) { return w.Put(dbctx, o) }); err != nil {
			return err
		}
		if opt.DryRun {
			return errDryRun
		}
		if err := w.finish(dbctx); err != nil {
			return err
		}
		return ctx.Err() // cancelled meanwhile: nothing is committed
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	return im.rep, nil
}

// ReadOrders reads an order file as Import does, without a database: each
// valid order is handed to fn (which must not keep it). Conflicts with
// stored orders are not found; everything else is reported.
func ReadOrders(ctx context.Context, f File, size int64, opt ImportOptions, fn func(*Order) error) (*Report, error) {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	im, err := open(f, size, opt)
	if err != nil {
		return nil, err
	}
	if err := im.run(ctx, func(_ context.Context, o *Order) (Outcome, error) { return Inserted, fn(o) }); err != nil {
		return nil, err
	}
	return im.rep, nil
}

// open reads a file's header and binds its mapping.
func open(f File, size int64, opt ImportOptions) (*importer, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxErrors <= 0 {
		opt.MaxErrors = 10000
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = 10000
	}
	rep := &Report{DryRun: opt.DryRun, Rejected: map[string]int{}}
	rows, cnt, header, err := openRows(f, size, opt.MaxBytes, rep)
	if err != nil {
		return nil, err
	}
	m := opt.Mapping
	if m == nil {
		p, ok := DetectPreset(header)
		if !ok {
			return nil, kith.Errorf(kith.EINVALID, "the header row (%s) matches no preset; name one with --mapping or give the columns",
				truncate(strings.Join(header, ", "), 120))
		}
		m = &p
	}
	rep.Mapping = m.Name
	b, err := m.bind(header)
	if err != nil {
		return nil, err
	}
	rep.NotRead = b.ignored
	return &importer{opt: opt, m: m, b: b, rep: rep, seen: map[uint64]int32{}, rows: rows, cnt: cnt, size: size}, nil
}

// ReadHeader reads a file's header row, and says whether the file is csv
// or xlsx; a file that is neither, or empty, gives an EINVALID error.
func ReadHeader(f File, size int64, maxBytes int64) (header []string, format string, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	rep := &Report{}
	rows, _, header, err := openRows(f, size, maxBytes, rep)
	if err != nil {
		return nil, "", err
	}
	if c, ok := rows.(io.Closer); ok {
		c.Close()
	}
	return header, rep.Format, nil
}

// openRows opens the rows of a CSV or XLSX file and reads its header row;
// cnt counts the bytes read (nil for XLSX).
func openRows(f File, size, maxBytes int64, rep *Report) (rowReader, *counter, []string, error) {
	if size > maxBytes {
		return nil, nil, nil, kith.Errorf(kith.EINVALID, "the file is %s, more than the %s an import reads; split it (by month, say) and import the parts",
			humanBytes(size), humanBytes(maxBytes))
	}
	cnt := &counter{r: io.LimitReader(f, maxBytes+1)}
	br := bufio.NewReaderSize(cnt, 256<<10)
	magic, _ := br.Peek(4)
	var rows rowReader
	if bytes.Equal(magic, []byte("PK\x03\x04")) {
		zr, err := zip.NewReader(f, size)
		if err != nil {
			return nil, nil, nil, xlsxError(err)
		}
		x, err := openXLSX(zr)
		if err != nil {
			return nil, nil, nil, err
		}
		rows, rep.Format = x, "xlsx"
		cnt = nil
	} else {
		r, enc, err := newCSVReader(br)
		if err != nil {
			return nil, nil, nil, err
		}
		rows, rep.Format, rep.Encoding = r, "csv", enc
	}
	header, err := rows.Next()
	if errors.Is(err, io.EOF) {
		return nil, nil, nil, kith.Errorf(kith.EINVALID, "the file is empty")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return rows, cnt, append([]string(nil), header...), nil
}

// run reads every data row, handing each order to put.
func (im *importer) run(ctx context.Context, put func(context.Context, *Order) (Outcome, error)) error {
	im.put = put
	defer im.progress()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := im.rows.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if im.cnt != nil && im.cnt.n > im.opt.MaxBytes {
			return kith.Errorf(kith.EINVALID, "the file grew past %s while it was read", humanBytes(im.opt.MaxBytes))
		}
		if blank(row) {
			continue
		}
		im.rep.Rows++
		if err := im.row(ctx, im.rows.Line(), row); err != nil {
			return err
		}
		if im.rep.Rows%im.opt.ProgressEvery == 0 {
			im.progress()
		}
	}
	return im.flush(ctx)
}

func (im *importer) progress() {
	if im.opt.Progress != nil {
		p := Progress{Rows: im.rep.Rows, Total: im.size, Inserted: im.rep.Inserted, Updated: im.rep.Updated,
			Unchanged: im.rep.Unchanged, RejectedRows: im.rep.RejectedRows, Rejected: make(map[string]int, len(im.rep.Rejected))}
		for k, v := range im.rep.Rejected {
			p.Rejected[k] = v
		}
		if im.cnt != nil {
			p.Bytes = im.cnt.n
		}
		im.opt.Progress(p)
	}
}

func blank(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// importer turns rows into orders; consecutive rows with the same order
// number and a line column are the lines of one order.
type importer struct {
	opt  ImportOptions
	m    *Mapping
	b    *binding
	rep  *Report
	put  func(context.Context, *Order) (Outcome, error)
	seen map[uint64]int32 // order key hash → first row, to tell in-file duplicates
	rows rowReader
	cnt  *counter // nil for XLSX
	size int64

	cur      *Order
	curRow   int
	curRows  int
	curBad   bool
	curLines map[string]bool
}

func (im *importer) reject(row int, col Field, code, msg, orderNo string) {
	im.rep.Rejected[code]++
	if len(im.rep.Errors) >= im.opt.MaxErrors {
		im.rep.ErrorsDropped++
		return
	}
	name := ""
	if col != "" && im.b.col[col] >= 0 {
		name = im.b.header[im.b.col[col]]
	}
	if name != "" {
		msg = name + " " + msg
	}
	im.rep.Errors = append(im.rep.Errors, RowError{Row: row, Column: name, Code: code, Message: msg, OrderNo: orderNo})
}

// row reads one data row. An error in any row of an order refuses the
// whole order: nothing of it is written.
func (im *importer) row(ctx context.Context, line int, cells []string) error {
	get := func(f Field) string {
		i := im.b.col[f]
		if i < 0 || i >= len(cells) {
			return ""
		}
		return cleanCell(cells[i])
	}
	no := get(FOrderNo)
	if no == "" {
		im.reject(line, FOrderNo, ReasonMissing, "is empty", "")
		im.rep.RejectedRows++
		return nil
	}
	shop, lineNo := im.shop(get(FShop)), get(FLineNo)
	continuing := im.cur != nil && im.b.col[FLineNo] >= 0 && im.cur.OrderNo == no && im.cur.Shop == shop && !im.curLines[lineNo]
	if continuing {
		im.curRows++
		im.curLines[lineNo] = true
	} else {
		if err := im.flush(ctx); err != nil {
			return err
		}
		im.cur = &Order{Shop: shop, OrderNo: no, Source: "import"}
		im.curRow, im.curRows, im.curBad, im.curLines = line, 1, false, map[string]bool{lineNo: true}
	}
	if im.curBad {
		return nil
	}
	for _, f := range Fields {
		if v := get(f); isFormula(v) {
			im.markBad(&fieldError{line, f, &cellError{ReasonFormula, "holds a spreadsheet formula (" + truncate(v, 30) + "), not a value"}})
			return nil
		}
	}
	if strings.ContainsAny(no, "Ee") && strings.Contains(no, "+") {
		im.markBad(&fieldError{line, FOrderNo, &cellError{ReasonExcelNumber, "is in scientific notation (" + no + "); a spreadsheet has rounded it, export it again as text"}})
		return nil
	}
	if !continuing {
		if err := im.fill(line, get); err != nil {
			im.markBad(err)
			return nil
		}
	}
	if err := im.addLine(line, get); err != nil {
		im.markBad(err)
	}
	return nil
}

type fieldError struct {
	row   int
	field Field
	*cellError
}

func (im *importer) markBad(err error) {
	var fe *fieldError
	if errors.As(err, &fe) {
		im.reject(fe.row, fe.field, fe.code, fe.msg, im.cur.OrderNo)
	} else {
		im.reject(im.curRow, "", ReasonInvalid, kith.ErrorMessage(err), im.cur.OrderNo)
	}
	im.curBad = true
}

func (im *importer) shop(name string) string {
	if name == "" {
		name = im.opt.Shop
	}
	if name == "" {
		name = "default"
	}
	return ShopKey(im.m.Platform, name)
}

// fill reads the order-level fields of the first row of an order.
func (im *importer) fill(line int, get func(Field) string) error {
	o := im.cur
	o.BuyerAccount, o.UnionID, o.ExternalUserID = get(FBuyerAccount), get(FUnionID), get(FExternalUserID)
	o.Phone = get(FPhone)
	o.Email = get(FBuyerEmail)
	if o.Address = get(FAddress); o.Address == "" {
		var parts []string
		street := get(FStreet)
		for _, f := range []Field{FProvince, FCity, FDistrict} {
			if v := get(f); v != "" && !strings.HasPrefix(street, v) {
				parts = append(parts, v)
			}
		}
		if street != "" {
			parts = append(parts, street)
		}
		o.Address = strings.Join(parts, " ")
	}
	amount := func(f Field, dst *int64, req bool) error {
		v := get(f)
		if v == "" {
			if req {
				return &fieldError{line, f, &cellError{ReasonMissing, "is empty"}}
			}
			return nil
		}
		n, ce := parseFen(v)
		if ce != nil {
			return &fieldError{line, f, ce}
		}
		*dst = n
		return nil
	}
	when := func(f Field, dst *time.Time, req bool) error {
		v := get(f)
		if v == "" {
			if req {
				return &fieldError{line, f, &cellError{ReasonMissing, "is empty"}}
			}
			return nil
		}
		t, ce := parseTime(v, im.opt.Location)
		if ce != nil {
			return &fieldError{line, f, ce}
		}
		*dst = t
		return nil
	}
	for _, e := range []error{amount(FTotal, &o.TotalFen, true), amount(FFreight, &o.FreightFen, false), amount(FRefund, &o.RefundFen, false),
		when(FOrderedAt, &o.OrderedAt, true), when(FPaidAt, &o.PaidAt, false), when(FShippedAt, &o.ShippedAt, false), when(FCompletedAt, &o.CompletedAt, false)} {
		if e != nil {
			return e
		}
	}
	raw := get(FStatus)
	switch st := parseStatus(raw); {
	case st != "":
		o.Status = st
	case raw != "":
		return &fieldError{line, FStatus, &cellError{ReasonStatus, "is not a status Kith knows (" + truncate(raw, 30) + ")"}}
	case !o.CompletedAt.IsZero():
		o.Status = StatusCompleted
	case !o.ShippedAt.IsZero():
		o.Status = StatusShipped
	case !o.PaidAt.IsZero():
		o.Status = StatusPaid
	default:
		o.Status = StatusPending
	}
	if parseStatus(get(FAfterSale)) == StatusRefunded {
		o.Status = StatusRefunded
	}
	return nil
}

// addLine adds a row's item to the current order.
func (im *importer) addLine(line int, get func(Field) string) error {
	o := im.cur
	if len(o.Items) > 0 && im.m.LinesSum {
		var t int64
		if v := get(FTotal); v != "" {
			n, ce := parseFen(v)
			if ce != nil {
				return &fieldError{line, FTotal, ce}
			}
			t = n
		}
		o.TotalFen += t
	}
	sku, title, qty, price := get(FSKU), get(FTitle), get(FQuantity), get(FPrice)
	if sku == "" && title == "" && qty == "" && price == "" {
		return nil
	}
	it := Item{SKU: sku, Title: title, Quantity: 1}
	if qty != "" {
		n, ce := parseQuantity(qty)
		if ce != nil {
			return &fieldError{line, FQuantity, ce}
		}
		it.Quantity = n
	}
	if price != "" {
		n, ce := parseFen(price)
		if ce != nil {
			return &fieldError{line, FPrice, ce}
		}
		it.PriceFen = n
	}
	o.Items = append(o.Items, it)
	return nil
}

// flush writes the current order, when it has no error.
func (im *importer) flush(ctx context.Context) error {
	o := im.cur
	if o == nil {
		return nil
	}
	im.cur = nil
	if im.curBad {
		im.rep.RejectedRows += im.curRows
		return nil
	}
	if o.Status == StatusCancelled && !o.PaidAt.IsZero() && o.RefundFen > 0 {
		o.Status = StatusRefunded // closed after payment with money back
	}
	if o.Status == StatusRefunded && o.RefundFen == 0 {
		o.RefundFen = o.TotalFen
	}
	if o.RefundFen > o.TotalFen {
		o.RefundFen = o.TotalFen
	}
	h := fnv.New64a()
	h.Write([]byte(o.Shop))
	h.Write([]byte{0})
	h.Write([]byte(o.OrderNo))
	key := h.Sum64()
	first, dup := im.seen[key]
	if !dup {
		im.seen[key] = int32(im.curRow)
	}
	if err := o.Validate(); err != nil {
		im.reject(im.curRow, "", ReasonInvalid, kith.ErrorMessage(err), o.OrderNo)
		im.rep.RejectedRows += im.curRows
		return nil
	}
	sample := len(im.rep.Sample) < 5
	var phone, addr string
	if sample {
		if n, ok := PlainMobile(o.Phone); ok {
			phone = protect.MaskPhone(n)
		}
		addr = protect.MaskAddress(o.Address)
	}
	out, err := im.put(ctx, o)
	if err != nil {
		return fmt.Errorf("orders: row %d: %w", im.curRow, err)
	}
	switch out {
	case Inserted:
		im.rep.Inserted++
	case Updated:
		im.rep.Updated++
	case Unchanged:
		im.rep.Unchanged++
	case Conflict:
		if dup {
			im.reject(im.curRow, FOrderNo, ReasonDuplicate, fmt.Sprintf("%s is also on row %d with different amounts, items or buyer; that row was imported, this one was not", o.OrderNo, first), o.OrderNo)
		} else {
			im.reject(im.curRow, FOrderNo, ReasonConflict, o.OrderNo+" was imported before with different amounts, items or buyer; it was not overwritten", o.OrderNo)
		}
		im.rep.RejectedRows += im.curRows
		return nil
	}
	im.rep.Orders++
	if sample {
		im.rep.Sample = append(im.rep.Sample, SampleOrder{Row: im.curRow, Shop: o.Shop, OrderNo: o.OrderNo, Status: o.Status, Total: Yuan(o.TotalFen),
			OrderedAt: o.OrderedAt, Phone: phone, Address: addr, Buyer: o.BuyerAccount != "", Items: len(o.Items)})
	}
	return nil
}
