package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// TestSandboxCommandAndSync runs `kith sandbox` and `kith serve` as separate
// processes, as a person trying Kith against the sandbox would: kith sync
// pulls the demo company, an event made on the sandbox's control API
// reaches Kith, and kith events list shows it applied.
func TestSandboxCommandAndSync(t *testing.T) {
	kithAddr := freePort(t)
	sbAddr := freePort(t)
	sandbox := startKith(t, "sandbox", kithEnv(t), "sandbox", "--addr", sbAddr, "--customers", "120",
		"--callback-url", "http://"+kithAddr+"/wecom/callback")
	sandbox.waitOutput(t, sandbox.stdout, "export KITH_WECOM_CALLBACK_AES_KEY="+wecomtest.TestEncodingAESKey, 20*time.Second)
	if !strings.Contains(sandbox.stdout.String(), "KITH_WECOM_API_BASE=http://"+sbAddr) {
		t.Fatalf("kith sandbox does not say how to point Kith at it:\n%s", sandbox.stdout.String())
	}

	env := kithEnv(t, "KITH_DATA_DIR", t.TempDir()+"/data", "KITH_ADMIN_PASSWORD", "correct horse battery",
		"KITH_WECOM_API_BASE", "http://"+sbAddr, "KITH_WECOM_CORP_ID", wecomtest.DefaultCorpID, "KITH_WECOM_SECRET", wecomtest.DefaultSecret,
		"KITH_WECOM_CALLBACK_TOKEN", wecomtest.TestCallbackToken, "KITH_WECOM_CALLBACK_AES_KEY", wecomtest.TestEncodingAESKey)
	env["KITH_ADDR"] = kithAddr
	server := startKith(t, "server", env, "serve")
	server.url = "http://" + kithAddr
	if err := waitReady(server, 30*time.Second); err != nil {
		t.Fatalf("server: %v\n%s", err, server.stderr.String())
	}

	r := runKith(t, env, "sync")
	if r.code != 0 || !strings.Contains(r.stdout, "Done: ") || !strings.Contains(r.stdout, "10 members, 40 tags") {
		t.Fatalf("kith sync beside a running server: %s", r)
	}
	r = runKith(t, env, "sync")
	if r.code != 0 || !strings.Contains(r.stdout, "0 relations found ended") {
		t.Fatalf("second kith sync: %s", r)
	}

	code, body := call(t, "POST", "http://"+sbAddr+"/sandbox/events/add_external_contact", "", `{"userid":"zhangwei","name":"测试客户"}`)
	if code != 200 {
		t.Fatalf("sandbox event: %d %v", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = runKith(t, env, "events", "list", "--json")
		if r.code != 0 {
			t.Fatalf("kith events list: %s", r)
		}
		if strings.Contains(r.stdout, `"status":"applied"`) && strings.Contains(r.stdout, "add_external_contact") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event was not applied within 30 s:\n%s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r = runKith(t, env, "events", "list", "--status", "bogus")
	if r.code != 2 || !strings.Contains(r.stderr, "--status") {
		t.Fatalf("bad --status: %s", r)
	}
}
