// Package wecompay pulls WeCom external payments (对外收款) into the orders
// store, attached to the payer (external_userid) and the member who
// collected them.
package wecompay

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/wecom"
)

// CursorName is the orders cursor the pull keeps: the Unix time up to which
// records were read.
const CursorName = "wecom.externalpay"

// Defaults of a pull.
const (
	// FirstPull is how far back the first pull reads: a year, so the
	// customer facts' 365-day window is whole.
	FirstPull = 365 * 24 * time.Hour
	// Overlap is read again on every pull, for records WeCom lists late.
	Overlap = 24 * time.Hour
	// window is one call's span: within get_bill_list's month.
	window = 30 * 24 * time.Hour
)

// Lister is the WeCom call a pull needs (*wecom.Client has it).
type Lister interface {
	GetBillList(ctx context.Context, begin, end time.Time, payeeUserID, cursor string, limit int) (*wecom.BillListResult, error)
}

// Result counts what a pull did.
type Result struct {
	Calls     int `json:"calls"`
	Payments  int `json:"payments"`
	Refunds   int `json:"refunds"`
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Conflicts int `json:"conflicts"`
}

// Puller pulls external payments.
type Puller struct {
	Store    *orders.Store
	Lister   Lister
	PageSize int // records per call; 0 is wecom.MaxBillLimit
}

// Pull reads the records paid since the last pull (a year back the first
// time, a day of overlap after) up to now, a month at a time, and writes
// each month with the cursor in one transaction: a failure loses nothing
// and the next pull goes on from the last whole month.
func (p *Puller) Pull(ctx context.Context, now time.Time) (Result, error) {
	var res Result
	cur, err := p.Store.Cursor(ctx, CursorName)
	if err != nil {
		return res, err
	}
	from := now.Add(-FirstPull)
	if sec, err := strconv.ParseInt(cur, 10, 64); err == nil && cur != "" {
		from = time.Unix(sec, 0).Add(-Overlap)
	}
	for from.Before(now) {
		to := from.Add(window)
		if to.After(now) {
			to = now
		}
		var bills []wecom.Bill
		cursor := ""
		for {
			page, err := p.Lister.GetBillList(ctx, from, to, "", cursor, p.PageSize)
			res.Calls++
			if err != nil {
				return res, err
			}
			bills = append(bills, page.BillList...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if err := p.Store.Write(ctx, func(w *orders.Writer) error {
			for i := range bills {
				if err := put(ctx, w, &bills[i], &res); err != nil {
					return err
				}
			}
			return w.SetCursor(ctx, CursorName, strconv.FormatInt(to.Unix(), 10))
		}); err != nil {
			return res, err
		}
		from = to
	}
	return res, nil
}

func put(ctx context.Context, w *orders.Writer, b *wecom.Bill, res *Result) error {
	var out orders.Outcome
	var err error
	if b.BillType == wecom.BillRefund {
		res.Refunds++
		no := b.OutRefundNo
		if no == "" {
			no = b.TransactionID
		}
		out, err = w.PutRefund(ctx, &orders.Refund{Source: "wecom", RefundNo: no, OutTradeNo: b.OutTradeNo, AmountFen: b.TotalFee,
			RefundedAt: time.Unix(b.PayTime, 0).UTC()})
	} else {
		res.Payments++
		var what []string
		for _, c := range b.CommodityList {
			what = append(what, c.Description)
		}
		out, err = w.PutPayment(ctx, &orders.Payment{Source: "wecom", TransactionID: b.TransactionID, ExternalUserID: b.ExternalUserID,
			MemberUserID: b.PayeeUserID, AmountFen: b.TotalFee, RefundedFen: min(b.TotalRefundFee, b.TotalFee),
			PaidAt: time.Unix(b.PayTime, 0).UTC(), Description: strings.Join(what, "; "), OutTradeNo: b.OutTradeNo})
	}
	if err != nil {
		return err
	}
	switch out {
	case orders.Inserted:
		res.Inserted++
	case orders.Updated:
		res.Updated++
	case orders.Conflict:
		res.Conflicts++
	}
	return nil
}
