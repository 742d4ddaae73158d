package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
)

// syncView is the sync card on the customers page.
type syncView struct {
	Configured   bool // WeCom settings are complete
	CanConfigure bool // the viewer may open the settings page
	Run          *wecomsync.Run
	// JobID is the sync job the console enqueued, followed while it waits;
	// JobState is its River state and JobError why it stopped, if it did.
	JobID    int64
	JobState string
	JobError string
	Queued   bool // the button's request was a duplicate of a waiting job
	// Waiting means a run is queued or running, so the card polls.
	Waiting bool
	// Note is a translation key saying what the job is doing when the last
	// run does not tell: queued, or stopped before it ran.
	Note string
	// TriggerKey says in words what started the last run.
	TriggerKey string
}

var syncTriggers = map[string]bool{"console": true, "schedule": true, "start": true, "cli": true}

// syncJobWaiting lists the job states of a sync that has not finished.
var syncJobWaiting = map[rivertype.JobState]bool{
	rivertype.JobStateAvailable: true, rivertype.JobStatePending: true, rivertype.JobStateRunning: true,
	rivertype.JobStateRetryable: true, rivertype.JobStateScheduled: true,
}

// syncState gathers the card: the connection, the last run and, when jobID
// is set, the state of that job.
func (s *Server) syncState(ctx context.Context, p *auth.Principal, jobID int64) (*syncView, error) {
	w, err := s.Conn.Settings(ctx)
	if err != nil {
		return nil, err
	}
	v := &syncView{Configured: w.Configured(), CanConfigure: p.Can(auth.PermManageConfig)}
	if v.Run, err = s.Syncer.LastRun(ctx); err != nil {
		return nil, err
	}
	if jobID > 0 {
		job, err := s.Jobs.Client().JobGet(ctx, jobID)
		switch {
		case errors.Is(err, river.ErrNotFound):
			// Cleaned up since, or never a job: show the last run alone.
		case err != nil:
			return nil, err
		case job.Kind == (wecomsync.SyncArgs{}).Kind():
			v.JobID, v.JobState = job.ID, string(job.State)
			if n := len(job.Errors); n > 0 && !syncJobWaiting[job.State] && job.State != rivertype.JobStateCompleted {
				v.JobError = job.Errors[n-1].Error
			}
		}
	}
	running := v.Run != nil && v.Run.Status == "running"
	state := rivertype.JobState(v.JobState)
	v.Waiting = running || syncJobWaiting[state]
	switch {
	case syncJobWaiting[state] && !running:
		v.Note = "sync.waiting"
	case state == rivertype.JobStateCancelled || state == rivertype.JobStateDiscarded:
		v.Note = "sync.stopped"
	}
	if v.Run != nil {
		v.TriggerKey = "sync.trigger.other"
		if syncTriggers[v.Run.Trigger] {
			v.TriggerKey = "sync.trigger." + v.Run.Trigger
		}
	}
	return v, nil
}

// syncStatus renders the sync card alone; htmx polls it while a run waits
// or runs (?job= names the job the button enqueued).
func (s *Server) syncStatus(w http.ResponseWriter, r *http.Request) {
	jobID, err := positiveParam(r.URL.Query(), "job")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.syncState(r.Context(), principal(r), jobID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "sync-card", v)
}

// syncStart enqueues a full sync. River keeps one queued or running at a
// time, so a second click follows the first one's job.
func (s *Server) syncStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.syncState(ctx, principal(r), 0)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	if !v.Configured {
		// Nothing is enqueued: the job would only be cancelled.
		status = http.StatusConflict
	} else {
		res, err := s.Jobs.Client().Insert(ctx, wecomsync.SyncArgs{Trigger: "console"}, nil)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.Log.Info("full sync requested", "by", principal(r).String(), "job", res.Job.ID, "duplicate", res.UniqueSkippedAsDuplicate)
		if v, err = s.syncState(ctx, principal(r), res.Job.ID); err != nil {
			s.pageError(w, r, err)
			return
		}
		v.Queued = res.UniqueSkippedAsDuplicate
	}
	if r.Header.Get("HX-Request") == "true" {
		s.render(w, r, status, "sync-card", v)
		return
	}
	// Without htmx: back to the customers page, which follows the job.
	if status != http.StatusOK {
		s.pageError(w, r, kith.Errorf(kith.ECONFLICT, "WeCom is not connected yet: set it up in Settings first."))
		return
	}
	http.Redirect(w, r, "/customers?sync_job="+strconv.FormatInt(v.JobID, 10), http.StatusSeeOther)
}
