package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/segment/index"
	"github.com/kith-scrm/kith/internal/store"
)

// SegmentOptions shape `kith bench segments`.
type SegmentOptions struct {
	Customers int // 0 means 1,000,000
	// DataDir is where the SQLite database is built: an empty folder.
	DataDir string
	// DatabaseURL, when set, names a PostgreSQL server: the benchmark
	// creates a database of its own there, loads the same customers, times
	// the reference SQL on it too, and drops it at the end.
	DatabaseURL string
	// Reuse says DataDir already holds the customers (from --keep): no
	// generating or loading.
	Reuse bool
	// SQLRuns caps the runs of the reference SQL per expression (0 means 3);
	// it stops earlier once one expression has taken 30 s.
	SQLRuns int
	// SQLTimeout stops one run of the reference SQL (0 means 2 minutes);
	// its time then counts as the timeout, so the ratio is a lower bound.
	SQLTimeout time.Duration
	// Progress, when set, is told what the benchmark is doing.
	Progress func(string)
}

// SegmentResult is one expression's measurements.
type SegmentResult struct {
	Expression string  `json:"expression"`
	Terms      int     `json:"terms"`
	Matches    uint64  `json:"matches"`
	IndexRuns  int     `json:"index_runs"`
	IndexP50   float64 `json:"index_p50_ms"`
	IndexP99   float64 `json:"index_p99_ms"`
	// IndexCPU is the p50 of the CPU time of one evaluation (Linux): what
	// the index costs when the machine is not shared.
	IndexCPU   float64 `json:"index_cpu_p50_ms,omitempty"`
	SQLiteRuns int     `json:"sqlite_runs"`
	SQLiteP50  float64 `json:"sqlite_p50_ms"`
	// SQLiteRatio is the reference's p50 over the index's.
	SQLiteRatio   float64 `json:"sqlite_ratio"`
	PostgresRuns  int     `json:"postgres_runs,omitempty"`
	PostgresP50   float64 `json:"postgres_p50_ms,omitempty"`
	PostgresRatio float64 `json:"postgres_ratio,omitempty"`
	// SQLTimedOut says a run of the reference SQL was stopped at
	// SQLTimeout: its p50 and ratio are lower bounds.
	SQLTimedOut bool `json:"sql_timed_out,omitempty"`
	// Agree is whether the reference found as many customers as the index
	// (the tests compare the ids; this is a guard on the benchmark).
	Agree bool `json:"agree"`
}

// SegmentReport is the outcome of `kith bench segments`.
type SegmentReport struct {
	Customers     int     `json:"customers"`
	Follows       int64   `json:"follows"`
	FollowTags    int64   `json:"follow_tags"`
	LoadSeconds   float64 `json:"load_seconds"`
	BuildSeconds  float64 `json:"build_seconds"`
	BuildCPU      float64 `json:"build_cpu_seconds"` // CPU time of the process during the build (both cores)
	HeapBytes     int64   `json:"heap_bytes"`
	BitmapBytes   uint64  `json:"bitmap_bytes"`
	PostgresLoad  float64 `json:"postgres_load_seconds,omitempty"`
	PostgresBuild float64 `json:"postgres_build_seconds,omitempty"`

	Results []SegmentResult `json:"results"`

	// Goals at 10 M customers; they are judged on any size.
	P50Goal    bool `json:"p50_goal_met"`    // every 5-term expression under GoalSegmentP50
	RatioGoal  bool `json:"ratio_goal_met"`  // every ratio at least GoalSegmentRatio
	BuildGoal  bool `json:"build_goal_met"`  // build under GoalSegmentBuild
	MemoryGoal bool `json:"memory_goal_met"` // heap under GoalSegmentMemory
}

// The goals of issue 6, at 10 M customers.
const (
	GoalSegmentP50    = 10 * time.Millisecond
	GoalSegmentRatio  = 50
	GoalSegmentBuild  = 60 * time.Second
	GoalSegmentMemory = 1536 << 20
)

