package web

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/providers"
)

// providersData is the providers settings page. It never holds a secret:
// only whether one is set.
type providersData struct {
	SMTP providers.SMTP // Password always empty
	DKIM providers.DKIM // PrivateKey always empty
	SMS  providers.SMS  // SecretKey always empty
	// Templates is the SMS templates as the form edits them.
	Templates string
	// DNSName and DNSValue are the DKIM TXT record to publish.
	DNSName, DNSValue string
	Sandbox           bool
	Saved             string // the form saved: smtp, dkim or sms
	Form              string // the form refused or tested: smtp, dkim, sms, test-email, test-sms
	Problem           *problem
	// Tested is the outcome of a test send (Form says which).
	Tested  *channel.Result
	TestTo  string
	TestTpl string
	// ReportURLs are the delivery-report callback addresses, by provider.
	ReportURLs map[string]string
}

// publicSettings drops the secrets of set.
func publicSettings(set providers.Settings) providers.Settings {
	set.SMTP.Password, set.DKIM.PrivateKey, set.SMS.SecretKey = "", "", ""
	return set
}

func (s *Server) settingsProviders(w http.ResponseWriter, r *http.Request) {
	saved := r.URL.Query().Get("saved")
	switch saved {
	case "smtp", "dkim", "sms":
	default:
		saved = ""
	}
	s.renderProviders(w, r, &providersData{Saved: saved}, nil)
}

// renderProviders renders the page with the saved settings; typed, when
// set, replaces the refused form's fields with what was sent (secrets are
// never sent back).
func (s *Server) renderProviders(w http.ResponseWriter, r *http.Request, d *providersData, typed *providers.Settings) {
	if s.Providers == nil {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "Provider settings are not available on this node."))
		return
	}
	set, err := s.Providers.Get(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if set.DKIM.HasKey {
		if d.DNSName, d.DNSValue, err = set.DKIM.Record(); err != nil {
			d.DNSName = ""
		}
	}
	pub := publicSettings(set)
	if typed != nil {
		switch d.Form {
		case "smtp":
			typed.SMTP.HasPassword = pub.SMTP.HasPassword
			pub.SMTP = typed.SMTP
		case "dkim":
			typed.DKIM.HasKey = pub.DKIM.HasKey
			pub.DKIM = typed.DKIM
		case "sms":
			typed.SMS.HasKey = pub.SMS.HasKey
			pub.SMS = typed.SMS
		}
		pub = publicSettings(pub)
	}
	d.SMTP, d.DKIM, d.SMS, d.Sandbox = pub.SMTP, pub.DKIM, pub.SMS, set.Sandbox
	d.ReportURLs = s.smsURLs(r, "reports", s.smsReportKey)
	if d.Templates == "" {
		d.Templates = formatTemplates(pub.SMS.Templates)
	}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "settings-providers", d)
}

// formatTemplates writes templates one a line: id | notice or promo | text.
func formatTemplates(ts []providers.SMSTemplate) string {
	var b strings.Builder
	for _, t := range ts {
		kind := "notice"
		if t.Marketing {
			kind = "promo"
		}
		b.WriteString(t.ID + " | " + kind + " | " + t.Text + "\n")
	}
	return b.String()
}

// parseSMSTemplates reads the form's templates (see formatTemplates).
func parseSMSTemplates(s string) ([]providers.SMSTemplate, error) {
	var out []providers.SMSTemplate
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			return nil, kith.Errorf(kith.EINVALID, "templates: line %d: write id | notice or promo | approved text", i+1)
		}
		t := providers.SMSTemplate{ID: strings.TrimSpace(parts[0]), Text: strings.TrimSpace(parts[2])}
		switch strings.TrimSpace(parts[1]) {
		case "notice":
		case "promo":
			t.Marketing = true
		default:
			return nil, kith.Errorf(kith.EINVALID, "templates: line %d: the kind must be notice or promo, not %q", i+1, clip(strings.TrimSpace(parts[1]), 20))
		}
		out = append(out, t)
	}
	return out, nil
}

