package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/consent"
)

// maxConsentNote bounds the note an agent writes when withdrawing consent
// on a customer's request; it is kept in the ledger's evidence.
const maxConsentNote = 200

// consentView is the consent section of the customer page.
type consentView struct {
	History []consent.Event
	// States is the current state of each purpose on the WeCom channel,
	// with the purpose's name.
	States []purposeState
	Chain  consent.ChainReport
}

// purposeState is one purpose's current state.
type purposeState struct {
	consent.State
	Name string
}

// consentLedger returns the consent ledger, which indexes phone persons
// when the server has a Protector.
func (s *Server) consentLedger() *consent.Ledger {
	l := consent.NewLedger(s.DB.R, s.ConsentKey)
	if s.Protector != nil {
		l.UseIndexer(s.Protector)
	}
	return l
}

// consentSection loads a customer's consent history, the current state of
// each purpose on WeCom, and the check of their hash chain.
func (s *Server) consentSection(ctx context.Context, externalUserID string) (*consentView, error) {
	l := s.consentLedger()
	p := consent.ExternalUser(externalUserID)
	v := &consentView{}
	var err error
	if v.History, err = l.History(ctx, p); err != nil {
		return nil, err
	}
	purposes, err := l.Purposes(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	for _, pu := range purposes {
		st, err := l.State(ctx, p, pu.Key, consent.ChannelWeCom, now)
		if err != nil {
			return nil, err
		}
		v.States = append(v.States, purposeState{State: st, Name: pu.Name})
	}
	if v.Chain, err = l.VerifyChain(ctx, p); err != nil {
		return nil, err
	}
	return v, nil
}

// customerConsentWithdraw records, on the customer's request made to an
// agent, the withdrawal of every commercial purpose (marketing, profiling)
// on WeCom, with the agent's note as evidence, and the change in the audit
// log, in one transaction.
func (s *Server) customerConsentWithdraw(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	eid := r.PathValue("external_userid")
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	fault := func(p *problem) {
		s.renderCustomer(w, r, eid, "", &formFault{Form: "consent", Problem: p, Remark: note})
	}
	switch {
	case note == "":
		fault(invalid(r, "consent.error.note"))
		return
	case utf8.RuneCountInString(note) > maxConsentNote:
		fault(invalid(r, "consent.error.notelong", maxConsentNote))
		return
	}
	c, err := s.Customers.Get(ctx, eid)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := principal(r)
	now := s.Clock.Now()
	var n int
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.consentLedger().OptOut(ctx, tx, consent.OptOutRequest{
			Person: consent.ExternalUser(eid), Channel: consent.ChannelWeCom, Source: consent.SourceConsole,
			Evidence:   consent.Evidence{"requested_by": p.String(), consent.EvidenceNote: note},
			RecordedBy: p.String(), OccurredAt: now, ReceivedAt: now,
		})
		if err != nil {
			return err
		}
		e := auditEntry(r, audit.ActionConsentChange, audit.OutcomeOK, "customer", idString(c.ID), idString(c.ID),
			map[string]any{"withdraw": "commercial", "channel": string(consent.ChannelWeCom), "recorded": n})
		return s.Audit.Append(ctx, tx, e)
	})
	if err != nil {
		if pr := s.problemOf(r, err); pr != nil {
			fault(pr)
			return
		}
		s.pageError(w, r, err)
		return
	}
	done := "consent"
	if n == 0 {
		done = "consent_unchanged" // already withdrawn or refused
	}
	http.Redirect(w, r, "/customers/"+url.PathEscape(eid)+"?done="+done+"#consent", http.StatusSeeOther)
}
