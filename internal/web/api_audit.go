package web

import (
	"net/http"
	"strconv"

	"github.com/kith-scrm/kith/internal/audit"
)

// apiAudit is GET /api/v1/audit: entries newest first with the page's
// filters, and the cursor of the next page.
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, aq, err := s.auditFilter(r.URL.Query())
	if err == nil {
		err = s.auditEvent(ctx, r, audit.ActionAuditRead, "audit_log", "", aq.Person, aq.detail())
	}
	var entries []audit.Entry
	var next int64
	if err == nil {
		entries, next, err = s.Audit.List(ctx, f)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	body := map[string]any{"entries": entries, "next_before": nil}
	if next > 0 {
		body["next_before"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// apiAuditEntry is GET /api/v1/audit/{seq}: one entry.
func (s *Server) apiAuditEntry(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	seq, err := pathID(r, "seq")
	if err == nil {
		err = s.auditEvent(ctx, r, audit.ActionAuditRead, "audit_entry", strconv.FormatInt(seq, 10), "", nil)
	}
	var e audit.Entry
	if err == nil {
		e, err = s.Audit.Get(ctx, seq)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// apiAuditExport is GET /api/v1/audit/export?format=csv|jsonl.
func (s *Server) apiAuditExport(w http.ResponseWriter, r *http.Request) {
	s.auditExport(w, r, s.apiError)
}

// breakJSON is a broken link of the audit chain in the API.
type breakJSON struct {
	Seq      int64  `json:"seq"`
	Kind     string `json:"kind"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
	Reason   string `json:"reason"`
}

// apiAuditVerify is GET /api/v1/audit/verify: the chain checked from the
// first entry to the last.
func (s *Server) apiAuditVerify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	err := s.auditEvent(ctx, r, audit.ActionAuditRead, "audit_log", "", "", map[string]any{"verify": true})
	var rep audit.Report
	if err == nil {
		rep, err = s.Audit.Verify(ctx)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	body := map[string]any{"ok": rep.OK(), "entries": rep.Entries, "last": rep.Last, "head": rep.Head, "summary": rep.String(), "break": nil}
	if b := rep.Break; b != nil {
		body["break"] = breakJSON{Seq: b.Seq, Kind: b.Kind, Expected: b.Expected, Found: b.Found, Reason: b.Reason}
	}
	writeJSON(w, http.StatusOK, body)
}

// apiAuditCheckpoint is GET /api/v1/audit/checkpoint: the seq and hash of
// the last entry of a verified log, to keep outside Kith; 409 while the log
// is broken.
func (s *Server) apiAuditCheckpoint(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	err := s.auditEvent(ctx, r, audit.ActionAuditRead, "audit_log", "", "", map[string]any{"checkpoint": true})
	var cp audit.Checkpoint
	if err == nil {
		cp, err = s.Audit.Checkpoint(ctx)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"seq": cp.Seq, "hash": cp.Hash, "at": cp.At.UTC().Format(jsonTime)})
}

// auditImmutable is the answer to a request to change or delete an entry.
const auditImmutable = "Audit entries cannot be changed or deleted."

// apiAuditChange answers PUT, PATCH and DELETE on an entry: 405, always,
// and the attempt is recorded against whoever made it.
func (s *Server) apiAuditChange(w http.ResponseWriter, r *http.Request) {
	e := auditEntry(r, audit.ActionAuditChangeAttempt, audit.OutcomeDenied, "audit_entry", clip(r.PathValue("seq"), 40), "",
		map[string]any{"method": r.Method})
	if s.Audit != nil {
		if err := s.Audit.Record(r.Context(), e); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	w.Header().Set("Allow", http.MethodGet)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "method_not_allowed", "message": auditImmutable}})
}
