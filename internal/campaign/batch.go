package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store"
)

// Delivery states. A delivery moves planned → claimed → sent, failed or
// unknown, and sent → delivered or failed as the platform reports;
// refused and cancelled are final, as are delivered and failed; unknown is
// final but for a provider's report of the message (see deliveryMoves).
const (
	DeliveryRefused   = "refused"
	DeliveryPlanned   = "planned"
	DeliveryClaimed   = "claimed"
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryUnknown   = "unknown"
	DeliveryCancelled = "cancelled"
)

// deliveryMoves lists the moves a delivery may make. A claimed delivery
// returns to planned only when its batch is proven never sent (Retryable,
// or a reconciler found no task). An unknown one is never sent again; only
// the provider's own report of that message (an SMS delivery report that
// names its batch and number) settles it as delivered or failed.
var deliveryMoves = map[string][]string{
	DeliveryPlanned: {DeliveryClaimed, DeliveryRefused, DeliveryCancelled},
	DeliveryClaimed: {DeliverySent, DeliveryFailed, DeliveryUnknown, DeliveryRefused, DeliveryPlanned},
	DeliverySent:    {DeliveryDelivered, DeliveryFailed},
	DeliveryUnknown: {DeliveryDelivered, DeliveryFailed},
}

// CanDeliveryMove reports whether a delivery may move from one state to
// another.
func CanDeliveryMove(from, to string) bool {
	for _, s := range deliveryMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// MaxAttempts is how often a delivery is claimed before a retryable
// failure becomes final.
const MaxAttempts = 3

// Batch is the recipients of one call to a channel: for WeCom, the
// customers one member sends a group message to.
type Batch struct {
	ID       int64
	Campaign Campaign
	Sender   string
	// Recipients, in the order of the permits the Transport is given.
	Recipients []Recipient
}

// Transport hands one batch to a channel: it consumes the permits with
// the Service's Claimer (which moves each delivery to claimed in the same
// transaction), calls the platform once or more, and returns one result
// per permit, in order. An error means nothing was claimed or sent.
type Transport interface {
	Send(ctx context.Context, permits []gate.Permit, b Batch) ([]channel.Result, error)
}

// Doubt is a batch whose outcome is not known: it was marked calling and
// never settled (a crash, or no answer from the platform).
type Doubt struct {
	BatchID  int64
	Campaign Campaign
	Sender   string
	MarkedAt time.Time
	Persons  []consent.Person
	// Known are the platform ids of the sender's other batches (of any
	// campaign) around the time: a task already held by one is not this
	// batch's.
	Known []string
}

// Outcome is what a reconciler learned of a batch in doubt: Sent with the
// platform's id, or proven never sent (Sent false).
type Outcome struct {
	Sent       bool
	ProviderID string
}

// Reconciler asks the platform what became of a batch in doubt. It must
// answer Sent false only when the platform proves nothing was created;
// when it cannot tell it returns an error and the batch stays in doubt.
type Reconciler interface {
	Reconcile(ctx context.Context, d Doubt) (Outcome, error)
}

// claim is the delivery a permit is claimed for.
type claim struct {
	campaign, customer, batch int64
	channel                   string
}

type claims struct {
	mu sync.Mutex
	m  map[string]claim
}

func (c *claims) put(id string, v claim) {
	c.mu.Lock()
	c.m[id] = v
	c.mu.Unlock()
}

func (c *claims) get(id string) (claim, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *claims) take(id string) (claim, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	delete(c.m, id)
	return v, ok
}

// Claimer returns the channel.Claimer every Transport of s must consume
// permits with: it moves the permit's delivery from planned to claimed in
// the transaction that consumes the permit.
func (s *Service) Claimer() *channel.Claimer {
	return &channel.Claimer{DB: s.db, Gate: s.gate, Record: s.recordClaim, RecordBatch: s.recordClaims, Claimed: s.claimed}
}

// recordClaims moves the deliveries of permits from planned to claimed
// with one UPDATE (a join on the permits' customers and ids, one JSON
// parameter),
// as recordClaim does one by one. A permit whose delivery is not planned
// any more is refused.
func (s *Service) recordClaims(ctx context.Context, tx store.Querier, permits []gate.Permit) ([]error, error) {
	out := make([]error, len(permits))
	type key struct {
		campaign, batch int64
		channel         string
	}
	groups := map[key][]int{}
	cs := make([]claim, len(permits))
	for i, p := range permits {
		c, ok := s.claims.get(p.ID())
		if !ok {
			out[i] = &gate.Refusal{Reason: "NOT_PLANNED", Message: "The permit belongs to no delivery of a running batch."}
			continue
		}
		cs[i] = c
		k := key{c.campaign, c.batch, c.channel}
		groups[k] = append(groups[k], i)
	}
	now := s.clock.Now().UTC()
	for k, idx := range groups {
		rows := make([][]any, len(idx))
		for j, i := range idx {
			rows[j] = []any{cs[i].customer, permits[i].ID()}
		}
		values, err := json.Marshal(rows)
		if err != nil {
			return nil, err
		}
		res, err := tx.QueryContext(ctx, `UPDATE campaign_deliveries SET state = 'claimed', batch_id = $1, permit_id = v.c2, attempts = attempts + 1, updated_at = $2
			FROM `+s.deliveriesJoin(5, 3, 4, "BIGINT", "TEXT")+` AND `+s.noIndex()+`campaign_deliveries.state = 'planned' RETURNING campaign_deliveries.customer_id`,
			k.batch, now, k.campaign, k.channel, string(values))
		if err != nil {
			return nil, fmt.Errorf("campaign: claim deliveries: %w", err)
		}
		got := make(map[int64]bool, len(idx))
		for res.Next() {
			var id int64
			if err := res.Scan(&id); err != nil {
				res.Close()
				return nil, fmt.Errorf("campaign: claim deliveries: %w", err)
			}
			got[id] = true
		}
		res.Close()
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("campaign: claim deliveries: %w", err)
		}
		for _, i := range idx {
			if !got[cs[i].customer] {
				out[i] = &gate.Refusal{Reason: "NOT_PLANNED", Message: "The delivery is no longer planned (cancelled or claimed elsewhere)."}
			}
		}
	}
	return out, nil
}

