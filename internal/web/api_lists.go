package web

import (
	"net/http"

	"github.com/kith-scrm/kith/internal/audit"
)

// customerJSON is a customer in the API.
type customerJSON struct {
	ID             int64  `json:"id"`
	ExternalUserID string `json:"external_userid"`
	Name           string `json:"name"`
	Type           int    `json:"type"`
	Gender         int    `json:"gender"`
	CorpName       string `json:"corp_name,omitempty"`
	Followers      int    `json:"followers"`
	CreatedAt      string `json:"created_at"`
	UpdatedAt      string `json:"updated_at"`
}

// apiCustomers is GET /api/v1/customers: the list with the page's filters.
func (s *Server) apiCustomers(w http.ResponseWriter, r *http.Request) {
	f, err := s.customerFilter(r.URL.Query())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	page, err := s.Customers.List(r.Context(), f)
	if err == nil && len(page.Rows) > 0 {
		err = s.auditEvent(r.Context(), r, audit.ActionPIIRead, "customer_list", "", "", map[string]any{"rows": len(page.Rows)})
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]customerJSON, 0, len(page.Rows))
	for _, c := range page.Rows {
		out = append(out, customerJSON{
			ID: c.ID, ExternalUserID: c.ExternalUserID, Name: c.Name, Type: c.Type, Gender: c.Gender, CorpName: c.CorpName,
			Followers: c.Followers, CreatedAt: c.CreatedAt.UTC().Format(jsonTime), UpdatedAt: c.UpdatedAt.UTC().Format(jsonTime),
		})
	}
	body := map[string]any{"customers": out, "next_before": nil}
	if page.Next > 0 {
		body["next_before"] = page.Next
	}
	writeJSON(w, http.StatusOK, body)
}

// jsonTime is how the API writes times: RFC 3339 in UTC.
const jsonTime = "2006-01-02T15:04:05Z07:00"

// eventJSON is a received event in the API.
type eventJSON struct {
	ID         int64   `json:"id"`
	Source     string  `json:"source"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	Attempts   int     `json:"attempts"`
	Error      string  `json:"error,omitempty"`
	ReceivedAt string  `json:"received_at"`
	AppliedAt  *string `json:"applied_at"`
	Body       string  `json:"body"`
}

// apiEvents is GET /api/v1/events: received events, newest first.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	f, err := eventFilter(r)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	events, next, err := s.Ingest.List(r.Context(), f)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]eventJSON, 0, len(events))
	for _, e := range events {
		j := eventJSON{ID: e.ID, Source: e.Source, Kind: e.Kind, Status: e.Status, Attempts: e.Attempts, Error: e.Error,
			ReceivedAt: e.ReceivedAt.UTC().Format(jsonTime), Body: e.Body}
		if e.AppliedAt != nil {
			at := e.AppliedAt.UTC().Format(jsonTime)
			j.AppliedAt = &at
		}
		out = append(out, j)
	}
	body := map[string]any{"events": out, "next_before": nil}
	if next > 0 {
		body["next_before"] = next
	}
	writeJSON(w, http.StatusOK, body)
}