// SegmentExpressions are the expressions measured: 1 to 8 terms over the
// generated data's names.
var SegmentExpressions = []string{
	`tag:VIP`,
	`spent_total >= 1000`,
	`tag:VIP and reachable:wecom`,
	`tag:老客户 and not channel:渠道000 and reachable:wecom`,
	`(tag:复购 or tag:兴趣0003) and member:m001 and spent_90d >= 200`,
	`tag:VIP and tag:复购 and not tag:兴趣0010 and orders >= 2 and reachable:wecom`,
	`group:客户等级 and added:2025-03-01..2025-09-30 and spent_365d >= 300 and not member:m002 and reachable:sms`,
	`orders >= 1 and spent_30d >= 10 and spent_90d >= 50 and spent_365d >= 100 and spent_total < 2000`,
	// The same with constants off round numbers: each comparison then checks
	// the values of one bucket (see internal/segment/index/bsi.go).
	`orders >= 2 and spent_30d >= 13.7 and spent_90d >= 53.1 and spent_365d >= 107 and spent_total < 1930`,
	`(channel:渠道001 or channel:渠道002) and last_order >= 2025-06-01 and spent_30d > 0 and tag:直播间 and not reachable:wecom`,
	`tag:VIP and (tag:老客户 or group:分组05) and not tag:兴趣0001 and member:m000 and added >= 2024-01-01 and spent_total >= 500 and last_order <= 2026-02-01 and reachable:wecom`,
}

// benchClock is the benchmark's fixed "now".
type benchClock struct{}

func (benchClock) Now() time.Time { return segNow }

// Segments generates the customers, loads them, builds the index and
// times it against the reference SQL.
func Segments(ctx context.Context, o SegmentOptions) (*SegmentReport, error) {
	if o.Customers <= 0 {
		o.Customers = 1_000_000
	}
	if o.SQLRuns <= 0 {
		o.SQLRuns = 3
	}
	if o.SQLTimeout <= 0 {
		o.SQLTimeout = 2 * time.Minute
	}
	progress := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	exprs := make([]segment.Expr, len(SegmentExpressions))
	for i, src := range SegmentExpressions {
		e, err := segment.Parse(src)
		if err != nil {
			return nil, fmt.Errorf("bench: expression %d: %w", i, err)
		}
		exprs[i] = e
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, store.Options{DataDir: o.DataDir})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	rep := &SegmentReport{Customers: o.Customers}
	if o.Reuse {
		if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers`).Scan(&rep.Customers); err != nil {
			return nil, err
		}
		o.Customers = rep.Customers
	} else {
		progress(fmt.Sprintf("generating and loading %d customers into SQLite", o.Customers))
		start := time.Now()
		if err := loadSegmentsSQLite(ctx, db, o.Customers, progress); err != nil {
			return nil, err
		}
		rep.LoadSeconds = time.Since(start).Seconds()
	}
	if err := db.R.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM follows), (SELECT COUNT(*) FROM follow_tags)`).Scan(&rep.Follows, &rep.FollowTags); err != nil {
		return nil, err
	}
	progress("building the index")
	cpu := processCPU()
	ix, err := index.Open(ctx, db, loc, benchClock{})
	if err != nil {
		return nil, err
	}
	rep.BuildCPU = (processCPU() - cpu).Seconds()
	st := ix.Stats()
	rep.BuildSeconds, rep.HeapBytes, rep.BitmapBytes = st.BuildTime.Seconds(), st.HeapBytes, st.BitmapBytes
	for i, e := range exprs {
		r := SegmentResult{Expression: segment.String(e)}
		segment.Walk(e, func(*segment.Term) bool { r.Terms++; return true })
		progress(fmt.Sprintf("measuring %d of %d: %s", i+1, len(exprs), r.Expression))
		var durs, cpus []time.Duration
		for len(durs) < 20 || (len(durs) < 500 && sum(durs) < time.Second) {
			var (
				n   uint64
				err error
			)
			t0 := time.Now()
			c, ok := threadCPU(func() { n, err = ix.Count(ctx, e) })
			durs = append(durs, time.Since(t0))
			if err != nil {
				return nil, err
			}
			if ok {
				cpus = append(cpus, c)
			}
			r.Matches = n
		}
		r.IndexRuns, r.IndexP50, r.IndexP99 = len(durs), pct(durs, 50), pct(durs, 99)
		if len(cpus) > 0 {
			r.IndexCPU = pct(cpus, 50)
		}
		n, runs, p50, timedOut, err := timeSQL(ctx, db, e, loc, o.SQLRuns, o.SQLTimeout)
		if err != nil {
			return nil, err
		}
		r.SQLiteRuns, r.SQLiteP50, r.SQLiteRatio, r.Agree = runs, p50, p50/r.IndexP50, n == r.Matches || timedOut
		r.SQLTimedOut = timedOut
		rep.Results = append(rep.Results, r)
	}
	if o.DatabaseURL != "" {
		if err := segmentsPostgres(ctx, o, exprs, loc, rep, progress); err != nil {
			return nil, err
		}
	}
	rep.judge()
	return rep, nil
}

