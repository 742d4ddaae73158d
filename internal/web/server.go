package web

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/i18n"
	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/obs"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/providers"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/segment/index"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom/callback"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
)

// Deps are what the web layer serves.
type Deps struct {
	Auth    *auth.Service
	DB      *store.DB
	Jobs    *jobs.Jobs
	Metrics *obs.Metrics
	Ingest  *ingest.Service
	// Audit records reads of personal data and changes of settings.
	Audit *audit.Log
	// ConsentKey is the consent ledger's suppression key (the blind index
	// key), with which it finds erased and suppressed persons.
	ConsentKey []byte
	// Gate decides outbound messages; the console sets its policy and
	// explains its decisions ("why did I get this?").
	Gate *gate.Gate
	// Acquisition manages channel codes and links (issue 4).
	Acquisition *acquisition.Service
	// Segments keeps saved segments; SegmentIndex returns the bitmap index,
	// or nil while it is being built (counts then come from the database).
	Segments     *segment.Store
	SegmentIndex func() *index.Index
	// OrderUploads keeps order files uploaded for import (issue 8); nil
	// turns the import pages away.
	OrderUploads *orders.Uploads
	// JST is the 聚水潭 order connector (its settings page and pulls); nil
	// turns the page away.
	JST *jst.Service
	// Campaigns plans and runs campaigns (issue 7).
	Campaigns *campaign.Service
	// Providers keeps the SMS and e-mail provider settings; ProviderTester
	// sends the settings page's test messages. Nil turns the page away.
	Providers      *providers.Store
	ProviderTester *providers.Tester
	// Customers reads customers, members and tags.
	Customers *customer.Directory
	// Protector opens and indexes protected fields (phone numbers); nil
	// hides them and searches by name only.
	Protector *protect.Protector
	// Syncer runs full syncs and writes tag and remark changes through to
	// WeCom.
	Syncer *wecomsync.Syncer
	// Settings holds the WeCom connection; Conn must be invalidated after a
	// save.
	Settings *settings.Store
	Conn     *wecomsync.Conn
	// CallbackCrypto returns the crypto of the configured WeCom callback,
	// or an EUNAVAILABLE error while WeCom is not configured.
	CallbackCrypto func(ctx context.Context) (*callback.Crypto, error)
	Log            *slog.Logger
	Clock          kith.Clock

	// Location is the time zone the console shows times in.
	Location *time.Location

	Version      string
	Node         string
	Sandbox      bool
	CookieSecure string // auto, always or never
	StartedAt    time.Time
}

// Server is Kith's HTTP handler.
type Server struct {
	Deps
	pages   map[i18n.Lang]*template.Template
	routes  []Route
	handler http.Handler

	migrationsCurrentUntil atomic.Int64 // unix nanoseconds; see readyz
}

// New returns the server with every route registered.
func New(d Deps) (*Server, error) {
	if d.Location == nil {
		d.Location = time.UTC
	}
	s := &Server{Deps: d}
	pages, err := parseTemplates(d.Location)
	if err != nil {
		return nil, err
	}
	s.pages = pages
	if d.Gate != nil && d.Metrics != nil {
		d.Metrics.Registry.MustRegister(d.Gate.Collector())
	}
	if d.SegmentIndex != nil && d.Metrics != nil {
		d.Metrics.Registry.MustRegister(newSegmentCollector(s))
	}
	s.handler = s.buildRoutes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes returns every registered route with its permission, for tests and
// documentation.
func (s *Server) Routes() []Route { return s.routes }

// HTTPServer wraps the handler in an http.Server with timeouts that keep slow
// clients from holding connections.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
}
