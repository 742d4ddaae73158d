package jst

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/orders"
)

// Connector pulls one merchant's orders into the orders store.
type Connector struct {
	Name     string // the connector's name: its cursor is "erp:jst:NAME"
	Client   *Client
	Store    *orders.Store
	PageSize int // 0: MaxPageSize
	// FirstPull is how far back the first pull reads (0: 90 days).
	FirstPull time.Duration
	// Shops maps a shop number to the shop key its orders get (Settings);
	// shops not listed get ShopKey's.
	Shops map[int64]string
}

// sites are the platforms an order's shop_site names, by a word in it, as
// the shop key's platform: the same prefixes the file presets write.
var sites = []struct{ word, platform string }{
	{"淘宝", "taobao"}, {"天猫", "taobao"}, {"京东", "jd"}, {"拼多多", "pdd"}, {"抖音", "douyin"}, {"抖店", "douyin"},
	{"头条", "douyin"}, {"有赞", "youzan"},
}

// ShopKey is the shop key of an order's shop when the settings map none:
// the platform its site names (taobao for 淘宝天猫, jd for 京东 …, the
// prefixes of the file presets) and its name, so a shop's export file
// imported with its name and the same shop's orders pulled here share
// their orders. A site Kith does not know gives "jst" as the platform; the
// shop's number stands in for a missing name.
func ShopKey(site, name string, id int64) string {
	platform := "jst"
	for _, s := range sites {
		if strings.Contains(site, s.word) {
			platform = s.platform
			break
		}
	}
	if strings.TrimSpace(name) == "" {
		name = strconv.FormatInt(id, 10)
	}
	return orders.ShopKey(platform, name)
}

// Result counts what a pull did.
type Result struct {
	Calls     int `json:"calls"`
	Orders    int `json:"orders"`
	Skipped   int `json:"skipped"` // merged into or split into other orders
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Conflicts int `json:"conflicts"`
	Invalid   int `json:"invalid"`
}

// overlap is read again each pull: orders modified while a window was
// being paged would otherwise be missed.
const overlap = 10 * time.Minute

// Pull reads the orders modified since the cursor, up to now, seven days
// at a time, and writes each window's orders with the cursor in one
// transaction.
func (c *Connector) Pull(ctx context.Context, now time.Time) (Result, error) {
	var res Result
	name := "erp:jst:" + c.Name
	cur, err := c.Store.Cursor(ctx, name)
	if err != nil {
		return res, err
	}
	first := c.FirstPull
	if first == 0 {
		first = 90 * 24 * time.Hour
	}
	from := now.Add(-first)
	if sec, err := strconv.ParseInt(cur, 10, 64); err == nil {
		from = time.Unix(sec, 0).Add(-overlap)
	}
	size := c.PageSize
	if size == 0 {
		size = MaxPageSize
	}
	for from.Before(now) {
		to := from.Add(MaxSpan)
		if to.After(now) {
			to = now
		}
		var got []Order
		for page := 1; ; page++ {
			p, err := c.Client.QueryOrders(ctx, Query{ModifiedBegin: from, ModifiedEnd: to, PageIndex: page, PageSize: size})
			res.Calls++
			if err != nil {
				return res, err
			}
			got = append(got, p.Orders...)
			if !p.HasNext || len(p.Orders) == 0 {
				break
			}
		}
		err := c.Store.Write(ctx, func(w *orders.Writer) error {
			for i := range got {
				o, ok := c.order(&got[i])
				res.Orders++
				if !ok {
					res.Skipped++
					continue
				}
				if o.Validate() != nil {
					res.Invalid++
					continue
				}
				out, err := w.Put(ctx, o)
				if err != nil {
					return err
				}
				switch out {
				case orders.Inserted:
					res.Inserted++
				case orders.Updated:
					res.Updated++
				case orders.Unchanged:
					res.Unchanged++
				case orders.Conflict:
					res.Conflicts++
				}
			}
			return w.SetCursor(ctx, name, strconv.FormatInt(to.Unix(), 10))
		})
		if err != nil {
			return res, err
		}
		from = to
	}
	return res, nil
}

// order maps a platform order; false for orders merged into or split into
// others, which the platform lists beside the orders that replace them.
func (c *Connector) order(j *Order) (*orders.Order, bool) {
	var st orders.Status
	switch j.Status {
	case "Merged", "Split":
		return nil, false
	case "WaitPay":
		st = orders.StatusPending
	case "Sent":
		st = orders.StatusShipped
		if j.EndTime != "" {
			st = orders.StatusCompleted
		}
	case "Cancelled":
		st = orders.StatusCancelled
	default: // Delivering, WaitConfirm, WaitFConfirm, WaitOuterSent, Question
		st = orders.StatusPaid
	}
	no := j.SoID
	if no == "" {
		no = strconv.FormatInt(j.OID, 10)
	}
	shop, ok := c.Shops[j.ShopID]
	if !ok {
		shop = ShopKey(j.ShopSite, j.ShopName, j.ShopID)
	}
	o := &orders.Order{Shop: shop, OrderNo: no, Source: "erp:jst:" + c.Name, BuyerAccount: j.ShopBuyerID, Phone: j.ReceiverMobile,
		Status: st, TotalFen: int64(j.PaidAmount), FreightFen: int64(j.Freight)}
	var addr []string
	for _, p := range []string{j.ReceiverState, j.ReceiverCity, j.ReceiverDistrict, j.ReceiverAddress} {
		if p = strings.TrimSpace(p); p != "" {
			addr = append(addr, p)
		}
	}
	o.Address = strings.Join(addr, " ")
	o.OrderedAt = parse(j.OrderDate)
	o.PaidAt, o.ShippedAt, o.CompletedAt = parse(j.PayDate), parse(j.SendDate), parse(j.EndTime)
	for _, it := range j.Items {
		q := max(it.Qty, 1)
		o.Items = append(o.Items, orders.Item{SKU: it.SkuID, Title: it.Name, Quantity: q, PriceFen: int64(it.Price)})
		if it.RefundStatus == "success" {
			o.RefundFen += int64(it.Amount)
		}
	}
	if o.RefundFen > o.TotalFen {
		o.RefundFen = o.TotalFen
	}
	if o.RefundFen > 0 && o.RefundFen == o.TotalFen && st.Counts() {
		o.Status = orders.StatusRefunded
	}
	return o, true
}

func parse(s string) time.Time {
	t, err := time.ParseInLocation(TimeLayout, strings.TrimSpace(s), Beijing)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
