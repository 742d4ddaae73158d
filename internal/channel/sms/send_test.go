package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// wed10 is Wednesday 2026-03-04 10:00 in Shanghai: outside quiet hours.
var wed10 = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

func mustGrant(tb testing.TB, db *store.DB, p consent.Person, ch consent.Channel, at time.Time) {
	tb.Helper()
	ctx := context.Background()
	n, err := consent.NewLedger(db.R, testKey).Notice(ctx, consent.Marketing, 0)
	if err != nil {
		tb.Fatal(err)
	}
	err = consent.NewLedger(nil, testKey).Record(ctx, db.W, consent.Event{Person: p, Purpose: consent.Marketing, Channel: ch, Action: consent.Grant, Source: consent.SourceCustomer,
		Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/consent"}, NoticeVersion: n.Version, NoticeHash: n.TextHash,
		RecordedBy: "web", OccurredAt: at, ReceivedAt: at})
	if err != nil {
		tb.Fatal(err)
	}
}

func mustTemplate(tb testing.TB, id, text string, marketing bool) Template {
	tb.Helper()
	tpl, err := NewTemplate(id, text, marketing)
	if err != nil {
		tb.Fatal(err)
	}
	return tpl
}

// promo is a marketing message that passes the gate.
func promo(tb testing.TB) Message {
	return Message{Sign: "小店", Template: mustTemplate(tb, "1110", "{1}春季新品到店，拒收请回复R", true), Params: []Param{{"1", "王女士，"}}, Session: "camp-1"}
}

type fixture struct {
	db    *store.DB
	gate  *gate.Gate
	clock *kith.FixedClock
	claim *channel.Claimer
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	clock := kith.NewFixedClock(wed10)
	g := gate.New(db, testKey, clock)
	return &fixture{db: db, gate: g, clock: clock, claim: &channel.Claimer{DB: db, Gate: g}}
}

// permits grants marketing consent to each number and asks the gate for
// m; every decision must allow.
func (f *fixture) permits(t *testing.T, m Message, numbers ...string) []gate.Permit {
	t.Helper()
	var reqs []gate.Request
	for _, n := range numbers {
		p := consent.Phone(n)
		mustGrant(t, f.db, p, consent.ChannelSMS, wed10.Add(-time.Hour))
		reqs = append(reqs, gate.Request{Person: p, Channel: consent.ChannelSMS, Class: gate.Marketing, Campaign: "camp-1", Sender: "system", Content: m.Content()})
	}
	ds, err := f.gate.DecideBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]gate.Permit, len(ds))
	for i, d := range ds {
		if !d.Allowed {
			t.Fatalf("gate refused %s: %s %s", numbers[i], d.Reason, d.Message)
		}
		out[i] = d.Permit
	}
	return out
}

// fakeTencent answers SendSms: every number Ok, except numbers in codes.
type fakeTencent struct {
	t     *testing.T
	mu    sync.Mutex
	reqs  []tencentSendRequest
	codes map[string]string // E.164 number → code
	error string            // a request-level error code
}

