package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

func newKeyB64() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b), b
}

const webhookBody = `{"orders": [
  {"shop": "mall", "order_no": "W1", "buyer_account": "u_1001", "receiver_phone": "13812341234",
   "receiver_address": "上海市 上海市 浦东新区 世纪大道 100 号", "status": "paid", "total_fen": 25800, "freight_fen": 800,
   "ordered_at": "2026-11-30T10:00:00+08:00", "paid_at": "2026-11-30T10:01:00+08:00",
   "items": [{"sku": "TEA-01", "title": "龙井 250g", "quantity": 2, "price_fen": 12500}]},
  {"shop": "mall", "order_no": "W2", "status": "pending", "total_fen": 9900, "ordered_at": "2026-11-30T11:00:00+08:00"}
]}`

func TestOrdersWebhook(t *testing.T) {
	session, _ := newKeyB64()
	field, fieldKey := newKeyB64()
	blind, blindKey := newKeyB64()
	in := apptest.Start(t, apptest.Options{Env: map[string]string{"KITH_SESSION_KEY": session, "KITH_FIELD_KEY": field, "KITH_BLIND_INDEX_KEY": blind}})
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := protect.New(fieldKey, blindKey)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := orders.NewStore(db, p, kith.SystemClock{}).AddSource(context.Background(), "mall")
	if err != nil {
		t.Fatal(err)
	}
	send := func(source string, ts time.Time, body string, sign func(ts string, body []byte) string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", in.URL+"/api/v1/orders/webhook/"+source, strings.NewReader(body))
		stamp := strconv.FormatInt(ts.Unix(), 10)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(orders.HeaderTimestamp, stamp)
		req.Header.Set(orders.HeaderSignature, sign(stamp, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := func(ts string, body []byte) string { return orders.Sign(secret, ts, body) }
	count := func() int {
		var n int
		db.R.QueryRow(`SELECT count(*) FROM orders`).Scan(&n)
		return n
	}

	code, body := send("mall", time.Now(), webhookBody, good)
	var res orders.WebhookResult
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Inserted != 2 || res.Received != 2 {
		t.Fatalf("delivery: %d %s", code, body)
	}
	// A replay inside the window changes nothing.
	if code, body = send("mall", time.Now(), webhookBody, good); code != 200 || !strings.Contains(body, `"unchanged": 2`) {
		t.Fatalf("again: %d %s", code, body)
	}
	var shop, phone string
	db.R.QueryRow(`SELECT shop, phone_sealed FROM orders WHERE order_no = 'W1'`).Scan(&shop, &phone)
	if shop != "mall:mall" || phone == "" || strings.Contains(phone, "1234") {
		t.Fatalf("stored shop %q phone %q", shop, phone)
	}
	moved := strings.Replace(webhookBody, `"status": "pending"`, `"status": "cancelled"`, 1)
	conflict := strings.Replace(moved, `"total_fen": 25800`, `"total_fen": 1`, 1)
	if code, body = send("mall", time.Now(), conflict, good); code != 200 || !strings.Contains(body, `"updated": 1`) || !strings.Contains(body, `"order_no": "W1"`) {
		t.Fatalf("conflict: %d %s", code, body)
	}

	refusals := []struct {
		name, source, body string
		ts                 time.Time
		sign               func(string, []byte) string
		code               int
		want               string
	}{
		{"bad signature", "mall", webhookBody, time.Now(), func(ts string, b []byte) string { return orders.Sign("wrong", ts, b) }, 401, "signature does not match"},
		{"unknown source", "other", webhookBody, time.Now(), good, 401, "signature does not match"},
		{"old timestamp", "mall", webhookBody, time.Now().Add(-10 * time.Minute), good, 401, "replay"},
		{"body changed after signing", "mall", webhookBody, time.Now(), func(ts string, b []byte) string { return orders.Sign(secret, ts, append(b, ' ')) }, 401, "signature"},
		{"undeclared field", "mall", `{"orders": [{"order_no": "X", "id_card_no": "110101"}]}`, time.Now(), good, 400, "id_card_no"},
		{"invalid order", "mall", strings.Replace(strings.Replace(webhookBody, `"W2"`, `"W3"`, 1), `"total_fen": 9900`, `"total_fen": -1`, 1), time.Now(), good, 400, "orders[1] (W3): total is negative"},
		{"no orders", "mall", `{"orders": []}`, time.Now(), good, 400, "no orders"},
		{"too large", "mall", `{"orders": "` + strings.Repeat("x", orders.WebhookMaxBody) + `"}`, time.Now(), good, 413, "larger than 4 MB"},
	}
	for _, r := range refusals {
		before := count()
		code, body := send(r.source, r.ts, r.body, r.sign)
		if code != r.code || !strings.Contains(body, r.want) {
			t.Errorf("%s: %d %s", r.name, code, body)
		}
		if count() != before {
			t.Errorf("%s: orders written", r.name)
		}
	}
}

// TestCustomerPageShowsOrders: a webhook order with the customer's
// external_userid appears on the customer page with the facts, the phone
// masked; the page shows no plain number.
func TestCustomerPageShowsOrders(t *testing.T) {
	session, _ := newKeyB64()
	field, fieldKey := newKeyB64()
	blind, blindKey := newKeyB64()
	in := apptest.Start(t, apptest.Options{Env: map[string]string{"KITH_SESSION_KEY": session, "KITH_FIELD_KEY": field, "KITH_BLIND_INDEX_KEY": blind}})
	db := mustStore(t, in)
	seedDirectory(t, db, 3)
	p, _ := protect.New(fieldKey, blindKey)
	st := orders.NewStore(db, p, kith.SystemClock{})
	secret, err := st.AddSource(context.Background(), "mall")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"orders": [{"shop": "mall", "order_no": "W77", "external_userid": "wm002", "receiver_phone": "13812341234",
	  "receiver_address": "浙江省杭州市西湖区文三路 1 号", "status": "completed", "total_fen": 25800,
	  "ordered_at": "2026-11-30T10:00:00+08:00", "items": [{"sku": "TEA-01", "title": "龙井", "quantity": 2, "price_fen": 12900}]}]}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest("POST", in.URL+"/api/v1/orders/webhook/mall", strings.NewReader(body))
	req.Header.Set(orders.HeaderTimestamp, ts)
	req.Header.Set(orders.HeaderSignature, orders.Sign(secret, ts, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	c := newClient(t, in)
	c.login("owner", apptest.OwnerPassword)
	r, page := c.do("GET", "/customers/wm002", nil, nil)
	if r.StatusCode != 200 || !strings.Contains(page, `id="orders-list"`) || !strings.Contains(page, "W77") || !strings.Contains(page, "138****1234") ||
		!strings.Contains(page, "浙江省杭州市****") || !strings.Contains(page, "258.00") || !strings.Contains(page, "龙井 ×2") {
		t.Fatalf("customer page: %d\n%s", r.StatusCode, page)
	}
	if strings.Contains(page, "13812341234") || strings.Contains(page, "文三路") {
		t.Fatal("the page shows a protected value in full")
	}
	if _, other := c.do("GET", "/customers/wm001", nil, nil); !strings.Contains(other, `id="orders-none"`) {
		t.Fatal("another customer shows orders")
	}
}
