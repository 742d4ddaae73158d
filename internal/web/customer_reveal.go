package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// maxRevealReason bounds the reason given for a reveal.
const maxRevealReason = 200

// customerReveal shows one of a relation's masked phone numbers in full,
// once, on the page it answers with (privacy requirement P-43). The reveal
// is audited, with its reason, before the number is shown.
func (s *Server) customerReveal(w http.ResponseWriter, r *http.Request) {
	c, f := s.relationForm(w, r)
	if c == nil {
		return
	}
	index := r.PostFormValue("index")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var sealed *protect.Sealed
	for i := range f.Phones {
		if f.Phones[i].Index == index {
			sealed = &f.Phones[i]
		}
	}
	if sealed == nil || s.Protector == nil {
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "This relation has no such phone number."))
		return
	}
	fault := &formFault{Member: f.MemberUserID, Form: "reveal", Phone: index, Remark: reason}
	switch {
	case reason == "":
		fault.Problem = invalid(r, "customer.reveal.error.reason")
	case utf8.RuneCountInString(reason) > maxRevealReason:
		fault.Problem = invalid(r, "customer.reveal.error.long", maxRevealReason)
	}
	if fault.Problem != nil {
		s.renderCustomer(w, r, c.ExternalUserID, "", fault)
		return
	}
	phone, err := s.Protector.Open(protect.FieldPhone, *sealed)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionPIIReveal, "customer", idString(c.ID), idString(c.ID),
		map[string]any{"field": protect.FieldPhone, "member": f.MemberUserID, "reason": reason}); err != nil {
		s.pageError(w, r, err)
		return
	}
	// The number is shown on this answer only: never cached, never in a URL.
	w.Header().Set("Cache-Control", "no-store")
	fault.Revealed, fault.Remark = phone, ""
	s.renderCustomer(w, r, c.ExternalUserID, "", fault)
}
