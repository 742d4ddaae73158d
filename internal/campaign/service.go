package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// ServerOverlap is the Overlap the server gives SMS and e-mail campaigns,
// and `kith bench campaign` by default: a step of four batches (20,000
// e-mails) takes a second or two, so a pause or a cancel waits no longer.
const ServerOverlap = 4

// Service keeps, plans and runs campaigns.
type Service struct {
	db       *store.DB
	gate     *gate.Gate
	clock    kith.Clock
	loc      *time.Location
	audience Resolver
	address  Addresser
	// transports and reconcilers by channel (see Register)
	transports  map[Channel]Transport
	reconcilers map[Channel]Reconciler
	followers   map[Channel]Follower
	pricer      SMSPricer // the SMS cost estimate's price (price.go)
	// DecideChunk is how many recipients one DecideBatch asks about.
	DecideChunk int
	// PlanStep is how many recipients planning reads, decides and writes
	// at a time (planStep when 0).
	PlanStep int
	// BatchSize is the most recipients one batch hands to a channel
	// (WeCom: one task per member and batch, ≤ 10,000 external_userids).
	BatchSize int
	// Overlap is how many batches one RunBatch may hand over, each one's
	// database work (next batch, gate decisions, mark, claim) done while
	// the one before is still sending, so that both run at once. 0 or 1:
	// one batch per RunBatch, nothing overlapped. Channels with a
	// reconciler always go one batch at a time. The server sets
	// ServerOverlap.
	Overlap int
	// flights are the batches this process has handed over and not yet
	// settled, by id: recoverDoubts leaves them alone.
	flights flights
	// claims maps a permit id to its delivery during a batch (see claimer).
	claims claims
}

// Config is what a Service needs.
type Config struct {
	DB       *store.DB
	Gate     *gate.Gate
	Clock    kith.Clock
	Location *time.Location // the instance's time zone; Asia/Shanghai when nil
	// Audience resolves a campaign's audience; a SQLResolver when nil.
	Audience Resolver
	// Addresses finds each customer's identity on a channel and its sender;
	// DBAddresser when nil (WeCom only).
	Addresses Addresser
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{db: cfg.DB, gate: cfg.Gate, clock: cfg.Clock, loc: cfg.Location, audience: cfg.Audience, address: cfg.Addresses,
		transports: map[Channel]Transport{}, reconcilers: map[Channel]Reconciler{}, followers: map[Channel]Follower{}, DecideChunk: 5000, BatchSize: 1000}
	if s.loc == nil {
		s.loc = gate.DefaultLocation
	}
	if s.audience == nil {
		s.audience = &SQLResolver{DB: cfg.DB, Location: s.loc, Clock: cfg.Clock}
	}
	if s.address == nil {
		s.address = &DBAddresser{DB: cfg.DB}
	}
	s.claims.m = map[string]claim{}
	s.flights.m = map[int64]*flight{}
	return s
}

// Register sets the transport of a channel and, when it can tell what
// happened to a batch in doubt, its reconciler (nil for none: SMS and
// e-mail batches in doubt become unknown).
func (s *Service) Register(ch Channel, t Transport, r Reconciler) {
	s.transports[ch] = t
	if r != nil {
		s.reconcilers[ch] = r
	}
}

const campaignCols = `id, name, purpose, channel, msg_type, content, audience, schedule_kind, scheduled_at, recurrence, state, reason,
	created_by, planned_at, created_at, updated_at, started_at, finished_at, resume_at`

func scanCampaign(row interface{ Scan(...any) error }) (Campaign, error) {
	var c Campaign
	var content, audience string
	var sched, planned, started, finished, resume sql.NullTime
	err := row.Scan(&c.ID, &c.Name, &c.Purpose, &c.Channel, &c.Type, &content, &audience, &c.Schedule.Kind, &sched, &c.Schedule.Rule,
		&c.State, &c.Reason, &c.CreatedBy, &planned, &c.CreatedAt, &c.UpdatedAt, &started, &finished, &resume)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(content), &c.Content); err != nil {
		return c, fmt.Errorf("campaign %d: content: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(audience), &c.Audience); err != nil {
		return c, fmt.Errorf("campaign %d: audience: %w", c.ID, err)
	}
	c.Schedule.At, c.PlannedAt, c.StartedAt, c.FinishedAt, c.ResumeAt = sched.Time, planned.Time, started.Time, finished.Time, resume.Time
	return c, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// Create saves a new campaign as a draft.
func (s *Service) Create(ctx context.Context, by int64, in Input) (Campaign, error) {
	if err := in.validate(); err != nil {
		return Campaign{}, err
	}
	content, _ := json.Marshal(in.Content)
	audience, _ := json.Marshal(in.Audience)
	now := s.clock.Now().UTC()
	var id int64
	err := s.db.W.QueryRowContext(ctx, `INSERT INTO campaigns (name, purpose, channel, msg_type, content, content_hash, audience, schedule_kind,
		scheduled_at, recurrence, state, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'draft', $11, $12, $12) RETURNING id`,
		in.Name, in.Purpose, in.Channel, in.Type, string(content), in.Content.Hash(), string(audience), in.Schedule.Kind, nullTime(in.Schedule.At),
		in.Schedule.Rule, by, now).Scan(&id)
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: create: %w", err)
	}
	return s.Get(ctx, id)
}

