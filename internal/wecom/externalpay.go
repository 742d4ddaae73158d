package wecom

import (
	"context"
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of externalpay/get_bill_list (对外收款记录, path/93727).
const (
	MaxBillLimit = 1000                // records per page
	MaxBillSpan  = 31 * 24 * time.Hour // begin_time to end_time: "at most one month"
)

// Bill types and trade states of external payments.
const (
	BillPayment = 0 // 收款记录
	BillRefund  = 1 // 退款记录

	TradeDone         = 1 // 已完成
	TradeDoneRefunded = 3 // 已完成有退款
)

// Bill is one external payment record. The payer's name, phone and
// address WeCom also returns (payer_info) are not decoded: Kith has no
// purpose for them (privacy requirement P-8).
type Bill struct {
	TransactionID  string      `json:"transaction_id"`
	BillType       int         `json:"bill_type"`
	TradeState     int         `json:"trade_state"`
	PayTime        int64       `json:"pay_time"`
	OutTradeNo     string      `json:"out_trade_no"` // on refunds: the original payment's
	OutRefundNo    string      `json:"out_refund_no"`
	ExternalUserID string      `json:"external_userid"`
	TotalFee       int64       `json:"total_fee"` // fen
	PayeeUserID    string      `json:"payee_userid"`
	PaymentType    int         `json:"payment_type"`
	MchID          string      `json:"mch_id"`
	Remark         string      `json:"remark"`
	CommodityList  []Commodity `json:"commodity_list"`
	TotalRefundFee int64       `json:"total_refund_fee"`
}

// Commodity is one line of what a bill paid for.
type Commodity struct {
	Description string `json:"description"`
	Amount      int64  `json:"amount"`
}

// BillListResult is one page of external payment records.
type BillListResult struct {
	NextCursor string `json:"next_cursor"` // "" after the last page
	BillList   []Bill `json:"bill_list"`
}

// GetBillList returns one page of the external payment records paid from
// begin to end (POST externalpay/get_bill_list, path/93727): at most a month
// apart; payeeUserID "" for every member; cursor "" for the first page,
// then the previous NextCursor; limit 1 to 1000, or 0 for WeCom's default.
// WeCom leaves out records whose payee is outside the app's visibility, so
// a page may be short before the last: follow NextCursor until it is "".
func (c *Client) GetBillList(ctx context.Context, begin, end time.Time, payeeUserID, cursor string, limit int) (*BillListResult, error) {
	switch {
	case !end.After(begin):
		return nil, kith.Errorf(kith.EINVALID, "wecom: get_bill_list: the end (%s) must come after the begin (%s)", end.Format(time.RFC3339), begin.Format(time.RFC3339))
	case end.Sub(begin) > MaxBillSpan:
		return nil, kith.Errorf(kith.EINVALID, "wecom: get_bill_list spans at most a month, not %s; pull it in parts", end.Sub(begin).Round(time.Hour))
	case limit < 0 || limit > MaxBillLimit:
		return nil, kith.Errorf(kith.EINVALID, "wecom: get_bill_list limit is %d; it must be 1 to %d, or 0 for WeCom's default", limit, MaxBillLimit)
	}
	if payeeUserID != "" {
		if err := checkUserID("payee_userid", payeeUserID); err != nil {
			return nil, err
		}
	}
	in := struct {
		BeginTime   int64  `json:"begin_time"`
		EndTime     int64  `json:"end_time"`
		PayeeUserID string `json:"payee_userid,omitempty"`
		Cursor      string `json:"cursor,omitempty"`
		Limit       int    `json:"limit,omitempty"`
	}{begin.Unix(), end.Unix(), payeeUserID, cursor, limit}
	var out BillListResult
	if err := c.call(ctx, http.MethodPost, "externalpay/get_bill_list", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
