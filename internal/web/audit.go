package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
)

// actorOf names a principal in the audit log.
func actorOf(p *auth.Principal) audit.Actor {
	if p == nil {
		return audit.Actor{Kind: audit.ActorAnonymous}
	}
	kind := audit.ActorUser
	if p.Kind == "token" {
		kind = audit.ActorToken
	}
	return audit.Actor{Kind: kind, Name: p.Name}
}

// auditEvent records what a request did with personal data or settings.
// Reads are recorded before the data is shown: a request whose read cannot
// be recorded fails instead of showing it.
func (s *Server) auditEvent(ctx context.Context, r *http.Request, action, objectType, objectID, person string, detail map[string]any) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Record(ctx, auditEntry(r, action, audit.OutcomeOK, objectType, objectID, person, detail))
}

// auditEntry builds the entry of what the request did, with the client's
// address added to detail.
func auditEntry(r *http.Request, action, outcome, objectType, objectID, person string, detail map[string]any) audit.Entry {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["ip"] = clientIP(r)
	b, _ := json.Marshal(detail)
	return audit.Entry{
		Actor: actorOf(principal(r)), Action: action, ObjectType: objectType, ObjectID: objectID,
		Person: person, Outcome: outcome, Detail: string(b),
	}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
