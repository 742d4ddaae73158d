package smstest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/channel/sms/smstest"
)

var now = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

func hm(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// call signs body as Tencent's TC3-HMAC-SHA256 documentation says (written
// here again, apart from the sender's, so a mistake in one is caught by
// the other) and returns the Response.
func call(t *testing.T, srv *httptest.Server, id, key string, ts int64, body string, tamper func(*http.Request)) map[string]any {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	ph := sha256.Sum256([]byte(body))
	canonical := "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:" + u.Host + "\n\ncontent-type;host\n" + hex.EncodeToString(ph[:])
	ch := sha256.Sum256([]byte(canonical))
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + date + "/sms/tc3_request\n" + hex.EncodeToString(ch[:])
	k := hm(hm(hm([]byte("TC3"+key), date), "sms"), "tc3_request")
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", "2021-01-11")
	req.Header.Set("X-TC-Region", "ap-guangzhou")
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+id+"/"+date+"/sms/tc3_request, SignedHeaders=content-type;host, Signature="+hex.EncodeToString(hm(k, toSign)))
	if tamper != nil {
		tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Response map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer: %d %v", resp.StatusCode, err)
	}
	if out.Response["RequestId"] == "" {
		t.Fatal("no RequestId")
	}
	return out.Response
}

func errCode(r map[string]any) string {
	e, _ := r["Error"].(map[string]any)
	c, _ := e["Code"].(string)
	return c
}

// TestStandIn: a signed SendSms is answered per number with the
// documented fields (a bad number and a blacklisted one with their codes),
// and the accepted numbers' delivery reports are pushed — in Tencent's
// format, read back by sms.ParseTencentReports — retried until the
// receiver acknowledges; signatures, keys, times and requests the API
// refuses are refused with its error codes.
func TestStandIn(t *testing.T) {
	var mu sync.Mutex
	var got []sms.Report
	fails := 1 // the first push is answered 500: the stand-in pushes again
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			http.Error(w, "busy", 500)
			return
		}
		rs, err := sms.ParseTencentReports(body)
		if err != nil {
			t.Errorf("push: %v", err)
			http.Error(w, err.Error(), 400)
			return
		}
		got = append(got, rs...)
		io.WriteString(w, sms.TencentAck)
	}))
	defer receiver.Close()
	sb := smstest.New(smstest.Options{Signs: []string{"小店"}, Templates: map[string]string{"2001": "{1}春季新品到店，拒收请回复R"},
		ReportURL: receiver.URL, Undeliverable: map[string]bool{"+8613800000002": true}, Blacklisted: map[string]bool{"+8613800000003": true},
		Now: func() time.Time { return now }})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	defer sb.Close()
	ts := now.Unix()
	ok := `{"PhoneNumberSet":["+8613800000001","+8613800000002","+8613800000003","12345"],"SmsSdkAppId":"1400006666","TemplateId":"2001",
		"SignName":"小店","TemplateParamSet":["王女士，"],"SessionContext":"campaign-1-batch-2"}`
	r := call(t, srv, smstest.SecretID, smstest.SecretKey, ts, ok, nil)
	set, _ := r["SendStatusSet"].([]any)
	if errCode(r) != "" || len(set) != 4 {
		t.Fatalf("send: %v", r)
	}
	codes := []string{"Ok", "Ok", "FailedOperation.PhoneNumberInBlacklist", "InvalidParameterValue.IncorrectPhoneNumber"}
	for i, x := range set {
		s := x.(map[string]any)
		if s["Code"] != codes[i] || s["SessionContext"] != "campaign-1-batch-2" || i < 2 && (s["SerialNo"] == "" || s["Fee"] != 1.0 || s["IsoCode"] != "CN") {
			t.Errorf("status %d: %v", i, s)
		}
	}
	if m := sb.Messages(); len(m) != 2 || m[0].Text != "【小店】王女士，春季新品到店，拒收请回复R" {
		t.Errorf("messages: %+v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		// The push counts after the receiver's answer is read: wait for both.
		if acked, _ := sb.ReportCounts(); n == 2 && acked == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if acked, failed := sb.ReportCounts(); len(got) != 2 || acked != 1 || failed != 0 {
		t.Fatalf("reports %+v, pushes %d acked, %d given up", got, acked, failed)
	}
	first := sb.Messages()[0]
	if !got[0].Delivered || got[0].ProviderID != first.SerialNo || got[0].Phone != "13800000001" || got[0].Session != "campaign-1-batch-2" ||
		got[1].Delivered || got[1].Code != "UNDELIV" {
		t.Errorf("reports: %+v", got)
	}

	for _, tc := range []struct {
		name, id, key string
		ts            int64
		body          string
		tamper        func(*http.Request)
		want          string
	}{
		{"wrong key", smstest.SecretID, "not-the-key", ts, ok, nil, "AuthFailure.SignatureFailure"},
		{"unknown id", "AKIDnobody", smstest.SecretKey, ts, ok, nil, "AuthFailure.SecretIdNotFound"},
		{"stale", smstest.SecretID, smstest.SecretKey, ts - 301, ok, nil, "AuthFailure.SignatureExpire"},
		{"body changed", smstest.SecretID, smstest.SecretKey, ts, ok, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(ok, "王女士", "李先生", 1)))
		}, "AuthFailure.SignatureFailure"},
		{"other host", smstest.SecretID, smstest.SecretKey, ts, ok, func(r *http.Request) { r.Host = "sms.tencentcloudapi.com" }, "AuthFailure.SignatureFailure"},
		{"wrong app", smstest.SecretID, smstest.SecretKey, ts, strings.Replace(ok, "1400006666", "1400000000", 1), nil, "UnauthorizedOperation.SmsSdkAppIdVerifyFail"},
		{"no numbers", smstest.SecretID, smstest.SecretKey, ts, `{"PhoneNumberSet":[],"SmsSdkAppId":"1400006666","TemplateId":"2001","SignName":"小店"}`, nil, "MissingParameter.EmptyPhoneNumberSet"},
		{"sign", smstest.SecretID, smstest.SecretKey, ts, strings.Replace(ok, `"小店"`, `"大店"`, 1), nil, "FailedOperation.SignatureIncorrectOrUnapproved"},
		{"template", smstest.SecretID, smstest.SecretKey, ts, strings.Replace(ok, `"2001"`, `"2002"`, 1), nil, "FailedOperation.TemplateIncorrectOrUnapproved"},
		{"values", smstest.SecretID, smstest.SecretKey, ts, strings.Replace(ok, `["王女士，"]`, `[]`, 1), nil, "FailedOperation.TemplateIncorrectOrUnapproved"},
		{"mixed", smstest.SecretID, smstest.SecretKey, ts, strings.Replace(ok, `"12345"`, `"+14155550100"`, 1), nil, "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"},
		{"too many", smstest.SecretID, smstest.SecretKey, ts, strings.Replace(ok, `"12345"`, strings.Repeat(`"+8613800000009",`, 200)+`"+8613800000009"`, 1), nil, "LimitExceeded.PhoneNumberCountLimit"},
	} {
		if r := call(t, srv, tc.id, tc.key, tc.ts, tc.body, tc.tamper); errCode(r) != tc.want || r["SendStatusSet"] != nil {
			t.Errorf("%s: %v, want %s", tc.name, r, tc.want)
		}
	}
	if n := len(sb.Messages()); n != 2 {
		t.Errorf("%d messages after refused requests, want 2", n)
	}
}
