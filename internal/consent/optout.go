package consent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/kith-scrm/kith/internal/store"
)

// SMS opt-out keywords (platform constants: what carriers and SMS providers
// tell people to reply, and what people reply anyway; see
// the SMS reference notes, sms-email.md §3.3).
var (
	// smsKeywords match when they are the whole reply.
	smsKeywords = []string{"T", "TD", "R", "N", "STOP", "UNSUBSCRIBE", "退订", "拒收", "取消"}
	// smsLeading also match as the first word of a longer reply ("TD 谢谢",
	// "STOP please"): as words they mean nothing else. The single letters
	// T, R and N do not ("R u open?"), nor 取消 ("取消 订单" cancels an order).
	smsLeading = []string{"TD", "STOP", "UNSUBSCRIBE"}
	// smsContained match anywhere in a reply ("请退订", "拒收，谢谢"): they
	// have no other meaning in a reply to a merchant's SMS. A rare false
	// match ("我要退订单") stops marketing to someone; a missed one
	// harasses them.
	smsContained = []string{"退订", "拒收"}
)

// NormalizeReply returns an SMS reply in the form ParseSMSOptOut matches:
// NFKC (full-width letters and the ideographic space become ASCII), upper
// case, every run of spaces, punctuation, symbols and control or format
// characters replaced by one space, trimmed. NormalizeReply(NormalizeReply(s))
// equals NormalizeReply(s).
func NormalizeReply(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	// Case mapping and NFKC can each undo the other's work on exotic
	// characters; a few rounds reach the fixed point.
	for range 4 {
		next := norm.NFKC.String(strings.ToUpper(s))
		if next == s {
			break
		}
		s = next
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if separator(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func separator(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) ||
		unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// ParseSMSOptOut reports whether an SMS reply is an opt-out, and which
// keyword it used. After NormalizeReply, a reply is an opt-out when
//
//   - it is one of T, TD, R, N, STOP, UNSUBSCRIBE, 退订, 拒收, 取消 — spaces
//     and punctuation inside are ignored, so "ｔｄ", "  td。", "T.D." and
//     "退 订" all match;
//   - its first word is TD, STOP or UNSUBSCRIBE followed by other words
//     ("TD 谢谢"): decided so because these words mean nothing else, while a
//     longer reply starting with T, R or N usually is a sentence;
//   - it contains 退订 or 拒收 anywhere.
//
// Anything else is not: "TD你好吗" (no word boundary after TD), "today",
// "取消订单".
func ParseSMSOptOut(text string) (keyword string, ok bool) {
	n := NormalizeReply(text)
	if n == "" {
		return "", false
	}
	joined := strings.ReplaceAll(n, " ", "")
	if slices.Contains(smsKeywords, joined) {
		return joined, true
	}
	if first, _, more := strings.Cut(n, " "); more && slices.Contains(smsLeading, first) {
		return first, true
	}
	for _, k := range smsContained {
		if strings.Contains(joined, k) {
			return k, true
		}
	}
	return "", false
}

// OptOutRequest is an opt-out received on a channel.
type OptOutRequest struct {
	Person  Person
	Channel Channel
	// Source is SourceOptOutReply, SourceOneClick, SourceUnsubscribeLink,
	// SourceMemberDeleted, SourceConsole, SourceCustomer or SourceAPI.
	Source Source
	// Evidence points at what the person did: the reply's message id and
	// text, the token's URL, the inbound event of a deleted member.
	Evidence   Evidence
	RecordedBy string
	OccurredAt time.Time
	ReceivedAt time.Time
}

// OptOut stops every commercial purpose (marketing, profiling: those marked
// commercial in consent_purposes) for a person on one channel, at once. For
// each such purpose it records a withdrawal if the person had granted it
// (even if the grant expired), a refusal if the ledger had nothing (an
// opt-out from a person Kith holds no consent for still counts, and starts
// the cool-down before they may be asked again, P-14), and nothing if they
// had already withdrawn or refused — so a repeated opt-out (a retried
// one-click POST, a second "TD") records nothing new. It returns the number
// of events recorded. Like Record, it keeps consent_state current.
func (l *Ledger) OptOut(ctx context.Context, q store.Querier, r OptOutRequest) (int, error) {
	if err := checkKey(l.key); err != nil {
		return 0, err
	}
	if r.Source == SourceImport {
		return 0, invalid("source import cannot opt a person out; record the refusals one by one with their evidence")
	}
	base := Event{Person: r.Person, Channel: r.Channel, Action: Withdraw, Source: r.Source, Evidence: r.Evidence,
		RecordedBy: r.RecordedBy, OccurredAt: r.OccurredAt, ReceivedAt: r.ReceivedAt}
	base.Purpose = Marketing // checked here; the loop below sets each purpose
	c, err := check(base)
	if err != nil {
		return 0, err
	}
	commercial, err := purposes(ctx, q, "WHERE commercial")
	if err != nil {
		return 0, err
	}
	// The current state, including events that occurred after this
	// opt-out's own time (an opt-out replayed late must not go unrecorded
	// when a grant came in between, nor be recorded twice).
	at := c.ReceivedAt.Add(ClockSkew)
	n := 0
	for _, pu := range commercial {
		rows, err := readEvents(ctx, q, "person_kind = $1 AND person_key = $2 AND purpose = $3 AND channel = $4 ORDER BY occurred_at, id",
			string(c.Person.Kind), c.Person.Key, string(pu.Key), string(c.Channel))
		if err != nil {
			return n, fmt.Errorf("consent: opt-out: %w", err)
		}
		st := State{Status: StatusNone}
		for _, row := range rows {
			if err := fold(&st, row, at); err != nil {
				return n, err
			}
		}
		e := c
		e.Purpose = pu.Key
		switch st.Status {
		case StatusWithdrawn, StatusRefused:
			continue
		case StatusNone:
			e.Action = Refuse
		}
		if err := l.record(ctx, q, e); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
