// Package jsttest is a local stand-in for the 聚水潭 open platform's order
// query, for tests and the sandbox: it checks each call's parameters and
// sign as the platform does and serves the orders it holds, paged.
package jsttest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/orders/jst"
)

// Credentials of a sandbox made by Start.
const (
	AppKey      = "kith-sandbox-app"
	AppSecret   = "kith-sandbox-secret"
	AccessToken = "kith-sandbox-token"
)

// Error codes the sandbox answers besides the client's known ones.
const (
	CodeBadParam = 10 // a missing or wrong parameter
	CodeBadSign  = 20 // the sign does not match
)

// Sandbox holds orders and answers the order query.
type Sandbox struct {
	AppKey, AppSecret, AccessToken string
	// Now tells the time, to check timestamps; nil is time.Now.
	Now func() time.Time

	mu        sync.Mutex
	orders    []map[string]any
	rateLimit int // the next calls refused with 199
	calls     int
}

// SetAccessToken changes the access token the sandbox accepts while it
// serves (a test's "the merchant made a new token").
func (s *Sandbox) SetAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.AccessToken = token
}

// Server is a sandbox on an HTTP test server.
type Server struct {
	*Sandbox
	URL string
}

// New returns a sandbox with the credentials above, to serve with
// ServeHTTP (serve --sandbox mounts it beside the WeCom sandbox).
func New() *Sandbox {
	return &Sandbox{AppKey: AppKey, AppSecret: AppSecret, AccessToken: AccessToken}
}

// Shops are the shops Seed's orders come from: number, name, site.
var Shops = []struct {
	ID         int64
	Name, Site string
}{{10, "天猫旗舰店", "淘宝天猫"}, {11, "京东自营店", "京东"}, {12, "抖音小店", "抖音"}}

// Start serves a sandbox until the test ends.
func Start(tb testing.TB) *Server {
	s := New()
	srv := httptest.NewServer(s)
	tb.Cleanup(srv.Close)
	return &Server{Sandbox: s, URL: srv.URL}
}

// AddOrder adds an order as the platform returns it (its "modified" time,
// yyyy-MM-dd HH:mm:ss in Beijing time, decides which queries find it). An
// order with the same so_id replaces the earlier one.
func (s *Sandbox) AddOrder(o map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.orders {
		if old["so_id"] == o["so_id"] {
			s.orders[i] = o
			return
		}
	}
	s.orders = append(s.orders, o)
}

// RateLimitNext refuses the next n calls with code 199.
func (s *Sandbox) RateLimitNext(n int) {
	s.mu.Lock()
	s.rateLimit = n
	s.mu.Unlock()
}

// Calls returns how many calls were answered.
func (s *Sandbox) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Seed adds n realistic orders modified in the days before end: shops,
// buyers who come back, plain and masked mobiles, a few refunds.
func (s *Sandbox) Seed(seed uint64, n int, end time.Time) { s.SeedPhones(seed, n, end, nil) }

// SeedPhones is Seed with the buyers' plain mobile numbers taken from
// phones (the sandbox's demo customers', so orders join them).
func (s *Sandbox) SeedPhones(seed uint64, n int, end time.Time, phones []string) {
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range n {
		at := end.Add(-time.Duration(r.Int64N(int64(80 * 24 * time.Hour)))).In(jst.Beijing)
		buyer := r.IntN(max(n/3, 1))
		price := 1900 + r.IntN(30000)
		qty := 1 + r.IntN(2)
		mobile := fmt.Sprintf("139%08d", buyer)
		if len(phones) > 0 {
			mobile = phones[buyer%len(phones)]
		}
		if buyer%2 == 1 {
			mobile = mobile[:3] + "****" + mobile[7:]
		}
		status := []string{"Sent", "Sent", "WaitConfirm", "WaitPay", "Cancelled"}[r.IntN(5)]
		o := map[string]any{"o_id": 500000 + i, "so_id": strconv.Itoa(880000000 + i), "shop_id": Shops[buyer%3].ID, "shop_name": Shops[buyer%3].Name, "shop_site": Shops[buyer%3].Site,
			"shop_buyer_id": fmt.Sprintf("buyer_%05d", buyer), "status": status, "paid_amount": yuan(price * qty), "freight": "0.00",
			"order_date": at.Format(jst.TimeLayout), "pay_date": at.Add(time.Minute).Format(jst.TimeLayout),
			"modified": at.Add(time.Hour).Format(jst.TimeLayout), "receiver_name": "收件人", "receiver_mobile": mobile,
			"receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "西湖区", "receiver_address": "文三路 1 号",
			"buyer_message": "请尽快发货", "items": []map[string]any{{"sku_id": fmt.Sprintf("SKU-%03d", r.IntN(50)), "name": "商品", "qty": qty,
				"price": yuan(price), "amount": yuan(price * qty), "refund_status": "none"}}}
		if status == "Sent" {
			o["send_date"] = at.Add(20 * time.Hour).Format(jst.TimeLayout)
		}
		s.AddOrder(o)
	}
}

