package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// ProbeArgs is a job that only records which node ran it. `kith jobs check`
// and the API's probe endpoint enqueue batches of them to prove that every
// node works jobs and each job runs exactly once.
type ProbeArgs struct {
	Batch string `json:"batch"`
}

// Kind implements river.JobArgs.
func (ProbeArgs) Kind() string { return "kith.probe" }

// ProbeWorker records each probe run in job_probes, in the transaction that
// completes the job.
type ProbeWorker struct {
	river.WorkerDefaults[ProbeArgs]
	DB    *store.DB
	Node  string
	Clock kith.Clock
}

// Work implements river.Worker.
func (w *ProbeWorker) Work(ctx context.Context, job *river.Job[ProbeArgs]) error {
	return w.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO job_probes (job_id, batch, node, ran_at) VALUES ($1, $2, $3, $4)",
			job.ID, job.Args.Batch, w.Node, w.Clock.Now()); err != nil {
			return fmt.Errorf("jobs: record probe: %w", err)
		}
		return CompleteTx(ctx, tx, job)
	})
}

// MaxProbes bounds one probe batch.
const MaxProbes = 10000

// EnqueueProbes inserts n probe jobs of the batch in one transaction and
// returns their job ids.
func (j *Jobs) EnqueueProbes(ctx context.Context, batch string, n int) ([]int64, error) {
	if n < 1 || n > MaxProbes {
		return nil, kith.Errorf(kith.EINVALID, "count must be from 1 to %d, not %d", MaxProbes, n)
	}
	if batch == "" || len(batch) > 100 {
		return nil, kith.Errorf(kith.EINVALID, "batch must have 1 to 100 characters")
	}
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: ProbeArgs{Batch: batch}}
	}
	var ids []int64
	err := j.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := j.client.InsertManyTx(ctx, tx, params)
		if err != nil {
			return fmt.Errorf("jobs: enqueue probes: %w", err)
		}
		for _, r := range res {
			ids = append(ids, r.Job.ID)
		}
		return nil
	})
	return ids, err
}

// ProbeReport says how a probe batch ran.
type ProbeReport struct {
	Runs     int            // rows recorded
	Distinct int            // distinct jobs that ran
	ByNode   map[string]int // runs per node
}

// Probes reports the runs of a batch so far. One statement reads all
// figures, so they come from one snapshot and always add up.
func Probes(ctx context.Context, db *store.DB, batch string) (ProbeReport, error) {
	r := ProbeReport{ByNode: map[string]int{}}
	rows, err := db.R.QueryContext(ctx, `SELECT node, count(*),
		(SELECT count(DISTINCT job_id) FROM job_probes WHERE batch = $1)
		FROM job_probes WHERE batch = $1 GROUP BY node`, batch)
	if err != nil {
		return r, fmt.Errorf("jobs: probe report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var node string
		var runs int
		if err := rows.Scan(&node, &runs, &r.Distinct); err != nil {
			return r, fmt.Errorf("jobs: probe report: %w", err)
		}
		r.ByNode[node] = runs
		r.Runs += runs
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("jobs: probe report: %w", err)
	}
	return r, nil
}

// CancelUnrun cancels the jobs among ids that have not recorded a run, so a
// check that gave up leaves nothing behind in the queue. It returns how many
// it cancelled.
func (j *Jobs) CancelUnrun(ctx context.Context, batch string, ids []int64) (int, error) {
	ran := map[int64]bool{}
	rows, err := j.db.R.QueryContext(ctx, "SELECT job_id FROM job_probes WHERE batch = $1", batch)
	if err != nil {
		return 0, fmt.Errorf("jobs: cancel probes: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("jobs: cancel probes: %w", err)
		}
		ran[id] = true
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		if ran[id] {
			continue
		}
		if _, err := j.client.JobCancel(ctx, id); err != nil {
			return n, fmt.Errorf("jobs: cancel probe %d: %w", id, err)
		}
		n++
	}
	return n, nil
}
