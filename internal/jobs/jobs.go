// Package jobs runs Kith's background jobs with River, in the same database
// as everything else, so a job is enqueued in the same transaction as the
// change that causes it.
//
// Both dialects use database/sql transactions (*sql.Tx): River's SQLite
// driver on SQLite, and River's database/sql driver on PostgreSQL with a pgx
// pool beside it for LISTEN/NOTIFY. So one client type serves both, and
// domain code enqueues with the *sql.Tx it already has.
//
// River runs a job at least once: workers must be idempotent, or complete
// the job in their own transaction with CompleteTx.
package jobs

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/kith-scrm/kith/internal/obs"
	"github.com/kith-scrm/kith/internal/store"
)

// QueueInbound is the queue of jobs that apply inbound events.
const QueueInbound = "inbound"

// NodeQueue is the queue only the node named node works: jobs about
// files in its data folder (an uploaded order file) go there.
func NodeQueue(node string) string {
	var b strings.Builder
	b.WriteString("node")
	dash := true
	for _, r := range strings.ToLower(node) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		switch {
		case ok && dash:
			b.WriteByte('-')
			b.WriteRune(r)
			dash = false
		case ok:
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	q := b.String()
	if len(q) > 100 {
		// Long names keep a hash of the whole, so two stay apart.
		q = fmt.Sprintf("%s-%x", strings.TrimRight(q[:80], "-"), sha256.Sum256([]byte(node)))[:120]
	}
	return q
}

// Config configures a job client.
type Config struct {
	// Node names this process; River requires it unique per client.
	Node string
	// Workers are the job kinds this node works. Nil makes an insert-only
	// client (for commands that enqueue but never work).
	Workers *river.Workers
	// Periodic jobs are enqueued by the cluster's leader on schedule.
	Periodic []*river.PeriodicJob
	Logger   *slog.Logger
	Metrics  *obs.Metrics // optional
	// MaxWorkers bounds jobs running at once on this node; 0 means 20.
	MaxWorkers int
	// RetryPolicy, if set, replaces River's backoff (tests make it fast).
	RetryPolicy river.ClientRetryPolicy
}

// Jobs is a River client on a Kith database.
type Jobs struct {
	client  *river.Client[*sql.Tx]
	db      *store.DB
	metrics *obs.Metrics
	working bool
	running atomic.Bool
	done    chan struct{}

	loops    []func(ctx context.Context)
	loopStop context.CancelFunc
	loopDone sync.WaitGroup
}

// New returns a job client on db; call Start to work jobs.
func New(db *store.DB, cfg Config) (*Jobs, error) {
	var driver riverdriver.Driver[*sql.Tx]
	rc := &river.Config{
		ID:           cfg.Node,
		Logger:       cfg.Logger,
		PeriodicJobs: cfg.Periodic,
		JobTimeout:   5 * time.Minute,
		RetryPolicy:  cfg.RetryPolicy,
	}
	if db.Dialect == store.SQLite {
		driver = riversqlite.New(db.W)
		// SQLite has no LISTEN/NOTIFY, but a job this client inserts makes
		// its queue fetch at once (River does that when no listener is
		// available), and a fetch follows soon after a fetch, so a burst of
		// small jobs is worked at the rate it arrives. Polling is left for
		// jobs inserted by another process (kith sync, kith jobs check) and
		// for retries and scheduled jobs coming due. Each poll is a write on
		// the one writer that callbacks wait behind, with its SQL parsed
		// anew: at ten a second per queue it was 4–7% of Kith's CPU in a
		// burst of callbacks (docs/operations.md), so every queue polls
		// once a second.
		rc.FetchPollInterval = SQLitePoll
		rc.FetchCooldown = 10 * time.Millisecond
	} else {
		driver = riverdatabasesql.NewWithPgxListener(db.W, db.Pgx)
	}
	if cfg.Workers != nil {
		n := cfg.MaxWorkers
		if n <= 0 {
			n = 20
		}
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: n},
			// Applying inbound events writes the whole time; two at once keep
			// the writer busy without starving the intake of new callbacks.
			// New events need no job (the drain loop applies them, see
			// ingest); this queue holds only retries of events that failed,
			// whose backoff is seconds to hours.
			QueueInbound: {MaxWorkers: 2},
			// Jobs about files in this node's data folder (uploads).
			NodeQueue(cfg.Node): {MaxWorkers: 2},
		}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: new client: %w", err)
	}
	return &Jobs{client: client, db: db, metrics: cfg.Metrics, working: cfg.Workers != nil, done: make(chan struct{})}, nil
}

