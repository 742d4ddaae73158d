package orders_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

// FuzzReadOrders feeds arbitrary files to the importer's reading half: it
// never panics, fails only with a message for people (EINVALID), hands on
// only valid orders, and its counts add up.
func FuzzReadOrders(f *testing.F) {
	f.Add([]byte(taobaoCSV))
	f.Add(gbk(f, taobaoCSV))
	f.Add([]byte("order_no,line_no,total,ordered_at,sku,quantity,price\nA,1,1.00,2026-01-01,S,2,0.5\nA,2,1.00,2026-01-01,T,1,=1+1\n"))
	f.Add([]byte("\ufeff主订单编号,子订单编号,订单应付金额,订单提交时间\n\t1,\t1-1,\t1e5,45000.25\n"))
	f.Add([]byte("订单号\t用户实付金额（元）\t支付时间\n\"1\t2\"\t3\t2026/1/2 3:04\n"))
	f.Add(xlsxFile(f, [][]string{{"order_no", "total", "ordered_at"}, {"X", "#1", "#46000"}}))
	f.Add([]byte{0xFF, 0xFE, 'o', 0, ',', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		orders_ := 0
		rep, err := orders.ReadOrders(context.Background(), bytes.NewReader(data), int64(len(data)), orders.ImportOptions{MaxBytes: 1 << 20},
			func(o *orders.Order) error {
				if err := o.Validate(); err != nil {
					t.Fatalf("an invalid order was handed on: %v", err)
				}
				orders_++
				return nil
			})
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("not a message for people: %v", err)
			}
			return
		}
		total := 0
		for _, n := range rep.Rejected {
			total += n
		}
		if rep.RejectedRows > rep.Rows || rep.Orders != orders_ || rep.Orders > rep.Rows || total < len(rep.Errors) {
			t.Fatalf("counts do not add up: %+v", rep)
		}
	})
}

// FuzzParseCells checks amounts and times in a generic one-row file: each
// row is an order or refused with a reason.
func FuzzParseCells(f *testing.F) {
	for _, s := range []string{"1,234.50", "¥12", "-0.00", "1e9", "12.345", "2026-11-01 10:00", "45000.5", "2026年1月2日", "=A1", "+86 138", "\t=\"12\""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, amount, when string) {
		var b bytes.Buffer
		b.WriteString("order_no\ttotal\tordered_at\nA\t")
		b.WriteString(amount)
		b.WriteByte('\t')
		b.WriteString(when)
		b.WriteByte('\n')
		rep, err := orders.ReadOrders(context.Background(), bytes.NewReader(b.Bytes()), int64(b.Len()), orders.ImportOptions{},
			func(o *orders.Order) error {
				if o.TotalFen < 0 || o.TotalFen > orders.MaxAmountFen || o.OrderedAt.IsZero() {
					t.Fatalf("accepted %+v", o)
				}
				return nil
			})
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("not a message for people: %v", err)
			}
			return
		}
		if rep.Orders+rep.RejectedRows != rep.Rows {
			t.Fatalf("row neither imported nor refused: %+v", rep)
		}
		for _, e := range rep.Errors {
			if e.Code == "" || e.Message == "" {
				t.Fatalf("error without reason: %+v", e)
			}
		}
	})
}
