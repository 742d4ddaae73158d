// Package smstest is a stand-in for Tencent Cloud SMS (API 2021-01-11,
// sms-email.md §1) that tests and `kith serve --sandbox` send to. Like the
// real API it answers SendSms only to a request signed with
// TC3-HMAC-SHA256 by a known SecretId (the signature recomputed from the
// request as it arrived, the timestamp within five minutes), checks the
// SMS application, signature, template and numbers, answers with the
// documented fields (SendStatusSet: SerialNo, PhoneNumber, Fee,
// SessionContext, Code, Message, IsoCode; RequestId) and error codes, and
// then pushes delivery reports (短信下发状态通知: a JSON array of at most
// 100, retried twice) to the report address it was given, as the console's
// callback setting would. CustomerReplies pushes an upstream reply.
package smstest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/channel/sms"
)

// Defaults of a stand-in: the credentials and SMS application it knows.
const (
	SecretID  = "AKIDsmstest0000000000000000000000000"
	SecretKey = "smstest-secret-key-0000000000000000"
	SdkAppID  = "1400006666"
)

// MaxPerRequest is the most numbers one SendSms takes.
const MaxPerRequest = 200

// Options configure a Server.
type Options struct {
	SecretID, SecretKey, SdkAppID string // the defaults when empty
	// Signs and Templates are the approved signatures and templates (id →
	// text with {1}, {2}… variables). Approved, when set, is asked on every
	// request instead (the sandbox approves what the console saved).
	Signs     []string
	Templates map[string]string
	Approved  func() (signs []string, templates map[string]string)
	// ReportURL receives the delivery reports; none are pushed when empty.
	ReportURL string
	// ReplyURL receives CustomerReplies' pushes.
	ReplyURL string
	// Undeliverable numbers (as sent, +86…) get a FAIL report (UNDELIV);
	// Blacklisted ones are refused with FailedOperation.PhoneNumberInBlacklist.
	Undeliverable, Blacklisted map[string]bool
	// ReportDelay is how long after a send its reports are pushed.
	ReportDelay time.Duration
	Now         func() time.Time
	Client      *http.Client // for the pushes
}

// Message is one message the stand-in accepted.
type Message struct {
	SerialNo, Phone, Sign, TemplateID, Text, Session string
	Fee                                              int
}

// Server is the stand-in.
type Server struct {
	opt  Options
	mu   sync.Mutex
	seq  int
	msgs []Message
	// pushes counts pushes acknowledged; failedPushes those given up.
	pushes, failedPushes int
	wg                   sync.WaitGroup
	ctx                  context.Context
	stop                 context.CancelFunc
}