// settingsProvidersSave saves one of the page's forms (smtp, dkim, sms),
// audited by the names of the fields sent, never their values.
func (s *Server) settingsProvidersSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Providers == nil {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "Provider settings are not available on this node."))
		return
	}
	form := r.PathValue("form")
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	d := &providersData{Form: form}
	var typed providers.Settings
	var err error
	var changed []string
	by := principal(r).String()
	switch form {
	case "smtp":
		port, perr := strconv.Atoi(f("port"))
		rate, rerr := strconv.Atoi(cmpOr(f("per_minute"), "0"))
		typed.SMTP = providers.SMTP{Host: f("host"), Port: port, TLS: f("tls"), Username: f("username"), Password: r.PostFormValue("password"),
			From: f("from"), FromName: f("from_name"), PerMinute: rate, PublicURL: f("public_url"), UnsubscribeMailto: f("unsubscribe_mailto")}
		switch {
		case perr != nil:
			err = kith.Errorf(kith.EINVALID, "port: %q is not a number (587 for STARTTLS, 465 for TLS)", clip(f("port"), 10))
		case rerr != nil:
			err = kith.Errorf(kith.EINVALID, "rate: %q is not a whole number of messages per minute", clip(f("per_minute"), 10))
		default:
			err = s.Providers.SaveSMTP(r.Context(), typed.SMTP, by)
		}
		changed = []string{"host", "port", "tls", "username", "from", "from_name", "per_minute", "public_url", "unsubscribe_mailto"}
		if typed.SMTP.Password != "" {
			changed = append(changed, "password")
		}
	case "dkim":
		typed.DKIM = providers.DKIM{Domain: f("domain"), Selector: f("selector"), PrivateKey: strings.TrimSpace(r.PostFormValue("private_key"))}
		changed = []string{"domain", "selector"}
		if r.PostFormValue("generate") == "1" {
			if typed.DKIM.PrivateKey, err = email.GenerateDKIMKey(); err != nil {
				s.pageError(w, r, err)
				return
			}
			changed = append(changed, "private_key (generated)")
		} else if typed.DKIM.PrivateKey != "" {
			changed = append(changed, "private_key")
		}
		err = s.Providers.SaveDKIM(r.Context(), typed.DKIM, by)
	case "sms":
		price, perr := strconv.ParseFloat(cmpOr(f("price_fen"), "0"), 64)
		if perr == nil && (math.IsNaN(price) || math.IsInf(price, 0)) {
			perr = strconv.ErrSyntax
		}
		typed.SMS = providers.SMS{Provider: f("provider"), SecretID: f("secret_id"), SecretKey: strings.TrimSpace(r.PostFormValue("secret_key")),
			SdkAppID: f("sdk_app_id"), Region: f("region"), SignName: f("sign_name"), PriceFen: price}
		d.Templates = r.PostFormValue("templates")
		typed.SMS.Templates, err = parseSMSTemplates(d.Templates)
		switch {
		case perr != nil:
			err = kith.Errorf(kith.EINVALID, "price: %q is not a number of fen per message, e.g. 4.5", clip(f("price_fen"), 10))
		case err == nil:
			err = s.Providers.SaveSMS(r.Context(), typed.SMS, by)
		}
		changed = []string{"provider", "secret_id", "sdk_app_id", "region", "sign_name", "templates", "price_fen"}
		if typed.SMS.SecretKey != "" {
			changed = append(changed, "secret_key")
		}
	default:
		s.notFound(w, r)
		return
	}
	if err != nil {
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderProviders(w, r, d, &typed)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionSettingsChange, "settings", "providers."+form, "", map[string]any{"keys": changed}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("provider settings saved", "form", form, "by", by)
	http.Redirect(w, r, "/settings/providers?saved="+form+"#"+form, http.StatusSeeOther)
}

// settingsProvidersTest sends a test e-mail or SMS to what the operator
// typed: a service message through the gate, audited with the gate's
// decision (the address itself is recorded masked only).
func (s *Server) settingsProvidersTest(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Providers == nil || s.ProviderTester == nil {
		s.pageError(w, r, kith.Errorf(kith.EUNAVAILABLE, "Provider settings are not available on this node."))
		return
	}
	kind := r.PathValue("kind")
	d := &providersData{Form: "test-" + kind, TestTo: strings.TrimSpace(r.PostFormValue("to")), TestTpl: strings.TrimSpace(r.PostFormValue("template"))}
	set, err := s.Providers.Get(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	by := principal(r).String()
	var res providers.TestResult
	var masked string
	switch kind {
	case "email":
		res, err = s.ProviderTester.Email(r.Context(), set, d.TestTo, by)
		masked = protect.Mask(protect.FieldEmail, strings.ToLower(d.TestTo))
	case "sms":
		res, err = s.ProviderTester.SMS(r.Context(), set, d.TestTo, d.TestTpl, by)
		masked = protect.Mask(protect.FieldPhone, d.TestTo)
	default:
		s.notFound(w, r)
		return
	}
	detail := map[string]any{"kind": kind, "to": masked, "decision": res.DecisionID}
	if err == nil {
		detail["status"] = string(res.Result.Status)
	} else {
		detail["error"] = kith.ErrorMessage(err)
	}
	if aerr := s.auditEvent(r.Context(), r, audit.ActionTestSend, "settings", "providers.test-"+kind, "", detail); aerr != nil {
		s.pageError(w, r, aerr)
		return
	}
	if err != nil {
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderProviders(w, r, d, nil)
		return
	}
	d.Tested = &res.Result
	s.renderProviders(w, r, d, nil)
}

// cmpOr returns s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
