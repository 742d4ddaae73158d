package web

import (
	"context"
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// maxPermitsShown bounds the permits listed on a customer's page.
const maxPermitsShown = 100

// The gate's answer to "why did I get this?" (privacy requirement P-38):
// every message Kith may send rests on a permit, and each permit names the
// decision, the rule set and the consent event behind it.

// permitsSection lists the permits issued for a customer on WeCom, newest
// first.
func (s *Server) permitsSection(ctx context.Context, externalUserID string) ([]gate.Explanation, bool, error) {
	if s.Gate == nil {
		return nil, false, nil
	}
	ps, err := s.Gate.PermitsFor(ctx, consent.ExternalUser(externalUserID))
	if err != nil {
		return nil, false, err
	}
	if len(ps) > maxPermitsShown {
		return ps[:maxPermitsShown], true, nil
	}
	return ps, false, nil
}

// auditPerson names the person of a decision in the audit log the way the
// rest of the console does: a customer's id when the person is a known
// WeCom customer, else the person key itself.
func (s *Server) auditPerson(ctx context.Context, p consent.Person) string {
	if p.Kind == consent.KindExternalUser && s.Customers != nil {
		if c, err := s.Customers.Get(ctx, p.Key); err == nil {
			return idString(c.ID)
		}
	}
	return p.String()
}

// explainDecision loads a decision and records the read before it is shown:
// a decision names a person and what was sent to them.
func (s *Server) explainDecision(r *http.Request) (gate.Explanation, error) {
	if s.Gate == nil {
		return gate.Explanation{}, kith.Errorf(kith.EUNAVAILABLE, "The gate is not running on this node.")
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		return gate.Explanation{}, kith.Errorf(kith.EINVALID, "%q is not a decision id.", clip(id, 40))
	}
	e, err := s.Gate.Explain(r.Context(), id)
	if err != nil {
		return e, err
	}
	err = s.auditEvent(r.Context(), r, audit.ActionPIIRead, "gate_decision", e.DecisionID, s.auditPerson(r.Context(), e.Person), map[string]any{"view": "explain"})
	return e, err
}

// decisionData is the decision page.
type decisionData struct {
	E        gate.Explanation
	Customer string // the customer's external user id, for the link back
}

// gateDecision shows one decision: what was asked, the answer, the permit
// and the consent event it rested on.
func (s *Server) gateDecision(w http.ResponseWriter, r *http.Request) {
	e, err := s.explainDecision(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &decisionData{E: e}
	if e.Person.Kind == consent.KindExternalUser {
		d.Customer = e.Person.Key
	}
	s.render(w, r, http.StatusOK, "gate-decision", d)
}

// consentEventJSON is the consent event a decision rested on, in the API.
type consentEventJSON struct {
	ID            int64     `json:"id"`
	Action        string    `json:"action"`
	Source        string    `json:"source"`
	NoticeVersion *int      `json:"notice_version,omitempty"`
	OccurredAt    time.Time `json:"occurred_at"`
	RecordedBy    string    `json:"recorded_by"`
}

// explanationJSON is a decision in the API.
type explanationJSON struct {
	ID         string            `json:"id"`
	At         time.Time         `json:"at"`
	Person     string            `json:"person"`
	Channel    string            `json:"channel"`
	Purpose    string            `json:"purpose"`
	Class      string            `json:"class"`
	Campaign   string            `json:"campaign"`
	Sender     string            `json:"sender"`
	Allowed    bool              `json:"allowed"`
	Reason     string            `json:"reason"`
	Message    string            `json:"message"`
	ExpiresAt  *time.Time        `json:"permit_expires_at,omitempty"`
	ConsumedAt *time.Time        `json:"sent_at,omitempty"`
	Consent    *consentEventJSON `json:"consent_event,omitempty"`
}

func toExplanationJSON(e gate.Explanation) explanationJSON {
	out := explanationJSON{ID: e.DecisionID, At: e.At, Person: e.Person.String(), Channel: string(e.Channel), Purpose: string(e.Purpose),
		Class: string(e.Class), Campaign: e.Campaign, Sender: e.Sender, Allowed: e.Allowed, Reason: string(e.Reason), Message: e.Message,
		ConsumedAt: e.ConsumedAt}
	if !e.ExpiresAt.IsZero() {
		t := e.ExpiresAt
		out.ExpiresAt = &t
	}
	if ev := e.ConsentEvent; ev != nil {
		out.Consent = &consentEventJSON{ID: ev.ID, Action: string(ev.Action), Source: string(ev.Source), OccurredAt: ev.OccurredAt, RecordedBy: ev.RecordedBy}
		if ev.NoticeVersion != 0 {
			v := ev.NoticeVersion
			out.Consent.NoticeVersion = &v
		}
	}
	return out
}

// apiGateDecision answers GET /api/v1/gate/decisions/{id}.
func (s *Server) apiGateDecision(w http.ResponseWriter, r *http.Request) {
	e, err := s.explainDecision(r)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toExplanationJSON(e))
}

// apiCustomerPermits answers GET /api/v1/customers/{external_userid}/permits:
// every permit issued for the customer on WeCom, newest first.
func (s *Server) apiCustomerPermits(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.Customers.Get(ctx, r.PathValue("external_userid"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	ps, more, err := s.permitsSection(ctx, c.ExternalUserID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.auditEvent(ctx, r, audit.ActionPIIRead, "customer", idString(c.ID), idString(c.ID), map[string]any{"view": "permits", "count": len(ps)}); err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]explanationJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, toExplanationJSON(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"permits": out, "truncated": more})
}