// New returns a stand-in.
func New(o Options) *Server {
	if o.SecretID == "" {
		o.SecretID, o.SecretKey = SecretID, SecretKey
	}
	if o.SdkAppID == "" {
		o.SdkAppID = SdkAppID
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{opt: o, ctx: ctx, stop: stop}
}

// Close stops the pushes in flight and waits for them.
func (s *Server) Close() {
	s.stop()
	s.wg.Wait()
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// ReportCounts returns how many report pushes were acknowledged and how many
// were given up after the retries.
func (s *Server) ReportCounts() (acked, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes, s.failedPushes
}

// apiError is a Tencent Cloud API error answer.
type apiError struct{ Code, Message string }

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func fail(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers POST / as the API does: always HTTP 200 with a
// Response envelope, an Error in it when the request is refused.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	rid := s.requestID()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var out any
	if err != nil {
		out = fail("InvalidParameter", "the body could not be read")
	} else if e := s.verify(r, body); e != nil {
		out = e
	} else if ans, e := s.sendSms(body); e != nil {
		out = e
	} else {
		out = ans
	}
	resp := map[string]any{"RequestId": rid}
	switch v := out.(type) {
	case *apiError:
		resp["Error"] = v
	case []sendStatus:
		resp["SendStatusSet"] = v
	}
	json.NewEncoder(w).Encode(map[string]any{"Response": resp})
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("smstest-%08d", s.seq)
}

var credentialRe = regexp.MustCompile(`^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// verify checks the common parameters and the TC3-HMAC-SHA256 signature
// as the API does (AuthFailure.* codes).
func (s *Server) verify(r *http.Request, body []byte) *apiError {
	if r.Method != http.MethodPost {
		return fail("UnsupportedProtocol", "only POST with a JSON body is served here")
	}
	if a := r.Header.Get("X-TC-Action"); a != "SendSms" {
		return fail("InvalidAction", "the action %q is not found", a)
	}
	if v := r.Header.Get("X-TC-Version"); v != "2021-01-11" {
		return fail("NoSuchVersion", "the version %q is not supported", v)
	}
	if r.Header.Get("X-TC-Region") == "" {
		return fail("MissingParameter", "the request is missing a required parameter `Region`")
	}
	m := credentialRe.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fail("AuthFailure.SignatureFailure", "the Authorization header is not a TC3-HMAC-SHA256 signature")
	}
	id, date, service, signed, sig := m[1], m[2], m[3], m[4], m[5]
	if id != s.opt.SecretID {
		return fail("AuthFailure.SecretIdNotFound", "the SecretId is not found")
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return fail("MissingParameter", "the request is missing a required parameter `Timestamp`")
	}
	if d := s.opt.Now().Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fail("AuthFailure.SignatureExpire", "the request timestamp %d is more than 5 minutes away from the server's time", ts)
	}
	if service != "sms" || date != time.Unix(ts, 0).UTC().Format("2006-01-02") {
		return fail("AuthFailure.SignatureFailure", "the credential scope does not match the timestamp and service")
	}
	var canonHeaders strings.Builder
	for _, h := range strings.Split(signed, ";") {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		if v == "" {
			return fail("AuthFailure.SignatureFailure", "the signed header %q is missing", h)
		}
		canonHeaders.WriteString(h + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	ph := sha256.Sum256(body)
	canonical := "POST\n/\n\n" + canonHeaders.String() + "\n" + signed + "\n" + hex.EncodeToString(ph[:])
	ch := sha256.Sum256([]byte(canonical))
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + date + "/" + service + "/tc3_request\n" + hex.EncodeToString(ch[:])
	k := mac([]byte("TC3"+s.opt.SecretKey), date)
	k = mac(k, service)
	k = mac(k, "tc3_request")
	want := hex.EncodeToString(mac(k, toSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fail("AuthFailure.SignatureFailure", "the request signature we calculated does not match the signature you provided")
	}
	return nil
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

type sendRequest struct {
	PhoneNumberSet   []string
	SmsSdkAppId      string
	TemplateId       string
	SignName         string
	TemplateParamSet []string
	SessionContext   string
}

type sendStatus struct {
	SerialNo, PhoneNumber string
	Fee                   int
	SessionContext        string
	Code, Message         string
	IsoCode               string
}

var (
	mainlandRe = regexp.MustCompile(`^(\+86|0086|86)?1[3-9][0-9]{9}$`)
	foreignRe  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	variableRe = regexp.MustCompile(`\{([0-9]+)\}`)
)

// sendSms checks a SendSms request and accepts its numbers.
func (s *Server) sendSms(body []byte) ([]sendStatus, *apiError) {
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail("InvalidParameter", "the body is not valid JSON: %v", err)
	}
	signs, templates := s.opt.Signs, s.opt.Templates
	if s.opt.Approved != nil {
		signs, templates = s.opt.Approved()
	}
	switch {
	case req.SmsSdkAppId != s.opt.SdkAppID:
		return nil, fail("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "the SmsSdkAppId %q does not belong to this account", req.SmsSdkAppId)
	case len(req.PhoneNumberSet) == 0:
		return nil, fail("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty")
	case len(req.PhoneNumberSet) > MaxPerRequest:
		return nil, fail("LimitExceeded.PhoneNumberCountLimit", "%d numbers in one request; at most %d", len(req.PhoneNumberSet), MaxPerRequest)
	case len(req.SessionContext) >= 512:
		return nil, fail("InvalidParameterValue", "SessionContext is %d bytes; less than 512", len(req.SessionContext))
	}
	sign := false
	for _, x := range signs {
		sign = sign || x == req.SignName
	}
	if !sign {
		return nil, fail("FailedOperation.SignatureIncorrectOrUnapproved", "the signature %q is not approved", req.SignName)
	}
	text, ok := templates[req.TemplateId]
	if !ok {
		return nil, fail("FailedOperation.TemplateIncorrectOrUnapproved", "the template %q is not approved", req.TemplateId)
	}
	vars := variableRe.FindAllStringSubmatch(text, -1)
	if len(vars) != len(req.TemplateParamSet) {
		return nil, fail("FailedOperation.TemplateIncorrectOrUnapproved", "the template %q has %d variables; %d values were given", req.TemplateId, len(vars), len(req.TemplateParamSet))
	}
	rendered := variableRe.ReplaceAllStringFunc(text, func(v string) string {
		i, _ := strconv.Atoi(v[1 : len(v)-1])
		if i < 1 || i > len(req.TemplateParamSet) {
			return v
		}
		return req.TemplateParamSet[i-1]
	})
	rendered = "【" + req.SignName + "】" + rendered
	if utf8.RuneCountInString(rendered) > 500 {
		return nil, fail("InvalidParameterValue.ContentLengthLimit", "the message is over 500 characters")
	}
	home, abroad := false, false
	for _, n := range req.PhoneNumberSet {
		if foreignRe.MatchString(n) && !strings.HasPrefix(n, "+86") {
			abroad = true
		} else {
			home = true
		}
	}
	if home && abroad {
		return nil, fail("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", "mainland and international numbers in one request")
	}
	out := make([]sendStatus, len(req.PhoneNumberSet))
	var accepted []Message
	s.mu.Lock()
	for i, n := range req.PhoneNumberSet {
		st := sendStatus{PhoneNumber: n, SessionContext: req.SessionContext, IsoCode: "CN"}
		switch {
		case !mainlandRe.MatchString(n) && !foreignRe.MatchString(n):
			st.Code, st.Message, st.IsoCode = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number", "DEF"
		case s.opt.Blacklisted[n]:
			st.Code, st.Message = "FailedOperation.PhoneNumberInBlacklist", "the number is in the blacklist"
		default:
			s.seq++
			st.SerialNo = fmt.Sprintf("2433:%d%09d", s.opt.Now().Unix(), s.seq)
			st.Fee, st.Code, st.Message = sms.Parts(rendered), "Ok", "send success"
			m := Message{SerialNo: st.SerialNo, Phone: n, Sign: req.SignName, TemplateID: req.TemplateId, Text: rendered, Session: req.SessionContext, Fee: st.Fee}
			s.msgs = append(s.msgs, m)
			accepted = append(accepted, m)
		}
		out[i] = st
	}
	s.mu.Unlock()
	if s.opt.ReportURL != "" && len(accepted) > 0 {
		s.wg.Add(1)
		go s.report(accepted)
	}
	return out, nil
}

// tencentReport is one item of a delivery-report push.
type tencentReport struct {
	UserReceiveTime string `json:"user_receive_time"`
	NationCode      string `json:"nationcode"`
	Mobile          string `json:"mobile"`
	ReportStatus    string `json:"report_status"`
	ErrMsg          string `json:"errmsg"`
	Description     string `json:"description"`
	SID             string `json:"sid"`
	Ext             string `json:"ext,omitempty"`
}

var beijing = time.FixedZone("CST", 8*3600)

// report pushes the reports of msgs, 100 at a time.
func (s *Server) report(msgs []Message) {
	defer s.wg.Done()
	if s.opt.ReportDelay > 0 {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(s.opt.ReportDelay):
		}
	}
	for start := 0; start < len(msgs); start += 100 {
		var items []tencentReport
		for _, m := range msgs[start:min(start+100, len(msgs))] {
			nation, mobile := "86", strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(m.Phone, "+86"), "0086"), "86")
			if strings.HasPrefix(m.Phone, "+") && !strings.HasPrefix(m.Phone, "+86") {
				nation, mobile = "", strings.TrimPrefix(m.Phone, "+") // the stand-in does not split foreign codes
			}
			it := tencentReport{UserReceiveTime: s.opt.Now().In(beijing).Format("2006-01-02 15:04:05"), NationCode: nation, Mobile: mobile,
				ReportStatus: "SUCCESS", ErrMsg: "DELIVRD", Description: "用户短信送达成功", SID: m.SerialNo, Ext: m.Session}
			if s.opt.Undeliverable[m.Phone] {
				it.ReportStatus, it.ErrMsg, it.Description = "FAIL", "UNDELIV", "用户关机或不在服务区"
			}
			items = append(items, it)
		}
		body, _ := json.Marshal(items)
		s.push(s.opt.ReportURL, body)
	}
}

// push posts body, retrying twice (as Tencent does) until the receiver
// answers {"result":0}.
func (s *Server) push(url string, body []byte) bool {
	for try := range 3 {
		if try > 0 {
			select {
			case <-s.ctx.Done():
				return false
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			break
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.opt.Client.Do(req)
		if err != nil {
			continue
		}
		var ack struct {
			Result *int `json:"result"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&ack)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && ack.Result != nil && *ack.Result == 0 {
			s.mu.Lock()
			s.pushes++
			s.mu.Unlock()
			return true
		}
	}
	s.mu.Lock()
	s.failedPushes++
	s.mu.Unlock()
	return false
}

// CustomerReplies pushes an upstream reply (短信回复: one JSON object) from
// a mainland number (11 digits) to ReplyURL, as a person answering a
// message signed sign would. It reports whether the receiver acknowledged.
func (s *Server) CustomerReplies(mobile, sign, text string) bool {
	if s.opt.ReplyURL == "" {
		return false
	}
	body, _ := json.Marshal(map[string]any{"extend": "", "mobile": mobile, "nationcode": "86", "sign": sign, "text": text, "time": s.opt.Now().Unix()})
	return s.push(s.opt.ReplyURL, body)
}
