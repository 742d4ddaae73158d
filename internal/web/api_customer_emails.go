package web

import (
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
)

// apiEmail is one e-mail address as the API shows it: masked; reveal it
// with POST …/reveal {"field": "email", "index": …, "reason": …}.
type apiEmail struct {
	Index     string    `json:"index"`
	Masked    string    `json:"masked"`
	Source    string    `json:"source"`
	AddedBy   string    `json:"added_by"`
	CreatedAt time.Time `json:"created_at"`
}

func toAPIEmail(e customer.Email) apiEmail {
	return apiEmail{Index: e.Index, Masked: e.Masked, Source: e.Source, AddedBy: e.AddedBy, CreatedAt: e.CreatedAt}
}

// apiCustomerEmails lists a customer's e-mail addresses, masked.
func (s *Server) apiCustomerEmails(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	list, err := customer.Emails(r.Context(), s.DB.R, c.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionPIIRead, "customer", idString(c.ID), idString(c.ID), map[string]any{"field": "email"}); err != nil {
		s.apiError(w, r, err)
		return
	}
	out := []apiEmail{}
	for _, e := range list {
		out = append(out, toAPIEmail(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"emails": out})
}

// apiCustomerEmailAdd adds an address (source api): {"email": "…"}.
func (s *Server) apiCustomerEmailAdd(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.Email == "" {
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "email is missing: give the address to add."))
		return
	}
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	e, err := s.addEmail(r, c.ID, req.Email, customer.EmailFromAPI)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toAPIEmail(e))
}

// apiCustomerEmailRemove removes the address with the index given.
func (s *Server) apiCustomerEmailRemove(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.removeEmail(r, c.ID, r.PathValue("index")); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
