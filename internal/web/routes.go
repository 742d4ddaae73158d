package web

import (
	"io/fs"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kith-scrm/kith/internal/auth"
)

// Access says how a route authenticates.
type Access int

const (
	// Public routes need no principal (health, login, static files).
	Public Access = iota
	// Page routes need a console session; without one a GET is sent to the
	// login page.
	Page
	// API routes need an `Authorization: Bearer` token and answer JSON.
	API
)

// Route is one registered route.
type Route struct {
	Pattern string
	Access  Access
	Perm    auth.Permission // empty for Public routes
}

func (s *Server) buildRoutes() http.Handler {
	mux := http.NewServeMux()
	public := func(pattern string, h http.HandlerFunc) {
		s.routes = append(s.routes, Route{Pattern: pattern, Access: Public})
		mux.Handle(pattern, h)
	}
	page := func(pattern string, perm auth.Permission, h http.HandlerFunc) {
		s.routes = append(s.routes, Route{Pattern: pattern, Access: Page, Perm: perm})
		mux.Handle(pattern, s.requirePage(perm, h))
	}
	api := func(pattern string, perm auth.Permission, h http.Handler) {
		s.routes = append(s.routes, Route{Pattern: pattern, Access: API, Perm: perm})
		mux.Handle(pattern, s.requireAPI(perm, h))
	}

	static, _ := fs.Sub(staticFS, "static")
	public("GET /static/", cacheStatic(http.StripPrefix("/static/", http.FileServerFS(static))))
	public("GET /healthz", s.healthz)
	public("GET /readyz", s.readyz)
	public("GET /login", s.loginPage)
	public("POST /login", s.loginSubmit)
	public("POST /lang", s.switchLang)
	// WeCom's servers call these; the signature, not a session, is checked.
	public("GET "+callbackPath, s.wecomVerify)
	public("POST "+callbackPath, s.wecomReceive)
	// Opt-outs from outside: unsubscribe links (GET asks, POST records,
	// including RFC 8058 one-click) and SMS providers' reply pushes (the
	// address carries a key, since the providers sign nothing).
	public("GET /u/{token}", s.unsubscribePage)
	public("POST /u/{token}", s.unsubscribe)
	public("POST /sms/{provider}/replies/{key}", s.smsReplies)
	public("POST /sms/{provider}/reports/{key}", s.smsReports)

	// Orders: shops and ERPs push signed deliveries (orders_webhook.go).
	public("POST /api/v1/orders/webhook/{source}", s.ordersWebhook)

	page("GET /{$}", auth.PermViewStatus, s.dashboard)
	page("GET /status", auth.PermViewStatus, s.statusFragment)
	page("POST /logout", auth.PermViewStatus, s.logout)
	page("GET /account/password", auth.PermChangeOwnPass, s.passwordPage)
	page("POST /account/password", auth.PermChangeOwnPass, s.passwordSubmit)

	// WeCom: customers, tags, events, sync and the connection.
	page("GET /customers", auth.PermViewCustomers, s.customerList)
	page("GET /customers/{external_userid}", auth.PermViewCustomers, s.customerShow)
	page("POST /customers/{external_userid}/tags", auth.PermTagCustomers, s.customerTags)
	page("POST /customers/{external_userid}/remark", auth.PermTagCustomers, s.customerRemark)
	page("POST /customers/{external_userid}/reveal", auth.PermRevealPII, s.customerReveal)
	page("POST /customers/{external_userid}/emails", auth.PermTagCustomers, s.customerEmailAdd)
	page("POST /customers/{external_userid}/emails/{index}/remove", auth.PermTagCustomers, s.customerEmailRemove)
	page("POST /customers/{external_userid}/emails/{index}/reveal", auth.PermRevealPII, s.customerEmailReveal)
	page("POST /customers/{external_userid}/identities", auth.PermLinkOrders, s.customerIdentityLink)
	page("POST /customers/{external_userid}/identities/{id}/unlink", auth.PermLinkOrders, s.customerIdentityUnlink)
	page("GET /tags", auth.PermViewCustomers, s.tagList)
	page("POST /tags", auth.PermManageTags, s.tagCreate)
	page("POST /tags/{id}/rename", auth.PermManageTags, s.tagRename)
	page("GET /tags/{id}/delete", auth.PermManageTags, s.tagDeleteAsk)
	page("POST /tags/{id}/delete", auth.PermManageTags, s.tagDelete)
	page("GET /events", auth.PermViewEvents, s.eventList)
	page("GET /events/{id}", auth.PermViewEvents, s.eventShow)
	page("POST /sync", auth.PermRunSync, s.syncStart)
	page("GET /sync/status", auth.PermRunSync, s.syncStatus)
	page("POST /customers/{external_userid}/consent/withdraw", auth.PermTagCustomers, s.customerConsentWithdraw)
	page("GET /settings/wecom", auth.PermManageConfig, s.settingsWeCom)
	page("POST /settings/wecom", auth.PermManageConfig, s.settingsWeComSave)

	// The gate: the merchant's sending rules, and why a message was sent.
	page("GET /settings/gate", auth.PermManageConfig, s.settingsGate)
	page("POST /settings/gate", auth.PermManageConfig, s.settingsGateSave)
	// SMS and e-mail providers: saved sealed, tested with a message to the
	// operator (through the gate, audited).
	page("GET /settings/providers", auth.PermManageConfig, s.settingsProviders)
	page("POST /settings/providers/{form}", auth.PermManageConfig, s.settingsProvidersSave)
	page("POST /settings/providers/test/{kind}", auth.PermManageConfig, s.settingsProvidersTest)
	page("GET /gate/decisions/{id}", auth.PermViewCustomers, s.gateDecision)

	// Customer acquisition: channel codes and links, their statistics.
	page("GET /channels", auth.PermViewCustomers, s.channelList)
	page("GET /channels/new", auth.PermManageTags, s.channelNew)
	page("POST /channels", auth.PermManageTags, s.channelSave)
	page("POST /channels/welcome", auth.PermManageTags, s.channelWelcomeSave)
	page("GET /channels/{id}", auth.PermViewCustomers, s.channelShow)
	page("GET /channels/{id}/edit", auth.PermManageTags, s.channelEdit)
	page("POST /channels/{id}", auth.PermManageTags, s.channelSave)
	page("POST /channels/{id}/delete", auth.PermManageTags, s.channelDelete)
	page("GET /channels/{id}/qr", auth.PermViewCustomers, s.channelQR)
	page("GET /channels/{id}/stats.csv", auth.PermViewCustomers, s.channelStatsCSV)
	api("GET /api/v1/channels", auth.PermViewCustomers, http.HandlerFunc(s.apiChannels))
	api("POST /api/v1/channels", auth.PermManageTags, http.HandlerFunc(s.apiChannelCreate))
	api("GET /api/v1/channels/{id}/stats", auth.PermViewCustomers, http.HandlerFunc(s.apiChannelStats))
	// Segments: the builder counts while the operator types.
	page("GET /segments", auth.PermViewCustomers, s.segmentsPage)
	page("GET /segments/preview", auth.PermViewCustomers, s.segmentPreview)
	page("GET /segments/sample", auth.PermViewCustomers, s.segmentSample)
	page("POST /segments", auth.PermManageSegments, s.segmentCreate)
	page("GET /segments/{id}", auth.PermViewCustomers, s.segmentShow)
	page("POST /segments/{id}", auth.PermManageSegments, s.segmentUpdate)
	page("POST /segments/{id}/delete", auth.PermManageSegments, s.segmentDelete)

	// Orders: import a shop's order file (orders_import*.go): upload, map
	// the columns, dry run, import in a job with its progress, error file.
	page("GET /orders/import", auth.PermImportOrders, s.ordersImportPage)
	page("POST /orders/import", auth.PermImportOrders, s.ordersImportUpload)
	page("GET /orders/import/{id}", auth.PermImportOrders, s.ordersImportShow)
	page("GET /orders/import/{id}/progress", auth.PermImportOrders, s.ordersImportProgress)
	page("POST /orders/import/{id}/mapping", auth.PermImportOrders, s.ordersImportMapping)
	page("POST /orders/import/{id}/run", auth.PermImportOrders, s.ordersImportRun)
	page("GET /orders/import/{id}/errors.csv", auth.PermImportOrders, s.ordersImportErrors)
	// Orders: the 聚水潭 ERP connector's settings, test, pulls (settings_orders*.go).
	page("GET /settings/orders", auth.PermManageConfig, s.settingsOrders)
	page("POST /settings/orders", auth.PermManageConfig, s.settingsOrdersSave)
	page("POST /settings/orders/test", auth.PermManageConfig, s.settingsOrdersTest)
	page("POST /settings/orders/pull", auth.PermManageConfig, s.settingsOrdersPull)

	// Campaigns: create, preview, schedule, monitor, cancel (issue 7).
	page("GET /campaigns", auth.PermViewCustomers, s.campaignList)
	page("POST /campaigns", auth.PermManageTags, s.campaignCreate)
	page("GET /campaigns/{id}", auth.PermViewCustomers, s.campaignShow)
	page("GET /campaigns/{id}/results.csv", auth.PermViewCustomers, s.campaignCSV)
	page("GET /campaigns/{id}/results.xlsx", auth.PermViewCustomers, s.campaignExport)
	page("POST /campaigns/{id}/{action}", auth.PermManageTags, s.campaignAction)

	// The audit log: read, verified and exported, never changed.
	page("GET /audit", auth.PermViewAudit, s.auditList)
	page("GET /audit/export", auth.PermViewAudit, s.auditExportPage)

	api("GET /api/v1/me", auth.PermViewStatus, http.HandlerFunc(s.apiMe))
	api("GET /api/v1/status", auth.PermViewStatus, http.HandlerFunc(s.apiStatus))
	api("POST /api/v1/jobs/probes", auth.PermRunJobChecks, http.HandlerFunc(s.apiEnqueueProbes))
	api("GET /api/v1/jobs/probes/{batch}", auth.PermRunJobChecks, http.HandlerFunc(s.apiProbeReport))
	api("GET /api/v1/customers", auth.PermViewCustomers, http.HandlerFunc(s.apiCustomers))
	api("GET /api/v1/customers/{external_userid}/permits", auth.PermViewCustomers, http.HandlerFunc(s.apiCustomerPermits))
	api("GET /api/v1/gate/decisions/{id}", auth.PermViewCustomers, http.HandlerFunc(s.apiGateDecision))
	api("GET /api/v1/customers/{external_userid}", auth.PermViewCustomers, http.HandlerFunc(s.apiCustomer))
	api("POST /api/v1/customers/{external_userid}/reveal", auth.PermRevealPII, http.HandlerFunc(s.apiCustomerReveal))
	api("GET /api/v1/customers/{external_userid}/emails", auth.PermViewCustomers, http.HandlerFunc(s.apiCustomerEmails))
	api("POST /api/v1/customers/{external_userid}/emails", auth.PermTagCustomers, http.HandlerFunc(s.apiCustomerEmailAdd))
	api("DELETE /api/v1/customers/{external_userid}/emails/{index}", auth.PermTagCustomers, http.HandlerFunc(s.apiCustomerEmailRemove))
	api("POST /api/v1/customers/{external_userid}/identities", auth.PermLinkOrders, http.HandlerFunc(s.apiCustomerIdentityLink))
	api("DELETE /api/v1/customers/{external_userid}/identities/{id}", auth.PermLinkOrders, http.HandlerFunc(s.apiCustomerIdentityUnlink))
	api("GET /api/v1/segments", auth.PermViewCustomers, http.HandlerFunc(s.apiSegments))
	api("POST /api/v1/segments/count", auth.PermViewCustomers, http.HandlerFunc(s.apiSegmentCount))
	api("GET /api/v1/events", auth.PermViewEvents, http.HandlerFunc(s.apiEvents))
	api("GET /api/v1/audit", auth.PermViewAudit, http.HandlerFunc(s.apiAudit))
	api("GET /api/v1/audit/export", auth.PermViewAudit, http.HandlerFunc(s.apiAuditExport))
	api("GET /api/v1/audit/verify", auth.PermViewAudit, http.HandlerFunc(s.apiAuditVerify))
	api("GET /api/v1/audit/checkpoint", auth.PermViewAudit, http.HandlerFunc(s.apiAuditCheckpoint))
	api("GET /api/v1/audit/{seq}", auth.PermViewAudit, http.HandlerFunc(s.apiAuditEntry))
	// Any principal that tries to change an entry is refused and recorded:
	// the lowest permission makes the attempt attributable.
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		api(m+" /api/v1/audit/{seq}", auth.PermViewStatus, http.HandlerFunc(s.apiAuditChange))
	}
	api("GET /metrics", auth.PermViewMetrics, promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))

	mux.HandleFunc("/", s.notFound)

	// The metrics middleware reads r.Pattern after the mux has set it on the
	// same *http.Request, so nothing between them may copy the request.
	var h http.Handler = http.NewCrossOriginProtection().Handler(mux)
	h = securityHeaders(h)
	h = s.observe(h)
	h = s.recoverPanics(h)
	return h
}
