package channel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store"
)

// Status is what became of one message.
type Status string

// Statuses. Only Sent means a provider took the message. Unknown is never
// resent by an adapter: the message may have gone out, and a duplicate
// marketing message is harassment, so an operator decides.
const (
	Sent      Status = "sent"      // the provider or SMTP server accepted it
	Refused   Status = "refused"   // the gate refused the permit at Consume; nothing was sent
	Retryable Status = "retryable" // not sent; trying later (with a new permit) may succeed
	Failed    Status = "failed"    // not sent; trying again will not help
	Unknown   Status = "unknown"   // the connection failed after the message was handed over
)

// Result is the outcome of one message to one person.
type Result struct {
	Permit  string // the permit's id
	Status  Status
	Code    string // the provider's code or the SMTP reply code ("" when none)
	Message string // the provider's or server's words, or why the gate refused
	// ProviderID identifies the message at the provider: Tencent's
	// SerialNo, Aliyun's BizId, the e-mail's Message-ID. Delivery reports
	// carry it back.
	ProviderID string
	// Parts is the number of billed SMS parts (Tencent's Fee); 0 when unknown.
	Parts int
}

// Recorder writes the caller's own record of a send (for a campaign, its
// delivery row marked "sending") in the transaction in which the gate
// consumes the permit, so a send is recorded exactly when its permit is
// used. It must use tx only.
type Recorder func(ctx context.Context, tx store.Querier, p gate.Permit) error

// BatchRecorder records the claimed sends of permits at once, in the
// transaction in which the gate consumed them: it returns, for each
// permit, nil when it recorded the send or the *gate.Refusal that takes
// its claim back. It must use tx only.
type BatchRecorder func(ctx context.Context, tx store.Querier, permits []gate.Permit) ([]error, error)

// Claimer consumes permits before their messages go on the wire.
type Claimer struct {
	DB   *store.DB
	Gate *gate.Gate
	// Record, when set, records each claimed send; see Recorder.
	Record Recorder
	// RecordBatch, when set, records the claimed sends of a whole batch
	// in one go (Record is then used only when it refuses one).
	RecordBatch BatchRecorder
	// Claimed, when set, is called once the claim's transaction has ended,
	// committed or not, before Claim returns (a campaign prepares its
	// next batch only once this one's deliveries are claimed).
	Claimed func(permits []gate.Permit)
}

// Claim consumes every permit in one transaction on the writer, with the
// Recorder's record: a permit the gate refuses (used before, forged,
// consent withdrawn since the decision, a cap reached) is taken back alone
// and the others stand. It returns, for each permit, nil when it was
// claimed or the gate's *gate.Refusal. err is not nil when the transaction
// failed: then no permit was claimed and nothing may be sent.
//
// Without a Record, or with a RecordBatch, the gate consumes the batch in
// one pass (gate.ConsumeBatch) and RecordBatch records it; should the
// record refuse a permit, the whole batch is taken back and claimed again
// one permit at a time, each in a savepoint of its own, so that a permit
// taken back never counted against another's caps.
func (c *Claimer) Claim(ctx context.Context, permits []gate.Permit) (refusals []error, err error) {
	if c == nil || c.DB == nil || c.Gate == nil {
		return nil, errors.New("channel: a Claimer needs a database and a gate")
	}
	if c.Claimed != nil {
		defer c.Claimed(permits)
	}
	err = c.DB.InTx(ctx, func(sqlTx *sql.Tx) error {
		tx := store.NewCachedTx(sqlTx)
		defer tx.Close()
		if c.Record == nil || c.RecordBatch != nil {
			var done bool
			refusals, done, err = c.claimBatch(ctx, tx, permits)
			if err != nil || done {
				return err
			}
		}
		refusals, err = c.claimEach(ctx, tx, permits)
		return err
	})
	if err != nil {
		return nil, err
	}
	return refusals, nil
}

