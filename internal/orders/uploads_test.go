package orders_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

const smallCSV = "order_no,total,ordered_at,title\n" +
	"A1,1.00,2026-11-01 10:00:00,茶\n" +
	"A2,2.00,2026-11-01 10:00:00,=1+1\n" +
	"A3,3.00,2026-11-01 10:00:00,茶\n" +
	"A4,x,2026-11-01 10:00:00,茶\n" +
	"A5,5.00,2026-11-01 10:00:00,茶\n"

func TestImportProgressCounts(t *testing.T) {
	f := newFixture(t, storetest.MustSQLite(t))
	var calls []orders.Progress
	importBytes(t, f, []byte(smallCSV), orders.ImportOptions{ProgressEvery: 2, Progress: func(p orders.Progress) { calls = append(calls, p) }})
	if len(calls) != 3 {
		t.Fatalf("%d progress calls: %+v", len(calls), calls)
	}
	// After row 2 the first order is written and the second's problem
	// counted (its rows are, once the order ends); the last call has every
	// count.
	if c := calls[0]; c.Rows != 2 || c.Inserted != 1 || c.RejectedRows != 0 || c.Rejected[orders.ReasonFormula] != 1 {
		t.Errorf("first call %+v", c)
	}
	if c := calls[2]; c.Rows != 5 || c.Inserted != 3 || c.RejectedRows != 2 || c.Rejected[orders.ReasonAmount] != 1 {
		t.Errorf("last call %+v", c)
	}
	calls[0].Rejected["x"] = 9 // a copy: the report is not touched
	if calls[2].Rejected["x"] != 0 {
		t.Error("progress calls share the report's map")
	}
}

func newUploads(t *testing.T, max int64) *orders.Uploads {
	return &orders.Uploads{Dir: filepath.Join(t.TempDir(), "imports"), MaxBytes: max, Clock: kith.NewFixedClock(now)}
}

func TestUploadsSave(t *testing.T) {
	u := newUploads(t, 300)
	ctx := context.Background()
	up, err := u.Save(ctx, strings.NewReader(smallCSV), `C:\Users\me\订单.csv`, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "订单.csv" || up.Format != "csv" || up.Size != int64(len(smallCSV)) || up.By != "owner" || strings.Join(up.Header, ",") != "order_no,total,ordered_at,title" {
		t.Fatalf("upload %+v", up)
	}
	got, err := u.Get(up.ID)
	if err != nil || got.Name != up.Name || !got.At.Equal(now) {
		t.Fatalf("get: %+v %v", got, err)
	}
	f, size, err := u.Open(up.ID)
	if err != nil || size != int64(len(smallCSV)) {
		t.Fatalf("open: %d %v", size, err)
	}
	f.Close()
	for _, bad := range []string{"", "../../etc", strings.Repeat("g", 32), "0123456789abcdef0123456789abcdef"} {
		if _, err := u.Get(bad); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("get %q: %v", bad, err)
		}
	}

	// States: none, then written and read back, then cleared.
	if st, err := u.State(up.ID, orders.RunDry); st != nil || err != nil {
		t.Fatalf("no run yet: %+v %v", st, err)
	}
	want := &orders.RunState{Kind: orders.RunDry, State: orders.RunRunning, Progress: orders.Progress{Rows: 3}}
	if err := u.SetState(up.ID, want); err != nil {
		t.Fatal(err)
	}
	if st, err := u.State(up.ID, orders.RunDry); err != nil || st.State != orders.RunRunning || st.Progress.Rows != 3 || !st.Waiting() {
		t.Fatalf("state %+v %v", st, err)
	}
	if err := u.ClearState(up.ID, orders.RunDry); err != nil {
		t.Fatal(err)
	}
	if st, _ := u.State(up.ID, orders.RunDry); st != nil {
		t.Fatal("cleared state still there")
	}

	for _, tc := range []struct {
		name, content, want string
		tooLarge            bool
	}{
		{"a.pdf", "%PDF", "a.pdf is not a CSV or XLSX file", false},
		{"a.xls", "\xd0\xcf\x11\xe0", "old Excel workbook", false},
		{"a.csv", "\x89PNG\r\n\x1a\n\x00\x00", "its content is binary", false},
		{"a.csv", "", "a.csv is empty", false},
		{"a.csv", "\n\n", "the file is empty", false},
		{"a.xlsx", "PK\x03\x04broken", "", false},
		{"a.csv", strings.Repeat("x", 301), "a.csv is more than the 1 KB", true},
	} {
		_, err := u.Save(ctx, strings.NewReader(tc.content), tc.name, "owner")
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), tc.want) || errors.Is(err, orders.ErrTooLarge) != tc.tooLarge {
			t.Errorf("%s %q: %v", tc.name, truncateTest(tc.content), err)
		}
	}
	entries, _ := os.ReadDir(u.Dir)
	if len(entries) != 1 {
		t.Errorf("%d folders after refusals, want only the good upload's", len(entries))
	}

	// Recent lists the newest first.
	clock := u.Clock.(*kith.FixedClock)
	clock.Add(time.Minute)
	later, err := u.Save(ctx, strings.NewReader(smallCSV), "later.csv", "li")
	if err != nil {
		t.Fatal(err)
	}
	recent, err := u.Recent(10)
	if err != nil || len(recent) != 2 || recent[0].ID != later.ID || recent[1].ID != up.ID {
		t.Fatalf("recent %v %v", recent, err)
	}
	if one, _ := u.Recent(1); len(one) != 1 || one[0].ID != later.ID {
		t.Fatalf("recent(1) %v", one)
	}
	if none, err := newUploads(t, 0).Recent(5); none != nil || err != nil {
		t.Fatalf("no folder yet: %v %v", none, err)
	}
	os.RemoveAll(filepath.Join(u.Dir, later.ID))

	// An upload not used for UploadKeep goes at the next upload.
	old := now.Add(-orders.UploadKeep - time.Hour)
	os.Chtimes(filepath.Join(u.Dir, up.ID), old, old)
	if _, err := u.Save(ctx, strings.NewReader(smallCSV), "b.csv", "owner"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Get(up.ID); kith.ErrorCode(err) != kith.ENOTFOUND {
		t.Errorf("old upload kept: %v", err)
	}
}

