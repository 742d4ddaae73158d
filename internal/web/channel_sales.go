package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/orders"
)

// salesSum is what purchases came to, for the templates.
type salesSum struct {
	Member    string
	Purchases int
	AmountFen int64
}

// Amount is the sum in yuan.
func (s salesSum) Amount() string { return orders.Yuan(s.AmountFen) }

// channelSales are a channel's sales over its statistics' days
// (orders.ChannelSalesOf), shown beside the new and lost customers.
type channelSales struct {
	ByDay map[string]salesSum // day → that day's sales
	Total salesSum
	Cells []orders.SalesCell // per day and member, for the CSV
}

// channelSalesOf reads a channel's sales over the days of st.
func (s *Server) channelSalesOf(ctx context.Context, ch *acquisition.Channel, st *acquisition.Stats) (*channelSales, error) {
	loc := s.Acquisition.Location()
	from, err := time.ParseInLocation(time.DateOnly, st.From, loc)
	if err != nil {
		return nil, err
	}
	to, err := time.ParseInLocation(time.DateOnly, st.To, loc)
	if err != nil {
		return nil, err
	}
	cells, err := orders.ChannelSalesOf(ctx, s.DB.R, ch.State, from, to, loc)
	if err != nil {
		return nil, err
	}
	cs := &channelSales{ByDay: map[string]salesSum{}, Cells: cells}
	for _, c := range cells {
		d := cs.ByDay[c.Day]
		d.Purchases += c.Purchases
		d.AmountFen += c.AmountFen
		cs.ByDay[c.Day] = d
		cs.Total.Purchases += c.Purchases
		cs.Total.AmountFen += c.AmountFen
	}
	return cs, nil
}

// writeChannelCSV writes a channel's statistics per day and member with
// the sales attributed to that member on that day: the member who added a
// customer (new, lost) and the member who owned the buyer (purchases) are
// the same row when they are the same person.
func writeChannelCSV(w io.Writer, st *acquisition.Stats, sales *channelSales) error {
	type key struct{ day, member string }
	type row struct {
		acquisition.DayMember
		purchases int
		fen       int64
	}
	rows := map[key]*row{}
	for _, r := range st.Rows {
		rows[key{r.Day, r.Member}] = &row{DayMember: r}
	}
	for _, c := range sales.Cells {
		k := key{c.Day, c.Member}
		if rows[k] == nil {
			rows[k] = &row{DayMember: acquisition.DayMember{Day: c.Day, Member: c.Member}}
		}
		rows[k].purchases += c.Purchases
		rows[k].fen += c.AmountFen
	}
	keys := make([]key, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.member, b.member)) })
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"day", "member", "new", "lost", "net", "purchases", "amount"}); err != nil {
		return err
	}
	for _, k := range keys {
		r := rows[k]
		if err := cw.Write([]string{r.Day, r.Member, strconv.Itoa(r.New), strconv.Itoa(r.Lost), strconv.Itoa(r.Net()),
			strconv.Itoa(r.purchases), orders.Yuan(r.fen)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// dashboardSalesDays is how far back the dashboard's sales by member go.
const dashboardSalesDays = 30

// dashboardData is the dashboard: the status and, for the owner and the
// admin, the sales of the last 30 days by member.
type dashboardData struct {
	*Status
	ShowSales bool
	Sales     []salesSum // by amount, largest first; Member "" is nobody
	Names     map[string]string
}

// dashboardSales adds the sales of the last 30 days up per member, for
// the roles that run the business.
func (s *Server) dashboardSales(ctx context.Context, p *auth.Principal, d *dashboardData) error {
	if p == nil || (p.Role != auth.RoleOwner && p.Role != auth.RoleAdmin) {
		return nil
	}
	d.ShowSales = true
	loc := s.Acquisition.Location()
	now := s.Clock.Now()
	sales, err := orders.SalesOf(ctx, s.DB.R, now.AddDate(0, 0, -(dashboardSalesDays-1)), now, loc)
	if err != nil {
		return err
	}
	by := map[string]*salesSum{}
	for _, c := range sales.ByMember() {
		if by[c.Member] == nil {
			by[c.Member] = &salesSum{Member: c.Member}
		}
		by[c.Member].Purchases += c.Purchases
		by[c.Member].AmountFen += c.AmountFen
	}
	for _, v := range by {
		d.Sales = append(d.Sales, *v)
	}
	slices.SortFunc(d.Sales, func(a, b salesSum) int {
		return cmp.Or(cmp.Compare(b.AmountFen, a.AmountFen), cmp.Compare(a.Member, b.Member))
	})
	members, err := s.Customers.Members(ctx)
	if err != nil {
		return err
	}
	d.Names = map[string]string{}
	for _, m := range members {
		d.Names[m.UserID] = m.Name
	}
	return nil
}
