package web

import (
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
)

// segmentJSON is a saved segment in the API.
type segmentJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Expression  string    `json:"expression"`
	OwnerID     int64     `json:"owner_id"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// apiSegments lists the saved segments.
func (s *Server) apiSegments(w http.ResponseWriter, r *http.Request) {
	list, err := s.Segments.List(r.Context())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]segmentJSON, 0, len(list))
	for _, v := range list {
		out = append(out, segmentJSON{v.ID, v.Name, v.Description, v.Expression, v.OwnerID, v.CreatedAt, v.UpdatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"segments": out})
}

// countRequest is the body of POST /api/v1/segments/count.
type countRequest struct {
	Expression string `json:"expression"`
}

// apiSegmentCount counts the customers of an expression: a mistake is a 400
// with the column and what was expected.
func (s *Server) apiSegmentCount(w http.ResponseWriter, r *http.Request) {
	var req countRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	start := time.Now()
	a, err := s.countSegment(r.Context(), req.Expression)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	by := "database"
	if a.ByIndex {
		by = "index"
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": a.Count, "expression": a.Canonical, "counted_by": by,
		"micros": time.Since(start).Microseconds(), "explain": segment.Explain(a.Expr)})
}
