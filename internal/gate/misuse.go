package gate

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/kith-scrm/kith/internal/audit"
)

// Misuse records, after the caller rolled back the transaction Consume
// refused in, what the refusal says: every refusal is counted, and a
// missing, forged or reused permit — an attempt to send around the gate —
// is written to the audit log as gate.override_attempt by actor. It does
// nothing for a nil err or an error that is not a *Refusal.
//
// Consume cannot write the entry itself: the caller rolls its transaction
// back on a refusal, and the entry would go with it.
func (g *Gate) Misuse(ctx context.Context, log *audit.Log, actor audit.Actor, p Permit, err error) error {
	var r *Refusal
	if !errors.As(err, &r) {
		return nil
	}
	g.count(p.Channel(), r.Reason)
	if r.Reason != PermitMissing && r.Reason != PermitForged && r.Reason != PermitReused {
		return nil
	}
	detail, _ := json.Marshal(map[string]string{"reason": string(r.Reason), "message": r.Message, "channel": string(p.Channel())})
	return log.Record(ctx, audit.Entry{Actor: actor, Action: audit.ActionGateOverride, ObjectType: "permit", ObjectID: p.ID(),
		Outcome: audit.OutcomeDenied, Detail: string(detail)})
}