func truncateTest(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func TestMappingForms(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		header := []string{"订单编号", "买家实际支付金额", "订单创建时间", "联系手机", "备注"}
		tb, _ := orders.Preset("taobao")
		cols := tb.ColumnsIn(header)
		if cols[orders.FOrderNo] != "订单编号" || cols[orders.FTotal] != "买家实际支付金额" || cols[orders.FPhone] != "联系手机" || cols[orders.FSKU] != "" {
			t.Fatalf("columns %v", cols)
		}
		if m := orders.Unmapped(map[orders.Field]string{orders.FOrderNo: "单号"}); len(m) != 2 || m[0] != orders.FTotal || m[1] != orders.FOrderedAt {
			t.Fatalf("unmapped %v", m)
		}
		if !orders.Required(orders.FTotal) || orders.Required(orders.FPhone) {
			t.Fatal("required fields")
		}
		if _, err := orders.MappingOf("mine", "shop", map[orders.Field]string{orders.FOrderNo: "单号"}); kith.ErrorCode(err) != kith.EINVALID ||
			!strings.Contains(kith.ErrorMessage(err), "total, ordered_at") {
			t.Fatalf("mapping without total: %v", err)
		}
		if _, err := orders.MappingOf("a b", "shop", map[orders.Field]string{orders.FOrderNo: "单号", orders.FTotal: "金额", orders.FOrderedAt: "时间"}); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("a name with a space: %v", err)
		}

		// A header no preset knows is recognised by a saved mapping that
		// finds its required columns; a preset wins over saved mappings.
		own := []string{"单号", "金额", "时间"}
		if m, err := f.s.Recognise(ctx, own); m != nil || err != nil {
			t.Fatalf("nothing saved yet: %+v %v", m, err)
		}
		m, err := orders.MappingOf("own", "mall", map[orders.Field]string{orders.FOrderNo: "单号", orders.FTotal: "金额", orders.FOrderedAt: "时间"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.SaveMapping(ctx, m); err != nil {
			t.Fatal(err)
		}
		other, _ := orders.MappingOf("other", "mall", map[orders.Field]string{orders.FOrderNo: "编号", orders.FTotal: "金额", orders.FOrderedAt: "时间"})
		f.clock.Add(time.Minute)
		if err := f.s.SaveMapping(ctx, other); err != nil {
			t.Fatal(err)
		}
		saved, err := f.s.SavedMappings(ctx)
		if err != nil || len(saved) != 2 || saved[0].Name != "other" {
			t.Fatalf("saved %+v %v", saved, err)
		}
		if got, err := f.s.Recognise(ctx, own); err != nil || got == nil || got.Name != "own" {
			t.Fatalf("recognised %+v %v", got, err)
		}
		if got, _ := f.s.Recognise(ctx, header); got == nil || got.Name != "taobao" {
			t.Fatalf("a taobao header: %+v", got)
		}
	})
}

