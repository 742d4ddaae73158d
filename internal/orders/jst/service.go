package jst

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
)

// ConnectorName names the one 聚水潭 connector of an instance: its cursor
// is "erp:jst:main" and its runs are recorded under "jst".
const ConnectorName = "main"

// runsKey is the connector column of its runs.
const runsKey = "jst"

// staleRun is how long a run may stay unfinished before it is taken for
// one whose node stopped (a pull job times out well before).
const staleRun = time.Hour

// Service runs the connector with its saved settings: one pull at a time
// across all nodes, each recorded with what it did.
type Service struct {
	DB     *store.DB
	Sealer *fieldcrypt.Sealer
	Orders *orders.Store
	Clock  kith.Clock
	Audit  *audit.Log       // optional: pulls are recorded as writes of personal data
	Log    *slog.Logger     // optional
	HTTP   *http.Client     // optional
	Node   string           // this node's name, recorded with each run
	Now    func() time.Time // optional: the clock of the calls' timestamps (tests)
}

// Run is one pull as it is recorded.
type Run struct {
	ID         int64     `json:"id"`
	Trigger    string    `json:"trigger"` // schedule, console, cli, start
	By         string    `json:"by,omitempty"`
	Node       string    `json:"node"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"` // zero while running
	Result     Result    `json:"result"`
	Rejected   int       `json:"rejected"` // orders not written: invalid, merged or split
	Cursor     time.Time `json:"cursor"`   // where the cursor stood at the end; zero before the first window
	Error      string    `json:"error,omitempty"`
}

// Running reports whether the run has not finished.
func (r *Run) Running() bool { return r.FinishedAt.IsZero() }

// client builds the platform client of settings.
func (s *Service) client(st Settings) *Client {
	c := &Client{BaseURL: st.BaseURL, AppKey: st.AppKey, AppSecret: st.AppSecret, AccessToken: st.AccessToken, HTTP: s.HTTP,
		Retries: 3, RetryWait: time.Second}
	if s.Now != nil {
		c.Now = s.Now
	}
	return c
}

// Test makes one order query with settings (the last hour, one order) and
// returns how many orders the platform has modified in that hour, or an
// error that says what to fix.
func (s *Service) Test(ctx context.Context, st Settings) (int, error) {
	if err := st.Check(); err != nil {
		return 0, err
	}
	if !st.Configured() {
		return 0, kith.Errorf(kith.EINVALID, "the app key, app secret and access token are all needed to call 聚水潭")
	}
	now := s.Clock.Now()
	p, err := s.client(st).QueryOrders(ctx, Query{ModifiedBegin: now.Add(-time.Hour), ModifiedEnd: now, PageIndex: 1, PageSize: 1})
	if err != nil {
		return 0, Explain(err)
	}
	return p.DataCount, nil
}

// Explain turns a platform refusal into a sentence that says what to fix.
func Explain(err error) error {
	var je *Error
	if !errors.As(err, &je) {
		return err
	}
	switch je.Code {
	case CodeTokenInvalid:
		return kith.Errorf(kith.EUNAVAILABLE, "聚水潭 refused the access token (code %d: %s): get a new one on the open platform and save it here", je.Code, je.Msg)
	case CodeIPNotAllowed:
		return kith.Errorf(kith.EUNAVAILABLE, "聚水潭 refused this server's IP address (code %d: %s): add it to the app's IP list on the open platform", je.Code, je.Msg)
	case CodeRateLimited, 200:
		return kith.Errorf(kith.EUNAVAILABLE, "聚水潭 is limiting calls (code %d: %s): the next pull tries again", je.Code, je.Msg)
	}
	return kith.Errorf(kith.EUNAVAILABLE, "聚水潭 refused the call (code %d: %s): check the app key and app secret", je.Code, je.Msg)
}

// Pull runs one pull with the saved settings, if no other node is running
// one: ECONFLICT when one is, EUNAVAILABLE when the connector is not set
// up. The run is recorded whatever its end; a failed pull keeps what its
// finished windows wrote (each window commits with the cursor).
func (s *Service) Pull(ctx context.Context, trigger, by string) (*Run, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Configured() {
		return nil, kith.Errorf(kith.EUNAVAILABLE, "the 聚水潭 connector is not set up: save its app key, app secret and access token first")
	}
	run, err := s.startRun(ctx, trigger, by)
	if err != nil {
		return nil, err
	}
	c := &Connector{Name: ConnectorName, Client: s.client(st), Store: s.Orders, Shops: st.Shops}
	res, perr := c.Pull(ctx, s.Clock.Now())
	run.Result, run.Rejected = res, res.Skipped+res.Invalid
	run.FinishedAt = s.Clock.Now()
	if perr != nil {
		perr = Explain(perr)
		run.Error = kith.ErrorMessage(perr)
		if kith.ErrorCode(perr) == kith.EINTERNAL {
			run.Error = "the pull failed inside Kith (the server's log says why)"
		}
		if s.Log != nil {
			s.Log.Warn("jst pull failed", "run", run.ID, "err", perr)
		}
	}
	if cur, err := s.Cursor(ctx); err == nil {
		run.Cursor = cur
	}
	if err := s.finishRun(context.WithoutCancel(ctx), run); err != nil {
		return run, errors.Join(perr, err)
	}
	if s.Audit != nil && res.Inserted+res.Updated > 0 {
		actor := audit.Actor{Kind: audit.ActorJob, Name: "jst.pull"}
		switch {
		case by != "":
			actor = audit.Actor{Kind: audit.ActorUser, Name: by}
		case trigger == "cli":
			actor = audit.Actor{Kind: audit.ActorSystem, Name: "kith import source jst"}
		}
		detail, _ := json.Marshal(map[string]any{"run": run.ID, "trigger": trigger, "read": res.Orders, "inserted": res.Inserted, "updated": res.Updated})
		if err := s.Audit.Record(context.WithoutCancel(ctx), audit.Entry{Actor: actor, Action: audit.ActionPIIWrite, ObjectType: "orders",
			ObjectID: "erp:jst", Purpose: "order import", Outcome: audit.OutcomeOK, Detail: string(detail)}); err != nil {
			return run, errors.Join(perr, fmt.Errorf("jst: audit the pull: %w", err))
		}
	}
	return run, perr
}