func (f *fakeTencent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-TC-Timestamp")
	var sec int64
	fmt.Sscan(ts, &sec)
	want := signTC3("AKIDtest", "secret", "sms", r.Host, sec, body).authorization
	if r.Header.Get("Authorization") != want || r.Header.Get("X-TC-Action") != "SendSms" || r.Header.Get("X-TC-Version") != "2021-01-11" {
		f.t.Errorf("bad signature or headers: %v", r.Header)
		w.Write([]byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r"}}`))
		return
	}
	var req tencentSendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("bad body %s", body)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if f.error != "" {
		fmt.Fprintf(w, `{"Response":{"Error":{"Code":%q,"Message":"no"},"RequestId":"r"}}`, f.error)
		return
	}
	var set []string
	for i, n := range req.PhoneNumberSet {
		code := "Ok"
		if c, ok := f.codes[n]; ok {
			code = c
		}
		set = append(set, fmt.Sprintf(`{"SerialNo":"sn-%d","PhoneNumber":%q,"Fee":1,"SessionContext":%q,"Code":%q,"Message":"m","IsoCode":"CN"}`, i, n, req.SessionContext, code))
	}
	fmt.Fprintf(w, `{"Response":{"SendStatusSet":[%s],"RequestId":"r1"}}`, strings.Join(set, ","))
}

func newTencent(t *testing.T, f *fixture, url string) *Tencent {
	tc, err := NewTencent(TencentConfig{SecretID: "AKIDtest", SecretKey: "secret", SdkAppID: "1400006666", Endpoint: url}, f.claim, nil, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func TestTencentSend(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		fake := &fakeTencent{t: t, codes: map[string]string{
			"+8613800000002": "LimitExceeded.PhoneNumberDailyLimit",
			"+8613800000003": "FailedOperation.PhoneNumberInBlacklist",
		}}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		tc := newTencent(t, f, srv.URL)
		m := promo(t)
		ps := f.permits(t, m, "13800000001", "13800000002", "13800000003", "+85291234567")
		res, err := tc.Send(ctx, ps, m)
		if err != nil {
			t.Fatal(err)
		}
		want := []channel.Status{channel.Sent, channel.Retryable, channel.Failed, channel.Sent}
		for i, r := range res {
			if r.Status != want[i] || r.Permit != ps[i].ID() {
				t.Errorf("result %d = %+v, want %s", i, r, want[i])
			}
		}
		if res[0].ProviderID != "sn-0" || res[0].Parts != 1 || !Blocked(res[2].Code) {
			t.Errorf("results lack serial, fee or the blocked code: %+v", res)
		}
		// Mainland and foreign numbers go in separate requests.
		if len(fake.reqs) != 2 || len(fake.reqs[0].PhoneNumberSet) != 3 || fake.reqs[1].PhoneNumberSet[0] != "+85291234567" {
			t.Fatalf("requests = %+v", fake.reqs)
		}
		r0 := fake.reqs[0]
		if r0.SignName != "小店" || r0.TemplateId != "1110" || r0.SmsSdkAppId != "1400006666" || len(r0.TemplateParamSet) != 1 || r0.TemplateParamSet[0] != "王女士，" || r0.SessionContext != "camp-1" {
			t.Errorf("request = %+v", r0)
		}
		// The permits are used: sending again sends nothing.
		again, err := tc.Send(ctx, ps, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range again {
			if r.Status != channel.Refused || r.Code != string(gate.PermitReused) {
				t.Errorf("second send: %+v, want refused PERMIT_REUSED", r)
			}
		}
		if len(fake.reqs) != 2 {
			t.Errorf("a second send reached the provider")
		}
		// A zero permit is refused, the others still go.
		ps2 := f.permits(t, m, "13800000004")
		res, err = tc.Send(ctx, []gate.Permit{{}, ps2[0]}, m)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Status != channel.Refused || res[0].Code != string(gate.PermitMissing) || res[1].Status != channel.Sent {
			t.Errorf("zero permit: %+v", res)
		}
	})
}

func TestTencentErrors(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		m := promo(t)
		for i, c := range []struct {
			code string
			want channel.Status
		}{
			{"LimitExceeded.AppDailyLimit", channel.Retryable},
			{"FailedOperation.MarketingSendTimeConstraint", channel.Retryable},
			{"FailedOperation.TemplateIncorrectOrUnapproved", channel.Failed},
			{"AuthFailure.SecretIdNotFound", channel.Failed},
			{"LimitExceeded.PhoneNumberCountLimit", channel.Failed},
		} {
			fake := &fakeTencent{t: t, error: c.code}
			srv := httptest.NewServer(fake)
			res, err := newTencent(t, f, srv.URL).Send(ctx, f.permits(t, m, fmt.Sprintf("1390000001%d", i)), m)
			srv.Close()
			if err != nil || res[0].Status != c.want || res[0].Code != c.code {
				t.Errorf("%s: %+v, %v; want %s", c.code, res, err, c.want)
			}
		}
		// The connection is cut after the request was read: unknown.
		cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}))
		res, err := newTencent(t, f, cut.URL).Send(ctx, f.permits(t, m, "13900000002"), m)
		cut.Close()
		if err != nil || res[0].Status != channel.Unknown {
			t.Errorf("cut connection: %+v, %v; want unknown", res, err)
		}
		// A gateway page instead of an API answer: unknown.
		html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}))
		res, _ = newTencent(t, f, html.URL).Send(ctx, f.permits(t, m, "13900000003"), m)
		html.Close()
		if res[0].Status != channel.Unknown || res[0].Code != "502" {
			t.Errorf("502 page: %+v; want unknown", res)
		}
		// Nobody listens: nothing was sent, retryable.
		res, _ = newTencent(t, f, "http://127.0.0.1:1").Send(ctx, f.permits(t, m, "13900000004"), m)
		if res[0].Status != channel.Retryable {
			t.Errorf("refused connection: %+v; want retryable", res)
		}
	})
}

