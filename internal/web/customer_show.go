package web

import (
	"context"
	"net/http"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/protect"
)

// tagRef is a corp tag as a relation shows it.
type tagRef struct {
	ID    string
	Name  string // the tag id when the tag is unknown locally
	Group string
	Known bool
}

// relationView is one follow relation on the customer page.
type relationView struct {
	customer.Follow
	MemberName string // the userid when the member is unknown
	MemberLeft bool
	Active     bool
	Tags       []tagRef
	// Addable are the groups with the tags the relation does not have yet.
	Addable []customer.TagGroup
	// Problem is the error of the last form sent for this relation; Form
	// says which ("tags" or "remark"), so the remark form keeps its input.
	Problem *problem
	Form    string
	Remark  string
	Desc    string
	// Phones are the numbers the member noted, masked; one may be revealed.
	Phones []phoneView
	// Reason is the text of a refused reveal form.
	Reason string
}

// phoneView is a protected phone number on the customer page.
type phoneView struct {
	Index    string // the blind index, which names the number in the reveal form
	Masked   string
	Revealed string // the full number, only in the answer to a reveal
}

// customerData is the customer page.
type customerData struct {
	Customer  *customer.Detail
	Relations []*relationView
	CanTag    bool
	CanReveal bool
	// Configured is false while WeCom is not connected: the forms are
	// shown disabled with a note.
	Configured   bool
	CanConfigure bool
	Done         string // "tags", "remark", "consent" or "consent_unchanged" after a change
	Active       int    // active relations; more than one marks a shared customer
	// Consent is the customer's consent section; ConsentProblem and
	// ConsentNote are a refused withdrawal form's error and text.
	Consent *consentView
	// Permits are the gate's permits for this customer, newest first
	// ("why did I get this?"); MorePermits says the list was cut.
	Permits        []gate.Explanation
	MorePermits    bool
	ConsentProblem *problem
	ConsentNote    string
	// Orders is the timeline of orders and payments (customer_orders.go).
	Orders *ordersSection
	// Emails is the customer's e-mail addresses (customer_emails.go).
	Emails *emailsSection
}

// formFault is a refused form on the customer page, to show beside its
// relation.
type formFault struct {
	Member, Form string
	Problem      *problem
	Remark, Desc string
	// Phone and Revealed are a reveal's number (its index) and, once the
	// reveal is audited, its plaintext; Problem is then nil.
	Phone, Revealed string
	// identity is a refused link or unlink of a shop identity.
	identity *identityFault
}

func (s *Server) customerShow(w http.ResponseWriter, r *http.Request) {
	done := r.URL.Query().Get("done")
	switch done {
	case "tags", "remark", "consent", "consent_unchanged", "identity_link", "identity_unlink",
		"email_add", "email_remove":
	default:
		done = ""
	}
	s.renderCustomer(w, r, r.PathValue("external_userid"), done, nil)
}

