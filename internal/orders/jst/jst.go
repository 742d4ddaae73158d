// Package jst is the ERP connector for 聚水潭 (Jushuitan), a widely used
// Chinese ERP that aggregates the big stores' orders: it pulls orders by
// modified time from the open platform's order query
// (/open/orders/single/query, API version 2) with a cursor, signing each
// call as the platform documents (Sign), and writes them to the orders
// store.
package jst

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// DefaultBaseURL is the open platform's gateway.
const DefaultBaseURL = "https://openapi.jushuitan.com"

// OrdersPath is the order query.
const OrdersPath = "/open/orders/single/query"

// Limits of the order query.
const (
	MaxPageSize = 100                // orders per page
	MaxSpan     = 7 * 24 * time.Hour // modified_begin to modified_end
)

// TimeLayout is how the platform writes times, in Beijing time.
const TimeLayout = "2006-01-02 15:04:05"

// Beijing is the platform's time zone.
var Beijing = time.FixedZone("CST", 8*3600)

// Sign computes a request's sign: every parameter but sign with a value,
// sorted by name, written name then value with no separator, after the app
// secret; the lowercase hex MD5 of that, in UTF-8.
func Sign(params url.Values, secret string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" && params.Get(k) != "" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(secret)
	for _, k := range names {
		b.WriteString(k)
		b.WriteString(params.Get(k))
	}
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Client calls the open platform for one merchant.
type Client struct {
	BaseURL     string // DefaultBaseURL when empty
	AppKey      string
	AppSecret   string
	AccessToken string
	HTTP        *http.Client // nil: a client with a 30 s timeout
	Now         func() time.Time
	// Retries is how often a rate-limited call (codes 199, 200) is tried
	// again, after RetryWait, doubled each time.
	Retries   int
	RetryWait time.Duration
}

// Query is one page of the order query.
type Query struct {
	ModifiedBegin, ModifiedEnd time.Time
	PageIndex                  int // from 1
	PageSize                   int // 1 to 100
}

// Page is one page of orders.
type Page struct {
	PageIndex int     `json:"page_index"`
	PageSize  int     `json:"page_size"`
	DataCount int     `json:"data_count"`
	PageCount int     `json:"page_count"`
	HasNext   bool    `json:"has_next"`
	Orders    []Order `json:"orders"`
}

// Order is an order as the platform returns it; only the fields Kith keeps
// are decoded (receiver names, buyer messages, invoices are not).
type Order struct {
	OID              int64  `json:"o_id"`
	SoID             string `json:"so_id"`
	ShopID           int64  `json:"shop_id"`
	ShopName         string `json:"shop_name"`
	ShopSite         string `json:"shop_site"` // the platform, e.g. 淘宝天猫, 京东
	ShopBuyerID      string `json:"shop_buyer_id"`
	Status           string `json:"status"`
	PaidAmount       Amount `json:"paid_amount"`
	Freight          Amount `json:"freight"`
	OrderDate        string `json:"order_date"`
	PayDate          string `json:"pay_date"`
	SendDate         string `json:"send_date"`
	EndTime          string `json:"end_time"`
	Modified         string `json:"modified"`
	ReceiverMobile   string `json:"receiver_mobile"`
	ReceiverState    string `json:"receiver_state"`
	ReceiverCity     string `json:"receiver_city"`
	ReceiverDistrict string `json:"receiver_district"`
	ReceiverAddress  string `json:"receiver_address"`
	Items            []Item `json:"items"`
}

// Item is one line of an order.
type Item struct {
	SkuID        string `json:"sku_id"`
	Name         string `json:"name"`
	Qty          int    `json:"qty"`
	Price        Amount `json:"price"`
	Amount       Amount `json:"amount"`
	RefundStatus string `json:"refund_status"`
}

// Amount is a money amount in yuan as the platform writes it: a number or
// a string, "" for none. It holds fen.
type Amount int64

// UnmarshalJSON reads 12.5, "12.50" or "".
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*a = 0
		return nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		frac = frac[:2]
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return fmt.Errorf("jst: amount %q", s)
	}
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	if strings.HasPrefix(whole, "-") {
		f = -f
	}
	*a = Amount(w*100 + f)
	return nil
}

// Error is an answer with a code other than 0.
type Error struct {
	Code int
	Msg  string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("jst: code %d: %s", e.Code, e.Msg) }

// The codes clients handle.
const (
	CodeTokenInvalid = 100 // the access_token is invalid or expired: refresh it
	CodeIPNotAllowed = 110 // the server's IP is not on the app's list
	CodeRateLimited  = 199 // too many calls; also 200
)

// QueryOrders returns one page of orders modified in the query's span.
func (c *Client) QueryOrders(ctx context.Context, q Query) (*Page, error) {
	switch {
	case !q.ModifiedEnd.After(q.ModifiedBegin):
		return nil, kith.Errorf(kith.EINVALID, "jst: the modified span must end after it begins")
	case q.ModifiedEnd.Sub(q.ModifiedBegin) > MaxSpan:
		return nil, kith.Errorf(kith.EINVALID, "jst: the modified span is at most 7 days, not %s", q.ModifiedEnd.Sub(q.ModifiedBegin))
	case q.PageIndex < 1 || q.PageSize < 1 || q.PageSize > MaxPageSize:
		return nil, kith.Errorf(kith.EINVALID, "jst: page index from 1 and page size from 1 to %d", MaxPageSize)
	}
	biz, _ := json.Marshal(map[string]any{"page_index": q.PageIndex, "page_size": q.PageSize,
		"modified_begin": q.ModifiedBegin.In(Beijing).Format(TimeLayout), "modified_end": q.ModifiedEnd.In(Beijing).Format(TimeLayout)})
	var page Page
	wait := c.RetryWait
	for try := 0; ; try++ {
		err := c.call(ctx, OrdersPath, string(biz), &page)
		var je *Error
		if errors.As(err, &je) && (je.Code == CodeRateLimited || je.Code == 200) && try < c.Retries {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			wait *= 2
			continue
		}
		if err != nil {
			return nil, err
		}
		return &page, nil
	}
}

func (c *Client) call(ctx context.Context, path, biz string, out any) error {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	form := url.Values{"app_key": {c.AppKey}, "access_token": {c.AccessToken}, "timestamp": {strconv.FormatInt(now().Unix(), 10)},
		"charset": {"utf-8"}, "version": {"2"}, "biz": {biz}}
	form.Set("sign", Sign(form, c.AppSecret))
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return kith.Errorf(kith.EUNAVAILABLE, "jst: %s cannot be reached: %v", path, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return kith.Errorf(kith.EUNAVAILABLE, "jst: %s: reading the answer: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return kith.Errorf(kith.EUNAVAILABLE, "jst: %s answered HTTP %d", path, resp.StatusCode)
	}
	var env struct {
		Code int             `json:"code"`
		Msg  string          `json:"msg"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("jst: %s: the answer is not JSON: %w", path, err)
	}
	if env.Code != 0 {
		return &Error{Code: env.Code, Msg: env.Msg}
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("jst: %s: the data cannot be read: %w", path, err)
	}
	return nil
}
