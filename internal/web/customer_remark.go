package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/customer"
)

// WeCom's limits on a relation's remark and description (path/92115).
const (
	maxRemark      = 20
	maxDescription = 150
)

// customerRemark sets the remark and description a member keeps on a
// customer, in WeCom first and then locally.
func (s *Server) customerRemark(w http.ResponseWriter, r *http.Request) {
	c, f := s.relationForm(w, r)
	if c == nil {
		return
	}
	remark := strings.TrimSpace(r.PostFormValue("remark"))
	desc := strings.TrimSpace(r.PostFormValue("description"))
	fault := &formFault{Member: f.MemberUserID, Form: "remark", Remark: remark, Desc: desc}
	switch {
	case f.Status != customer.FollowActive:
		fault.Problem = invalid(r, "customer.error.ended")
	case utf8.RuneCountInString(remark) > maxRemark:
		fault.Problem = invalid(r, "customer.error.remark", maxRemark)
	case utf8.RuneCountInString(desc) > maxDescription:
		fault.Problem = invalid(r, "customer.error.description", maxDescription)
	}
	if fault.Problem == nil && remark == f.Remark && desc == f.Description {
		// Nothing to send: WeCom already holds these.
		http.Redirect(w, r, customerURL(c.ExternalUserID, "remark", f.MemberUserID), http.StatusSeeOther)
		return
	}
	if fault.Problem == nil {
		var answered bool
		fault.Problem, answered = s.writeThrough(w, r, func() error {
			return s.Syncer.SetRemark(r.Context(), f.MemberUserID, c.ExternalUserID, remark, desc)
		})
		if answered {
			return
		}
	}
	if fault.Problem != nil {
		s.renderCustomer(w, r, c.ExternalUserID, "", fault)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionPIIWrite, "customer", idString(c.ID), idString(c.ID), map[string]any{"member": f.MemberUserID, "change": "remark"}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("customer remark changed", "by", principal(r).String(), "member", f.MemberUserID)
	http.Redirect(w, r, customerURL(c.ExternalUserID, "remark", f.MemberUserID), http.StatusSeeOther)
}
