package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// protectedJSON is a protected value in the API: masked, with the blind
// index that names it in a reveal.
type protectedJSON struct {
	Field  string `json:"field"`
	Index  string `json:"index"`
	Masked string `json:"masked"`
}

// relationJSON is a follow relation in the API.
type relationJSON struct {
	Member      string          `json:"member"`
	Remark      string          `json:"remark"`
	Description string          `json:"description"`
	AddWay      int             `json:"add_way"`
	State       string          `json:"state"`
	Status      string          `json:"status"`
	AddedAt     string          `json:"added_at"`
	EndedAt     *string         `json:"ended_at"`
	TagIDs      []string        `json:"tag_ids"`
	Phones      []protectedJSON `json:"phones"` // the numbers the member noted, masked
}

// apiCustomer is GET /api/v1/customers/{external_userid}: one customer
// with its relations and protected values, every protected value masked
// (P-43). The read is audited.
func (s *Server) apiCustomer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.Customers.Get(ctx, r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	rels := make([]relationJSON, 0, len(c.Follows))
	for _, f := range c.Follows {
		rel := relationJSON{Member: f.MemberUserID, Remark: f.Remark, Description: f.Description, AddWay: f.AddWay, State: f.State,
			Status: f.Status, AddedAt: f.AddedAt.UTC().Format(jsonTime), TagIDs: f.TagIDs, Phones: []protectedJSON{}}
		if rel.TagIDs == nil {
			rel.TagIDs = []string{}
		}
		if f.EndedAt != nil {
			at := f.EndedAt.UTC().Format(jsonTime)
			rel.EndedAt = &at
		}
		if rel.Phones, err = s.apiMaskedPhones(f); err != nil {
			s.apiError(w, r, err)
			return
		}
		rels = append(rels, rel)
	}
	values, err := customer.Protected(ctx, s.DB.R, c.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	prot := make([]protectedJSON, 0, len(values))
	for _, v := range values {
		prot = append(prot, protectedJSON{Field: v.Field, Index: v.Index, Masked: v.Masked})
	}
	if err := s.auditEvent(ctx, r, audit.ActionPIIRead, "customer", idString(c.ID), idString(c.ID), nil); err != nil {
		s.apiError(w, r, err)
		return
	}
	active := 0
	for _, f := range c.Follows {
		if f.Status == customer.FollowActive {
			active++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"customer": customerJSON{ID: c.ID, ExternalUserID: c.ExternalUserID, Name: c.Name, Type: c.Type, Gender: c.Gender, CorpName: c.CorpName,
			Followers: active, CreatedAt: c.CreatedAt.UTC().Format(jsonTime), UpdatedAt: c.UpdatedAt.UTC().Format(jsonTime)},
		"relations": rels,
		"protected": prot,
	})
}

// apiMaskedPhones opens a relation's numbers only to mask them; without a
// Protector none are shown.
func (s *Server) apiMaskedPhones(f customer.Follow) ([]protectedJSON, error) {
	out := []protectedJSON{}
	if s.Protector == nil {
		return out, nil
	}
	for _, sealed := range f.Phones {
		v, err := s.Protector.Open(protect.FieldPhone, sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, protectedJSON{Field: protect.FieldPhone, Index: sealed.Index, Masked: protect.MaskPhone(v)})
	}
	return out, nil
}

// revealRequest is the body of a reveal.
type revealRequest struct {
	Field  string `json:"field"`  // phone, email or address
	Index  string `json:"index"`  // the value's blind index, from the customer's answer
	Reason string `json:"reason"` // why it must be seen in full; required
}

// apiCustomerReveal is POST /api/v1/customers/{external_userid}/reveal:
// one protected value of the customer in full, for a caller whose role may
// reveal, with a reason, audited before it is answered (P-43, P-45).
func (s *Server) apiCustomerReveal(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req revealRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case !protect.Known(req.Field):
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "field is %q; use one of %s.", clip(req.Field, 32), strings.Join(protect.Fields, ", ")))
		return
	case req.Index == "":
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "index is missing; take it from GET /api/v1/customers/{external_userid}."))
		return
	case req.Reason == "":
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "reason is missing; say why the value must be seen in full."))
		return
	case utf8.RuneCountInString(req.Reason) > maxRevealReason:
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "reason is longer than %d characters.", maxRevealReason))
		return
	}
	c, err := s.Customers.Get(ctx, r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	sealed, member, err := s.findProtected(r, c, req.Field, req.Index)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	value, err := s.Protector.Open(req.Field, sealed)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	detail := map[string]any{"field": req.Field, "reason": req.Reason}
	if member != "" {
		detail["member"] = member
	}
	if err := s.auditEvent(ctx, r, audit.ActionPIIReveal, "customer", idString(c.ID), idString(c.ID), detail); err != nil {
		s.apiError(w, r, err)
		return
	}
	// The value is in this answer only: never cached.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"field": req.Field, "index": req.Index, "value": value})
}

// findProtected finds the customer's value of field with the given index:
// a number noted on a relation (and the member who noted it) or one of the
// customer's own protected values.
func (s *Server) findProtected(r *http.Request, c *customer.Detail, field, index string) (protect.Sealed, string, error) {
	notFound := kith.Errorf(kith.ENOTFOUND, "customer %s has no %s with that index.", c.ExternalUserID, field)
	if s.Protector == nil {
		return protect.Sealed{}, "", notFound
	}
	if field == protect.FieldPhone {
		for _, f := range c.Follows {
			for _, p := range f.Phones {
				if p.Index == index {
					return p, f.MemberUserID, nil
				}
			}
		}
	}
	values, err := customer.Protected(r.Context(), s.DB.R, c.ID)
	if err != nil {
		return protect.Sealed{}, "", err
	}
	for _, v := range values {
		if v.Field == field && v.Index == index {
			return v.Sealed, "", nil
		}
	}
	return protect.Sealed{}, "", notFound
}
