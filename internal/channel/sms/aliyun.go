package sms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
)

// Aliyun SMS API facts (sms-email.md §2).
const (
	AliyunEndpoint  = "https://dysmsapi.aliyuncs.com/"
	aliyunVersion   = "2017-05-25"
	aliyunMaxPerReq = 1000
)

// AliyunConfig configures an Aliyun SMS sender.
type AliyunConfig struct {
	AccessKeyID     string
	AccessKeySecret string
	RegionID        string // default cn-hangzhou
	Endpoint        string // default AliyunEndpoint; tests point it at a fake
	Client          *http.Client
}

// Aliyun sends through Aliyun SMS (dysmsapi).
type Aliyun struct {
	cfg     AliyunConfig
	claim   *channel.Claimer
	limiter *channel.Limiter
	clock   kith.Clock
}

// NewAliyun returns an Aliyun sender. claim consumes the permits; limiter
// (nil for none) holds the request rate (5,000 a second per account).
func NewAliyun(cfg AliyunConfig, claim *channel.Claimer, limiter *channel.Limiter, clock kith.Clock) (*Aliyun, error) {
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" {
		return nil, kith.Errorf(kith.EINVALID, "sms: aliyun: access key id and secret are required")
	}
	if cfg.RegionID == "" {
		cfg.RegionID = "cn-hangzhou"
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = AliyunEndpoint
	}
	if _, err := url.Parse(cfg.Endpoint); err != nil {
		return nil, kith.Errorf(kith.EINVALID, "sms: aliyun: endpoint %q: %v", cfg.Endpoint, err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Aliyun{cfg: cfg, claim: claim, limiter: limiter, clock: clock}, nil
}

// aliyunEscape percent-encodes as Aliyun's RPC signature wants (RFC 3986:
// space is %20, * is %2A, ~ stays).
func aliyunEscape(s string) string {
	s = url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(s)
}

// signV1 returns the canonical query (parameters sorted by name, each
// escaped) and its RPC signature v1: Base64(HMAC-SHA1(secret + "&",
// method & %2F & escape(query))).
func signV1(method, secret string, params map[string]string) (query, signature string) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(aliyunEscape(k) + "=" + aliyunEscape(params[k]))
	}
	query = b.String()
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(method + "&" + aliyunEscape("/") + "&" + aliyunEscape(query)))
	return query, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Send sends m to the person of every permit, after consuming the permits
// (a refused permit gets a Refused result and no message), in requests of
// at most 1,000 numbers. Aliyun answers per request: every number of a
// request gets its Code and BizId. Results come back in the order of
// permits. The error is for the whole call (an invalid message, the
// claim's transaction): then nothing was sent.
func (a *Aliyun) Send(ctx context.Context, permits []gate.Permit, m Message) ([]channel.Result, error) {
	results, ok, err := claim(ctx, a.claim, permits, m)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(ok); start += aliyunMaxPerReq {
		batch := ok[start:min(start+aliyunMaxPerReq, len(ok))]
		ps := make([]gate.Permit, len(batch))
		for j, i := range batch {
			ps[j] = permits[i]
		}
		for j, r := range a.send(ctx, ps, m) {
			results[batch[j]] = r
		}
	}
	return results, nil
}

func (a *Aliyun) send(ctx context.Context, permits []gate.Permit, m Message) []channel.Result {
	if err := a.limiter.Wait(ctx); err != nil {
		return all(permits, channel.Result{Status: channel.Retryable, Message: err.Error()})
	}
	numbers := make([]string, len(permits))
	for i, p := range permits {
		numbers[i] = strings.TrimPrefix(e164(p.Person().Key), "+")
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return all(permits, channel.Result{Status: channel.Retryable, Message: err.Error()})
	}
	params := map[string]string{
		"AccessKeyId": a.cfg.AccessKeyID, "Action": "SendSms", "Format": "JSON", "RegionId": a.cfg.RegionID,
		"SignatureMethod": "HMAC-SHA1", "SignatureNonce": hex.EncodeToString(nonce[:]), "SignatureVersion": "1.0",
		"Timestamp": a.clock.Now().UTC().Format("2006-01-02T15:04:05Z"), "Version": aliyunVersion,
		"PhoneNumbers": strings.Join(numbers, ","), "SignName": m.Sign, "TemplateCode": m.Template.ID,
	}
	if len(m.Params) > 0 {
		values := make(map[string]string, len(m.Params))
		for _, p := range m.Params {
			values[p.Name] = p.Value
		}
		js, _ := json.Marshal(values) // string values: what the API wants
		params["TemplateParam"] = string(js)
	}
	if m.Session != "" {
		params["OutId"] = m.Session
	}
	query, sig := signV1(http.MethodPost, a.cfg.AccessKeySecret, params)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.Endpoint+"?Signature="+aliyunEscape(sig)+"&"+query, nil)
	if err != nil {
		return all(permits, channel.Result{Status: channel.Failed, Message: err.Error()})
	}
	body, code, status, err := post(a.cfg.Client, hr)
	if err != nil {
		return all(permits, channel.Result{Status: status, Message: err.Error()})
	}
	return all(permits, parseAliyunSend(code, body))
}

// parseAliyunSend maps a SendSms answer to the result of every number of
// the request.
func parseAliyunSend(httpStatus int, body []byte) channel.Result {
	var resp struct{ Code, Message, BizId, RequestId string }
	if err := json.Unmarshal(body, &resp); err != nil || resp.Code == "" {
		return channel.Result{Status: channel.Unknown, Code: strconv.Itoa(httpStatus),
			Message: fmt.Sprintf("sms: aliyun answered HTTP %d with a body that is not an API answer", httpStatus)}
	}
	return channel.Result{Status: AliyunStatus(resp.Code), Code: resp.Code, Message: resp.Message, ProviderID: resp.BizId}
}

// AliyunStatus classifies an Aliyun SMS code (sms-email.md §2.3): "OK" is
// Sent; flow control (isv.BUSINESS_LIMIT_CONTROL, the account's own
// day/month caps), throttling and isp.SYSTEM_ERROR are Retryable;
// everything else — a bad number, template, signature, balance or
// permission problem — is Failed.
func AliyunStatus(code string) channel.Status {
	switch {
	case code == "OK":
		return channel.Sent
	case code == "isv.BUSINESS_LIMIT_CONTROL", code == "isv.DAY_LIMIT_CONTROL", code == "isv.MONTH_LIMIT_CONTROL",
		code == "isp.SYSTEM_ERROR", code == "ServiceUnavailable", strings.HasPrefix(code, "Throttling"):
		return channel.Retryable
	}
	return channel.Failed
}