func (s *Service) startRun(ctx context.Context, trigger, by string) (*Run, error) {
	now := s.Clock.Now()
	run := &Run{Trigger: trigger, By: by, Node: s.Node, StartedAt: now}
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE erp_runs SET finished_at = $1, error = 'interrupted: the node running it stopped'
			WHERE connector = $2 AND finished_at IS NULL AND started_at < $3`, now, runsKey, now.Add(-staleRun)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO erp_runs (connector, trigger, requested_by, node, started_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			runsKey, trigger, by, s.Node, now).Scan(&run.ID)
	})
	if store.IsUniqueViolation(err) {
		return nil, kith.Errorf(kith.ECONFLICT, "a 聚水潭 pull is running already; wait for it to finish")
	}
	if err != nil {
		return nil, fmt.Errorf("jst: start a run: %w", err)
	}
	return run, nil
}

func (s *Service) finishRun(ctx context.Context, r *Run) error {
	cur := ""
	if !r.Cursor.IsZero() {
		cur = strconv.FormatInt(r.Cursor.Unix(), 10)
	}
	_, err := s.DB.W.ExecContext(ctx, `UPDATE erp_runs SET finished_at = $1, calls = $2, orders_read = $3, inserted = $4, updated = $5,
		unchanged = $6, conflicts = $7, rejected = $8, cursor = $9, error = $10 WHERE id = $11`,
		r.FinishedAt, r.Result.Calls, r.Result.Orders, r.Result.Inserted, r.Result.Updated, r.Result.Unchanged, r.Result.Conflicts,
		r.Rejected, cur, r.Error, r.ID)
	if err != nil {
		return fmt.Errorf("jst: record the run: %w", err)
	}
	return nil
}

// Runs returns the latest runs, newest first.
func (s *Service) Runs(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.DB.R.QueryContext(ctx, `SELECT id, trigger, requested_by, node, started_at, finished_at, calls, orders_read, inserted,
		updated, unchanged, conflicts, rejected, cursor, error FROM erp_runs WHERE connector = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, runsKey, limit)
	if err != nil {
		return nil, fmt.Errorf("jst: list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var fin sql.NullTime
		var cur string
		if err := rows.Scan(&r.ID, &r.Trigger, &r.By, &r.Node, &r.StartedAt, &fin, &r.Result.Calls, &r.Result.Orders, &r.Result.Inserted,
			&r.Result.Updated, &r.Result.Unchanged, &r.Result.Conflicts, &r.Rejected, &cur, &r.Error); err != nil {
			return nil, fmt.Errorf("jst: list runs: %w", err)
		}
		r.FinishedAt = fin.Time
		if sec, err := strconv.ParseInt(cur, 10, 64); err == nil {
			r.Cursor = time.Unix(sec, 0).UTC()
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Cursor returns the time up to which orders have been pulled; zero before
// the first pull.
func (s *Service) Cursor(ctx context.Context) (time.Time, error) {
	cur, err := s.Orders.Cursor(ctx, "erp:jst:"+ConnectorName)
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(cur, 10, 64)
	if err != nil {
		return time.Time{}, nil
	}
	return time.Unix(sec, 0).UTC(), nil
}

// Due reports whether a scheduled pull should run now: the connector is on
// and its last pull started at least an interval ago.
func (s *Service) Due(ctx context.Context) (bool, error) {
	st, err := s.Settings(ctx)
	if err != nil || !st.Enabled || !st.Configured() {
		return false, err
	}
	var last time.Time
	err = s.DB.R.QueryRowContext(ctx, `SELECT started_at FROM erp_runs WHERE connector = $1 ORDER BY started_at DESC LIMIT 1`, runsKey).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("jst: last run: %w", err)
	}
	return !s.Clock.Now().Before(last.Add(st.Every())), nil
}
