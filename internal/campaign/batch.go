package campaign

import (
	"context"
	"database/sql"
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
// refused and cancelled are final, as are delivered, failed and unknown.
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
// or a reconciler found no task).
var deliveryMoves = map[string][]string{
	DeliveryPlanned: {DeliveryClaimed, DeliveryRefused, DeliveryCancelled},
	DeliveryClaimed: {DeliverySent, DeliveryFailed, DeliveryUnknown, DeliveryRefused, DeliveryPlanned},
	DeliverySent:    {DeliveryDelivered, DeliveryFailed},
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
	return &channel.Claimer{DB: s.db, Gate: s.gate, Record: s.recordClaim}
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

// settle records the results of batch b: one per recipient, in order.
func (s *Service) settle(ctx context.Context, b Batch, results []channel.Result) error {
	now := s.clock.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		provider := ""
		for i, r := range results {
			state, reason := DeliverySent, r.Code
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
			set := "state = $1"
			if state == DeliveryPlanned {
				// Not sent: it may be tried again with a new permit, up to
				// MaxAttempts claims.
				set = fmt.Sprintf("state = CASE WHEN attempts >= %d THEN 'failed' ELSE $1 END, batch_id = NULL", MaxAttempts)
			}
			which := "state = 'claimed' AND batch_id = $9"
			if state == DeliveryRefused {
				// Refused when its permit was consumed (the gate's recheck):
				// the claim never happened, so the delivery is still planned,
				// and would be handed over again and again.
				which = "(state = 'planned' OR state = 'claimed' AND batch_id = $9)"
			}
			_, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET `+set+`, reason = $2, detail = $3, provider_id = $4, updated_at = $5
				WHERE campaign_id = $6 AND customer_id = $7 AND channel = $8 AND `+which,
				state, reason, clip(r.Message), r.ProviderID, now, b.Campaign.ID, b.Recipients[i].CustomerID, string(b.Campaign.Channel), b.ID)
			if err != nil {
				return fmt.Errorf("campaign: settle batch %d: %w", b.ID, err)
			}
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
