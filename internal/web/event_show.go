package web

import (
	"net/http"

	"github.com/kith-scrm/kith/internal/audit"
)

// eventShow shows one received event with its decrypted body. WeCom's
// change events hold ids and change types only, never chat content.
func (s *Server) eventShow(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	e, err := s.Ingest.Get(r.Context(), id)
	if err == nil {
		err = s.auditEvent(r.Context(), r, audit.ActionPIIRead, "inbound_event", idString(e.ID), "", nil)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "event", e)
}
