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

// Claimer consumes permits before their messages go on the wire.
type Claimer struct {
	DB   *store.DB
	Gate *gate.Gate
	// Record, when set, records each claimed send; see Recorder.
	Record Recorder
}

// Claim consumes every permit in one transaction on the writer, each in a
// savepoint of its own with the Recorder's record: a permit the gate
// refuses (used before, forged, consent withdrawn since the decision, a
// cap reached) is rolled back alone and the others stand. It returns, for
// each permit, nil when it was claimed or the gate's *gate.Refusal. err is
// not nil when the transaction failed: then no permit was claimed and
// nothing may be sent.
func (c *Claimer) Claim(ctx context.Context, permits []gate.Permit) (refusals []error, err error) {
	if c == nil || c.DB == nil || c.Gate == nil {
		return nil, errors.New("channel: a Claimer needs a database and a gate")
	}
	refusals = make([]error, len(permits))
	err = c.DB.InTx(ctx, func(sqlTx *sql.Tx) error {
		tx := store.NewCachedTx(sqlTx)
		defer tx.Close()
		for i, p := range permits {
			if _, err := tx.Tx.ExecContext(ctx, "SAVEPOINT claim"); err != nil {
				return fmt.Errorf("channel: claim: %w", err)
			}
			err := c.claimOne(ctx, tx, p)
			var r *gate.Refusal
			switch {
			case err == nil:
				if _, err := tx.Tx.ExecContext(ctx, "RELEASE SAVEPOINT claim"); err != nil {
					return fmt.Errorf("channel: claim: %w", err)
				}
			case errors.As(err, &r):
				refusals[i] = r
				if _, err := tx.Tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT claim"); err != nil {
					return fmt.Errorf("channel: claim: %w", err)
				}
				if _, err := tx.Tx.ExecContext(ctx, "RELEASE SAVEPOINT claim"); err != nil {
					return fmt.Errorf("channel: claim: %w", err)
				}
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return refusals, nil
}

func (c *Claimer) claimOne(ctx context.Context, tx store.Querier, p gate.Permit) error {
	if err := c.Gate.Consume(ctx, tx, p); err != nil {
		return err
	}
	if c.Record != nil {
		return c.Record(ctx, tx, p)
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
