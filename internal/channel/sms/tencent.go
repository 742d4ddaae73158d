package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// Tencent Cloud SMS API facts (sms-email.md §1).
const (
	TencentEndpoint  = "https://sms.tencentcloudapi.com"
	tencentVersion   = "2021-01-11"
	tencentService   = "sms"
	tencentMaxPerReq = 200
	// tc3ContentType is the content type the TC3 signature covers.
	tc3ContentType = "application/json; charset=utf-8"
)

// TencentConfig configures a Tencent Cloud SMS sender.
type TencentConfig struct {
	SecretID  string
	SecretKey string
	SdkAppID  string // the SMS application's id, e.g. 1400006666
	Region    string // default ap-guangzhou
	Endpoint  string // default TencentEndpoint; tests point it at a fake
	Client    *http.Client
}

// Tencent sends through Tencent Cloud SMS.
type Tencent struct {
	cfg     TencentConfig
	claim   *channel.Claimer
	limiter *channel.Limiter
	clock   kith.Clock
}

// NewTencent returns a Tencent sender. claim consumes the permits; limiter
// (nil for none) holds the request rate (the API allows 3,000 a second).
func NewTencent(cfg TencentConfig, claim *channel.Claimer, limiter *channel.Limiter, clock kith.Clock) (*Tencent, error) {
	if cfg.SecretID == "" || cfg.SecretKey == "" || cfg.SdkAppID == "" {
		return nil, kith.Errorf(kith.EINVALID, "sms: tencent: secret id, secret key and SMS app id are required")
	}
	if cfg.Region == "" {
		cfg.Region = "ap-guangzhou"
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = TencentEndpoint
	}
	if _, err := url.Parse(cfg.Endpoint); err != nil {
		return nil, kith.Errorf(kith.EINVALID, "sms: tencent: endpoint %q: %v", cfg.Endpoint, err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Tencent{cfg: cfg, claim: claim, limiter: limiter, clock: clock}, nil
}

// tc3 is a TC3-HMAC-SHA256 signature and the values it is made of (the
// test compares each with the provider's published example).
type tc3 struct {
	payloadHash   string
	canonicalHash string
	signature     string
	authorization string
}

// signTC3 signs a JSON POST to "/" of host (Tencent Cloud API 3.0,
// signature v3): the canonical request covers the content type and the
// host; the key is derived from the secret through the UTC date, the
// service and "tc3_request".
func signTC3(secretID, secretKey, service, host string, timestamp int64, payload []byte) tc3 {
	var s tc3
	ph := sha256.Sum256(payload)
	s.payloadHash = hex.EncodeToString(ph[:])
	canonical := "POST\n/\n\ncontent-type:" + tc3ContentType + "\nhost:" + host + "\n\ncontent-type;host\n" + s.payloadHash
	ch := sha256.Sum256([]byte(canonical))
	s.canonicalHash = hex.EncodeToString(ch[:])
	date := time.Unix(timestamp, 0).UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(timestamp, 10) + "\n" + scope + "\n" + s.canonicalHash
	k := hmacSHA256([]byte("TC3"+secretKey), date)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "tc3_request")
	s.signature = hex.EncodeToString(hmacSHA256(k, toSign))
	s.authorization = "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=content-type;host, Signature=" + s.signature
	return s
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

type tencentSendRequest struct {
	PhoneNumberSet   []string
	SmsSdkAppId      string
	TemplateId       string
	SignName         string
	TemplateParamSet []string `json:",omitempty"`
	SessionContext   string   `json:",omitempty"`
}

type tencentError struct {
	Code    string
	Message string
}

type tencentSendResponse struct {
	Response struct {
		Error         *tencentError
		SendStatusSet []struct {
			SerialNo    string
			PhoneNumber string
			Fee         int
			Code        string
			Message     string
		}
		RequestId string
	}
}

// Send sends m to the person of every permit, after consuming the permits
// (a refused permit gets a Refused result and no message). Numbers go out
// in requests of at most 200, mainland and foreign numbers apart, as the
// API requires. Results come back in the order of permits. The error is
// for the whole call (an invalid message, the claim's transaction): then
// nothing was sent.
func (t *Tencent) Send(ctx context.Context, permits []gate.Permit, m Message) ([]channel.Result, error) {
	results, ok, err := claim(ctx, t.claim, permits, m)
	if err != nil {
		return nil, err
	}
	var home, abroad []int
	for _, i := range ok {
		if mainland(e164(permits[i].Person().Key)) {
			home = append(home, i)
		} else {
			abroad = append(abroad, i)
		}
	}
	for _, group := range [][]int{home, abroad} {
		for start := 0; start < len(group); start += tencentMaxPerReq {
			batch := group[start:min(start+tencentMaxPerReq, len(group))]
			ps := make([]gate.Permit, len(batch))
			for j, i := range batch {
				ps[j] = permits[i]
			}
			for j, r := range t.send(ctx, ps, m) {
				results[batch[j]] = r
			}
		}
	}
	return results, nil
}

// send makes one SendSms request for permits already consumed.
func (t *Tencent) send(ctx context.Context, permits []gate.Permit, m Message) []channel.Result {
	if err := t.limiter.Wait(ctx); err != nil {
		return all(permits, channel.Result{Status: channel.Retryable, Message: err.Error()})
	}
	req := tencentSendRequest{SmsSdkAppId: t.cfg.SdkAppID, TemplateId: m.Template.ID, SignName: m.Sign, SessionContext: m.Session}
	for _, p := range permits {
		req.PhoneNumberSet = append(req.PhoneNumberSet, e164(p.Person().Key))
	}
	for _, p := range m.Params {
		req.TemplateParamSet = append(req.TemplateParamSet, p.Value)
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return all(permits, channel.Result{Status: channel.Failed, Message: err.Error()})
	}
	u, _ := url.Parse(t.cfg.Endpoint)
	ts := t.clock.Now().Unix()
	host := strings.TrimSuffix(u.Host, ":443")
	sig := signTC3(t.cfg.SecretID, t.cfg.SecretKey, tencentService, host, ts, payload)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.Endpoint, bytes.NewReader(payload))
	if err != nil {
		return all(permits, channel.Result{Status: channel.Failed, Message: err.Error()})
	}
	hr.Host = host
	hr.Header.Set("Content-Type", tc3ContentType)
	hr.Header.Set("Authorization", sig.authorization)
	hr.Header.Set("X-TC-Action", "SendSms")
	hr.Header.Set("X-TC-Version", tencentVersion)
	hr.Header.Set("X-TC-Region", t.cfg.Region)
	hr.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	body, code, status, err := post(t.cfg.Client, hr)
	if err != nil {
		return all(permits, channel.Result{Status: status, Message: err.Error()})
	}
	return parseTencentSend(permits, code, body)
}

// parseTencentSend maps a SendSms answer to one result per permit.
func parseTencentSend(permits []gate.Permit, httpStatus int, body []byte) []channel.Result {
	var resp tencentSendResponse
	if err := json.Unmarshal(body, &resp); err != nil || (resp.Response.Error == nil && resp.Response.RequestId == "") {
		// Not an answer the API gives: the request may have been acted on.
		return all(permits, channel.Result{Status: channel.Unknown, Code: strconv.Itoa(httpStatus),
			Message: fmt.Sprintf("sms: tencent answered HTTP %d with a body that is not an API answer", httpStatus)})
	}
	if e := resp.Response.Error; e != nil {
		return all(permits, channel.Result{Status: TencentStatus(e.Code), Code: e.Code, Message: e.Message})
	}
	byNumber := make(map[string]int, len(resp.Response.SendStatusSet))
	for i, s := range resp.Response.SendStatusSet {
		byNumber[s.PhoneNumber] = i
	}
	out := make([]channel.Result, len(permits))
	for i, p := range permits {
		j, ok := byNumber[e164(p.Person().Key)]
		if !ok {
			out[i] = channel.Result{Permit: p.ID(), Status: channel.Unknown, Message: errNoAnswer.Error()}
			continue
		}
		s := resp.Response.SendStatusSet[j]
		out[i] = channel.Result{Permit: p.ID(), Status: TencentStatus(s.Code), Code: s.Code, Message: s.Message, ProviderID: s.SerialNo, Parts: s.Fee}
	}
	return out
}

// TencentStatus classifies a Tencent Cloud SMS code (sms-email.md §1.4):
// "Ok" is Sent; flow control (LimitExceeded.*, but not too many numbers
// in one call), the API's own rate limit, the marketing send window
// (08:00–22:00) and internal send failures are Retryable; everything else
// — a bad or blocked number, template, signature, balance, permission or
// authentication problems — is Failed.
func TencentStatus(code string) channel.Status {
	switch {
	case code == "Ok":
		return channel.Sent
	case code == "LimitExceeded.PhoneNumberCountLimit":
		return channel.Failed
	case strings.HasPrefix(code, "LimitExceeded."), code == "RequestLimitExceeded",
		code == "FailedOperation.MarketingSendTimeConstraint",
		code == "InternalError.Timeout", code == "InternalError.SendAndRecvFail", code == "InternalError":
		return channel.Retryable
	}
	return channel.Failed
}

// Blocked reports whether a provider code says the number refuses messages
// (it is on the provider's or a carrier's block list, usually because the
// person unsubscribed there): the caller should record a suppression.
func Blocked(code string) bool {
	return code == "FailedOperation.PhoneNumberInBlacklist"
}
