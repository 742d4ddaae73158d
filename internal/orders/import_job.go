package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
)

// ImportArgs is the job that dry-runs or imports an uploaded file
// (Uploads). Insert it on the queue of the node that holds the file
// (jobs.NodeQueue): uploads live in a node's data folder.
type ImportArgs struct {
	Upload string `json:"upload"`
	Run    string `json:"run"` // RunDry or RunImport
	By     string `json:"by"`  // the user who asked, for the audit log
}

// Kind implements river.JobArgs.
func (ImportArgs) Kind() string { return "orders.import_file" }

// InsertOpts implements river.JobArgsWithInsertOpts: a crashed run is
// tried again (an import is one transaction, and the same file again
// changes nothing). One run of an upload at a time is the inserter's
// check (its state says queued or running), not River's uniqueness: a run
// that has just finished may not be marked completed yet.
func (ImportArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// ImportWorker runs ImportArgs jobs: it reads the upload with its mapping
// through Store.Import, writing the progress to the upload's state as it
// goes and the report at the end; an import (not a dry run) is recorded in
// the audit log as `kith import orders` records it.
type ImportWorker struct {
	river.WorkerDefaults[ImportArgs]
	Store   *Store
	Uploads *Uploads
	Audit   *audit.Log
	Log     *slog.Logger
	// ProgressEvery is how many rows pass between progress writes (0: 1000).
	ProgressEvery int
}

// Timeout implements river.Worker: a large file takes minutes.
func (w *ImportWorker) Timeout(*river.Job[ImportArgs]) time.Duration { return time.Hour }

// Work implements river.Worker.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	a := job.Args
	up, err := w.Uploads.Get(a.Upload)
	if err != nil {
		return river.JobCancel(err)
	}
	st := &RunState{Kind: a.Run, State: RunRunning, Queued: job.CreatedAt}
	if old, err := w.Uploads.State(up.ID, a.Run); err == nil && old != nil {
		st.Queued = old.Queued
	}
	if dry, err := w.Uploads.State(up.ID, RunDry); err == nil && dry != nil && dry.Report != nil {
		st.Expected = dry.Report.Rows
	}
	if err := w.Uploads.SetState(up.ID, st); err != nil {
		return err
	}
	rep, err := w.run(ctx, up, st)
	if err != nil {
		st.State, st.Finished = RunFailed, w.Uploads.Clock.Now()
		st.Error = kith.ErrorMessage(err)
		if kith.ErrorCode(err) == kith.EINTERNAL {
			st.Error = "the import failed inside Kith; nothing was written (the server's log says why)"
			if w.Log != nil {
				w.Log.Error("order import failed", "upload", up.ID, "err", err)
			}
		}
		if serr := w.Uploads.SetState(up.ID, st); serr != nil {
			return serr
		}
		if kith.ErrorCode(err) != kith.EINTERNAL {
			return river.JobCancel(err) // the same file fails the same way again
		}
		return err
	}
	if a.Run == RunImport {
		detail, _ := json.Marshal(map[string]any{"file": up.Name, "rows": rep.Rows, "inserted": rep.Inserted, "updated": rep.Updated, "rejected": rep.RejectedRows})
		if err := w.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorUser, Name: a.By}, Action: audit.ActionPIIWrite,
			ObjectType: "orders", ObjectID: rep.Mapping, Purpose: "order import", Outcome: audit.OutcomeOK, Detail: string(detail)}); err != nil {
			return fmt.Errorf("orders: audit the import: %w", err)
		}
	}
	st.State, st.Finished, st.Report = RunDone, w.Uploads.Clock.Now(), rep
	st.Progress = progressOf(rep, st.Progress)
	return w.Uploads.SetState(up.ID, st)
}

func (w *ImportWorker) run(ctx context.Context, up *Upload, st *RunState) (*Report, error) {
	f, size, err := w.Uploads.Open(up.ID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	every := w.ProgressEvery
	if every <= 0 {
		every = 1000
	}
	var mu sync.Mutex
	var last time.Time
	opt := ImportOptions{Mapping: up.Mapping, Shop: up.Shop, DryRun: st.Kind == RunDry, MaxBytes: w.Uploads.maxBytes(), ProgressEvery: every,
		Progress: func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			// At most four writes a second: the bar moves, the disk rests.
			if now := time.Now(); now.Sub(last) >= 250*time.Millisecond {
				last = now
				st.Progress = p
				w.Uploads.SetState(up.ID, st)
			}
		}}
	return w.Store.Import(ctx, f, size, opt)
}

// progressOf is the final progress of a report.
func progressOf(rep *Report, p Progress) Progress {
	p.Rows, p.Inserted, p.Updated, p.Unchanged, p.RejectedRows, p.Rejected = rep.Rows, rep.Inserted, rep.Updated, rep.Unchanged, rep.RejectedRows, rep.Rejected
	p.Bytes = p.Total
	return p
}
