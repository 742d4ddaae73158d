package web

import (
	"context"
	"net/http"
	"time"
)

// migrationsTrust is how long /readyz trusts a schema it found current.
const migrationsTrust = 30 * time.Second

// healthz answers 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers, the schema is current and
// the job client is working; otherwise 503 with what is wrong.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "migrations": "ok", "jobs": "ok"}
	ok := true
	if err := s.DB.Ping(ctx); err != nil {
		checks["database"], ok = "unreachable", false
		s.Log.Warn("readyz: database", "err", err)
	} else if time.Now().UnixNano() >= s.migrationsCurrentUntil.Load() {
		// Reading the schema state costs a connection and a transaction on
		// SQLite; a schema found current is trusted for a while, since only a
		// newer binary moves it on.
		if m, err := s.DB.Migrations(ctx); err != nil {
			checks["migrations"], ok = "unknown", false
			s.Log.Warn("readyz: migrations", "err", err)
		} else if !m.Current() {
			checks["migrations"], ok = "pending", false
		} else {
			s.migrationsCurrentUntil.Store(time.Now().Add(migrationsTrust).UnixNano())
		}
	}
	if !s.Jobs.Running() {
		checks["jobs"], ok = "stopped", false
	}
	// The segment index is reported, not required: until it is built (or
	// when it falls behind) segment counts come from the database.
	if s.SegmentIndex != nil {
		checks["segment_index"] = "building"
		if ix := s.SegmentIndex(); ix != nil {
			if ix.Ready() {
				checks["segment_index"] = "ready"
			} else {
				checks["segment_index"] = "behind"
			}
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}
