package web

import (
	"net/http"
	"strconv"

	"github.com/kith-scrm/kith/internal/ingest"
)

// eventStatuses are the statuses the events page filters by, in the order
// of its tabs.
var eventStatuses = []string{ingest.StatusPending, ingest.StatusApplied, ingest.StatusStored, ingest.StatusFailed}

// eventListData is the events page.
type eventListData struct {
	Status   string
	Statuses []string
	Counts   map[string]int
	Total    int
	Events   []ingest.Event
	NextURL  string
	FirstURL string
}

// eventFilter reads the events page's query parameters.
func eventFilter(r *http.Request) (ingest.ListFilter, error) {
	q := r.URL.Query()
	var f ingest.ListFilter
	var err error
	if f.Status, err = queryParam(q, "status"); err != nil {
		return f, err
	}
	if f.Before, err = positiveParam(q, "before"); err != nil {
		return f, err
	}
	f.Limit, err = limitParam(q, 500)
	return f, err
}

// eventList lists received platform events, newest first, with the count
// in each status (an indexed GROUP BY, cheap at any size).
func (s *Server) eventList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := eventFilter(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	events, next, err := s.Ingest.List(ctx, f)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &eventListData{Status: f.Status, Statuses: eventStatuses, Events: events}
	if d.Counts, err = s.Ingest.Counts(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, n := range d.Counts {
		d.Total += n
	}
	limit := ""
	if f.Limit != 0 {
		limit = strconv.Itoa(f.Limit)
	}
	if next > 0 {
		d.NextURL = withQuery("/events", "status", f.Status, "limit", limit, "before", strconv.FormatInt(next, 10))
	}
	if f.Before > 0 {
		d.FirstURL = withQuery("/events", "status", f.Status, "limit", limit)
	}
	s.render(w, r, http.StatusOK, "events", d)
}
