package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
)

// The sandbox's demo shop: a year of orders with SKU codes from a small
// tea catalogue, so that segments on what customers bought (sku:,
// category:, aov, refunds, rfm …) mean something in `serve --sandbox`.

// demoShop is the demo orders' shop; its orders are written once.
const demoShop = "taobao:茶庄旗舰店"

// demoCatalogue is the demo shop's SKUs: code, title, category, unit price
// in fen.
var demoCatalogue = []struct {
	sku, title, category string
	price                int64
}{
	{"LJ-250", "明前龙井 250g", "绿茶", 32800}, {"BLC-100", "洞庭碧螺春 100g", "绿茶", 16800},
	{"DHP-200", "武夷大红袍 200g", "乌龙茶", 45800}, {"TGY-250", "安溪铁观音 250g", "乌龙茶", 19800},
	{"QM-150", "祁门红茶 150g", "红茶", 12800}, {"JJM-100", "金骏眉 100g", "红茶", 39800},
	{"PE-357", "普洱熟茶饼 357g", "普洱", 25800}, {"BC-300", "福鼎白茶饼 300g", "白茶", 21800},
	{"CJ-GW", "白瓷盖碗", "茶具", 8800}, {"CJ-SET", "旅行茶具套装", "茶具", 15800},
}

// sandboxOrders writes the demo shop's orders once the demo company is
// synced, then scores RFM, so the facts are there at the first look.
func sandboxOrders(ctx context.Context, db *store.DB, s *orders.Store, members int, log *slog.Logger) {
	if !waitMembers(ctx, db, members) {
		return
	}
	n, err := seedDemoOrders(ctx, db, s, time.Now(), SandboxSeed)
	if err != nil {
		log.Warn("sandbox orders", "err", err)
		return
	}
	if n > 0 {
		log.Info("sandbox: a year of demo orders written", "orders", n)
	}
}

// seedDemoOrders writes a year of orders up to now for about two customers
// in five, with the catalogue's categories, and scores RFM. It writes
// nothing when the demo shop has orders already, and returns how many it
// wrote.
func seedDemoOrders(ctx context.Context, db *store.DB, s *orders.Store, now time.Time, seed uint64) (int, error) {
	var have int
	if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE shop = $1`, demoShop).Scan(&have); err != nil {
		return 0, fmt.Errorf("sandbox: count demo orders: %w", err)
	}
	if have > 0 {
		return 0, nil
	}
	cats := map[string]string{}
	for _, c := range demoCatalogue {
		cats[c.sku] = c.category
	}
	if err := s.SetCategories(ctx, cats); err != nil {
		return 0, err
	}
	rows, err := db.R.QueryContext(ctx, `SELECT external_userid FROM customers WHERE external_userid <> '' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("sandbox: read customers: %w", err)
	}
	var buyers []string
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sandbox: read customers: %w", err)
		}
		buyers = append(buyers, ext)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sandbox: read customers: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 8))
	var all []*orders.Order
	for _, ext := range buyers {
		if r.IntN(5) >= 2 {
			continue
		}
		for range 1 + r.IntN(r.IntN(6)+1) { // most buy once or twice, a few often
			all = append(all, demoOrder(r, fmt.Sprintf("DEMO%07d", len(all)+1), ext, now))
		}
	}
	for len(all) > 0 {
		batch := all[:min(len(all), 100)] // short transactions: the writer serves the console meanwhile
		all = all[len(batch):]
		if err := s.Write(ctx, func(w *orders.Writer) error {
			for _, o := range batch {
				if _, err := w.Put(ctx, o); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
		have += len(batch)
	}
	if _, err := s.RefreshRFM(ctx); err != nil {
		return have, err
	}
	return have, nil
}

// demoOrder is one random order of a customer within the year before now.
func demoOrder(r *rand.Rand, no, ext string, now time.Time) *orders.Order {
	at := now.Add(-time.Duration(r.Int64N(int64(364 * 24 * time.Hour)))).Truncate(time.Second)
	o := &orders.Order{Shop: demoShop, OrderNo: no, Source: "import", ExternalUserID: ext, Status: orders.StatusCompleted,
		OrderedAt: at, PaidAt: at.Add(time.Minute)}
	for _, k := range r.Perm(len(demoCatalogue))[:1+r.IntN(3)] {
		c := demoCatalogue[k]
		q := 1 + r.IntN(2)
		o.Items = append(o.Items, orders.Item{SKU: c.sku, Title: c.title, Quantity: q, PriceFen: c.price})
		o.TotalFen += int64(q) * c.price
	}
	switch n := r.IntN(20); {
	case n == 0:
		o.Status, o.RefundFen = orders.StatusRefunded, o.TotalFen
	case n <= 2:
		o.RefundFen = o.TotalFen / 4 // a partial refund: a broken cup, a late parcel
	case at.After(now.Add(-72 * time.Hour)):
		o.Status = orders.StatusShipped
	}
	return o
}
