package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
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
// none is left. With Overlap above 1 a step hands over up to Overlap
// batches, each prepared and claimed while the one before is sending; it
// returns once all of them are settled. Only one RunBatch may run per
// campaign at a time (the River job is unique per campaign).
func (s *Service) RunBatch(ctx context.Context, id int64) (Step, error) {
	var prev *flight
	st, err := s.runBatches(ctx, id, &prev)
	if prev != nil {
		if werr := prev.wait(); err == nil {
			err = werr
		}
	}
	return st, err
}

// runBatches is RunBatch's loop; *prev is the batch still sending, which
// RunBatch waits for.
func (s *Service) runBatches(ctx context.Context, id int64, prev **flight) (Step, error) {
	limit := max(1, s.Overlap)
	for n := 0; ; n++ {
		// After the first batch, whatever stops the loop is reported as
		// progress: the next RunBatch, with nothing in flight, tells what.
		stop := func(st Step, err error) (Step, error) {
			if n > 0 && err == nil {
				return Progressed, nil
			}
			return st, err
		}
		c, err := s.Get(ctx, id)
		if err != nil {
			return Idle, err
		}
		if c.State != Running || c.PlannedAt.IsZero() {
			return stop(Idle, nil)
		}
		if c.ResumeAt.After(s.clock.Now()) {
			return stop(Waiting, nil)
		}
		t := s.transports[c.Channel]
		if t == nil {
			return Idle, kith.Errorf(kith.EUNAVAILABLE, "campaign: no transport for %s is configured", c.Channel)
		}
		doubt, err := s.recoverDoubts(ctx, c)
		if err != nil || doubt {
			return stop(InDoubt, err)
		}
		b, err := s.nextBatch(ctx, c)
		if err != nil {
			return Idle, err
		}
		if len(b.Recipients) == 0 {
			if n > 0 {
				return Progressed, nil
			}
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
		f, err := s.prepare(ctx, b)
		if err != nil {
			return Progressed, err
		}
		if f == nil { // nothing permitted
			if n+1 >= limit {
				return Progressed, nil
			}
			continue
		}
		if _, ok := s.reconcilers[c.Channel]; ok || limit == 1 {
			s.hand(ctx, t, f)
			return Progressed, f.wait()
		}
		s.fly(ctx, t, f)
		// The next batch is picked once this one's deliveries are claimed
		// (or its claim failed), while it sends.
		<-f.claimed
		if p := *prev; p != nil {
			*prev = nil
			if err := p.wait(); err != nil {
				*prev = f
				return Progressed, err
			}
		}
		*prev = f
		select {
		case <-f.done:
			*prev = nil
			if err := f.wait(); err != nil {
				return Progressed, err
			}
		default:
		}
		if n+1 >= limit {
			return Progressed, nil
		}
	}
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

// flight is a batch handed over: claimed is closed once its claim's
// transaction has ended (or the transport returned without claiming),
// done once it is settled, with err.
type flight struct {
	b        Batch
	permits  []gate.Permit
	claimed  chan struct{}
	once     sync.Once
	done     chan struct{}
	err      error
	panicked any // the transport's panic
}

func (f *flight) markClaimed() { f.once.Do(func() { close(f.claimed) }) }

func (f *flight) wait() error {
	<-f.done
	if f.panicked != nil {
		panic(f.panicked)
	}
	return f.err
}

// flights are the batches in flight in this process, by id.
type flights struct {
	mu sync.Mutex
	m  map[int64]*flight
}

func (fs *flights) put(f *flight) {
	fs.mu.Lock()
	fs.m[f.b.ID] = f
	fs.mu.Unlock()
}

func (fs *flights) get(id int64) *flight {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.m[id]
}

func (fs *flights) remove(id int64) {
	fs.mu.Lock()
	delete(fs.m, id)
	fs.mu.Unlock()
}

// claimed is the Claimer's hook: the claim of the permits' batch is over.
func (s *Service) claimed(permits []gate.Permit) {
	for _, p := range permits {
		if c, ok := s.claims.get(p.ID()); ok {
			if f := s.flights.get(c.batch); f != nil {
				f.markClaimed()
			}
			return
		}
	}
}

// prepare asks the gate again (a permit is good for one send, now) and
// marks the batch; nil when no recipient is permitted.
func (s *Service) prepare(ctx context.Context, b Batch) (*flight, error) {
	c := b.Campaign
	content := c.Content.gateContent(c.Channel, c.Purpose)
	reqs := make([]gate.Request, len(b.Recipients))
	for i, r := range b.Recipients {
		reqs[i] = s.request(c, strconv.FormatInt(c.ID, 10), content, r)
	}
	ds, err := s.gate.DecideBatch(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("campaign: run %d: gate: %w", c.ID, err)
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
				return nil, err
			}
			continue
		}
		permits = append(permits, d.Permit)
		allowed = append(allowed, b.Recipients[i])
	}
	if !resume.IsZero() {
		if _, err := s.db.W.ExecContext(ctx, "UPDATE campaigns SET resume_at = $1 WHERE id = $2", resume.UTC(), c.ID); err != nil {
			return nil, fmt.Errorf("campaign: run %d: %w", c.ID, err)
		}
	}
	if len(permits) == 0 {
		return nil, nil
	}
	b.Recipients = allowed
	if b.ID, err = s.markBatch(ctx, c, b.Sender, len(permits)); err != nil {
		return nil, err
	}
	f := &flight{b: b, permits: permits, claimed: make(chan struct{}), done: make(chan struct{})}
	s.flights.put(f)
	for i, p := range permits {
		s.claims.put(p.ID(), claim{campaign: c.ID, customer: allowed[i].CustomerID, batch: b.ID, channel: string(c.Channel)})
	}
	return f, nil
}

