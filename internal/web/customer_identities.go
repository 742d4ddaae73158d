package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

// maxLinkReason bounds the reason given for linking or unlinking a shop
// identity.
const maxLinkReason = 200

// linkedElsewhere refuses to link a buyer account that another customer
// holds: it names that customer only by the address of their page.
type linkedElsewhere struct{ ExternalUserID string }

func (e *linkedElsewhere) Error() string {
	return "This buyer account is already linked to another customer (" + maskExternal(e.ExternalUserID) + "); unlink it there first."
}

// maskExternal shows the start of an external_userid only.
func maskExternal(id string) string {
	r := []rune(id)
	if len(r) > 4 {
		r = r[:4]
	}
	return string(r) + "***"
}

// identityFault is a refused link or unlink form on the customer page.
type identityFault struct {
	Form          string // "link" or "unlink"
	Identity      int64  // the identity of a refused unlink
	Shop, Account string // the link form's values, shown again
	Reason        string
	Problem       *problem
	// Elsewhere is the customer already holding the account: the link
	// goes to their page, the text is masked.
	Elsewhere, ElsewhereMasked string
}

// linkIdentity links the buyer account of a shop to customer c, found by
// its blind index only (never by a name), refused when the account is
// unknown, already this customer's, or another's (*linkedElsewhere).
func (s *Server) linkIdentity(ctx context.Context, r *http.Request, c *customer.Detail, shop, account, reason string) (orders.Identity, error) {
	st := s.ordersStore()
	switch {
	case st == nil || s.Audit == nil:
		return orders.Identity{}, kith.Errorf(kith.EUNAVAILABLE, "Orders cannot be read: no key to open protected fields is configured.")
	case shop == "":
		return orders.Identity{}, kith.Errorf(kith.EINVALID, "shop is missing: name the shop the buyer account belongs to.")
	case account == "":
		return orders.Identity{}, kith.Errorf(kith.EINVALID, "account is missing: give the buyer account in that shop.")
	case reason == "":
		return orders.Identity{}, kith.Errorf(kith.EINVALID, "reason is missing: say why the buyer account is this customer's.")
	case utf8.RuneCountInString(reason) > maxLinkReason:
		return orders.Identity{}, kith.Errorf(kith.EINVALID, "reason is longer than %d characters.", maxLinkReason)
	}
	id, err := st.FindIdentity(ctx, shop, account)
	if err != nil {
		return orders.Identity{}, err
	}
	switch id.CustomerID {
	case 0:
	case c.ID:
		return orders.Identity{}, kith.Errorf(kith.ECONFLICT, "This buyer account is already linked to this customer.")
	default:
		var other string
		if err := s.DB.R.QueryRowContext(ctx, `SELECT external_userid FROM customers WHERE id = $1`, id.CustomerID).Scan(&other); err != nil {
			return orders.Identity{}, err
		}
		return orders.Identity{}, &linkedElsewhere{ExternalUserID: other}
	}
	if err := st.Link(ctx, id.ID, c.ExternalUserID, actorOf(principal(r)), reason, s.Audit); err != nil {
		return orders.Identity{}, err
	}
	id.CustomerID, id.LinkedBy = c.ID, "manual"
	return id, nil
}

// unlinkIdentity detaches one of customer c's shop identities.
func (s *Server) unlinkIdentity(ctx context.Context, r *http.Request, c *customer.Detail, idText, reason string) (int64, error) {
	st := s.ordersStore()
	if st == nil || s.Audit == nil {
		return 0, kith.Errorf(kith.EUNAVAILABLE, "Orders cannot be read: no key to open protected fields is configured.")
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, kith.Errorf(kith.ENOTFOUND, "This customer has no shop identity %q.", clip(idText, 32))
	}
	switch {
	case reason == "":
		return id, kith.Errorf(kith.EINVALID, "reason is missing: say why the buyer account is not this customer's.")
	case utf8.RuneCountInString(reason) > maxLinkReason:
		return id, kith.Errorf(kith.EINVALID, "reason is longer than %d characters.", maxLinkReason)
	}
	ids, err := st.Identities(ctx, c.ID)
	if err != nil {
		return id, err
	}
	held := false
	for _, i := range ids {
		held = held || i.ID == id
	}
	if !held {
		return id, kith.Errorf(kith.ENOTFOUND, "This customer has no shop identity %d.", id)
	}
	return id, st.Unlink(ctx, id, actorOf(principal(r)), reason, s.Audit)
}

