package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// emailsSection is the customer page's e-mail addresses: masked, one
// revealed in the answer to an audited reveal.
type emailsSection struct {
	List      []emailView
	CanEdit   bool
	CanReveal bool
	// Problem, Form ("add", "remove" or "reveal"), Index and Typed are a
	// refused form's error, which form, the address it named and what was
	// typed (an address to add, or a reveal's reason).
	Problem *problem
	Form    string
	Index   string
	Typed   string
}

// emailView is one address on the customer page.
type emailView struct {
	Index, Masked, Source, AddedBy string
	Revealed                       string
}

// customerEmails loads the e-mail section of customer id; nil without a
// Protector (no address can be stored or shown).
func (s *Server) customerEmails(ctx context.Context, p *auth.Principal, id int64) (*emailsSection, error) {
	if s.Protector == nil {
		return nil, nil
	}
	list, err := customer.Emails(ctx, s.DB.R, id)
	if err != nil {
		return nil, err
	}
	sec := &emailsSection{CanEdit: p.Can(auth.PermTagCustomers), CanReveal: p.Can(auth.PermRevealPII)}
	for _, e := range list {
		sec.List = append(sec.List, emailView{Index: e.Index, Masked: e.Masked, Source: e.Source, AddedBy: e.AddedBy})
	}
	return sec, nil
}

// renderEmails renders the customer page with the e-mail section's form
// answer (a refusal, or a revealed address).
func (s *Server) renderEmails(w http.ResponseWriter, r *http.Request, externalUserID string, f *emailsSection, revealed string) {
	ctx := r.Context()
	d, err := s.customerPage(ctx, principal(r), externalUserID)
	if err == nil {
		err = s.auditEvent(ctx, r, audit.ActionPIIRead, "customer", idString(d.Customer.ID), idString(d.Customer.ID), nil)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	if d.Emails != nil {
		d.Emails.Problem, d.Emails.Form, d.Emails.Index, d.Emails.Typed = f.Problem, f.Form, f.Index, f.Typed
		for i := range d.Emails.List {
			if d.Emails.List[i].Index == f.Index {
				d.Emails.List[i].Revealed = revealed
			}
		}
	}
	if f.Problem != nil {
		status = f.Problem.Status
	}
	if revealed != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, status, "customer", d)
}

// customerEmailAdd adds an address an operator typed (source console),
// audited with its masked form.
func (s *Server) customerEmailAdd(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	addr := strings.TrimSpace(r.PostFormValue("email"))
	if _, err := s.addEmail(r, c.ID, addr, customer.EmailFromConsole); err != nil {
		prob := s.problemOf(r, err)
		if prob == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderEmails(w, r, c.ExternalUserID, &emailsSection{Problem: prob, Form: "add", Typed: addr}, "")
		return
	}
	http.Redirect(w, r, "/customers/"+url.PathEscape(c.ExternalUserID)+"?done=email_add#emails", http.StatusSeeOther)
}

// addEmail stores an address for customer id and audits it (masked).
func (s *Server) addEmail(r *http.Request, id int64, addr, source string) (customer.Email, error) {
	if s.Protector == nil || s.Audit == nil {
		return customer.Email{}, kith.Errorf(kith.EUNAVAILABLE, "E-mail addresses cannot be stored: no key to seal protected fields is configured.")
	}
	e, err := customer.AddEmail(r.Context(), s.DB.W, s.Protector, id, addr, source, principal(r).String(), s.Clock.Now())
	if err != nil {
		return e, err
	}
	err = s.auditEvent(r.Context(), r, audit.ActionPIIWrite, "customer", idString(id), idString(id),
		map[string]any{"field": protect.FieldEmail, "change": "add", "masked": e.Masked, "source": source})
	return e, err
}

// removeEmail removes one of customer id's addresses and audits it.
func (s *Server) removeEmail(r *http.Request, id int64, index string) error {
	if s.Protector == nil || s.Audit == nil {
		return kith.Errorf(kith.EUNAVAILABLE, "E-mail addresses cannot be changed: no key to seal protected fields is configured.")
	}
	list, err := customer.Emails(r.Context(), s.DB.R, id)
	if err != nil {
		return err
	}
	masked := ""
	for _, e := range list {
		if e.Index == index {
			masked = e.Masked
		}
	}
	if err := customer.RemoveEmail(r.Context(), s.DB.W, id, index); err != nil {
		return err
	}
	return s.auditEvent(r.Context(), r, audit.ActionPIIWrite, "customer", idString(id), idString(id),
		map[string]any{"field": protect.FieldEmail, "change": "remove", "masked": masked})
}

// customerEmailRemove removes an address.
func (s *Server) customerEmailRemove(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.removeEmail(r, c.ID, r.PathValue("index")); err != nil {
		prob := s.problemOf(r, err)
		if prob == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderEmails(w, r, c.ExternalUserID, &emailsSection{Problem: prob, Form: "remove", Index: r.PathValue("index")}, "")
		return
	}
	http.Redirect(w, r, "/customers/"+url.PathEscape(c.ExternalUserID)+"?done=email_remove#emails", http.StatusSeeOther)
}

// customerEmailReveal shows one address in full, once, after auditing the
// reveal with its reason (privacy requirement P-43).
func (s *Server) customerEmailReveal(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Protector == nil {
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "This customer has no such e-mail address."))
		return
	}
	index := r.PathValue("index")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	list, err := customer.Emails(r.Context(), s.DB.R, c.ID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	var sealed *protect.Sealed
	for i := range list {
		if list[i].Index == index {
			sealed = &list[i].Sealed
		}
	}
	if sealed == nil {
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "This customer has no such e-mail address."))
		return
	}
	f := &emailsSection{Form: "reveal", Index: index, Typed: reason}
	switch {
	case reason == "":
		f.Problem = invalid(r, "customer.reveal.error.reason")
	case utf8.RuneCountInString(reason) > maxRevealReason:
		f.Problem = invalid(r, "customer.reveal.error.long", maxRevealReason)
	}
	if f.Problem != nil {
		s.renderEmails(w, r, c.ExternalUserID, f, "")
		return
	}
	addr, err := s.Protector.Open(protect.FieldEmail, *sealed)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionPIIReveal, "customer", idString(c.ID), idString(c.ID),
		map[string]any{"field": protect.FieldEmail, "reason": reason}); err != nil {
		s.pageError(w, r, err)
		return
	}
	f.Typed = ""
	s.renderEmails(w, r, c.ExternalUserID, f, addr)
}