func TestAliyunSend(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var got []url.Values
		code := "OK"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			params := map[string]string{}
			for k := range q {
				if k != "Signature" {
					params[k] = q.Get(k)
				}
			}
			if _, sig := signV1(r.Method, "aliSecret", params); sig != q.Get("Signature") || r.Method != http.MethodPost {
				t.Errorf("bad signature %s %s", r.Method, q.Get("Signature"))
			}
			got = append(got, q)
			fmt.Fprintf(w, `{"Code":%q,"Message":"m","BizId":"900619746936498440^0","RequestId":"r"}`, code)
		}))
		defer srv.Close()
		al, err := NewAliyun(AliyunConfig{AccessKeyID: "aliID", AccessKeySecret: "aliSecret", Endpoint: srv.URL + "/"}, f.claim, nil, f.clock)
		if err != nil {
			t.Fatal(err)
		}
		m := promo(t)
		m.Template = mustTemplate(t, "SMS_15305001", "${name}春季新品到店，拒收请回复R", true)
		m.Params = []Param{{"name", "王女士，"}}
		ps := f.permits(t, m, "13800000001", "13800000002")
		res, err := al.Send(ctx, ps, m)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Status != channel.Sent || r.ProviderID != "900619746936498440^0" || r.Permit != ps[i].ID() {
				t.Errorf("result %d = %+v", i, r)
			}
		}
		q := got[0]
		if q.Get("PhoneNumbers") != "8613800000001,8613800000002" || q.Get("TemplateParam") != `{"name":"王女士，"}` ||
			q.Get("SignName") != "小店" || q.Get("OutId") != "camp-1" || q.Get("Timestamp") != "2026-03-04T02:00:00Z" || q.Get("Action") != "SendSms" {
			t.Errorf("query = %v", q)
		}
		code = "isv.BUSINESS_LIMIT_CONTROL"
		res, _ = al.Send(ctx, f.permits(t, m, "13800000003"), m)
		if res[0].Status != channel.Retryable || res[0].Code != code {
			t.Errorf("flow control: %+v", res)
		}
		code = "isv.SMS_TEMPLATE_ILLEGAL"
		res, _ = al.Send(ctx, f.permits(t, m, "13800000004"), m)
		if res[0].Status != channel.Failed {
			t.Errorf("template error: %+v", res)
		}
	})
}

func TestMessageContentPassesTheGate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		m := promo(t)
		if got := m.Text(); got != "【小店】王女士，春季新品到店，拒收请回复R" {
			t.Errorf("Text = %q", got)
		}
		f.permits(t, m, "13700000001") // fails the test unless allowed
		// Without the signature the gate refuses: the 【】 is what Text adds.
		p := consent.Phone("13700000001")
		d, err := f.gate.Decide(context.Background(), gate.Request{Person: p, Channel: consent.ChannelSMS, Class: gate.Marketing,
			Content: gate.Content{Body: strings.TrimPrefix(m.Text(), "【小店】")}})
		if err != nil || d.Reason != gate.MissingSignature {
			t.Errorf("without signature: %s, %v", d.Reason, err)
		}
	})
}

func TestTemplateAndMessageChecks(t *testing.T) {
	if _, err := NewTemplate("1", "春季新品到店", true); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), "拒收请回复R") {
		t.Errorf("marketing template without opt-out: %v", err)
	}
	if _, err := NewTemplate("1", "您的订单已发货", false); err != nil {
		t.Errorf("service template: %v", err)
	}
	for _, text := range []string{"", "【小店】新品，回T退订"} {
		if _, err := NewTemplate("1", text, true); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("NewTemplate(%q) = %v", text, err)
		}
	}
	ok := promo(t)
	bad := []func(m *Message){
		func(m *Message) { m.Sign = "店" },
		func(m *Message) { m.Sign = "【小店】" },
		func(m *Message) { m.Params = nil },
		func(m *Message) { m.Params = []Param{{"1", "https://x.example/a"}} },
		func(m *Message) { m.Params = []Param{{"1", strings.Repeat("长", 490)}} },
	}
	for i, mut := range bad {
		m := ok
		mut(&m)
		if err := m.Validate(); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("case %d: Validate = %v", i, err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
	for text, want := range map[string]int{strings.Repeat("字", 70): 1, strings.Repeat("字", 71): 2, strings.Repeat("字", 134): 2, strings.Repeat("字", 160): 3} {
		if got := Parts(text); got != want {
			t.Errorf("Parts(%d chars) = %d, want %d", len([]rune(text)), got, want)
		}
	}
}