func (s *Service) recordClaim(ctx context.Context, tx store.Querier, p gate.Permit) error {
	c, ok := s.claims.take(p.ID())
	if !ok {
		return &gate.Refusal{Reason: "NOT_PLANNED", Message: "The permit belongs to no delivery of a running batch."}
	}
	res, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'claimed', batch_id = $1, permit_id = $2, attempts = attempts + 1, updated_at = $3
		WHERE campaign_id = $4 AND customer_id = $5 AND channel = $6 AND state = 'planned'`, c.batch, p.ID(), s.clock.Now().UTC(), c.campaign, c.customer, c.channel)
	if err != nil {
		return fmt.Errorf("campaign: claim delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &gate.Refusal{Reason: "NOT_PLANNED", Message: "The delivery is no longer planned (cancelled or claimed elsewhere)."}
	}
	return nil
}

// markBatch writes a batch 'calling' before its channel is called.
func (s *Service) markBatch(ctx context.Context, c Campaign, sender string, size int) (int64, error) {
	var id int64
	err := s.db.W.QueryRowContext(ctx, "INSERT INTO campaign_batches (campaign_id, sender, state, size, marked_at) VALUES ($1, $2, 'calling', $3, $4) RETURNING id",
		c.ID, sender, size, s.clock.Now().UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("campaign: mark batch: %w", err)
	}
	return id, nil
}

// deliveriesJoin returns the FROM item and the start of the WHERE clause
// of an UPDATE of campaign_deliveries joined on the rows v (columns c1, c2,
// … typed as types, c1 the customer id) of the JSON parameter $values, for
// the campaign $campaign and channel $channel. On SQLite the rows look
// up their deliveries by primary key first, then the UPDATE takes them by
// rowid: left to itself, the planner scans the campaign's deliveries for
// each row. (The unary + on the other terms keeps their indexes out.)
func (s *Service) deliveriesJoin(values, campaign, channel int, types ...string) string {
	if s.db.Dialect == store.Postgres {
		return fmt.Sprintf(`%s AS v WHERE campaign_deliveries.campaign_id = $%d AND campaign_deliveries.channel = $%d AND campaign_deliveries.customer_id = v.c1`,
			s.db.Dialect.JSONValues(values, types...), campaign, channel)
	}
	return fmt.Sprintf(`(SELECT d.rowid AS rid, j.* FROM %s AS j CROSS JOIN campaign_deliveries AS d
		WHERE d.campaign_id = $%d AND d.channel = $%d AND d.customer_id = j.c1 LIMIT -1) AS v WHERE campaign_deliveries.rowid = v.rid`,
		s.db.Dialect.JSONValues(values, types...), campaign, channel)
}

// noIndex is SQLite's unary + that keeps a column's indexes out of a plan.
func (s *Service) noIndex() string {
	if s.db.Dialect == store.Postgres {
		return ""
	}
	return "+"
}

// settle records the results of batch b: one per recipient, in order, in
// one UPDATE joined on their values (one JSON parameter): a sent, failed,
// unknown or refused delivery takes its state; a retryable one goes back
// to planned (or fails after MaxAttempts claims). Only the batch's claimed
// deliveries move, and, for a refusal at Consume (the claim never
// happened), a delivery still planned.
func (s *Service) settle(ctx context.Context, b Batch, results []channel.Result) error {
	now := s.clock.Now().UTC()
	provider := ""
	states := make([]string, len(results))
	for i, r := range results {
		state := DeliverySent
		switch r.Status {
		case channel.Sent:
			if provider == "" {
				provider = r.ProviderID
			}
		case channel.Refused:
			state = DeliveryRefused
		case channel.Failed:
			state = DeliveryFailed
		case channel.Unknown:
			state = DeliveryUnknown
		case channel.Retryable:
			state = DeliveryPlanned
		}
		states[i] = state
	}
	rows := make([][]any, len(results))
	for i, r := range results {
		rows[i] = []any{b.Recipients[i].CustomerID, states[i], r.Code, clip(r.Message), r.ProviderID}
	}
	values, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	// Not sent (planned): it may be tried again with a new permit, up to
	// MaxAttempts claims. Refused at Consume: the delivery may still be
	// planned, and would be handed over again and again.
	update := fmt.Sprintf(`UPDATE campaign_deliveries SET
		state = CASE WHEN v.c2 = 'planned' AND attempts >= %d THEN 'failed' ELSE v.c2 END,
		batch_id = CASE WHEN v.c2 = 'planned' THEN NULL ELSE batch_id END,
		reason = v.c3, detail = v.c4, provider_id = v.c5, updated_at = $1
		FROM %s
		AND (%[3]scampaign_deliveries.state = 'claimed' AND %[3]scampaign_deliveries.batch_id = $4 OR v.c2 = 'refused' AND %[3]scampaign_deliveries.state = 'planned')`,
		MaxAttempts, s.deliveriesJoin(5, 2, 3, "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT"), s.noIndex())
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, update, now, b.Campaign.ID, string(b.Campaign.Channel), b.ID, string(values)); err != nil {
			return fmt.Errorf("campaign: settle batch %d: %w", b.ID, err)
		}
		_, err := tx.ExecContext(ctx, "UPDATE campaign_batches SET state = 'settled', provider_id = $1, settled_at = $2 WHERE id = $3 AND state = 'calling'", provider, now, b.ID)
		return err
	})
}

func clip(s string) string {
	if len(s) > 500 {
		s = s[:500]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