// Update replaces a draft's contents.
func (s *Service) Update(ctx context.Context, id int64, in Input) (Campaign, error) {
	if err := in.validate(); err != nil {
		return Campaign{}, err
	}
	content, _ := json.Marshal(in.Content)
	audience, _ := json.Marshal(in.Audience)
	res, err := s.db.W.ExecContext(ctx, `UPDATE campaigns SET name = $1, purpose = $2, channel = $3, msg_type = $4, content = $5, content_hash = $6,
		audience = $7, schedule_kind = $8, scheduled_at = $9, recurrence = $10, updated_at = $11 WHERE id = $12 AND state = 'draft'`,
		in.Name, in.Purpose, in.Channel, in.Type, string(content), in.Content.Hash(), string(audience), in.Schedule.Kind, nullTime(in.Schedule.At),
		in.Schedule.Rule, s.clock.Now().UTC(), id)
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: update %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		c, err := s.Get(ctx, id)
		if err != nil {
			return c, err
		}
		return c, kith.Errorf(kith.ECONFLICT, "campaign: %d is %s; only a draft can be edited", id, c.State)
	}
	return s.Get(ctx, id)
}

// Get returns campaign id.
func (s *Service) Get(ctx context.Context, id int64) (Campaign, error) {
	c, err := scanCampaign(s.db.R.QueryRowContext(ctx, "SELECT "+campaignCols+" FROM campaigns WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, kith.Errorf(kith.ENOTFOUND, "campaign: no campaign %d", id)
	}
	if err != nil {
		return c, fmt.Errorf("campaign: get %d: %w", id, err)
	}
	return c, nil
}

// List returns the campaigns, newest first.
func (s *Service) List(ctx context.Context, limit int) ([]Campaign, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT "+campaignCols+" FROM campaigns ORDER BY id DESC LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: list: %w", err)
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("campaign: list: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Transition moves campaign id from one state to another, in q; it refuses
// a move that is not allowed or a campaign that is no longer in from.
func (s *Service) transition(ctx context.Context, q store.Querier, id int64, from, to State, reason string) error {
	if !CanMove(from, to) {
		return kith.Errorf(kith.ECONFLICT, "campaign: %d cannot go from %s to %s", id, from, to)
	}
	now := s.clock.Now().UTC()
	set := "state = $1, reason = $2, updated_at = $3"
	switch to {
	case Running:
		set += ", started_at = $3"
	case Done, Cancelled, Failed:
		set += ", finished_at = $3"
	}
	res, err := q.ExecContext(ctx, "UPDATE campaigns SET "+set+" WHERE id = $4 AND state = $5", to, reason, now, id, from)
	if err != nil {
		return fmt.Errorf("campaign: %d to %s: %w", id, to, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kith.Errorf(kith.ECONFLICT, "campaign: %d is no longer %s", id, from)
	}
	return nil
}

// Schedule moves a draft to scheduled: now, at its time (not in the past)
// or at its rule's next occurrence.
func (s *Service) Schedule(ctx context.Context, id int64) (Campaign, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return c, err
	}
	now := s.clock.Now().UTC()
	at := c.Schedule.At
	switch c.Schedule.Kind {
	case Now:
		at = now
	case At:
		if at.Before(now) {
			return c, kith.Errorf(kith.EINVALID, "campaign: schedule: %s is in the past", at.In(s.loc).Format("2006-01-02 15:04"))
		}
	case Recurring:
		r, err := ParseRule(c.Schedule.Rule)
		if err != nil {
			return c, err
		}
		at = r.Next(now, s.loc)
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.transition(ctx, tx, id, c.State, Scheduled, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE campaigns SET scheduled_at = $1 WHERE id = $2", at, id)
		return err
	})
	if err != nil {
		return c, err
	}
	return s.Get(ctx, id)
}

// Unschedule moves a scheduled campaign back to draft.
func (s *Service) Unschedule(ctx context.Context, id int64) error {
	return s.transition(ctx, s.db.W, id, Scheduled, Draft, "")
}

// Cancel stops a campaign: its planned deliveries are cancelled; what was
// claimed or sent stays as it is (WeCom tasks are cancelled by
// CancelTasks).
func (s *Service) Cancel(ctx context.Context, id int64, reason string) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.transition(ctx, tx, id, c.State, Cancelled, reason); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE campaign_deliveries SET state = 'cancelled', updated_at = $1 WHERE campaign_id = $2 AND state = 'planned'",
			s.clock.Now().UTC(), id)
		return err
	})
}

// Due returns the scheduled campaigns whose time has come, and the
// running ones whose planning did not finish.
func (s *Service) Due(ctx context.Context) ([]int64, error) {
	// A running campaign without planned_at died while planning: it is
	// planned again.
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM campaigns WHERE (state = 'scheduled' AND scheduled_at <= $1) OR (state = 'running' AND planned_at IS NULL)
		ORDER BY scheduled_at, id`, s.clock.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("campaign: due: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
