package web

import (
	"crypto/rand"
	"net/http"

	"github.com/kith-scrm/kith/internal/jobs"
)

// apiMe tells the caller who the token is.
func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	writeJSON(w, http.StatusOK, map[string]any{"kind": p.Kind, "name": p.Name, "role": p.Role})
}

type probeRequest struct {
	Count int    `json:"count"`
	Batch string `json:"batch"`
}

// apiEnqueueProbes enqueues probe jobs, to check that the cluster works jobs.
func (s *Server) apiEnqueueProbes(w http.ResponseWriter, r *http.Request) {
	var req probeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.Batch == "" {
		req.Batch = "api-" + rand.Text()
	}
	ids, err := s.Jobs.EnqueueProbes(r.Context(), req.Batch, req.Count)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"batch": req.Batch, "job_ids": ids, "enqueued_by": s.Node})
}

// apiProbeReport tells how a probe batch ran so far.
func (s *Server) apiProbeReport(w http.ResponseWriter, r *http.Request) {
	rep, err := jobs.Probes(r.Context(), s.DB, r.PathValue("batch"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": rep.Runs, "distinct_jobs": rep.Distinct, "by_node": rep.ByNode})
}
