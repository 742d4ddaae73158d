package web

import (
	"database/sql"
	"io"
	"net/http"

	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// Opt-outs taken in from outside the console (privacy requirement P-20):
// the unsubscribe link and RFC 8058 one-click POST of a marketing e-mail,
// and the SMS providers' pushes of upstream replies (T, TD, R, 退订 …).
// Each takes effect at once: the ledger records it in the request's
// transaction, and the gate refuses the next message.

// maxCallbackBody bounds a provider's push.
const maxCallbackBody = 1 << 20

// unsubscribeData is the unsubscribe page.
type unsubscribeData struct {
	Token   string
	Channel consent.Channel
	Masked  string // the address or number, masked
	Done    bool
	Changed bool // false when the person had already opted out
}

// unsubscribePerson reads the token of an unsubscribe link.
func (s *Server) unsubscribePerson(r *http.Request) (consent.Person, consent.Channel, error) {
	tok := r.PathValue("token")
	if len(tok) > 512 {
		return consent.Person{}, "", kith.Errorf(kith.ENOTFOUND, "This unsubscribe link is not valid.")
	}
	p, ch, err := consent.ParseUnsubscribeToken(s.ConsentKey, tok)
	if err != nil {
		return p, ch, kith.Errorf(kith.ENOTFOUND, "This unsubscribe link is not valid. Reply T to an SMS or write to the sender to stop their messages.")
	}
	return p, ch, nil
}

func maskPerson(p consent.Person) string {
	switch p.Kind {
	case consent.KindPhone:
		return protect.MaskPhone(p.Key)
	case consent.KindEmail:
		return protect.MaskEmail(p.Key)
	}
	return "****"
}

// unsubscribePage asks before it unsubscribes: link scanners and mail
// previews open links with GET, and must not opt anyone out.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	p, ch, err := s.unsubscribePerson(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.render(w, r, http.StatusOK, "unsubscribe", &unsubscribeData{Token: r.PathValue("token"), Channel: ch, Masked: maskPerson(p)})
}

// unsubscribe records the opt-out: a mail client's one-click POST (body
// List-Unsubscribe=One-Click, RFC 8058) or the page's button. Repeating it
// records nothing new and answers the same.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	p, ch, err := s.unsubscribePerson(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	source := consent.SourceUnsubscribeLink
	if r.PostFormValue("List-Unsubscribe") == "One-Click" {
		source = consent.SourceOneClick
	}
	now := s.Clock.Now()
	ev := consent.Evidence{consent.EvidenceURL: "/u/" + clip(r.PathValue("token"), 16), consent.EvidenceIP: clientIP(r)}
	if ua := r.UserAgent(); ua != "" {
		ev[consent.EvidenceUserAgent] = clip(ua, 200)
	}
	var n int
	err = s.DB.InTx(r.Context(), func(tx *sql.Tx) error {
		n, err = s.consentLedger().OptOut(r.Context(), tx, consent.OptOutRequest{
			Person: p, Channel: ch, Source: source, Evidence: ev, RecordedBy: "web:unsubscribe", OccurredAt: now, ReceivedAt: now,
		})
		return err
	})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("opt-out taken", "channel", ch, "source", source, "recorded", n)
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.render(w, r, http.StatusOK, "unsubscribe", &unsubscribeData{Channel: ch, Masked: maskPerson(p), Done: true, Changed: n > 0})
}

// smsCallbackKey is the secret part of a provider's callback address: the
// providers sign nothing, so only whoever was given the address can push.
func (s *Server) smsCallbackKey(provider string) string { return smsReplyKey(s.ConsentKey, provider) }

func smsReplyKey(consentKey []byte, provider string) string {
	return smsKey(consentKey, "kith sms callback", provider)
}

// smsProviders are the providers whose replies Kith takes in.
var smsProviders = []string{"tencent", "aliyun"}

// smsReplies takes in a provider's push of upstream replies and records
// each opt-out among them in one transaction, then answers the provider's
// acknowledgement. A push Kith cannot read is refused (the provider
// retries); replies that are not opt-outs are not kept (P-8).
func (s *Server) smsReplies(w http.ResponseWriter, r *http.Request) {
	provider, body, ok := s.smsPush(w, r, s.smsCallbackKey)
	if !ok {
		return
	}
	var replies []sms.Reply
	var err error
	ack := sms.AliyunAck
	if provider == "tencent" {
		var one sms.Reply
		one, err = sms.ParseTencentReply(body)
		replies, ack = []sms.Reply{one}, sms.TencentAck
	} else {
		replies, err = sms.ParseAliyunReplies(body)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	now := s.Clock.Now()
	optOuts, recorded := 0, 0
	err = s.DB.InTx(r.Context(), func(tx *sql.Tx) error {
		l := s.consentLedger()
		for _, rep := range replies {
			ok, n, err := sms.TakeReply(r.Context(), l, tx, rep, now)
			if err != nil {
				return err
			}
			if ok {
				optOuts++
			}
			recorded += n
		}
		return nil
	})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.Log.Info("sms replies taken", "provider", provider, "replies", len(replies), "opt_outs", optOuts, "recorded", recorded)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, ack)
}
