package orderstest_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/orderstest"
)

func TestWriteTaobaoCSVIsReadWhole(t *testing.T) {
	var a, b bytes.Buffer
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	orderstest.WriteTaobaoCSV(&a, 300, 7, end)
	orderstest.WriteTaobaoCSV(&b, 300, 7, end)
	if a.String() != b.String() || strings.Count(a.String(), "\n") != 301 {
		t.Fatal("not deterministic or wrong length")
	}
	n := 0
	rep, err := orders.ReadOrders(context.Background(), bytes.NewReader(a.Bytes()), int64(a.Len()), orders.ImportOptions{},
		func(*orders.Order) error { n++; return nil })
	if err != nil || rep.Mapping != "taobao" || rep.Orders != 300 || n != 300 || rep.RejectedRows != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
}
