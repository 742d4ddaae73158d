package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/protect"
)

// customerListData is the customers page and its results fragment.
type customerListData struct {
	Filter  customer.Filter
	Rows    []customer.Row
	Problem *problem
	// NextURL is the link to the next page ("" on the last); FirstURL goes
	// back to the first page when this is a later one.
	NextURL  string
	FirstURL string

	// The rest is only on the whole page.
	Total   int
	Members []customer.Member
	Groups  []customer.TagGroup
	Sync    *syncView // nil unless the viewer may run a sync
}

// customerFilter reads the list's query parameters. A search text that is a
// phone number also looks up the phone numbers' blind index.
func (s *Server) customerFilter(q url.Values) (customer.Filter, error) {
	f, err := readCustomerFilter(q)
	if err == nil && s.Protector != nil && f.Query != "" {
		f.PhoneIndex = s.Protector.Index(protect.FieldPhone, f.Query)
	}
	return f, err
}

// readCustomerFilter reads the list's query parameters.
func readCustomerFilter(q url.Values) (customer.Filter, error) {
	var f customer.Filter
	var err error
	if f.Query, err = queryParam(q, "q"); err != nil {
		return f, err
	}
	if f.Member, err = queryParam(q, "member"); err != nil {
		return f, err
	}
	if f.TagID, err = queryParam(q, "tag"); err != nil {
		return f, err
	}
	if f.Before, err = positiveParam(q, "before"); err != nil {
		return f, err
	}
	f.Limit, err = limitParam(q, 200)
	return f, err
}

// filterQuery gives the query of a list link with f's filters.
func filterQuery(path string, f customer.Filter, before int64) string {
	limit, b := "", ""
	if f.Limit != 0 {
		limit = strconv.Itoa(f.Limit)
	}
	if before > 0 {
		b = strconv.FormatInt(before, 10)
	}
	return withQuery(path, "q", f.Query, "member", f.Member, "tag", f.TagID, "limit", limit, "before", b)
}

// customerList lists customers, newest first, a page at a time. While the
// search box is typed in, htmx asks for the results table alone
// (HX-Target customer-results), which skips the count and the filters'
// lists. The count is of all customers, never of the filtered set: that
// would scan the whole table at every keystroke.
func (s *Server) customerList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Vary", "HX-Request, HX-Target")
	d := &customerListData{}
	f, err := s.customerFilter(r.URL.Query())
	d.Filter = f
	if err == nil {
		var page *customer.Page
		if page, err = s.Customers.List(ctx, f); err == nil && len(page.Rows) > 0 {
			// The search text is not logged: it may be a name.
			err = s.auditEvent(ctx, r, audit.ActionPIIRead, "customer_list", "", "", map[string]any{"rows": len(page.Rows)})
		}
		if err == nil {
			d.Rows = page.Rows
			if page.Next > 0 {
				d.NextURL = filterQuery("/customers", f, page.Next)
			}
			if f.Before > 0 {
				d.FirstURL = filterQuery("/customers", f, 0)
			}
		}
	}
	status := http.StatusOK
	if err != nil {
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		status = d.Problem.Status
	}
	if isFragment(r, "customer-results") {
		s.render(w, r, status, "customer-results", d)
		return
	}
	if err := s.customerListExtras(ctx, r, d); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, status, "customers", d)
}

// customerListExtras loads what only the whole page shows.
func (s *Server) customerListExtras(ctx context.Context, r *http.Request, d *customerListData) error {
	var err error
	if d.Total, err = s.Customers.Count(ctx); err != nil {
		return err
	}
	if d.Members, err = s.Customers.Members(ctx); err != nil {
		return err
	}
	if d.Groups, err = s.Customers.TagGroups(ctx); err != nil {
		return err
	}
	if p := principal(r); p.Can(auth.PermRunSync) {
		job, err := positiveParam(r.URL.Query(), "sync_job")
		if err != nil {
			job = 0 // a link's leftover; the card shows the last run
		}
		if d.Sync, err = s.syncState(ctx, p, job); err != nil {
			return err
		}
	}
	return nil
}