// TestImportWorker runs the job as River would: a dry run writes nothing
// and reports, an import writes and is audited, a second changes nothing,
// and a mapping the file does not fit fails the run without a retry.
func TestImportWorker(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		u := newUploads(t, 0)
		up, err := u.Save(ctx, bytes.NewReader([]byte(smallCSV)), "own.csv", "li")
		if err != nil {
			t.Fatal(err)
		}
		up.Mapping = &orders.Mapping{Name: "kith", Platform: "shop", Columns: map[orders.Field][]string{
			orders.FOrderNo: {"order_no"}, orders.FTotal: {"total"}, orders.FOrderedAt: {"ordered_at"}, orders.FTitle: {"title"}}}
		up.Shop = "茶铺"
		if err := u.Put(up); err != nil {
			t.Fatal(err)
		}
		log := audit.New(db, f.clock)
		w := &orders.ImportWorker{Store: f.s, Uploads: u, Audit: log, ProgressEvery: 1}
		work := func(run string) (*orders.RunState, error) {
			err := w.Work(ctx, &river.Job[orders.ImportArgs]{JobRow: &rivertype.JobRow{CreatedAt: now}, Args: orders.ImportArgs{Upload: up.ID, Run: run, By: "li"}})
			st, serr := u.State(up.ID, run)
			if serr != nil {
				t.Fatal(serr)
			}
			return st, err
		}
		count := func() (n int) {
			db.R.QueryRow(`SELECT count(*) FROM orders`).Scan(&n)
			return n
		}
		st, err := work(orders.RunDry)
		if err != nil || st.State != orders.RunDone || st.Report == nil || st.Report.Inserted != 3 || st.Report.RejectedRows != 2 || st.Progress.Rows != 5 || count() != 0 {
			t.Fatalf("dry run: %v %+v, %d orders", err, st, count())
		}
		st, err = work(orders.RunImport)
		if err != nil || st.State != orders.RunDone || st.Expected != 5 || st.Report.Inserted != 3 || count() != 3 {
			t.Fatalf("import: %v %+v, %d orders", err, st, count())
		}
		var shop string
		db.R.QueryRow(`SELECT shop FROM orders WHERE order_no = 'A1'`).Scan(&shop)
		if shop != "shop:茶铺" {
			t.Errorf("shop %q", shop)
		}
		var n int
		db.R.QueryRow(`SELECT count(*) FROM audit_log WHERE actor_kind = 'user' AND actor = 'li' AND action = 'pii.write' AND object_type = 'orders' AND object_id = 'kith'`).Scan(&n)
		if n != 1 {
			t.Errorf("%d audit entries of the import", n)
		}
		st, _ = work(orders.RunImport)
		if st.Report.Inserted != 0 || st.Report.Unchanged != 3 || count() != 3 {
			t.Fatalf("second import: %+v", st.Report)
		}

		up.Mapping.Columns[orders.FTotal] = []string{"实付"}
		u.Put(up)
		st, err = work(orders.RunImport)
		var cancel *river.JobCancelError
		if !errors.As(err, &cancel) || st.State != orders.RunFailed || !strings.Contains(st.Error, "no column for total (实付)") || st.Waiting() {
			t.Fatalf("a mapping the file does not fit: %v %+v", err, st)
		}
	})
}

func TestUploadsSaveXLSX(t *testing.T) {
	u := newUploads(t, 0)
	data := xlsxFile(t, [][]string{{"订单编号", "买家实际支付金额", "订单创建时间"}, {"T1", "1.00", "2026-11-01 10:00:00"}})
	up, err := u.Save(context.Background(), bytes.NewReader(data), "orders.xlsx", "owner")
	if err != nil {
		t.Fatal(err)
	}
	if up.Format != "xlsx" || strings.Join(up.Header, ",") != "订单编号,买家实际支付金额,订单创建时间" {
		t.Fatalf("upload %+v", up)
	}
}

// FuzzUploadsSave feeds arbitrary uploads: Save never panics, refuses only
// with a message for people (EINVALID) and keeps nothing it refused.
func FuzzUploadsSave(f *testing.F) {
	f.Add([]byte(smallCSV), "a.csv")
	f.Add([]byte(taobaoCSV), "b.txt")
	f.Add(gbk(f, taobaoCSV), "c.tsv")
	f.Add(xlsxFile(f, [][]string{{"order_no", "total", "ordered_at"}, {"X", "1", "2026-01-01"}}), "d.xlsx")
	f.Add([]byte("PK\x03\x04\x00\x00"), "e.xlsx")
	f.Add([]byte{0xFF, 0xFE, 'o', 0, ',', 0}, "f.csv")
	f.Add([]byte("\x00\x01"), "g.pdf")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		u := newUploads(t, 1<<16)
		up, err := u.Save(context.Background(), bytes.NewReader(data), name, "owner")
		entries, _ := os.ReadDir(u.Dir)
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("not a message for people: %v", err)
			}
			if len(entries) != 0 {
				t.Fatalf("a refused upload was kept: %v", err)
			}
			return
		}
		if len(entries) != 1 || up.Size != int64(len(data)) || (up.Format != "csv" && up.Format != "xlsx") {
			t.Fatalf("upload %+v, %d folders", up, len(entries))
		}
	})
}
