package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Tracked is what the platform says became of one message it accepted:
// State is DeliveryDelivered, DeliveryFailed (Reason says why) or "" while
// it waits (a WeCom member has not confirmed yet).
type Tracked struct {
	State  string
	Reason string
}

// Follower follows the tasks a channel created (WeCom group messages):
// what became of each recipient, reminding the members who have not
// confirmed, and cancelling a task.
type Follower interface {
	// Track returns, by person key, what became of the task's recipients.
	Track(ctx context.Context, sender, providerID string) (map[string]Tracked, error)
	Remind(ctx context.Context, providerID string) error
	CancelTask(ctx context.Context, providerID string) error
}

// ReconcileGrace is how long after a batch was marked a reconciler waits
// before it concludes, from the platform's list of tasks, that the batch
// was never sent: a task created just before a crash can appear in the
// list late, and concluding "not sent" too early sends it twice. Until
// then a batch whose task is not listed stays in doubt.
const ReconcileGrace = time.Minute

// Follow-up reasons.
const (
	ReasonTaskCancelled = "TASK_CANCELLED" // the task was cancelled before the member confirmed
)

// RegisterFollower sets the follower of a channel's tasks.
func (s *Service) RegisterFollower(ch Channel, f Follower) { s.followers[ch] = f }

// pendingBatch is a settled batch with deliveries still waiting.
type pendingBatch struct {
	id              int64
	sender, provide string
}

