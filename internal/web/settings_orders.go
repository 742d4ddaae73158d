package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders/jst"
)

// ordersConnectorForm is what the 聚水潭 connector form shows: the saved
// values, or what was typed after a refusal. Secrets are never shown back,
// only whether they are set.
type ordersConnectorForm struct {
	Enabled         bool
	Interval        string // minutes
	BaseURL         string
	AppKey          string
	Shops           string
	SecretSet       bool
	TokenSet        bool
	DefaultInterval int
}

// ordersConnectorData is the order connector page.
type ordersConnectorData struct {
	Form       ordersConnectorForm
	Runs       []jst.Run
	Running    bool
	Cursor     time.Time
	Configured bool
	Saved      bool
	Pulled     bool
	Tested     string // the test's result when it passed
	Problem    *problem
}

func connectorFormOf(st jst.Settings) ordersConnectorForm {
	f := ordersConnectorForm{Enabled: st.Enabled, BaseURL: st.BaseURL, AppKey: st.AppKey, Shops: jst.FormatShops(st.Shops),
		SecretSet: st.AppSecret != "", TokenSet: st.AccessToken != "", DefaultInterval: int(jst.DefaultInterval.Minutes())}
	if st.Interval != 0 {
		f.Interval = strconv.Itoa(int(st.Interval.Minutes()))
	}
	return f
}

// settingsOrders shows the 聚水潭 connector: its settings, where its
// cursor stands and its last pulls.
func (s *Server) settingsOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.renderOrdersConnector(w, r, &ordersConnectorData{Saved: q.Get("saved") == "1", Pulled: q.Get("pulled") == "1"}, nil)
}

// renderOrdersConnector renders the page; typed, when set, replaces the
// saved values in the form (a refused save or a test).
func (s *Server) renderOrdersConnector(w http.ResponseWriter, r *http.Request, d *ordersConnectorData, typed *ordersConnectorForm) {
	if s.JST == nil {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "The order connector is not running on this node."))
		return
	}
	ctx := r.Context()
	st, err := s.JST.Settings(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Form, d.Configured = connectorFormOf(st), st.Configured()
	if typed != nil {
		typed.SecretSet, typed.TokenSet, typed.DefaultInterval = d.Form.SecretSet, d.Form.TokenSet, d.Form.DefaultInterval
		d.Form = *typed
	}
	if d.Runs, err = s.JST.Runs(ctx, 10); err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Running = len(d.Runs) > 0 && d.Runs[0].Running()
	if d.Cursor, err = s.JST.Cursor(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "settings-orders", d)
}
