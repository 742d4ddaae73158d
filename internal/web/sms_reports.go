package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/kith"
)

// smsReportKey is the secret part of a provider's delivery-report address
// (the providers sign nothing): another key than the replies', so each
// address can be given and changed on its own.
func (s *Server) smsReportKey(provider string) string { return smsReportKey(s.ConsentKey, provider) }

func smsReportKey(consentKey []byte, provider string) string {
	return smsKey(consentKey, "kith sms reports", provider)
}

// smsKey derives the secret part of one of a provider's push addresses
// from consentKey; purpose keeps the reports' and replies' keys apart.
func smsKey(consentKey []byte, purpose, provider string) string {
	m := hmac.New(sha256.New, consentKey)
	m.Write([]byte(purpose + "\x00" + provider))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// smsPush checks a provider push's address against key and reads its
// body, bounded: on false the answer was written (404 for a wrong
// provider or key, 400 for a body too large or cut off).
func (s *Server) smsPush(w http.ResponseWriter, r *http.Request, key func(provider string) string) (provider string, body []byte, ok bool) {
	provider = r.PathValue("provider")
	if !slices.Contains(smsProviders, provider) || subtle.ConstantTimeCompare([]byte(r.PathValue("key")), []byte(key(provider))) != 1 {
		s.apiError(w, r, kith.Errorf(kith.ENOTFOUND, "No such callback."))
		return "", nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "The push is larger than %d bytes or was cut off.", maxCallbackBody))
		return "", nil, false
	}
	return provider, body, true
}

// smsURLs are a kind of push address ("reports" or "replies") for each
// provider, to paste into the providers' consoles.
func (s *Server) smsURLs(r *http.Request, kind string, key func(provider string) string) map[string]string {
	base := strings.TrimSuffix(callbackURL(r), "/wecom/callback")
	out := map[string]string{}
	for _, p := range smsProviders {
		out[p] = base + "/sms/" + p + "/" + kind + "/" + key(p)
	}
	return out
}

// SMSCallbackPaths are a provider's delivery-report and reply addresses
// (paths of Kith's public address) for consentKey, the Server's
// ConsentKey: `serve --sandbox` gives them to its SMS stand-in.
func SMSCallbackPaths(consentKey []byte, provider string) (reports, replies string) {
	return "/sms/" + provider + "/reports/" + smsReportKey(consentKey, provider), "/sms/" + provider + "/replies/" + smsReplyKey(consentKey, provider)
}

// smsReports takes in a provider's push of delivery reports (Tencent's
// 短信下发状态通知, Aliyun's SmsReport; both a JSON array): each is kept
// once and applied to the campaign delivery it is about
// (campaign.TakeSMSReports), then the provider's acknowledgement is
// answered. A wrong key or provider is 404; a body over 1 MiB or one Kith
// cannot read is 400 with what is wrong, and nothing is kept (the provider
// pushes again); a failure to store is 5xx, so it pushes again.
func (s *Server) smsReports(w http.ResponseWriter, r *http.Request) {
	provider, body, ok := s.smsPush(w, r, s.smsReportKey)
	if !ok {
		return
	}
	if s.Campaigns == nil {
		s.apiError(w, r, kith.Errorf(kith.EUNAVAILABLE, "Campaigns are not running on this node."))
		return
	}
	var reports []sms.Report
	var err error
	ack := sms.AliyunAck
	if provider == sms.ProviderTencent {
		reports, err = sms.ParseTencentReports(body)
		ack = sms.TencentAck
	} else {
		reports, err = sms.ParseAliyunReports(body)
	}
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	stored, applied, err := s.Campaigns.TakeSMSReports(r.Context(), reports)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.Log.Info("sms reports taken", "provider", provider, "reports", len(reports), "new", stored, "applied", applied)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, ack)
}