// fly hands f's permitted recipients to t and settles the results, on a
// goroutine of its own (see hand).
func (s *Service) fly(ctx context.Context, t Transport, f *flight) { go s.hand(ctx, t, f) }

// hand hands f's permitted recipients to t and settles the results; f.done
// is closed when it is over. A panic of the transport is kept for wait to
// raise again in the caller's goroutine (as a crash would, the batch is
// then no longer in flight: recoverDoubts finds it).
func (s *Service) hand(ctx context.Context, t Transport, f *flight) {
	defer close(f.done)
	defer s.flights.remove(f.b.ID) // settled, void or left in doubt
	defer func() {
		if r := recover(); r != nil {
			f.panicked = r
		}
	}()
	f.err = s.send(ctx, t, f)
}

func (s *Service) send(ctx context.Context, t Transport, f *flight) error {
	b, permits := f.b, f.permits
	defer func() {
		for _, p := range permits {
			s.claims.take(p.ID())
		}
	}()
	results, err := t.Send(ctx, permits, b)
	f.markClaimed()
	if err == nil && len(results) != len(permits) {
		err = fmt.Errorf("campaign: batch %d: the transport returned %d results for %d permits", b.ID, len(results), len(permits))
	}
	if err != nil {
		// Nothing was claimed: the claim's transaction failed, so nothing
		// went out. The batch is void; its deliveries are still planned.
		s.voidBatch(context.WithoutCancel(ctx), b.ID, err.Error())
		return err
	}
	if _, ok := s.reconcilers[b.Campaign.Channel]; ok && allUnknown(results) {
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

// recoverDoubts settles every batch of c still marked calling — but those
// in flight in this process, still sending — with the channel's
// reconciler when it has one, else as unknown. It reports true
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
		if s.flights.get(d.BatchID) != nil {
			continue // still sending in this process: not in doubt
		}
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
			if ok, err := leaveCalling(ctx, tx, "UPDATE campaign_batches SET state = 'unknown', settled_at = $1 WHERE id = $2 AND state = 'calling'", now, d.BatchID); !ok {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'unknown', reason = 'IN_DOUBT',
				detail = 'The batch was handed over but its outcome was never recorded; it is not sent again.', updated_at = $1
				WHERE batch_id = $2 AND state = 'claimed'`, now, d.BatchID)
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
		_, err := s.db.W.ExecContext(ctx, "UPDATE campaign_batches SET state = 'void', reason = 'nothing claimed', settled_at = $1 WHERE id = $2 AND state = 'calling'", now, d.BatchID)
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
			if ok, err := leaveCalling(ctx, tx, "UPDATE campaign_batches SET state = 'settled', provider_id = $1, reason = 'reconciled', settled_at = $2 WHERE id = $3 AND state = 'calling'", out.ProviderID, now, d.BatchID); !ok {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'sent', provider_id = $1, reason = '', detail = 'Found on the platform after a restart.', updated_at = $2
				WHERE batch_id = $3 AND state = 'claimed'`, out.ProviderID, now, d.BatchID)
			return err
		}
		// Proven never created: the deliveries may be tried again.
		if ok, err := leaveCalling(ctx, tx, "UPDATE campaign_batches SET state = 'void', reason = 'not found on the platform', settled_at = $1 WHERE id = $2 AND state = 'calling'", now, d.BatchID); !ok {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE campaign_deliveries SET state = 'planned', batch_id = NULL, updated_at = $1 WHERE batch_id = $2 AND state = 'claimed'`,
			now, d.BatchID)
		return err
	})
}

// leaveCalling runs update, which moves a batch out of calling, and
// reports whether it did. A batch listed in doubt may have been settled
// since (a batch in flight in this process settles, then leaves the
// flights): it is then left as it is, and its deliveries with it.
func leaveCalling(ctx context.Context, tx *sql.Tx, update string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, update, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
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
