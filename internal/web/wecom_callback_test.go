package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

const (
	cbCorp  = "ww5823bf96d3bd56c7"
	cbToken = "QDG6eK"
	cbKey   = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
)

func wecomEnv() map[string]string {
	return map[string]string{
		"KITH_WECOM_CORP_ID": cbCorp, "KITH_WECOM_SECRET": "s3cret", "KITH_WECOM_CALLBACK_TOKEN": cbToken,
		"KITH_WECOM_CALLBACK_AES_KEY": cbKey, "KITH_WECOM_API_BASE": "http://127.0.0.1:1",
	}
}

func delEvent(ext string) []byte {
	return []byte(fmt.Sprintf(`<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[%s]]></ExternalUserID></xml>`,
		cbCorp, time.Now().Unix(), ext))
}

type delivery struct {
	query url.Values
	body  []byte
}

func seal(t *testing.T, c *callback.Crypto, plain []byte) delivery {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body, sig, err := c.Seal(plain, ts, "nonce123")
	if err != nil {
		t.Fatal(err)
	}
	return delivery{query: url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {"nonce123"}}, body: body}
}

func post(t *testing.T, in *apptest.Instance, d delivery) *http.Response {
	t.Helper()
	resp, err := http.Post(in.URL+"/wecom/callback?"+d.query.Encode(), "text/xml", bytes.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func countEvents(t *testing.T, in *apptest.Instance) int {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.R.QueryRow("SELECT count(*) FROM inbound_events").Scan(&n)
	return n
}

func TestWeComCallbackStoresOnceAndApplies(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Env: wecomEnv()})
	c, err := callback.NewCrypto(cbToken, cbKey, cbCorp)
	if err != nil {
		t.Fatal(err)
	}
	d := seal(t, c, delEvent("wmAAA"))
	for i := range 3 { // WeCom retries a delivery; only one is kept
		resp := post(t, in, d)
		if resp.StatusCode != 200 {
			t.Fatalf("delivery %d: %d", i, resp.StatusCode)
		}
		// The answer goes to Tencent's server, not a browser: nosniff,
		// but none of the document policies pages carry.
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != "" ||
			resp.Header.Get("X-Frame-Options") != "" || resp.Header.Get("Referrer-Policy") != "" {
			t.Fatalf("delivery %d: headers %v", i, resp.Header)
		}
	}
	if n := countEvents(t, in); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
	db, _ := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir})
	defer db.Close()
	svc := ingest.NewService(db, nil, kith.SystemClock{}, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, _, err := svc.List(context.Background(), ingest.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].Status == ingest.StatusApplied {
			if list[0].Kind != "change_external_contact/del_follow_user" {
				t.Fatalf("kind %q", list[0].Kind)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not applied: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// URL verification answers the decrypted echostr, nothing else.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	echo, sig, _ := c.EncryptEcho("1616140317555161061", ts, "n")
	resp, err := http.Get(in.URL + "/wecom/callback?" + url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {"n"}, "echostr": {echo}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || b.String() != "1616140317555161061" {
		t.Fatalf("verify: %d %q", resp.StatusCode, b.String())
	}
}

func TestWeComCallbackRefusesBadInput(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Env: wecomEnv()})
	c, _ := callback.NewCrypto(cbToken, cbKey, cbCorp)
	otherCorp, _ := callback.NewCrypto(cbToken, cbKey, "wwsomeoneelse")
	good := seal(t, c, delEvent("wmBBB"))

	badSig := good
	badSig.query = url.Values{}
	for k, v := range good.query {
		badSig.query[k] = v
	}
	badSig.query.Set("msg_signature", strings.Repeat("0", 40))

	truncated := seal(t, c, delEvent("wmCCC"))
	truncated.body = bytes.Replace(truncated.body, []byte("]]></Encrypt>"), []byte("]]></Encrypt>"), 1)
	if i := bytes.Index(truncated.body, []byte("<Encrypt><![CDATA[")); i > 0 {
		start := i + len("<Encrypt><![CDATA[")
		truncated.body = append(append([]byte{}, truncated.body[:start+20]...), []byte("]]></Encrypt></xml>")...)
		enc := string(truncated.body[start : start+20])
		truncated.query.Set("msg_signature", callback.Signature(cbToken, truncated.query.Get("timestamp"), truncated.query.Get("nonce"), enc))
	}

	stale := seal(t, c, delEvent("wmDDD"))
	old := strconv.FormatInt(time.Now().Add(-2*time.Hour).Unix(), 10)
	body, sig, _ := c.Seal(delEvent("wmDDD"), old, "n")
	stale = delivery{query: url.Values{"msg_signature": {sig}, "timestamp": {old}, "nonce": {"n"}}, body: body}

	notXML := seal(t, c, []byte("this is not xml <"))
	huge := delivery{query: good.query, body: bytes.Repeat([]byte("x"), callback.MaxBody+10)}
	cases := map[string]struct {
		d    delivery
		want int
	}{
		"wrong signature":  {badSig, 403},
		"wrong receive id": {seal(t, otherCorp, delEvent("wmEEE")), 403},
		"truncated":        {truncated, 400},
		"invalid envelope": {delivery{query: good.query, body: []byte("<xml><nope/>")}, 400},
		"invalid event":    {notXML, 400},
		"stale timestamp":  {stale, 400},
		"over 1 MiB":       {huge, 413},
	}
	for name, c := range cases {
		if resp := post(t, in, c.d); resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, c.want)
		}
	}
	if n := countEvents(t, in); n != 0 {
		t.Fatalf("refused deliveries stored %d events", n)
	}
}

func TestWeComCallbackWithoutSettings(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	resp := post(t, in, delivery{query: url.Values{"timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}}, body: []byte("<xml/>")})
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("callback before WeCom is configured: %d", resp.StatusCode)
	}
}
