package sms

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
)

// maxEvidenceText bounds the reply text kept as evidence (consent bounds
// an event's evidence to 2 KiB).
const maxEvidenceText = 300

// TakeReply records what a reply means for consent, in q (the transaction
// that stores the reply, so both or neither happen): when its text is an
// opt-out as consent.ParseSMSOptOut reads it (T, TD, R, N, 退订, 拒收, STOP…,
// full-width and padded forms too), it opts the number out of every
// commercial purpose on SMS (Ledger.OptOut, so consent_state and the gate
// see it at once), with the reply's id, text,
// provider and signature as evidence. It returns whether the reply was an
// opt-out and how many consent events were recorded: 0 for a repeated
// opt-out or a pushed-again reply. A reply that is not an opt-out records
// nothing. receivedAt is when Kith took the push in.
//
// It knows nothing of HTTP: the web layer parses the push (ParseTencentReply,
// ParseAliyunReplies), stores it, calls TakeReply for each reply, and answers
// TencentAck or AliyunAck.
func TakeReply(ctx context.Context, l *consent.Ledger, q store.Querier, r Reply, receivedAt time.Time) (optOut bool, events int, err error) {
	keyword, ok := consent.ParseSMSOptOut(r.Text)
	if !ok {
		return false, 0, nil
	}
	text := r.Text
	if utf8.RuneCountInString(text) > maxEvidenceText {
		text = string([]rune(text)[:maxEvidenceText])
	}
	ev := consent.Evidence{consent.EvidenceMessageID: r.ID, consent.EvidenceText: text, "provider": r.Provider, "keyword": keyword}
	if r.Sign != "" {
		ev["sign"] = r.Sign
	}
	if r.Extend != "" {
		ev["extend"] = r.Extend
	}
	at := r.At
	if at.IsZero() || at.After(receivedAt) {
		at = receivedAt
	}
	n, err := l.OptOut(ctx, q, consent.OptOutRequest{
		Person: consent.Phone(r.Phone), Channel: consent.ChannelSMS, Source: consent.SourceOptOutReply,
		Evidence: ev, RecordedBy: "sms:" + r.Provider, OccurredAt: at, ReceivedAt: receivedAt,
	})
	if err != nil {
		return true, n, err
	}
	return true, n, nil
}
