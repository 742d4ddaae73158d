package web_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/channel/sms"
)

var reportURLRe = regexp.MustCompile(`id="report-(\w+)">([^<]+)<`)

// TestSMSReportPushes: the providers page shows each provider's report
// address; a push is kept once (a retry adds nothing) and answered with the
// provider's acknowledgement; a wrong key or provider is 404; a push Kith
// cannot read, or one over 1 MiB, is 400 with what is wrong, and nothing
// is kept.
func TestSMSReportPushes(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	admin := signedIn(t, in, auth.RoleAdmin)
	urls := map[string]string{}
	for _, m := range reportURLRe.FindAllStringSubmatch(admin.get("/settings/providers", 200), -1) {
		urls[m[1]] = strings.TrimPrefix(m[2], in.URL)
	}
	if len(urls) != 2 || !strings.HasPrefix(urls["tencent"], "/sms/tencent/reports/") || !strings.HasPrefix(urls["aliyun"], "/sms/aliyun/reports/") {
		t.Fatalf("report addresses: %v", urls)
	}
	db := mustStore(t, in)
	kept := func() int {
		t.Helper()
		var n int
		if err := db.R.QueryRow("SELECT COUNT(*) FROM sms_reports").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c := newClient(t, in)
	js := map[string]string{"Content-Type": "application/json"}
	tencent := `[{"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13800000001","report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"2019:-1234","ext":"campaign-1-batch-1"},
		{"user_receive_time":"2015-10-17 08:03:05","nationcode":"86","mobile":"13800000002","report_status":"FAIL","errmsg":"UNDELIV","description":"用户关机","sid":"2019:-1235"}]`
	for i := range 2 {
		resp, body := c.do("POST", urls["tencent"], strings.NewReader(tencent), js)
		if resp.StatusCode != 200 || body != sms.TencentAck {
			t.Fatalf("tencent push %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if n := kept(); n != 2 {
		t.Fatalf("%d reports kept after a push and its retry, want 2", n)
	}
	resp, body := c.do("POST", urls["aliyun"], strings.NewReader(`[{"phone_number":"13800000003","send_time":"2017-01-01 11:12:13","report_time":"2017-01-01 11:12:14",
		"success":false,"err_code":"MK:0001","err_msg":"空号","sms_size":"1","biz_id":"932702304080415357^0","out_id":"1184585343"}]`), js)
	if resp.StatusCode != 200 || body != sms.AliyunAck || kept() != 3 {
		t.Fatalf("aliyun push: %d %s, %d kept", resp.StatusCode, body, kept())
	}
	for name, path := range map[string]string{
		"wrong key":         "/sms/tencent/reports/00000000000000000000000000000000",
		"another's key":     strings.Replace(urls["aliyun"], "aliyun", "tencent", 1),
		"unknown provider":  strings.Replace(urls["tencent"], "tencent", "fax", 1),
		"the replies' path": strings.Replace(urls["tencent"], "reports", "replies", 1),
	} {
		if resp, _ := c.do("POST", path, strings.NewReader(tencent), js); resp.StatusCode != 404 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	for name, bad := range map[string]struct{ body, want string }{
		"not an array":   {`{"sid":"x"}`, "JSON array"},
		"bad status":     {`[{"user_receive_time":"2015-10-17 08:03:04","mobile":"13800000001","report_status":"MAYBE","sid":"x"}]`, "report_status"},
		"no sid":         {`[{"user_receive_time":"2015-10-17 08:03:04","mobile":"13800000001","report_status":"SUCCESS"}]`, "sid"},
		"bad number":     {`[{"user_receive_time":"2015-10-17 08:03:04","mobile":"abc","report_status":"SUCCESS","sid":"x"}]`, "mobile"},
		"over 1 MiB":     {`[` + strings.Repeat(" ", 1<<20) + `]`, "larger"},
		"truncated JSON": {`[{"sid":`, "JSON"},
	} {
		resp, body := c.do("POST", urls["tencent"], strings.NewReader(bad.body), js)
		if resp.StatusCode != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if n := kept(); n != 3 {
		t.Errorf("%d reports kept after bad pushes, want 3", n)
	}
}
