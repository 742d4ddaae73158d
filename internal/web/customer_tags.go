package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/i18n"
	"github.com/kith-scrm/kith/internal/kith"
)

// relationForm reads the member of a relation form and finds the relation;
// it answers the request itself (and returns nil) when it cannot.
func (s *Server) relationForm(w http.ResponseWriter, r *http.Request) (*customer.Detail, *customer.Follow) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return nil, nil
	}
	member := strings.TrimSpace(r.PostFormValue("member"))
	if member == "" {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "The form does not say whose relation to change (member)."))
		return nil, nil
	}
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.pageError(w, r, err)
		return nil, nil
	}
	for i := range c.Follows {
		if c.Follows[i].MemberUserID == member {
			return c, &c.Follows[i]
		}
	}
	s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "Member %s does not follow this customer.", clip(member, 64)))
	return nil, nil
}

// wecomReady reports whether WeCom is connected, so a write-through is not
// even tried without it.
func (s *Server) wecomReady(ctx context.Context) (bool, error) {
	wc, err := s.Conn.Settings(ctx)
	return err == nil && wc.Configured(), err
}

// writeThrough runs a change that goes to WeCom first. It gives the
// problem to show beside the form, or answered = true when it showed the
// error page itself (an internal error).
func (s *Server) writeThrough(w http.ResponseWriter, r *http.Request, change func() error) (p *problem, answered bool) {
	ready, err := s.wecomReady(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return nil, true
	}
	if !ready {
		return &problem{Status: http.StatusConflict, Text: i18n.T(i18n.FromRequest(r), "wecom.notconnected")}, false
	}
	if err := change(); err != nil {
		if p = s.problemOf(r, err); p == nil {
			s.pageError(w, r, err)
			return nil, true
		}
		return p, false
	}
	return nil, false
}

// formValues returns the trimmed, non-empty values of a form field.
func formValues(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.PostForm[name] {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// customerTags adds and removes corp tags on one relation, in WeCom first
// and then locally.
func (s *Server) customerTags(w http.ResponseWriter, r *http.Request) {
	c, f := s.relationForm(w, r)
	if c == nil {
		return
	}
	ctx := r.Context()
	add, remove := formValues(r, "add"), formValues(r, "remove")
	fault := &formFault{Member: f.MemberUserID, Form: "tags"}
	groups, err := s.Customers.TagGroups(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	known := tagIndex(groups)
	switch {
	case f.Status != customer.FollowActive:
		fault.Problem = invalid(r, "customer.error.ended")
	case len(add)+len(remove) == 0:
		fault.Problem = invalid(r, "customer.error.notags")
	}
	for _, id := range add {
		if _, ok := known[id]; !ok && fault.Problem == nil {
			fault.Problem = invalid(r, "customer.error.unknowntag", clip(id, 64))
		}
	}
	for _, id := range remove {
		if _, ok := known[id]; !ok && !slices.Contains(f.TagIDs, id) && fault.Problem == nil {
			fault.Problem = invalid(r, "customer.error.unknowntag", clip(id, 64))
		}
	}
	if fault.Problem == nil {
		var answered bool
		fault.Problem, answered = s.writeThrough(w, r, func() error { return s.Syncer.MarkTags(ctx, f.MemberUserID, c.ExternalUserID, add, remove) })
		if answered {
			return
		}
	}
	if fault.Problem != nil {
		s.renderCustomer(w, r, c.ExternalUserID, "", fault)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionPIIWrite, "customer", idString(c.ID), idString(c.ID), map[string]any{"member": f.MemberUserID, "change": "tags"}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("customer tags changed", "by", principal(r).String(), "member", f.MemberUserID, "added", len(add), "removed", len(remove))
	http.Redirect(w, r, customerURL(c.ExternalUserID, "tags", f.MemberUserID), http.StatusSeeOther)
}

// customerURL is the customer page after a change, scrolled to the
// relation.
func customerURL(externalUserID, done, member string) string {
	return "/customers/" + url.PathEscape(externalUserID) + "?done=" + done + "#rel-" + url.PathEscape(member)
}
