package web

import (
	"context"
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/store"
)

// Status is the instance status the dashboard and /api/v1/status show.
type Status struct {
	Version           string         `json:"version"`
	Node              string         `json:"node"`
	Database          string         `json:"database"`
	Dialect           string         `json:"dialect"`
	SchemaVersion     int64          `json:"schema_version"`
	SchemaLatest      int64          `json:"schema_latest"`
	MigrationsCurrent bool           `json:"migrations_current"`
	JobsRunning       bool           `json:"jobs_running"`
	Jobs              map[string]int `json:"jobs"`
	Users             int            `json:"users"`
	Sandbox           bool           `json:"sandbox"`
	StartedAt         time.Time      `json:"started_at"`
	Uptime            string         `json:"uptime"`
}

// status gathers the instance status as p may see it: only roles that run
// the instance see where the data lives.
func (s *Server) status(ctx context.Context, p *auth.Principal) (*Status, error) {
	db := map[store.Dialect]string{store.SQLite: "SQLite", store.Postgres: "PostgreSQL"}[s.DB.Dialect]
	if p.Can(auth.PermViewInfra) {
		db = s.DB.Describe()
	}
	st := &Status{
		Version: s.Version, Node: s.Node, Database: db, Dialect: string(s.DB.Dialect),
		JobsRunning: s.Jobs.Running(), Sandbox: s.Sandbox, StartedAt: s.StartedAt,
		Uptime: s.Clock.Now().Sub(s.StartedAt).Round(time.Second).String(), Jobs: map[string]int{},
	}
	m, err := s.DB.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	st.SchemaVersion, st.SchemaLatest, st.MigrationsCurrent = m.Version, m.Latest, m.Current()
	counts, err := s.Jobs.CountByState(ctx)
	if err != nil {
		return nil, err
	}
	for state, n := range counts {
		st.Jobs[string(state)] = n
	}
	if st.Users, err = s.Auth.CountUsers(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context(), principal(r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &dashboardData{Status: st}
	if err := s.dashboardSales(r.Context(), principal(r), d); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "dashboard", d)
}

// statusFragment renders the status card alone, for htmx to refresh.
func (s *Server) statusFragment(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context(), principal(r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "status-card", st)
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context(), principal(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