// renderCustomer renders the customer page, with fault beside its relation
// when a form was refused.
func (s *Server) renderCustomer(w http.ResponseWriter, r *http.Request, externalUserID, done string, fault *formFault) {
	ctx := r.Context()
	d, err := s.customerPage(ctx, principal(r), externalUserID)
	if err == nil {
		err = s.auditEvent(ctx, r, audit.ActionPIIRead, "customer", idString(d.Customer.ID), idString(d.Customer.ID), nil)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Done = done
	status := http.StatusOK
	if fault != nil {
		if fault.Problem != nil {
			status = fault.Problem.Status
		}
		if fault.Form == "identity" && d.Orders != nil {
			d.Orders.Fault = fault.identity
		}
		if fault.Form == "consent" {
			d.ConsentProblem, d.ConsentNote = fault.Problem, fault.Remark
		}
		for _, rel := range d.Relations {
			if rel.MemberUserID == fault.Member {
				rel.Problem, rel.Form = fault.Problem, fault.Form
				if fault.Form == "remark" {
					rel.Remark, rel.Desc = fault.Remark, fault.Desc
				}
				if fault.Form == "reveal" {
					rel.Reason = fault.Remark
					for i := range rel.Phones {
						if rel.Phones[i].Index == fault.Phone {
							rel.Phones[i].Revealed = fault.Revealed
						}
					}
				}
			}
		}
	}
	s.render(w, r, status, "customer", d)
}

// customerPage loads a customer with its relations, member names and tag
// names.
func (s *Server) customerPage(ctx context.Context, p *auth.Principal, externalUserID string) (*customerData, error) {
	c, err := s.Customers.Get(ctx, externalUserID)
	if err != nil {
		return nil, err
	}
	members, err := s.Customers.Members(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.Customers.TagGroups(ctx)
	if err != nil {
		return nil, err
	}
	d := &customerData{Customer: c, CanTag: p.Can(auth.PermTagCustomers), CanConfigure: p.Can(auth.PermManageConfig),
		CanReveal: p.Can(auth.PermRevealPII) && s.Protector != nil}
	if d.CanTag {
		wc, err := s.Conn.Settings(ctx)
		if err != nil {
			return nil, err
		}
		d.Configured = wc.Configured()
	}
	if d.Consent, err = s.consentSection(ctx, externalUserID); err != nil {
		return nil, err
	}
	if d.Permits, d.MorePermits, err = s.permitsSection(ctx, externalUserID); err != nil {
		return nil, err
	}
	if d.Orders, err = s.customerOrders(ctx, c.ID); err != nil {
		return nil, err
	}
	if d.Emails, err = s.customerEmails(ctx, p, c.ID); err != nil {
		return nil, err
	}
	if d.Orders != nil {
		d.Orders.CanLink = p.Can(auth.PermLinkOrders)
		if d.Orders.CanLink {
			if d.Orders.Shops, err = s.knownShops(ctx); err != nil {
				return nil, err
			}
		}
	}
	byID := map[string]customer.Member{}
	for _, m := range members {
		byID[m.UserID] = m
	}
	tags := tagIndex(groups)
	for _, f := range c.Follows {
		rel := &relationView{Follow: f, MemberName: f.MemberUserID, Active: f.Status == customer.FollowActive, Remark: f.Remark, Desc: f.Description}
		if m, ok := byID[f.MemberUserID]; ok {
			rel.MemberName, rel.MemberLeft = m.Name, m.LeftAt != nil || m.Status == 5
		}
		has := map[string]bool{}
		for _, id := range f.TagIDs {
			has[id] = true
			t, ok := tags[id]
			if !ok {
				t = tagRef{ID: id, Name: id}
			}
			rel.Tags = append(rel.Tags, t)
		}
		rel.Addable = withoutTags(groups, has)
		if rel.Phones, err = s.maskedPhones(f); err != nil {
			return nil, err
		}
		if rel.Active {
			d.Active++
		}
		d.Relations = append(d.Relations, rel)
	}
	return d, nil
}

// tagIndex maps tag ids to their names and groups.
func tagIndex(groups []customer.TagGroup) map[string]tagRef {
	out := map[string]tagRef{}
	for _, g := range groups {
		for _, t := range g.Tags {
			out[t.TagID] = tagRef{ID: t.TagID, Name: t.Name, Group: g.Name, Known: true}
		}
	}
	return out
}

// withoutTags returns the groups with only the tags not in has; groups left
// empty are dropped.
func withoutTags(groups []customer.TagGroup, has map[string]bool) []customer.TagGroup {
	var out []customer.TagGroup
	for _, g := range groups {
		var keep []customer.Tag
		for _, t := range g.Tags {
			if !has[t.TagID] {
				keep = append(keep, t)
			}
		}
		if len(keep) > 0 {
			g.Tags = keep
			out = append(out, g)
		}
	}
	return out
}

// maskedPhones opens a relation's phone numbers only to mask them; without
// a Protector none are shown.
func (s *Server) maskedPhones(f customer.Follow) ([]phoneView, error) {
	if s.Protector == nil {
		return nil, nil
	}
	var out []phoneView
	for _, sealed := range f.Phones {
		v, err := s.Protector.Open(protect.FieldPhone, sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, phoneView{Index: sealed.Index, Masked: protect.MaskPhone(v)})
	}
	return out, nil
}