func yuan(fen int) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

func answer(w http.ResponseWriter, code int, msg string, data any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"code": code, "msg": msg, "issuccess": code == 0, "data": data})
}

// ServeHTTP answers the order query.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != jst.OrdersPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		answer(w, CodeBadParam, "only POST", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		answer(w, CodeBadParam, "the form cannot be read", nil)
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.rateLimit > 0 {
		s.rateLimit--
		answer(w, jst.CodeRateLimited, "接口调用频率超过限制", nil)
		return
	}
	for _, k := range []string{"app_key", "access_token", "timestamp", "charset", "version", "biz", "sign"} {
		if f.Get(k) == "" {
			answer(w, CodeBadParam, "missing "+k, nil)
			return
		}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts, err := strconv.ParseInt(f.Get("timestamp"), 10, 64)
	appKey, appSecret, token := s.AppKey, s.AppSecret, s.AccessToken // under s.mu: SetAccessToken may change them
	switch {
	case f.Get("charset") != "utf-8":
		answer(w, CodeBadParam, "charset must be utf-8", nil)
	case f.Get("version") != "2":
		answer(w, CodeBadParam, "version must be 2", nil)
	case err != nil || now().Unix()-ts > 600 || ts-now().Unix() > 600:
		answer(w, CodeBadParam, "timestamp must be the Unix time in seconds", nil)
	case f.Get("app_key") != appKey || f.Get("sign") != jst.Sign(f, appSecret):
		answer(w, CodeBadSign, "签名错误", nil)
	case f.Get("access_token") != token:
		answer(w, jst.CodeTokenInvalid, "access_token无效", nil)
	default:
		s.query(w, f.Get("biz"))
	}
}

func (s *Sandbox) query(w http.ResponseWriter, biz string) {
	var q struct {
		PageIndex     int    `json:"page_index"`
		PageSize      int    `json:"page_size"`
		ModifiedBegin string `json:"modified_begin"`
		ModifiedEnd   string `json:"modified_end"`
	}
	if err := json.Unmarshal([]byte(biz), &q); err != nil {
		answer(w, CodeBadParam, "biz is not JSON", nil)
		return
	}
	begin, err1 := time.ParseInLocation(jst.TimeLayout, q.ModifiedBegin, jst.Beijing)
	end, err2 := time.ParseInLocation(jst.TimeLayout, q.ModifiedEnd, jst.Beijing)
	switch {
	case err1 != nil || err2 != nil || end.Before(begin):
		answer(w, CodeBadParam, "modified_begin and modified_end are yyyy-MM-dd HH:mm:ss", nil)
		return
	case end.Sub(begin) > jst.MaxSpan:
		answer(w, CodeBadParam, "the time span is at most 7 days", nil)
		return
	case q.PageIndex < 1 || q.PageSize < 1 || q.PageSize > jst.MaxPageSize:
		answer(w, CodeBadParam, "page_index from 1, page_size 1 to 100", nil)
		return
	}
	var match []map[string]any
	for _, o := range s.orders {
		m, err := time.ParseInLocation(jst.TimeLayout, fmt.Sprint(o["modified"]), jst.Beijing)
		if err == nil && !m.Before(begin) && !m.After(end) {
			match = append(match, o)
		}
	}
	sort.SliceStable(match, func(i, j int) bool { return fmt.Sprint(match[i]["modified"]) < fmt.Sprint(match[j]["modified"]) })
	from := min((q.PageIndex-1)*q.PageSize, len(match))
	to := min(from+q.PageSize, len(match))
	pages := (len(match) + q.PageSize - 1) / q.PageSize
	answer(w, 0, "执行成功", map[string]any{"page_index": q.PageIndex, "page_size": q.PageSize, "data_count": len(match),
		"page_count": pages, "has_next": to < len(match), "orders": match[from:to]})
}
