package wecomtest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 7, 1, 10, 0, 30, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs a sandbox with a test clock.
func start(t *testing.T, o Options) (*Server, *testClock) {
	t.Helper()
	clock := newTestClock()
	if o.Now == nil {
		o.Now = clock.Now
	}
	return Start(t, o), clock
}

// resp is a decoded WeCom answer.
type resp map[string]any

func (r resp) code() int {
	n, _ := r["errcode"].(json.Number).Int64()
	return int(n)
}

func (r resp) str(key string) string { s, _ := r[key].(string); return s }

func (r resp) num(key string) int64 { n, _ := r[key].(json.Number).Int64(); return n }

func (r resp) list(key string) []any { l, _ := r[key].([]any); return l }

// call makes one HTTP call and decodes the JSON answer.
func call(t *testing.T, srv *Server, method, path string, query url.Values, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	u := srv.URL + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	dec.UseNumber()
	var out resp
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	if _, ok := out["errcode"]; !ok {
		t.Fatalf("%s %s: no errcode in %v", method, path, out)
	}
	if _, ok := out["errmsg"]; !ok {
		t.Fatalf("%s %s: no errmsg in %v", method, path, out)
	}
	return out
}

// get calls a GET API with a valid token and the query.
func get(t *testing.T, srv *Server, path string, kv ...string) resp {
	t.Helper()
	q := url.Values{"access_token": {srv.AccessToken()}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return call(t, srv, http.MethodGet, path, q, nil)
}

// post calls a POST API with a valid token and a JSON body.
func post(t *testing.T, srv *Server, path string, body any) resp {
	t.Helper()
	return call(t, srv, http.MethodPost, path, url.Values{"access_token": {srv.AccessToken()}}, body)
}

func wantCode(t *testing.T, r resp, code int) {
	t.Helper()
	if r.code() != code {
		t.Fatalf("errcode %d (%s), want %d", r.code(), r.str("errmsg"), code)
	}
}

// receiver is a callback endpoint: it verifies and decrypts each POST with
// package callback and answers with the statuses it is told.
type receiver struct {
	t      *testing.T
	crypto *callback.Crypto
	url    string

	mu       sync.Mutex
	statuses []int    // answers for the next POSTs; then 200
	got      [][]byte // decrypted XML of every POST, failed ones too
	bodies   [][]byte // raw bodies
}

func startReceiver(t *testing.T, srv *Server) *receiver {
	t.Helper()
	c, err := callback.NewCrypto(TestCallbackToken, TestEncodingAESKey, srv.CorpID())
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, crypto: c}
	ts := httptest.NewServer(rc)
	t.Cleanup(ts.Close)
	rc.url = ts.URL + "/wecom/callback"
	srv.SetCallbackURL(rc.url)
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodGet {
		msg, err := rc.crypto.VerifyURL(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(msg)
		return
	}
	body, _ := io.ReadAll(r.Body)
	plain, err := rc.crypto.Open(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.t.Errorf("receiver: open callback: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, plain)
	rc.bodies = append(rc.bodies, body)
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(status)
}

func (rc *receiver) failNext(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.statuses = append(rc.statuses, statuses...)
}

func (rc *receiver) received() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.got...)
}

// eventXML is the decrypted callback, parsed by element name.
type eventXML struct {
	XMLName        xml.Name `xml:"xml"`
	ToUserName     string   `xml:"ToUserName"`
	FromUserName   string   `xml:"FromUserName"`
	CreateTime     int64    `xml:"CreateTime"`
	MsgType        string   `xml:"MsgType"`
	Event          string   `xml:"Event"`
	ChangeType     string   `xml:"ChangeType"`
	UserID         string   `xml:"UserID"`
	ExternalUserID string   `xml:"ExternalUserID"`
	State          string   `xml:"State"`
	WelcomeCode    string   `xml:"WelcomeCode"`
	Source         string   `xml:"Source"`
	FailReason     string   `xml:"FailReason"`
	TagType        string   `xml:"TagType"`
	ID             string   `xml:"Id"`
	ChatID         string   `xml:"ChatId"`
	UpdateDetail   string   `xml:"UpdateDetail"`
	JoinScene      int      `xml:"JoinScene"`
	MemChangeCnt   int      `xml:"MemChangeCnt"`
	MemChangeList  []string `xml:"MemChangeList>Item"`
}

func parseEvent(t *testing.T, b []byte) eventXML {
	t.Helper()
	var e eventXML
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatalf("parse event %q: %v", b, err)
	}
	return e
}

// lastEvent returns the last callback the receiver decrypted.
func (rc *receiver) lastEvent(t *testing.T) eventXML {
	t.Helper()
	got := rc.received()
	if len(got) == 0 {
		t.Fatal("no callback received")
	}
	return parseEvent(t, got[len(got)-1])
}

func strp(s string) *string { return &s }

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}
