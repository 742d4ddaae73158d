package sms

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// Examples shaped as the providers' pages show them (sms-email.md §1.6,
// §1.7, §2.5, §2.6).
const (
	tencentReports = `[
 {"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13xxxxxxxxx","report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"xxxxxxx"}
]`
	tencentReportsOK = `[
 {"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13800000001","report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"2019:-1234","ext":"camp-1"},
 {"user_receive_time":"2015-10-17 08:03:05","nationcode":"852","mobile":"91234567","report_status":"FAIL","errmsg":"MK:0001","description":"失败","sid":"2019:-1235"}
]`
	tencentReplyOK   = `{"extend":"","mobile":"13800000001","nationcode":"86","sign":"小店","text":"ｔｄ ","time":1457336869}`
	aliyunReportsOK  = `[{"phone_number":"13800000001","send_time":"2017-01-01 00:00:00","report_time":"2017-01-01 00:00:00","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"12345","out_id":"67890"}]`
	aliyunRepliesOld = `[{"phone_number":"13800000001","content":"退订","send_time":"2017-01-01 00:00:00","dest_code":"1234","sequence_id":1234567890,"sign_name":"小店"}]`
	aliyunRepliesNew = `[{"phone_number":"13800000002","content":"好的","send_time":"2017-01-01 00:00:00","dest_code":"1234","sequence_id":"1234567891"}]`
)

func TestParseTencent(t *testing.T) {
	rs, err := ParseTencentReports([]byte(tencentReportsOK))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2015, 10, 17, 0, 3, 4, 0, time.UTC)
	if len(rs) != 2 || !rs[0].Delivered || rs[0].Phone != "13800000001" || rs[0].ProviderID != "2019:-1234" || rs[0].Session != "camp-1" ||
		rs[0].Code != "DELIVRD" || !rs[0].At.Equal(at) || rs[1].Delivered || rs[1].Phone != "+85291234567" || rs[1].Code != "MK:0001" {
		t.Errorf("reports = %+v", rs)
	}
	// The page's own example masks the number: refused, naming the field.
	if _, err := ParseTencentReports([]byte(tencentReports)); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), "report 0: mobile") {
		t.Errorf("masked number: %v", err)
	}
	r, err := ParseTencentReply([]byte(tencentReplyOK))
	if err != nil {
		t.Fatal(err)
	}
	if r.Phone != "13800000001" || r.Text != "ｔｄ " || r.Sign != "小店" || !r.At.Equal(time.Unix(1457336869, 0)) || !strings.HasPrefix(r.ID, "tencent-") {
		t.Errorf("reply = %+v", r)
	}
	again, _ := ParseTencentReply([]byte(strings.Replace(tencentReplyOK, `1457336869`, `"1457336869"`, 1)))
	if again.ID != r.ID {
		t.Errorf("the same reply pushed again has another id: %s, %s", again.ID, r.ID)
	}
}

func TestParseAliyun(t *testing.T) {
	rs, err := ParseAliyunReports([]byte(aliyunReportsOK))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !rs[0].Delivered || rs[0].ProviderID != "12345" || rs[0].Session != "67890" || rs[0].Parts != 1 ||
		!rs[0].At.Equal(time.Date(2016, 12, 31, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("reports = %+v", rs)
	}
	old, err := ParseAliyunReplies([]byte(aliyunRepliesOld))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ParseAliyunReplies([]byte(aliyunRepliesNew))
	if err != nil {
		t.Fatal(err)
	}
	if old[0].ID != "aliyun-1234567890" || old[0].Sign != "小店" || old[0].Extend != "1234" || old[0].Text != "退订" ||
		cur[0].ID != "aliyun-1234567891" || cur[0].Sign != "" {
		t.Errorf("replies = %+v %+v", old, cur)
	}
}

func TestCallbackBadInput(t *testing.T) {
	cases := []struct {
		name  string
		parse func([]byte) error
		body  string
		want  string
	}{
		{"tencent object", tencentReportsErr, `{"sid":"x"}`, "JSON array"},
		{"tencent status", tencentReportsErr, `[{"user_receive_time":"2015-10-17 08:03:04","mobile":"13800000001","report_status":"MAYBE","sid":"x"}]`, "report_status"},
		{"tencent no sid", tencentReportsErr, `[{"user_receive_time":"2015-10-17 08:03:04","mobile":"13800000001","report_status":"FAIL"}]`, "sid"},
		{"tencent time", tencentReportsErr, `[{"user_receive_time":"yesterday","mobile":"13800000001","report_status":"FAIL","sid":"x"}]`, "user_receive_time"},
		{"tencent reply time", tencentReplyErr, `{"mobile":"13800000001","text":"T","time":"soon"}`, "time"},
		{"tencent reply text", tencentReplyErr, `{"mobile":"13800000001","time":1}`, "text"},
		{"tencent reply array", tencentReplyErr, `[]`, "JSON object"},
		{"aliyun success", aliyunReportsErr, `[{"phone_number":"13800000001","report_time":"2017-01-01 00:00:00","biz_id":"1"}]`, "success"},
		{"aliyun size", aliyunReportsErr, `[{"phone_number":"13800000001","report_time":"2017-01-01 00:00:00","success":false,"biz_id":"1","sms_size":"x"}]`, "sms_size"},
		{"aliyun reply seq", aliyunRepliesErr, `[{"phone_number":"13800000001","content":"T","send_time":"2017-01-01 00:00:00"}]`, "sequence_id"},
		{"aliyun reply phone", aliyunRepliesErr, `[{"phone_number":"abc","content":"T","send_time":"2017-01-01 00:00:00","sequence_id":1}]`, "phone_number"},
		{"aliyun too big", aliyunRepliesErr, "[" + strings.Repeat(" ", MaxCallbackBytes) + "]", "bytes"},
		{"aliyun too many", aliyunReportsErr, "[" + strings.TrimSuffix(strings.Repeat("{},", MaxCallbackItems+1), ",") + "]", "at most"},
	}
	for _, c := range cases {
		err := c.parse([]byte(c.body))
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want EINVALID naming %q", c.name, err, c.want)
		}
	}
}