func (s *Service) pendingBatches(ctx context.Context, id int64) ([]pendingBatch, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT b.id, b.sender, b.provider_id FROM campaign_batches b WHERE b.campaign_id = $1 AND b.state = 'settled'
		AND b.provider_id <> '' AND EXISTS (SELECT 1 FROM campaign_deliveries d WHERE d.batch_id = b.id AND d.state = 'sent') ORDER BY b.id`, id)
	if err != nil {
		return nil, fmt.Errorf("campaign: pending batches: %w", err)
	}
	defer rows.Close()
	var out []pendingBatch
	for rows.Next() {
		var b pendingBatch
		if err := rows.Scan(&b.id, &b.sender, &b.provide); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// providerIDs returns the platform ids of the sender's batches, of every
// campaign, marked since a little before since.
func (s *Service) providerIDs(ctx context.Context, sender string, since time.Time) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT provider_id FROM campaign_batches WHERE sender = $1 AND provider_id <> '' AND marked_at >= $2",
		sender, since.Add(-Within))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// batchCustomers returns the customers of a batch in a state, by person
// key.
func (s *Service) batchCustomers(ctx context.Context, c Campaign, batch int64, state string) (map[string]int64, error) {
	rows, err := s.db.R.QueryContext(ctx, "SELECT customer_id FROM campaign_deliveries WHERE batch_id = $1 AND state = $2", batch, state)
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
	addrs, err := s.address.Addresses(ctx, c.Channel, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(ids))
	for _, id := range ids {
		if r, ok := addrs[id]; ok {
			out[r.Person.Key] = id
		}
	}
	return out, nil
}

// Poll asks the platform what became of the campaign's accepted messages
// and moves each sent delivery to delivered or failed. It returns how many
// still wait (WeCom: members who have not confirmed).
func (s *Service) Poll(ctx context.Context, id int64) (waiting int, err error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	if c.Channel == SMS {
		// Delivery reports are pushed (TakeSMSReports); those that came
		// before their sends were settled are applied now.
		if _, err := s.ApplySMSReports(ctx, id); err != nil {
			return 0, err
		}
	}
	f := s.followers[c.Channel]
	if f == nil {
		return 0, nil
	}
	batches, err := s.pendingBatches(ctx, id)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now().UTC()
	for _, b := range batches {
		tracked, err := f.Track(ctx, b.sender, b.provide)
		if err != nil {
			return 0, fmt.Errorf("campaign: poll batch %d: %w", b.id, err)
		}
		customers, err := s.batchCustomers(ctx, c, b.id, DeliverySent)
		if err != nil {
			return 0, err
		}
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			for key, customer := range customers {
				t := tracked[key]
				if t.State != DeliveryDelivered && t.State != DeliveryFailed {
					waiting++
					continue
				}
				if _, err := tx.ExecContext(ctx, "UPDATE campaign_deliveries SET state = $1, reason = $2, updated_at = $3 WHERE batch_id = $4 AND customer_id = $5 AND state = 'sent'",
					t.State, t.Reason, now, b.id, customer); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("campaign: poll batch %d: %w", b.id, err)
		}
	}
	return waiting, nil
}

// Remind reminds every member with a task of the campaign still waiting;
// it returns how many tasks were reminded.
func (s *Service) Remind(ctx context.Context, id int64) (int, error) {
	_, f, batches, err := s.follow(ctx, id)
	if err != nil || f == nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, b := range batches {
		if err := f.Remind(ctx, b.provide); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (s *Service) follow(ctx context.Context, id int64) (Campaign, Follower, []pendingBatch, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return c, nil, nil, err
	}
	f := s.followers[c.Channel]
	if f == nil {
		return c, nil, nil, nil
	}
	if _, err := s.Poll(ctx, id); err != nil {
		return c, nil, nil, err
	}
	batches, err := s.pendingBatches(ctx, id)
	return c, f, batches, err
}

// CancelTasks cancels the campaign's tasks still waiting for a member:
// their customers who had not received it are failed TASK_CANCELLED.
func (s *Service) CancelTasks(ctx context.Context, id int64) (int, error) {
	_, f, batches, err := s.follow(ctx, id)
	if err != nil || f == nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, b := range batches {
		if err := f.CancelTask(ctx, b.provide); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		if _, err := s.db.W.ExecContext(ctx, "UPDATE campaign_deliveries SET state = 'failed', reason = $1, updated_at = $2 WHERE batch_id = $3 AND state = 'sent'",
			ReasonTaskCancelled, s.clock.Now().UTC(), b.id); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// memberConfirmed reports whether a member confirms the channel's tasks
// in the WeCom client (group messages and moments).
func (ch Channel) memberConfirmed() bool { return ch == WeCom || ch == WeComMoment }

// Report is a campaign's results.
type Report struct {
	ByState  map[string]int            // deliveries by state
	ByReason map[string]map[string]int // refused, failed and unknown deliveries by reason
	// Unconfirmed lists the WeCom members whose tasks still wait.
	Unconfirmed []string
}

// Results counts a campaign's deliveries.
func (s *Service) Results(ctx context.Context, id int64) (Report, error) {
	r := Report{ByState: map[string]int{}, ByReason: map[string]map[string]int{}}
	rows, err := s.db.R.QueryContext(ctx, "SELECT state, reason, COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1 GROUP BY state, reason", id)
	if err != nil {
		return r, fmt.Errorf("campaign: results: %w", err)
	}
	for rows.Next() {
		var state, reason string
		var n int
		if err := rows.Scan(&state, &reason, &n); err != nil {
			rows.Close()
			return r, err
		}
		r.ByState[state] += n
		if state == DeliveryRefused || state == DeliveryFailed || state == DeliveryUnknown {
			if r.ByReason[state] == nil {
				r.ByReason[state] = map[string]int{}
			}
			r.ByReason[state][reason] += n
		}
	}
	rows.Close()
	if c, err := s.Get(ctx, id); err != nil || !c.Channel.memberConfirmed() {
		// SMS and e-mail have no member to confirm.
		return r, err
	}
	batches, err := s.pendingBatches(ctx, id)
	if err != nil {
		return r, err
	}
	for _, b := range batches {
		if !slices.Contains(r.Unconfirmed, b.sender) {
			r.Unconfirmed = append(r.Unconfirmed, b.sender)
		}
	}
	slices.Sort(r.Unconfirmed)
	return r, nil
}
