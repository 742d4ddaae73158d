package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// Step says what RunBatch did.
type Step int

// Steps.
const (
	Idle       Step = iota // the campaign is not running: nothing to do
	Progressed             // a batch was handed over or reconciled; run again
	Finished               // nothing is left to hand over: the campaign is done
	InDoubt                // a batch in doubt could not be reconciled yet; run again later
	Waiting                // quiet hours: run again at the campaign's ResumeAt
	Held                   // another runner holds the campaign's lease (Run only)
)

// RunBatch advances a running campaign by one step: it first reconciles
// every batch in doubt, then hands the next batch of planned deliveries
// (one sender's, for WeCom) to the channel, and finishes the campaign when
// none is left. Only one RunBatch may run per campaign at a time (the
// River job is unique per campaign).
func (s *Service) RunBatch(ctx context.Context, id int64) (Step, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Idle, err
	}
	if c.State != Running || c.PlannedAt.IsZero() {
		return Idle, nil
	}
	if c.ResumeAt.After(s.clock.Now()) {
		return Waiting, nil
	}
	t := s.transports[c.Channel]
	if t == nil {
		return Idle, kith.Errorf(kith.EUNAVAILABLE, "campaign: no transport for %s is configured", c.Channel)
	}
	doubt, err := s.recoverDoubts(ctx, c)
	if err != nil || doubt {
		return InDoubt, err
	}
	b, err := s.nextBatch(ctx, c)
	if err != nil {
		return Idle, err
	}
	if len(b.Recipients) == 0 {
		var open int
		if err := s.db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1 AND state IN ('planned', 'claimed')", id).Scan(&open); err != nil {
			return Idle, err
		}
		if open > 0 {
			return Progressed, nil
		}
		if err := s.transition(ctx, s.db.W, id, Running, Done, ""); err != nil && kith.ErrorCode(err) != kith.ECONFLICT {
			return Idle, err
		}
		return Finished, nil
	}
	return Progressed, s.handOver(ctx, t, b)
}