func tencentReportsErr(b []byte) error { _, err := ParseTencentReports(b); return err }
func tencentReplyErr(b []byte) error   { _, err := ParseTencentReply(b); return err }
func aliyunReportsErr(b []byte) error  { _, err := ParseAliyunReports(b); return err }
func aliyunRepliesErr(b []byte) error  { _, err := ParseAliyunReplies(b); return err }

// TestTakeReply: a full-width "ｔｄ " reply opts the number out of SMS
// marketing, the gate refuses the next message, a repeat records nothing,
// and a reply that is not an opt-out changes nothing.
func TestTakeReply(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		m := promo(t)
		f.permits(t, m, "13800000001", "13800000002") // both granted and allowed
		take := func(r Reply) (bool, int) {
			var ok bool
			var n int
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				ok, n, err = TakeReply(ctx, consent.NewLedger(nil, testKey), tx, r, f.clock.Now())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ok, n
		}
		r, err := ParseTencentReply([]byte(strings.Replace(tencentReplyOK, "1457336869", "1772589600", 1)))
		if err != nil {
			t.Fatal(err)
		}
		if ok, n := take(r); !ok || n < 1 {
			t.Fatalf("opt-out reply: %v, %d events", ok, n)
		}
		if ok, n := take(r); !ok || n != 0 {
			t.Errorf("the same reply again: %v, %d events; want none", ok, n)
		}
		fullWidth := r
		fullWidth.Text, fullWidth.ID = "ＲＥＰＬＹ"+"\u3000"+"退订", "tencent-2"
		if ok, n := take(fullWidth); !ok || n != 0 {
			t.Errorf("a second opt-out: %v, %d", ok, n)
		}
		cur, _ := ParseAliyunReplies([]byte(aliyunRepliesNew))
		if ok, n := take(cur[0]); ok || n != 0 {
			t.Errorf("好的: %v, %d; want not an opt-out", ok, n)
		}
		decide := func(number string) gate.Reason {
			d, err := f.gate.Decide(ctx, gate.Request{Person: consent.Phone(number), Channel: consent.ChannelSMS, Class: gate.Marketing, Content: m.Content()})
			if err != nil {
				t.Fatal(err)
			}
			return d.Reason
		}
		if got := decide("+86 138 0000 0001"); got != gate.ConsentWithdrawn {
			t.Errorf("after ｔｄ: %s, want CONSENT_WITHDRAWN", got)
		}
		if got := decide("13800000002"); got != gate.OK {
			t.Errorf("after 好的: %s, want OK", got)
		}
		var ev string
		if err := db.R.QueryRowContext(ctx, "SELECT evidence FROM consent_events WHERE source = 'opt_out_reply'").Scan(&ev); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ev, r.ID) || !strings.Contains(ev, "ｔｄ") || !strings.Contains(ev, `"sign":"小店"`) {
			t.Errorf("evidence = %s", ev)
		}
	})
}

func FuzzParseTencentReports(f *testing.F) {
	f.Add([]byte(tencentReportsOK))
	f.Add([]byte(tencentReports))
	f.Add([]byte(`[{"report_status":"SUCCESS"}]`))
	f.Fuzz(func(t *testing.T, b []byte) { checkReports(t, ParseTencentReports, b) })
}

func FuzzParseAliyunReports(f *testing.F) {
	f.Add([]byte(aliyunReportsOK))
	f.Add([]byte(`[{"success":"yes","sms_size":2}]`))
	f.Fuzz(func(t *testing.T, b []byte) { checkReports(t, ParseAliyunReports, b) })
}

func checkReports(t *testing.T, parse func([]byte) ([]Report, error), b []byte) {
	rs, err := parse(b)
	if err != nil {
		if kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("error %v is not EINVALID", err)
		}
		return
	}
	for _, r := range rs {
		if r.Phone == "" || r.ProviderID == "" || r.At.IsZero() {
			t.Fatalf("accepted a report without phone, id or time: %+v", r)
		}
		if _, err := consent.ParsePerson("phone:" + r.Phone); err != nil {
			t.Fatalf("accepted phone %q: %v", r.Phone, err)
		}
	}
}

func FuzzParseTencentReply(f *testing.F) {
	f.Add([]byte(tencentReplyOK))
	f.Add([]byte(`{"mobile":"13800000001","text":"TD","time":"1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseTencentReply(b)
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		checkReply(t, r)
	})
}

func FuzzParseAliyunReplies(f *testing.F) {
	f.Add([]byte(aliyunRepliesOld))
	f.Add([]byte(aliyunRepliesNew))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseAliyunReplies(b)
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for _, r := range rs {
			checkReply(t, r)
		}
	})
}

func checkReply(t *testing.T, r Reply) {
	if r.ID == "" || r.Phone == "" || r.At.IsZero() {
		t.Fatalf("accepted a reply without id, phone or time: %+v", r)
	}
	if _, err := consent.ParsePerson("phone:" + r.Phone); err != nil {
		t.Fatalf("accepted phone %q: %v", r.Phone, err)
	}
}
