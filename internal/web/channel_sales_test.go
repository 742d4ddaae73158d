package web_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestChannelAndDashboardShowSales: a channel's page and its export show
// the sales of its customers per day beside the new and lost ones; the
// owner's dashboard adds the last 30 days up per member, which an
// operator does not see.
func TestChannelAndDashboardShowSales(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { channelAndDashboardShowSales(t, false) })
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { channelAndDashboardShowSales(t, true) })
	}
}

func channelAndDashboardShowSales(t *testing.T, postgres bool) {
	in, db := ordersInstance(t, postgres)
	now := time.Now()
	if _, err := db.W.Exec(`INSERT INTO acq_channels (kind, name, state, spec, created_at, updated_at) VALUES ('code', '门店', 'shop-qr', '{}', $1, $1)`, now); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := db.R.QueryRow(`SELECT CAST(id AS TEXT) FROM acq_channels WHERE state = 'shop-qr'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	c.login("owner", apptest.OwnerPassword)
	page := c.get("/channels/"+id, 200)
	mustContain(t, "channel page", page, `id="stats-sales">¥258.00</strong> (1)`, `<td class="num">1</td><td class="num">¥258.00</td>`)

	resp, csv := c.do("GET", "/channels/"+id+"/stats.csv", nil, nil)
	// The instance's zone: apptest sets none, and a server without one
	// counts days in UTC (serve's default is Asia/Shanghai).
	loc := in.Config.Location
	if loc == nil {
		loc = time.UTC
	}
	want := now.AddDate(0, 0, -3).In(loc).Format(time.DateOnly) + ",wang,0,0,0,1,258.00"
	if resp.StatusCode != 200 || !strings.HasPrefix(csv, "day,member,new,lost,net,purchases,amount\n") || !strings.Contains(csv, want) {
		t.Fatalf("CSV: %d\n%s\nwant a line %s", resp.StatusCode, csv, want)
	}

	dash := c.get("/", 200)
	mustContain(t, "owner's dashboard", dash, `id="sales-members"`, "王小明", "¥258.00")

	op := signedIn(t, in, auth.RoleOperator)
	mustNotContain(t, "operator's dashboard", op.get("/", 200), `id="sales-members"`)
}