// SQLitePoll is how often each queue polls for jobs on SQLite.
const SQLitePoll = time.Second

// Client returns the River client, for inserting jobs.
func (j *Jobs) Client() *river.Client[*sql.Tx] { return j.client }

// Go registers a background loop that runs beside the workers: Start
// starts it, and Stop cancels its context and waits for it to return. Loops
// are for work that polls or reacts to signals rather than to jobs (such as
// applying the queue of inbound events); on an insert-only client they never
// run. Call Go before Start.
func (j *Jobs) Go(loop func(ctx context.Context)) {
	j.loops = append(j.loops, loop)
}

// Start begins working jobs and runs the loops registered with Go. It does
// nothing on an insert-only client.
func (j *Jobs) Start(ctx context.Context) error {
	if !j.working {
		return nil
	}
	if err := j.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	j.running.Store(true)
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	j.loopStop = stop
	for _, loop := range j.loops {
		j.loopDone.Add(1)
		go func() {
			defer j.loopDone.Done()
			loop(loopCtx)
		}()
	}
	events, cancel := j.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
	go func() {
		defer close(j.done)
		defer cancel()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				j.observe(ev)
			case <-j.client.Stopped():
				j.running.Store(false)
				return
			}
		}
	}()
	return nil
}

func (j *Jobs) observe(ev *river.Event) {
	if j.metrics == nil || ev.Job == nil {
		return
	}
	outcome := map[river.EventKind]string{
		river.EventKindJobCompleted: "completed", river.EventKindJobFailed: "failed",
		river.EventKindJobCancelled: "cancelled", river.EventKindJobSnoozed: "snoozed",
	}[ev.Kind]
	j.metrics.JobsFinished.WithLabelValues(ev.Job.Kind, outcome).Inc()
	if ev.JobStats != nil {
		j.metrics.JobDuration.WithLabelValues(ev.Job.Kind).Observe(ev.JobStats.RunDuration.Seconds())
	}
}

// Running reports whether the client is working jobs.
func (j *Jobs) Running() bool { return j.running.Load() }

// Stop stops fetching new jobs and waits for running ones until ctx ends;
// then it cancels those still running and waits for them to return.
func (j *Jobs) Stop(ctx context.Context) error {
	if !j.working || !j.running.Load() {
		return nil
	}
	// The loops first: they may enqueue jobs, and they stop promptly.
	j.loopStop()
	j.loopDone.Wait()
	err := j.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		hard, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = j.client.StopAndCancel(hard)
	}
	j.running.Store(false)
	<-j.done
	if err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// CountByState returns how many jobs are in each state, for the dashboard.
func (j *Jobs) CountByState(ctx context.Context) (map[rivertype.JobState]int, error) {
	rows, err := j.db.R.QueryContext(ctx, "SELECT state, count(*) FROM river_job GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("jobs: count: %w", err)
	}
	defer rows.Close()
	out := map[rivertype.JobState]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("jobs: count: %w", err)
		}
		out[rivertype.JobState(state)] = n
	}
	return out, rows.Err()
}

// CompleteTx marks a running job completed inside tx, so the job's effects
// and its completion commit together and a retry cannot apply them twice.
// Call it from a worker's Work with the tx that holds the job's writes.
func CompleteTx[T river.JobArgs](ctx context.Context, tx *sql.Tx, job *river.Job[T]) error {
	// The driver type parameter only pins TTx; River uses the driver of the
	// client that runs the job, so this is right on SQLite too.
	_, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job)
	if err != nil {
		return fmt.Errorf("jobs: complete %s %d: %w", job.Kind, job.ID, err)
	}
	return nil
}