// nextBatch picks up to BatchSize planned deliveries of one sender and
// finds their addresses again (a follow may have ended since planning).
func (s *Service) nextBatch(ctx context.Context, c Campaign) (Batch, error) {
	b := Batch{Campaign: c}
	err := s.db.R.QueryRowContext(ctx, "SELECT sender FROM campaign_deliveries WHERE campaign_id = $1 AND state = 'planned' ORDER BY sender LIMIT 1", c.ID).Scan(&b.Sender)
	if errors.Is(err, sql.ErrNoRows) {
		return b, nil
	}
	if err != nil {
		return b, fmt.Errorf("campaign: next batch: %w", err)
	}
	// In the order of the (campaign_id, state, sender) index, not sorted by
	// customer: sorting every planned delivery of the sender for each batch
	// made a campaign's hand-over quadratic (1 M recipients).
	rows, err := s.db.R.QueryContext(ctx, "SELECT customer_id FROM campaign_deliveries WHERE campaign_id = $1 AND state = 'planned' AND sender = $2 LIMIT $3",
		c.ID, b.Sender, s.BatchSize)
	if err != nil {
		return b, fmt.Errorf("campaign: next batch: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return b, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return b, err
	}
	addrs, err := s.addressesOf(ctx, c, ids)
	if err != nil {
		return b, err
	}
	var gone []int64
	for _, id := range ids {
		r, ok := addrs[id]
		// For WeCom the task goes to the member planned: a customer that
		// member no longer follows is refused, not moved to another member.
		if !ok || ((c.Channel == WeCom || c.Channel == WeComMoment) && r.Sender != b.Sender) {
			gone = append(gone, id)
			continue
		}
		r.Sender = b.Sender
		b.Recipients = append(b.Recipients, r)
	}
	for _, id := range gone {
		if err := s.refuse(ctx, c, id, NoAddress, "The customer is no longer reachable through this sender."); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (s *Service) refuse(ctx context.Context, c Campaign, customer int64, reason, detail string) error {
	_, err := s.db.W.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'refused', reason = $1, detail = $2, updated_at = $3
		WHERE campaign_id = $4 AND customer_id = $5 AND channel = $6 AND state = 'planned'`, reason, clip(detail), s.clock.Now().UTC(), c.ID, customer, string(c.Channel))
	if err != nil {
		return fmt.Errorf("campaign: refuse: %w", err)
	}
	return nil
}

// handOver asks the gate again (a permit is good for one send, now), marks
// the batch, hands the permitted recipients to t and settles the results.
func (s *Service) handOver(ctx context.Context, t Transport, b Batch) error {
	c := b.Campaign
	content := c.Content.gateContent(c.Channel, c.Purpose)
	reqs := make([]gate.Request, len(b.Recipients))
	for i, r := range b.Recipients {
		reqs[i] = s.request(c, strconv.FormatInt(c.ID, 10), content, r)
	}
	ds, err := s.gate.DecideBatch(ctx, reqs)
	if err != nil {
		return fmt.Errorf("campaign: run %d: gate: %w", c.ID, err)
	}
	var permits []gate.Permit
	var allowed []Recipient
	var resume time.Time
	for i, d := range ds {
		if d.Reason == gate.QuietHours {
			// Not refused: it stays planned, and the run waits until the
			// gate says it may send.
			if resume.IsZero() || d.NotBefore.Before(resume) {
				resume = d.NotBefore
			}
			continue
		}
		if !d.Allowed {
			if err := s.refuse(ctx, c, b.Recipients[i].CustomerID, string(d.Reason), d.Message); err != nil {
				return err
			}
			continue
		}
		permits = append(permits, d.Permit)
		allowed = append(allowed, b.Recipients[i])
	}
	if !resume.IsZero() {
		if _, err := s.db.W.ExecContext(ctx, "UPDATE campaigns SET resume_at = $1 WHERE id = $2", resume.UTC(), c.ID); err != nil {
			return fmt.Errorf("campaign: run %d: %w", c.ID, err)
		}
	}
	if len(permits) == 0 {
		return nil
	}
	b.Recipients = allowed
	if b.ID, err = s.markBatch(ctx, c, b.Sender, len(permits)); err != nil {
		return err
	}
	for i, p := range permits {
		s.claims.put(p.ID(), claim{campaign: c.ID, customer: allowed[i].CustomerID, batch: b.ID, channel: string(c.Channel)})
	}
	defer func() {
		for _, p := range permits {
			s.claims.take(p.ID())
		}
	}()
	results, err := t.Send(ctx, permits, b)
	if err == nil && len(results) != len(permits) {
		err = fmt.Errorf("campaign: batch %d: the transport returned %d results for %d permits", b.ID, len(results), len(permits))
	}
	if err != nil {
		// Nothing was claimed: the claim's transaction failed, so nothing
		// went out. The batch is void; its deliveries are still planned.
		s.voidBatch(context.WithoutCancel(ctx), b.ID, err.Error())
		return err
	}
	if _, ok := s.reconcilers[c.Channel]; ok && allUnknown(results) {
		// No answer: leave the batch in doubt for the reconciler, which
		// asks the platform before anything is sent again.
		return nil
	}
	return s.settle(context.WithoutCancel(ctx), b, results)
}

func allUnknown(rs []channel.Result) bool {
	for _, r := range rs {
		if r.Status != channel.Unknown {
			return false
		}
	}
	return len(rs) > 0
}

func (s *Service) voidBatch(ctx context.Context, id int64, reason string) {
	s.db.W.ExecContext(ctx, "UPDATE campaign_batches SET state = 'void', reason = $1, settled_at = $2 WHERE id = $3 AND state = 'calling'", clip(reason), s.clock.Now().UTC(), id)
}

// recoverDoubts settles every batch of c still marked calling: with the
// channel's reconciler when it has one, else as unknown. It reports true
// when a batch stays in doubt.
func (s *Service) recoverDoubts(ctx context.Context, c Campaign) (bool, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT id, sender, marked_at FROM campaign_batches WHERE campaign_id = $1 AND state = 'calling' ORDER BY id", c.ID)
	if err != nil {
		return false, fmt.Errorf("campaign: batches in doubt: %w", err)
	}
	var doubts []Doubt
	for rows.Next() {
		d := Doubt{Campaign: c}
		if err := rows.Scan(&d.BatchID, &d.Sender, &d.MarkedAt); err != nil {
			rows.Close()
			return false, err
		}
		doubts = append(doubts, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	stuck := false
	for _, d := range doubts {
		if err := s.resolveDoubt(ctx, d); err != nil {
			if kith.ErrorCode(err) == kith.EUNAVAILABLE {
				stuck = true
				continue
			}
			return true, err
		}
	}
	return stuck, nil
}

func (s *Service) resolveDoubt(ctx context.Context, d Doubt) error {
	now := s.clock.Now().UTC()
	r := s.reconcilers[d.Campaign.Channel]
	if r == nil {
		// SMS and e-mail: the provider may have taken the messages. Never
		// resent; an operator decides.
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'unknown', reason = 'IN_DOUBT',
				detail = 'The batch was handed over but its outcome was never recorded; it is not sent again.', updated_at = $1
				WHERE batch_id = $2 AND state = 'claimed'`, now, d.BatchID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE campaign_batches SET state = 'unknown', settled_at = $1 WHERE id = $2", now, d.BatchID)
			return err
		})
	}
	persons, err := s.claimedPersons(ctx, d)
	if err != nil {
		return err
	}
	if len(persons) == 0 {
		// Nothing was claimed (the process died between the mark and the
		// claim), so nothing can have been sent: the claim comes first.
		_, err := s.db.W.ExecContext(ctx, "UPDATE campaign_batches SET state = 'void', reason = 'nothing claimed', settled_at = $1 WHERE id = $2", now, d.BatchID)
		return err
	}
	d.Persons = persons
	if d.Known, err = s.providerIDs(ctx, d.Sender, d.MarkedAt); err != nil {
		return err
	}
	out, err := r.Reconcile(ctx, d)
	if err != nil {
		return kith.Errorf(kith.EUNAVAILABLE, "campaign: batch %d is in doubt and could not be reconciled: %s", d.BatchID, kith.ErrorMessage(err))
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if out.Sent {
			if _, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'sent', provider_id = $1, reason = '', detail = 'Found on the platform after a restart.', updated_at = $2
				WHERE batch_id = $3 AND state = 'claimed'`, out.ProviderID, now, d.BatchID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE campaign_batches SET state = 'settled', provider_id = $1, reason = 'reconciled', settled_at = $2 WHERE id = $3", out.ProviderID, now, d.BatchID)
			return err
		}
		// Proven never created: the deliveries may be tried again.
		if _, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'planned', batch_id = NULL, updated_at = $1 WHERE batch_id = $2 AND state = 'claimed'`,
			now, d.BatchID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE campaign_batches SET state = 'void', reason = 'not found on the platform', settled_at = $1 WHERE id = $2", now, d.BatchID)
		return err
	})
}

// claimedPersons returns the identities of a batch's claimed deliveries.
func (s *Service) claimedPersons(ctx context.Context, d Doubt) ([]consent.Person, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT customer_id FROM campaign_deliveries WHERE batch_id = $1 AND state = 'claimed' ORDER BY customer_id", d.BatchID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	addrs, err := s.address.Addresses(ctx, d.Campaign.Channel, ids)
	if err != nil {
		return nil, err
	}
	out := make([]consent.Person, 0, len(ids))
	for _, id := range ids {
		if r, ok := addrs[id]; ok {
			out = append(out, r.Person)
		}
	}
	return out, nil
}

// Within is how far around a batch's mark a reconciler looks for its task.
const Within = 10 * time.Minute