// claimBatch consumes and records permits at once. done is false when the
// record refused a permit: then nothing of the batch stands.
func (c *Claimer) claimBatch(ctx context.Context, tx *store.CachedTx, permits []gate.Permit) (refusals []error, done bool, err error) {
	if _, err := tx.Tx.ExecContext(ctx, "SAVEPOINT claim_batch"); err != nil {
		return nil, false, fmt.Errorf("channel: claim: %w", err)
	}
	refusals, err = c.Gate.ConsumeBatch(ctx, tx, permits)
	if err != nil {
		return nil, false, err
	}
	done = true
	if c.RecordBatch != nil {
		var consumed []gate.Permit
		for i, r := range refusals {
			if r == nil {
				consumed = append(consumed, permits[i])
			}
		}
		if len(consumed) > 0 {
			recs, err := c.RecordBatch(ctx, tx, consumed)
			if err != nil {
				return nil, false, err
			}
			if len(recs) != len(consumed) {
				return nil, false, fmt.Errorf("channel: claim: %d records for %d permits", len(recs), len(consumed))
			}
			for _, r := range recs {
				if r == nil {
					continue
				}
				var ref *gate.Refusal
				if !errors.As(r, &ref) {
					return nil, false, r
				}
				done = false
			}
		}
	}
	undo := "RELEASE SAVEPOINT claim_batch"
	if !done {
		undo = "ROLLBACK TO SAVEPOINT claim_batch"
	}
	if _, err := tx.Tx.ExecContext(ctx, undo); err != nil {
		return nil, false, fmt.Errorf("channel: claim: %w", err)
	}
	if !done {
		if _, err := tx.Tx.ExecContext(ctx, "RELEASE SAVEPOINT claim_batch"); err != nil {
			return nil, false, fmt.Errorf("channel: claim: %w", err)
		}
	}
	return refusals, done, nil
}

// claimEach consumes every permit with its record in a savepoint of its
// own: a refused one is rolled back alone.
func (c *Claimer) claimEach(ctx context.Context, tx *store.CachedTx, permits []gate.Permit) ([]error, error) {
	refusals := make([]error, len(permits))
	for i, p := range permits {
		if _, err := tx.Tx.ExecContext(ctx, "SAVEPOINT claim"); err != nil {
			return nil, fmt.Errorf("channel: claim: %w", err)
		}
		err := c.claimOne(ctx, tx, p)
		var r *gate.Refusal
		switch {
		case err == nil:
			if _, err := tx.Tx.ExecContext(ctx, "RELEASE SAVEPOINT claim"); err != nil {
				return nil, fmt.Errorf("channel: claim: %w", err)
			}
		case errors.As(err, &r):
			refusals[i] = r
			if _, err := tx.Tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT claim"); err != nil {
				return nil, fmt.Errorf("channel: claim: %w", err)
			}
			if _, err := tx.Tx.ExecContext(ctx, "RELEASE SAVEPOINT claim"); err != nil {
				return nil, fmt.Errorf("channel: claim: %w", err)
			}
		default:
			return nil, err
		}
	}
	return refusals, nil
}

func (c *Claimer) claimOne(ctx context.Context, tx store.Querier, p gate.Permit) error {
	if err := c.Gate.Consume(ctx, tx, p); err != nil {
		return err
	}
	switch {
	case c.Record != nil:
		return c.Record(ctx, tx, p)
	case c.RecordBatch != nil:
		recs, err := c.RecordBatch(ctx, tx, []gate.Permit{p})
		if err != nil {
			return err
		}
		if len(recs) != 1 {
			return fmt.Errorf("channel: claim: %d records for 1 permit", len(recs))
		}
		return recs[0]
	}
	return nil
}

// Refusal returns the Result of a permit the gate refused at Claim.
func Refusal(p gate.Permit, err error) Result {
	r := Result{Permit: p.ID(), Status: Refused, Message: err.Error()}
	var ref *gate.Refusal
	if errors.As(err, &ref) {
		r.Code, r.Message = string(ref.Reason), ref.Message
	}
	return r
}
