package bench

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// GateOptions shape `kith bench gate`.
type GateOptions struct {
	Customers int           // persons in the ledger; 0 means 1,000,000
	Duration  time.Duration // how long each measurement runs; 0 means 5 s
	Batch     int           // requests per DecideBatch; 0 means 1,000
	// Concurrency is how many goroutines call Decide at once in the
	// concurrent measurement; 0 means 64.
	Concurrency int
	// DataDir is where the SQLite database is built; an empty temporary
	// folder.
	DataDir string
	// Progress, when set, is told what the benchmark is doing.
	Progress func(string)
}

// GateResult is one measurement. PerCPUSecond is decisions per second of
// CPU time this process used (user and system, all threads): the cost,
// whatever else shares the machine; PerSecond is what the wall clock saw.
type GateResult struct {
	Decisions    int     `json:"decisions"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"per_second"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PerCPUSecond float64 `json:"per_cpu_second"`
}

// finish fills the rates of r, which ran from start (wall) and cpu0 (CPU).
func (r *GateResult) finish(start time.Time, cpu0 time.Duration) {
	r.Seconds = time.Since(start).Seconds()
	r.CPUSeconds = (processCPU() - cpu0).Seconds()
	if r.Seconds > 0 {
		r.PerSecond = float64(r.Decisions) / r.Seconds
	}
	if r.CPUSeconds > 0 {
		r.PerCPUSecond = float64(r.Decisions) / r.CPUSeconds
	}
}

// GateReport is the outcome of `kith bench gate`.
type GateReport struct {
	Customers     int     `json:"customers"`
	ConsentEvents int     `json:"consent_events"`
	Suppressed    int     `json:"suppressed"`
	NearCap       int     `json:"near_cap"`
	LoadSeconds   float64 `json:"load_seconds"`
	// StateSeconds is how long the gate took to load its in-memory state
	// (its first decision).
	StateSeconds float64 `json:"gate_state_load_seconds"`
	Batch        int     `json:"batch_size"`
	Concurrency  int     `json:"concurrency"`
	// Baseline is the consent lookup alone (consent.Ledger.States in
	// batches of Batch persons).
	Baseline GateResult `json:"baseline_consent_lookup"`
	// Database is DecideBatch as it worked before the in-memory state:
	// consent, sends and policy read with SQL for each batch
	// (gate.DecideBatchFromDatabase), recorded the same way.
	Database   GateResult `json:"decide_batch_from_database"`
	Single     GateResult `json:"decide"`
	Concurrent GateResult `json:"decide_concurrent"`
	Batched    GateResult `json:"decide_batch"`
	// LoadAverage is the machine's 1-minute load average when the
	// measurements ended (Linux; 0 elsewhere): how much else ran.
	LoadAverage float64 `json:"load_average"`
	// Ratios are decisions per second over the database path's.
	SingleRatio     float64 `json:"decide_ratio"`
	ConcurrentRatio float64 `json:"decide_concurrent_ratio"`
	BatchRatio      float64 `json:"decide_batch_ratio"`
	// Reasons counts the decisions of the batched run by reason.
	Reasons map[gate.Reason]int64 `json:"reasons"`
	// Agree is true when the in-memory and database paths decided a
	// sample of requests alike.
	Agree   bool `json:"paths_agree"`
	GoalMet bool `json:"goal_met"` // Batched.PerSecond ≥ GoalDecisions
}

// GoalDecisions is the decisions per second `kith bench gate` aims at.
const GoalDecisions = 200_000

// benchNow is the benchmark's clock: a Wednesday, 10:00 in Shanghai, out of
// quiet hours.
var benchNow = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

var benchKeyBytes = []byte("kith-bench-suppression-key-0001")

// benchPerson returns customer i: even ones are WeCom contacts, odd ones
// phone numbers.
func benchPerson(i int) (consent.Person, consent.Channel) {
	if i%2 == 0 {
		return consent.ExternalUser(fmt.Sprintf("wmbench%08d", i)), consent.ChannelWeCom
	}
	return consent.Phone(fmt.Sprintf("139%08d", i)), consent.ChannelSMS
}

// Gate builds the state and measures the gate.
func Gate(ctx context.Context, o GateOptions) (GateReport, error) {
	if o.Customers <= 0 {
		o.Customers = 1_000_000
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	say := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	db, err := store.Open(ctx, store.Options{DataDir: o.DataDir})
	if err != nil {
		return GateReport{}, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return GateReport{}, err
	}
	rep := GateReport{Customers: o.Customers, Batch: o.Batch, Concurrency: o.Concurrency}
	say(fmt.Sprintf("building %d customers' consent and cap state…", o.Customers))
	t0 := time.Now()
	if err := loadGateState(ctx, db, o.Customers, &rep); err != nil {
		return rep, fmt.Errorf("bench: load: %w", err)
	}
	rep.LoadSeconds = time.Since(t0).Seconds()
	g := gate.New(db, benchKeyBytes, kith.NewFixedClock(benchNow))
	rng := rand.New(rand.NewPCG(1, 2))
	batch := func() []gate.Request {
		reqs := make([]gate.Request, o.Batch)
		for j := range reqs {
			reqs[j] = benchRequest(rng.IntN(o.Customers))
		}
		return reqs
	}

	say("loading the gate's state…")
	t0 = time.Now()
	if _, err := g.Decide(ctx, benchRequest(0)); err != nil {
		return rep, err
	}
	rep.StateSeconds = time.Since(t0).Seconds()

	say("checking that both paths decide alike…")
	sample := batch()
	fromDB, err := g.DecideBatchFromDatabase(ctx, sample)
	if err != nil {
		return rep, err
	}
	cached, err := g.DecideBatch(ctx, sample)
	if err != nil {
		return rep, err
	}
	rep.Agree = true
	for i := range sample {
		if fromDB[i].Reason != cached[i].Reason || fromDB[i].ConsentEventID != cached[i].ConsentEventID {
			rep.Agree = false
		}
	}

	say("measuring the consent lookup alone…")
	ledger := consent.NewLedger(db.R, benchKeyBytes)
	rep.Baseline, err = measure(ctx, o.Duration, func() (int, error) {
		byCh := map[consent.Channel][]consent.Person{}
		for range o.Batch {
			p, ch := benchPerson(rng.IntN(o.Customers))
			byCh[ch] = append(byCh[ch], p)
		}
		for ch, ps := range byCh {
			if _, err := ledger.States(ctx, ps, consent.Marketing, ch, benchNow); err != nil {
				return 0, err
			}
		}
		return o.Batch, nil
	})
	if err != nil {
		return rep, err
	}
	say("measuring DecideBatch from the database (the path before the in-memory state)…")
	rep.Database, err = measure(ctx, o.Duration, func() (int, error) {
		ds, err := g.DecideBatchFromDatabase(ctx, batch())
		return len(ds), err
	})
	if err != nil {
		return rep, err
	}
	say("measuring Decide, one at a time…")
	rep.Single, err = measure(ctx, o.Duration, func() (int, error) {
		_, err := g.Decide(ctx, benchRequest(rng.IntN(o.Customers)))
		return 1, err
	})
	if err != nil {
		return rep, err
	}
	say(fmt.Sprintf("measuring Decide from %d goroutines…", o.Concurrency))
	rep.Concurrent, err = measureConcurrent(ctx, o.Duration, o.Concurrency, o.Customers, g)
	if err != nil {
		return rep, err
	}
	say("measuring DecideBatch…")
	rep.Reasons = map[gate.Reason]int64{}
	rep.Batched, err = measure(ctx, o.Duration, func() (int, error) {
		ds, err := g.DecideBatch(ctx, batch())
		for _, d := range ds {
			rep.Reasons[d.Reason]++
		}
		return len(ds), err
	})
	if err != nil {
		return rep, err
	}
	if rep.Database.PerSecond > 0 {
		rep.SingleRatio = rep.Single.PerSecond / rep.Database.PerSecond
		rep.ConcurrentRatio = rep.Concurrent.PerSecond / rep.Database.PerSecond
		rep.BatchRatio = rep.Batched.PerSecond / rep.Database.PerSecond
	}
	rep.GoalMet = rep.Batched.PerSecond >= GoalDecisions
	rep.LoadAverage = loadAverage()
	return rep, nil
}

// measureConcurrent calls Decide from n goroutines until d has passed.
func measureConcurrent(ctx context.Context, d time.Duration, n, customers int, g *gate.Gate) (GateResult, error) {
	var r GateResult
	var total atomic.Int64
	var firstErr atomic.Value
	start, cpu0 := time.Now(), processCPU()
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for time.Since(start) < d && ctx.Err() == nil {
				if _, err := g.Decide(ctx, benchRequest(rng.IntN(customers))); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return r, err
	}
	r.Decisions = int(total.Load())
	r.finish(start, cpu0)
	return r, ctx.Err()
}

// benchRequest is a marketing message to customer i, valid for its channel.
func benchRequest(i int) gate.Request {
	p, ch := benchPerson(i)
	body := "春季新品到店"
	if ch == consent.ChannelSMS {
		body = "【小店】春季新品到店，回T退订"
	}
	return gate.Request{Person: p, Channel: ch, Class: gate.Marketing, Campaign: "spring", Sender: "bench", Content: gate.Content{Body: body}}
}

// measure calls step until d has passed and counts what it did.
func measure(ctx context.Context, d time.Duration, step func() (int, error)) (GateResult, error) {
	var r GateResult
	start, cpu0 := time.Now(), processCPU()
	for time.Since(start) < d && ctx.Err() == nil {
		n, err := step()
		if err != nil {
			return r, err
		}
		r.Decisions += n
	}
	r.finish(start, cpu0)
	return r, ctx.Err()
}

// loadGateState writes, in one transaction with prepared statements, the
// consent of n customers: 60 % granted (a tenth of them with "at most 2 a
// week"), 10 % granted then withdrawn, 30 % never asked; 1 % of the granted
// suppressed; 3 % with two marketing sends this week and "at most 2 a week"
// (at their cap).
func loadGateState(ctx context.Context, db *store.DB, n int, rep *GateReport) error {
	n0, err := consent.NewLedger(db.R, benchKeyBytes).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		return err
	}
	granted, withdrawn := benchNow.Add(-30*24*time.Hour), benchNow.Add(-10*24*time.Hour)
	monday := benchNow.Add(-24 * time.Hour)
	return db.InTx(ctx, func(sqlTx *sql.Tx) error {
		tx := store.NewCachedTx(sqlTx)
		defer tx.Close()
		const insEvent = `INSERT INTO consent_events (person_kind, person_key, purpose, channel, action, source, evidence, notice_version, notice_hash,
			scope, recorded_by, occurred_at, received_at, prev_hash, hash) VALUES ($1, $2, 'marketing', $3, $4, $5, $6, $7, $8, $9, 'bench', $10, $10, $11, $12)`
		genesis := "0000000000000000000000000000000000000000000000000000000000000000"
		var rnd [32]byte
		hash := func() string { crand.Read(rnd[:]); return hex.EncodeToString(rnd[:]) }
		for i := range n {
			p, ch := benchPerson(i)
			bucket := i % 100
			if bucket >= 70 {
				continue
			}
			scope := ""
			if i%10 == 0 || i%20 == 1 { // the near-cap ones among them
				scope = `{"max_per_week":2}`
			}
			h1 := hash()
			if _, err := tx.ExecContext(ctx, insEvent, string(p.Kind), p.Key, string(ch), "grant", "customer", `{"url":"https://shop.example/consent"}`,
				n0.Version, n0.TextHash, scope, granted, genesis, h1); err != nil {
				return err
			}
			rep.ConsentEvents++
			if bucket >= 60 {
				if _, err := tx.ExecContext(ctx, insEvent, string(p.Kind), p.Key, string(ch), "withdraw", "opt_out_reply", `{"text":"TD"}`,
					nil, "", "", withdrawn, h1, hash()); err != nil {
					return err
				}
				rep.ConsentEvents++
				continue
			}
			if bucket == 5 {
				if err := consent.Suppress(ctx, tx, benchKeyBytes, p, consent.Marketing, ch, "complaint", withdrawn); err != nil {
					return err
				}
				rep.Suppressed++
			}
			if i%20 == 1 {
				for k := range 2 {
					if err := benchSend(ctx, tx, fmt.Sprintf("bench%d-%d", i, k), p, ch, monday.Add(time.Duration(k)*time.Hour)); err != nil {
						return err
					}
				}
				rep.NearCap++
			}
		}
		// The events were written directly: fold them into consent_state
		// as consent.Ledger.Record would have.
		_, err := consent.NewLedger(db.R, benchKeyBytes).RebuildState(ctx, sqlTx, benchNow)
		return err
	})
}

// benchSend writes a send, as gate.Consume records one.
func benchSend(ctx context.Context, tx store.Querier, id string, p consent.Person, ch consent.Channel, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO gate_sends (permit_id, person_kind, person_key, channel, class, at) VALUES ($1, $2, $3, $4, 'marketing', $5)`,
		id, string(p.Kind), p.Key, string(ch), at)
	return err
}

// loadAverage returns the 1-minute load average, or 0 when unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