// customerIdentityLink is the customer page's link form.
func (s *Server) customerIdentityLink(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f := &identityFault{Form: "link", Shop: strings.TrimSpace(r.PostFormValue("shop")),
		Account: strings.TrimSpace(r.PostFormValue("account")), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	_, err = s.linkIdentity(r.Context(), r, c, f.Shop, f.Account, f.Reason)
	s.identityAnswer(w, r, c, f, err, "identity_link")
}

// customerIdentityUnlink is the customer page's unlink form.
func (s *Server) customerIdentityUnlink(w http.ResponseWriter, r *http.Request) {
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f := &identityFault{Form: "unlink", Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	f.Identity, err = s.unlinkIdentity(r.Context(), r, c, r.PathValue("id"), f.Reason)
	s.identityAnswer(w, r, c, f, err, "identity_unlink")
}

// identityAnswer redirects after a change, or shows the page again with
// the refusal beside its form.
func (s *Server) identityAnswer(w http.ResponseWriter, r *http.Request, c *customer.Detail, f *identityFault, err error, done string) {
	if err == nil {
		http.Redirect(w, r, "/customers/"+url.PathEscape(c.ExternalUserID)+"?done="+done+"#orders", http.StatusSeeOther)
		return
	}
	if f.Form == "unlink" && kith.ErrorCode(err) == kith.ENOTFOUND {
		s.pageError(w, r, err)
		return
	}
	var else_ *linkedElsewhere
	if errors.As(err, &else_) {
		f.Elsewhere, f.ElsewhereMasked = else_.ExternalUserID, maskExternal(else_.ExternalUserID)
		f.Problem = &problem{Status: http.StatusConflict, Text: invalid(r, "orders.link.elsewhere").Text}
	} else if f.Problem = s.problemOf(r, err); f.Problem == nil {
		s.pageError(w, r, err)
		return
	}
	s.renderCustomer(w, r, c.ExternalUserID, "", &formFault{Form: "identity", Problem: f.Problem, identity: f})
}

// identityRequest is the body of POST …/identities.
type identityRequest struct {
	Shop    string `json:"shop"`
	Account string `json:"account"`
	Reason  string `json:"reason"`
}

// apiCustomerIdentityLink links a buyer account to a customer.
func (s *Server) apiCustomerIdentityLink(w http.ResponseWriter, r *http.Request) {
	var req identityRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	id, err := s.linkIdentity(r.Context(), r, c, strings.TrimSpace(req.Shop), strings.TrimSpace(req.Account), strings.TrimSpace(req.Reason))
	var else_ *linkedElsewhere
	if errors.As(err, &else_) {
		writeJSON(w, http.StatusConflict, map[string]any{"error": map[string]string{"code": kith.ECONFLICT, "message": else_.Error(),
			"customer": "/api/v1/customers/" + url.PathEscape(else_.ExternalUserID)}})
		return
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"identity": map[string]any{"id": id.ID, "shop": id.Shop,
		"account": maskAccount(id.Account), "linked_by": id.LinkedBy, "orders": id.Orders}})
}

// apiCustomerIdentityUnlink unlinks a shop identity from a customer; the
// reason comes in the query (?reason=) or a JSON body {"reason": "..."}.
func (s *Server) apiCustomerIdentityUnlink(w http.ResponseWriter, r *http.Request) {
	reason := r.URL.Query().Get("reason")
	if reason == "" && r.ContentLength != 0 {
		var req struct {
			Reason string `json:"reason"`
		}
		if err := decodeJSON(w, r, &req); err != nil {
			s.apiError(w, r, err)
			return
		}
		reason = req.Reason
	}
	c, err := s.Customers.Get(r.Context(), r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if _, err := s.unlinkIdentity(r.Context(), r, c, r.PathValue("id"), strings.TrimSpace(reason)); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// knownShops lists the shops buyer accounts are known in, for the link
// form to offer.
func (s *Server) knownShops(ctx context.Context) ([]string, error) {
	rows, err := s.DB.R.QueryContext(ctx, `SELECT DISTINCT shop FROM shop_identities ORDER BY shop LIMIT 200`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var shop string
		if err := rows.Scan(&shop); err != nil {
			return nil, err
		}
		out = append(out, shop)
	}
	return out, rows.Err()
}