func (rep *SegmentReport) judge() {
	rep.P50Goal, rep.RatioGoal = true, true
	for _, r := range rep.Results {
		if r.Terms == 5 && r.IndexP50 >= float64(GoalSegmentP50)/float64(time.Millisecond) {
			rep.P50Goal = false
		}
		if r.SQLiteRatio < GoalSegmentRatio || (r.PostgresRuns > 0 && r.PostgresRatio < GoalSegmentRatio) {
			rep.RatioGoal = false
		}
	}
	rep.BuildGoal = rep.BuildSeconds < GoalSegmentBuild.Seconds()
	rep.MemoryGoal = rep.HeapBytes < GoalSegmentMemory
}

// timeSQL runs the reference query of e up to runs times (fewer once it
// has taken 30 s) and returns the rows it found and its p50 in ms. A run
// longer than limit is stopped and counts as limit.
func timeSQL(ctx context.Context, db *store.DB, e segment.Expr, loc *time.Location, runs int, limit time.Duration) (n uint64, done int, p50 float64, timedOut bool, err error) {
	q, args, err := segment.SQL(db.Dialect, e, segment.SQLOptions{Location: loc, Now: segNow})
	if err != nil {
		return 0, 0, 0, false, err
	}
	var durs []time.Duration
	for len(durs) < runs && (len(durs) == 0 || sum(durs) < 30*time.Second) {
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, limit)
		n, err = countRows(rctx, db, q, args)
		cancel()
		if err != nil && rctx.Err() != nil && ctx.Err() == nil {
			return 0, len(durs) + 1, float64(limit) / float64(time.Millisecond), true, nil
		}
		if err != nil {
			return 0, 0, 0, false, fmt.Errorf("bench: reference SQL of %s: %w", segment.String(e), err)
		}
		durs = append(durs, time.Since(t0))
	}
	return n, len(durs), pct(durs, 50), false, nil
}

func countRows(ctx context.Context, db *store.DB, q string, args []any) (uint64, error) {
	rows, err := db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// segmentsPostgres loads the same customers into a database of its own on
// the server, builds an index from it and times the reference SQL there.
func segmentsPostgres(ctx context.Context, o SegmentOptions, exprs []segment.Expr, loc *time.Location, rep *SegmentReport, progress func(string)) error {
	dbURL, drop, err := benchDatabase(ctx, o.DatabaseURL)
	if err != nil {
		return err
	}
	defer drop()
	db, err := store.Open(ctx, store.Options{URL: dbURL})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	progress("loading the same customers into PostgreSQL")
	start := time.Now()
	if err := loadSegmentsPostgres(ctx, db, o.Customers, progress); err != nil {
		return err
	}
	rep.PostgresLoad = time.Since(start).Seconds()
	progress("building an index from PostgreSQL")
	ix, err := index.Open(ctx, db, loc, benchClock{})
	if err != nil {
		return err
	}
	rep.PostgresBuild = ix.Stats().BuildTime.Seconds()
	for i, e := range exprs {
		progress(fmt.Sprintf("PostgreSQL %d of %d", i+1, len(exprs)))
		n, runs, p50, timedOut, err := timeSQL(ctx, db, e, loc, o.SQLRuns, o.SQLTimeout)
		if err != nil {
			return err
		}
		r := &rep.Results[i]
		r.PostgresRuns, r.PostgresP50, r.PostgresRatio = runs, p50, p50/r.IndexP50
		r.Agree = r.Agree && (n == r.Matches || timedOut)
		r.SQLTimedOut = r.SQLTimedOut || timedOut
	}
	return nil
}

// benchDatabase creates a database of its own on the server serverURL
// names; drop removes it.
func benchDatabase(ctx context.Context, serverURL string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: connect to --database-url: %w", err)
	}
	var b [6]byte
	crand.Read(b[:])
	name := "kith_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, fmt.Errorf("bench: create a database for the benchmark: %w", err)
	}
	admin.Close(ctx)
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		c, err := pgx.Connect(context.Background(), serverURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}, nil
}

func sum(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

// pct returns the p-th percentile of ds in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}
