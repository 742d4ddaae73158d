package wecomtest

import (
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// External payments (对外收款, externalpay/get_bill_list, path/93727).

// PaymentBill is an external payment record the sandbox serves.
type PaymentBill struct {
	TransactionID  string
	BillType       int // 0 payment, 1 refund
	PayTime        int64
	OutTradeNo     string
	OutRefundNo    string
	ExternalUserID string
	TotalFee       int64 // fen
	PayeeUserID    string
	Remark         string
	Commodities    []string
	TotalRefundFee int64
}

// The bills live beside the sandbox's state, guarded by its mu.
var bills = map[*Sandbox][]PaymentBill{}

func init() {
	endpoints["/cgi-bin/externalpay/get_bill_list"] = endpoint{post: true, handle: (*Sandbox).apiGetBillList}
}

// AddBill adds an external payment record.
func (s *Sandbox) AddBill(b PaymentBill) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bills[s] = append(bills[s], b)
}

// SeedPayments adds n payment records (n <= 0: two per customer) by the
// seeded customers to their first followers, spread over the year before end; about one in ten is
// partly refunded. The same seed adds the same records.
func (s *Sandbox) SeedPayments(seed uint64, n int, end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := rand.New(rand.NewPCG(seed, 93727))
	if n <= 0 {
		n = 2 * len(s.st.customers)
	}
	for i := 0; i < n && len(s.st.customers) > 0; i++ {
		c := s.st.customers[r.IntN(len(s.st.customers))]
		payee := ""
		if rel := s.st.byCustomer[c.ExternalUserID]; len(rel) > 0 {
			payee = rel[0].UserID
		}
		fee := int64(1000 + r.IntN(100000))
		b := PaymentBill{TransactionID: "42000" + strconv.Itoa(100000+i), PayTime: end.Add(-time.Duration(r.Int64N(int64(364 * 24 * time.Hour)))).Unix(),
			OutTradeNo: "kith" + strconv.Itoa(100000+i), ExternalUserID: c.ExternalUserID, TotalFee: fee, PayeeUserID: payee,
			Commodities: []string{[]string{"定制礼盒", "会员年卡", "试饮装"}[r.IntN(3)]}}
		if r.IntN(10) == 0 {
			b.TotalRefundFee = fee / 2
		}
		bills[s] = append(bills[s], b)
	}
}

func (s *Sandbox) apiGetBillList(c *apiCall) (any, *apiError) {
	var in struct {
		BeginTime   int64  `json:"begin_time"`
		EndTime     int64  `json:"end_time"`
		PayeeUserID string `json:"payee_userid"`
		Cursor      string `json:"cursor"`
		Limit       int    `json:"limit"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	switch {
	case in.BeginTime <= 0 || in.EndTime <= 0 || in.EndTime < in.BeginTime:
		return nil, errf(CodeInvalidParameter, "invalid begin_time or end_time")
	case in.EndTime-in.BeginTime > 31*24*3600:
		return nil, errf(CodeInvalidParameter, "invalid time range: more than one month")
	case in.Limit < 0 || in.Limit > 1000:
		return nil, errf(CodeInvalidParameter, "invalid limit")
	case in.Limit == 0:
		in.Limit = 1000
	}
	var match []PaymentBill
	for _, b := range bills[s] {
		if b.PayTime >= in.BeginTime && b.PayTime <= in.EndTime && (in.PayeeUserID == "" || b.PayeeUserID == in.PayeeUserID) {
			match = append(match, b)
		}
	}
	slices.SortStableFunc(match, func(a, b PaymentBill) int { return int(a.PayTime - b.PayTime) })
	from := 0
	if in.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n < 0 || n > len(match) {
			return nil, errf(CodeInvalidParameter, "invalid cursor")
		}
		from = n
	}
	to := min(from+in.Limit, len(match))
	list := make([]map[string]any, 0, to-from)
	for _, b := range match[from:to] {
		items := make([]map[string]any, 0, len(b.Commodities))
		for _, d := range b.Commodities {
			items = append(items, map[string]any{"description": d, "amount": 1})
		}
		m := map[string]any{"transaction_id": b.TransactionID, "bill_type": b.BillType, "pay_time": b.PayTime, "out_trade_no": b.OutTradeNo,
			"external_userid": b.ExternalUserID, "total_fee": b.TotalFee, "payee_userid": b.PayeeUserID, "payment_type": 0, "mch_id": "1900000109",
			"remark": b.Remark, "commodity_list": items, "total_refund_fee": b.TotalRefundFee,
			// WeCom returns what the payer typed; Kith must not keep it.
			"payer_info": map[string]any{"name": "付款人", "phone": "13800000000", "address": "某省某市"}}
		if b.BillType == 1 {
			m["out_refund_no"] = b.OutRefundNo
		} else if b.TotalRefundFee > 0 {
			m["trade_state"] = 3
		} else {
			m["trade_state"] = 1
		}
		list = append(list, m)
	}
	next := ""
	if to < len(match) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(to)))
	}
	return success(okFields{"next_cursor": next, "bill_list": list}), nil
}
