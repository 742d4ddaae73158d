package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	want := regexp.MustCompile(`^kith \S+ \(go[^,]+, [a-z0-9]+/[a-z0-9]+\)\n$`)
	for _, arg := range []string{"version", "--version", "-v"} {
		r := runKith(t, kithEnv(t), arg)
		if r.code != 0 || !want.MatchString(r.stdout) || r.stderr != "" {
			t.Errorf("kith %s: want exit 0 and one version line on stdout; got %s", arg, r)
		}
		mustBeEmpty(t, "kith "+arg, r.dir)
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	t.Parallel()
	r := runKith(t, kithEnv(t), "help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: kith COMMAND") || r.stderr != "" {
		t.Errorf("kith help: %s", r)
	}
	r = runKith(t, kithEnv(t))
	if r.code != 2 || !strings.Contains(r.stderr, "Usage: kith COMMAND") {
		t.Errorf("kith without a command: want exit 2 and the usage on stderr; got %s", r)
	}
	r = runKith(t, kithEnv(t), "serv")
	if r.code != 2 {
		t.Errorf("kith serv: want exit 2; got %s", r)
	}
	oneLine(t, "kith serv", r.stderr, []string{`"serv"`, "kith help"}, nil)
	r = runKith(t, kithEnv(t), "serve", "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "-data-dir") || !strings.Contains(r.stdout, "KITH_ADDR") {
		t.Errorf("kith serve -h: want exit 0 and the flags with their variables on stdout; got %s", r)
	}
	mustBeEmpty(t, "kith serve -h", r.dir)
}

// TestBadFlagOrEnvironment: a wrong flag or environment value stops the
// command with exit 2 and one line that names the flag or variable and says
// what is accepted, before anything is created.
func TestBadFlagOrEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    []string // in the one line on stderr
		notWant []string
	}{
		{name: "unknown flag", args: []string{"serve", "--nope"},
			want: []string{"kith serve:", "nope", `"kith serve -h"`}},
		{name: "bench campaign channel", args: []string{"bench", "campaign", "--channel", "fax"},
			want: []string{"--channel", `"fax"`, "wecom or email"}},
		{name: "bench campaign smtp", args: []string{"bench", "campaign", "--smtp", "nowhere"},
			want: []string{"--smtp", `"nowhere"`, "host:port"}},
		{name: "bench callbacks senders", args: []string{"bench", "callbacks", "--senders", "elsewhere"},
			want: []string{"--senders", `"elsewhere"`, "process or in-process"}},
		{name: "bench callbacks rounds", args: []string{"bench", "callbacks", "--rounds", "0"},
			want: []string{"--rounds is 0", "1 to 100"}},
		{name: "bench callbacks short turns", args: []string{"bench", "callbacks", "--duration", "1s", "--rounds", "10"},
			want: []string{"--rounds is 10", "at least 200ms"}},
		{name: "bench campaign recipients", args: []string{"bench", "campaign", "--recipients", "0"},
			want: []string{"--recipients", "1 to 10000000"}},
		{name: "extra argument", args: []string{"serve", "now"},
			want: []string{`"now"`, `"kith serve -h"`}},
		{name: "database URL of another database", args: []string{"serve"}, env: []string{"KITH_DATABASE_URL", "mysql://kith:secretpw@db.example/kith"},
			want: []string{"--database-url", "KITH_DATABASE_URL", "postgres://", "SQLite"}, notWant: []string{"secretpw"}},
		{name: "database URL without host", args: []string{"serve"}, env: []string{"KITH_DATABASE_URL", "postgres:///kith"},
			want: []string{"--database-url", "KITH_DATABASE_URL", "host"}},
		{name: "address not host:port", args: []string{"serve"}, env: []string{"KITH_ADDR", "nonsense"},
			want: []string{"--addr", "KITH_ADDR", `"nonsense"`, "host:port"}},
		{name: "address port out of range", args: []string{"serve"}, env: []string{"KITH_ADDR", "127.0.0.1:99999"},
			want: []string{"--addr", "KITH_ADDR", "0 to 65535"}},
		{name: "flag wins over environment", args: []string{"serve", "--addr", "nonsense"}, env: []string{"KITH_ADDR", "127.0.0.1:1"},
			want: []string{"--addr", `"nonsense"`, "host:port"}},
		{name: "log level", args: []string{"serve"}, env: []string{"KITH_LOG_LEVEL", "loud"},
			want: []string{"--log-level", "KITH_LOG_LEVEL", `"loud"`, "debug, info, warn or error"}},
		{name: "log format", args: []string{"serve"}, env: []string{"KITH_LOG_FORMAT", "xml"},
			want: []string{"--log-format", "KITH_LOG_FORMAT", "text or json"}},
		{name: "sandbox", args: []string{"serve"}, env: []string{"KITH_SANDBOX", "maybe"},
			want: []string{"--sandbox", "KITH_SANDBOX", `"maybe"`, "true or false"}},
		{name: "cookie secure", args: []string{"serve"}, env: []string{"KITH_COOKIE_SECURE", "sometimes"},
			want: []string{"--cookie-secure", "KITH_COOKIE_SECURE", "auto, always or never"}},
		{name: "short admin password", args: []string{"serve"}, env: []string{"KITH_ADMIN_PASSWORD", "hunter2"},
			want: []string{"KITH_ADMIN_PASSWORD", "12 characters"}, notWant: []string{"hunter2"}},
		{name: "empty data dir flag", args: []string{"serve", "--data-dir", " "},
			want: []string{"--data-dir", "KITH_DATA_DIR", "is empty"}},
		{name: "migrate unknown flag", args: []string{"migrate", "--addr", "127.0.0.1:1"},
			want: []string{"addr", `"kith migrate -h"`}},
		{name: "migrate log level", args: []string{"migrate"}, env: []string{"KITH_LOG_LEVEL", "loud"},
			want: []string{"--log-level", "KITH_LOG_LEVEL", "debug, info, warn or error"}},
		{name: "token create unknown flag", args: []string{"token", "create", "--nope"},
			want: []string{"nope", `"kith token create -h"`}},
		{name: "token create bad role", args: []string{"token", "create", "--role", "bogus", "--name", "x"},
			want: []string{"--role", `"bogus"`, "owner", "admin", "operator", "agent", "auditor"}},
		{name: "token create without name", args: []string{"token", "create", "--role", "admin"},
			want: []string{"--name"}},
		{name: "token revoke without name", args: []string{"token", "revoke"},
			want: []string{"--name"}},
		{name: "token without subcommand", args: []string{"token"},
			want: []string{"create", "list", "revoke"}},
		{name: "jobs check count zero", args: []string{"jobs", "check", "--count", "0"},
			want: []string{"--count", "1 to 10000"}},
		{name: "jobs check count not a number", args: []string{"jobs", "check", "--count", "many"},
			want: []string{"count", `"many"`, `"kith jobs check -h"`}},
		{name: "jobs check timeout", args: []string{"jobs", "check", "--timeout", "0s"},
			want: []string{"--timeout"}},
		{name: "jobs check database URL", args: []string{"jobs", "check"}, env: []string{"KITH_DATABASE_URL", "mysql://x"},
			want: []string{"--database-url", "KITH_DATABASE_URL", "postgres://"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dataDir := filepath.Join(parent, "data")
			env := kithEnv(t, "KITH_DATA_DIR", dataDir, "KITH_ADDR", "127.0.0.1:0")
			env = with(env, tc.env...)
			r := runKith(t, env, tc.args...)
			if r.code != 2 {
				t.Errorf("want exit 2 (a wrong call); got %s", r)
			}
			oneLine(t, "stderr", r.stderr, tc.want, tc.notWant)
			if r.stdout != "" {
				t.Errorf("want nothing on stdout; got %q", r.stdout)
			}
			mustNotExist(t, "data dir", dataDir)
			mustBeEmpty(t, "data dir's parent", parent)
			mustBeEmpty(t, "working directory", r.dir)
		})
	}
}

// TestBadSecretsEnvironment: a malformed key variable is a bad environment
// value too, and should be refused with one line before anything is made.
//
// It fails while app.Open reads the key variables only after it created the
// data dir and the database and applied the migrations: the "applied
// migrations" log line comes before the error (and on PostgreSQL the
// database is migrated by a start that then refuses to run).
func TestBadSecretsEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{name: "only one key set", env: []string{"KITH_SESSION_KEY", newKey()},
			want: []string{"KITH_SESSION_KEY", "KITH_FIELD_KEY", "KITH_BLIND_INDEX_KEY"}},
		{name: "key not base64", env: []string{"KITH_SESSION_KEY", "not base64!", "KITH_FIELD_KEY", newKey(), "KITH_BLIND_INDEX_KEY", newKey()},
			want: []string{"KITH_SESSION_KEY", "base64"}},
		{name: "key too short", env: []string{"KITH_SESSION_KEY", newKey(), "KITH_FIELD_KEY", "c2hvcnQ=", "KITH_BLIND_INDEX_KEY", newKey()},
			want: []string{"KITH_FIELD_KEY", "32"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dataDir := filepath.Join(parent, "data")
			env := with(kithEnv(t, "KITH_DATA_DIR", dataDir, "KITH_ADDR", "127.0.0.1:0"), tc.env...)
			r := runKith(t, env, "serve")
			if r.code == 0 {
				t.Fatalf("want a non-zero exit; got %s", r)
			}
			oneLine(t, "stderr", r.stderr, tc.want, nil)
			mustNotExist(t, "data dir", dataDir)
			mustBeEmpty(t, "data dir's parent", parent)
		})
	}
}

func TestUnwritableDataDir(t *testing.T) {
	t.Parallel()
	// The tests run as root, for whom permissions do not stop a write; a
	// path below a regular file cannot be created by anyone.
	parent := t.TempDir()
	file := filepath.Join(parent, "afile")
	if err := os.WriteFile(file, []byte("not a folder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dataDir := range []string{filepath.Join(file, "sub"), file} {
		for _, args := range [][]string{{"serve"}, {"migrate"}, {"token", "create", "--role", "admin", "--name", "x"}} {
			t.Run(strings.Join(args, " ")+" in "+filepath.Base(dataDir), func(t *testing.T) {
				env := kithEnv(t, "KITH_DATA_DIR", dataDir, "KITH_ADDR", freePort(t))
				r := runKith(t, env, args...)
				if r.code != 1 {
					t.Errorf("want exit 1; got %s", r)
				}
				oneLine(t, "stderr", r.stderr, []string{"--data-dir", dataDir}, nil)
				if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("%s should still be the same regular file: %v", file, err)
				}
				mustBeEmpty(t, "working directory", r.dir)
			})
		}
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Errorf("%s should hold only afile; has %d entries", parent, len(ents))
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	parent := t.TempDir()
	dataDir := filepath.Join(parent, "data")
	for _, tc := range []struct {
		envAddr string
		args    []string
	}{
		{addr, []string{"serve"}},
		{"127.0.0.1:1", []string{"serve", "--addr", addr}}, // the flag wins over KITH_ADDR
	} {
		r := runKith(t, kithEnv(t, "KITH_DATA_DIR", dataDir, "KITH_ADDR", tc.envAddr), tc.args...)
		if r.code != 1 {
			t.Errorf("kith %s: want exit 1; got %s", strings.Join(tc.args, " "), r)
		}
		oneLine(t, "stderr", r.stderr, []string{"--addr", addr, "already in use"}, nil)
		mustNotExist(t, "data dir", dataDir)
		mustBeEmpty(t, "data dir's parent", parent)
		mustBeEmpty(t, "working directory", r.dir)
	}
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	const url = "postgres://kith:secretpw@127.0.0.1:1/kith?sslmode=disable"
	keys := []string{"KITH_SESSION_KEY", newKey(), "KITH_FIELD_KEY", newKey(), "KITH_BLIND_INDEX_KEY", newKey()}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"serve", []string{"serve"}, nil},
		{"serve with keys in the environment", []string{"serve"}, keys},
		{"migrate", []string{"migrate"}, nil},
		{"token create", []string{"token", "create", "--role", "admin", "--name", "x"}, nil},
		{"jobs check", []string{"jobs", "check"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dataDir := filepath.Join(parent, "data")
			env := with(kithEnv(t, "KITH_DATA_DIR", dataDir, "KITH_ADDR", freePort(t), "KITH_DATABASE_URL", url), tc.env...)
			r := runKith(t, env, tc.args...)
			if r.code != 1 {
				t.Errorf("want exit 1; got %s", r)
			}
			oneLine(t, "stderr", r.stderr, []string{"PostgreSQL", "127.0.0.1:1", "--database-url"}, []string{"secretpw"})
			if strings.Contains(r.stdout, "secretpw") {
				t.Errorf("the password is on stdout: %q", r.stdout)
			}
			mustNotExist(t, "data dir", dataDir)
			mustBeEmpty(t, "data dir's parent", parent)
		})
	}
}

var passwordLine = regexp.MustCompile(`(?m)^\s*password:\s+(\S+)\s*$`)

// TestServeFirstStart: the first start prints the owner's one-time password
// once and makes a private data dir; the next start prints no password.
func TestServeFirstStart(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := kithEnv(t, "KITH_DATA_DIR", dataDir, "KITH_NODE_NAME", "first")
	s := startServer(t, env)
	s.waitOutput(t, s.stdout, "shown only now", 10*time.Second)

	m := passwordLine.FindAllStringSubmatch(s.stdout.String(), -1)
	if len(m) != 1 {
		t.Fatalf("want the one-time password shown once on stdout; found %d times:\n%s", len(m), s.stdout.String())
	}
	pw := m[0][1]
	if len(pw) < 12 {
		t.Errorf("the one-time password %q is short", pw)
	}
	if n := strings.Count(s.stdout.String(), pw); n != 1 {
		t.Errorf("the password appears %d times on stdout", n)
	}
	if !strings.Contains(s.stdout.String(), "user name: owner") || !strings.Contains(s.stdout.String(), s.url+"/login") {
		t.Errorf("the first-start notice should say where and as whom to sign in:\n%s", s.stdout.String())
	}
	if strings.Contains(s.stderr.String(), pw) {
		t.Errorf("the one-time password is in the log:\n%s", s.stderr.String())
	}

	fi, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode is %v, want 0700", fi.Mode().Perm())
	}
	fi, err = os.Stat(filepath.Join(dataDir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json mode is %v, want 0600", fi.Mode().Perm())
	}
	for _, path := range []string{"/readyz", "/healthz"} {
		if code, body := call(t, "GET", s.url+path, "", ""); code != 200 {
			t.Errorf("GET %s: %d %v", path, code, body)
		}
	}
	if code := s.sigterm(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0", code)
	}

	// The second start on the same data dir finds the owner and its keys.
	s2 := startServer(t, with(env, "KITH_NODE_NAME", "second"))
	s2.waitOutput(t, s2.stdout, "is running at", 10*time.Second)
	if strings.Contains(strings.ToLower(s2.stdout.String()), "password") {
		t.Errorf("the second start should print no password:\n%s", s2.stdout.String())
	}
	if strings.Contains(s2.stderr.String(), "generated instance secrets") {
		t.Errorf("the second start made new secrets:\n%s", s2.stderr.String())
	}
	if code := s2.sigterm(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0", code)
	}
}

// TestSIGTERM: on SIGTERM the server stops accepting connections, finishes
// the request in flight, and exits 0 within 10 s, logging "stopped".
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"), "KITH_ADMIN_PASSWORD", "a long enough password")
	s := startServer(t, env)
	tok := createToken(t, env, "admin", "sigterm")

	body := `{"count":1,"batch":"in-flight"}`
	conn, br := holdRequest(t, s, tok, body)

	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitOutput(t, s.stderr, "stopping", sigtermLimit)
	// It stops accepting: new connections are refused.
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(sent) > sigtermLimit {
			t.Fatalf("%s still accepts connections %s after SIGTERM", s.addr, sigtermLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.exited() {
		t.Fatalf("the server exited with a request in flight")
	}
	// The request in flight still completes.
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatalf("finish the request in flight: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("the request in flight: %s, want 202", resp.Status)
	}

	code := s.wait(t, sigtermLimit-time.Since(sent))
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\nstderr:\n%s", code, s.stderr.String())
	}
	if !regexp.MustCompile(`(?m)msg=stopped$`).MatchString(s.stderr.String()) {
		t.Errorf(`the log should end with "stopped":\n%s`, s.stderr.String())
	}
}

// TestSIGTERMWithStuckRequest: a client that never finishes its request
// does not keep the server from exiting 0 within 10 s.
func TestSIGTERMWithStuckRequest(t *testing.T) {
	t.Parallel()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"), "KITH_ADMIN_PASSWORD", "a long enough password")
	s := startServer(t, env)
	tok := createToken(t, env, "admin", "stuck")
	conn, br := holdRequest(t, s, tok, `{"count":1}`)

	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := s.wait(t, sigtermLimit)
	t.Logf("exited %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\nstderr:\n%s", code, s.stderr.String())
	}
	if !regexp.MustCompile(`(?m)msg=stopped$`).MatchString(s.stderr.String()) {
		t.Errorf(`the log should end with "stopped":\n%s`, s.stderr.String())
	}
	// The stuck client's connection was closed.
	conn.SetReadDeadline(time.Now().Add(stopTimeout))
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("the stuck connection is still open after the server exited")
	}
}

// holdRequest starts a POST /api/v1/jobs/probes whose body is not sent yet
// and returns once its handler runs: with Expect: 100-continue the server
// answers "100 Continue" only when the handler starts reading the body. The
// caller writes body to finish the request.
func holdRequest(t *testing.T, s *proc, tok, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(startTimeout))
	fmt.Fprintf(conn, "POST /api/v1/jobs/probes HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", s.addr, tok, len(body))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 100 ") {
		t.Fatalf("want 100 Continue; got %q, %v", status, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", blank, err)
	}
	return conn, br
}

// TestTokenBesideRunningServer: `kith token` and `kith migrate` work on the
// SQLite data dir of a running server, and the tokens work against it.
func TestTokenBesideRunningServer(t *testing.T) {
	t.Parallel()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"), "KITH_ADMIN_PASSWORD", "a long enough password")
	s := startServer(t, env)

	admin := createToken(t, env, "admin", "ci-admin")
	code, me := call(t, "GET", s.url+"/api/v1/me", admin, "")
	if code != 200 || me["role"] != "admin" || me["name"] != "ci-admin" || me["kind"] != "token" {
		t.Errorf("GET /api/v1/me with the admin token: %d %v", code, me)
	}
	code, body := call(t, "POST", s.url+"/api/v1/jobs/probes", admin, `{"count":1}`)
	if code != http.StatusAccepted {
		t.Errorf("POST /api/v1/jobs/probes with the admin token: %d %v", code, body)
	}

	agent := createToken(t, env, "agent", "ci-agent")
	if code, me := call(t, "GET", s.url+"/api/v1/me", agent, ""); code != 200 || me["role"] != "agent" {
		t.Errorf("GET /api/v1/me with the agent token: %d %v", code, me)
	}
	if code, body := call(t, "POST", s.url+"/api/v1/jobs/probes", agent, `{"count":1}`); code != http.StatusForbidden {
		t.Errorf("POST /api/v1/jobs/probes with the agent token: %d %v, want 403", code, body)
	}
	for _, tok := range []string{"", "kith_not-a-token"} {
		if code, body := call(t, "GET", s.url+"/api/v1/me", tok, ""); code != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/me with token %q: %d %v, want 401", tok, code, body)
		}
		if code, body := call(t, "POST", s.url+"/api/v1/jobs/probes", tok, `{"count":1}`); code != http.StatusUnauthorized {
			t.Errorf("POST /api/v1/jobs/probes with token %q: %d %v, want 401", tok, code, body)
		}
	}

	r := runKith(t, env, "token", "create", "--role", "bogus", "--name", "x")
	if r.code != 2 {
		t.Errorf("token create --role bogus: want exit 2; got %s", r)
	}
	oneLine(t, "token create --role bogus", r.stderr, []string{"--role", "owner, admin, operator, agent, auditor"}, nil)

	r = runKith(t, env, "token", "create", "--role", "admin", "--name", "ci-admin")
	if r.code != 1 {
		t.Errorf("token create with a taken name: want exit 1; got %s", r)
	}
	oneLine(t, "token create with a taken name", r.stderr, []string{`"ci-admin"`, "exists"}, []string{"kith: conflict"})

	r = runKith(t, env, "migrate")
	if r.code != 0 {
		t.Fatalf("kith migrate beside the server: %s", r)
	}
	if m := regexp.MustCompile(`schema version (\d+) of (\d+)`).FindStringSubmatch(r.stdout); m == nil || m[1] != m[2] {
		t.Errorf("kith migrate: want the schema at the latest version; got %s", r)
	}

	r = runKith(t, env, "token", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "ci-admin") || !strings.Contains(r.stdout, "ci-agent") || strings.Contains(r.stdout, admin) {
		t.Errorf("kith token list: want both tokens, without their secrets; got %s", r)
	}
	r = runKith(t, env, "token", "revoke", "--name", "ci-agent")
	if r.code != 0 {
		t.Errorf("kith token revoke: %s", r)
	}
	if code, body := call(t, "GET", s.url+"/api/v1/me", agent, ""); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/me with the revoked token: %d %v, want 401", code, body)
	}
	r = runKith(t, env, "token", "revoke", "--name", "ci-agent")
	if r.code != 1 {
		t.Errorf("revoking twice: want exit 1; got %s", r)
	}
	oneLine(t, "revoking twice", r.stderr, []string{`"ci-agent"`}, []string{"kith: not_found"})

	if code, body := call(t, "GET", s.url+"/readyz", "", ""); code != 200 {
		t.Errorf("/readyz after the commands: %d %v", code, body)
	}
	if code := s.sigterm(t); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}

func TestJobsCheck(t *testing.T) {
	t.Parallel()
	t.Run("beside a running server", func(t *testing.T) {
		t.Parallel()
		env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"), "KITH_ADMIN_PASSWORD", "a long enough password")
		s := startServer(t, with(env, "KITH_NODE_NAME", "the-worker"))
		r := runKith(t, env, "jobs", "check", "--count", "30", "--timeout", "60s")
		if r.code != 0 || !strings.Contains(r.stdout, "All 30 probe jobs ran exactly once") {
			t.Errorf("kith jobs check: %s", r)
		}
		if !regexp.MustCompile(`(?m)^\s+the-worker\s+\d+$`).MatchString(r.stdout) {
			t.Errorf("kith jobs check should list the node that ran the jobs: %s", r)
		}
		if code := s.sigterm(t); code != 0 {
			t.Errorf("SIGTERM: exit %d", code)
		}
	})
	t.Run("without a server", func(t *testing.T) {
		t.Parallel()
		env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"))
		if r := runKith(t, env, "migrate"); r.code != 0 {
			t.Fatalf("kith migrate: %s", r)
		}
		r := runKith(t, env, "jobs", "check", "--count", "5", "--timeout", "2s")
		if r.code != 1 {
			t.Errorf("want exit 1; got %s", r)
		}
		oneLine(t, "stderr", r.stderr, []string{"0 of 5", "kith serve"}, nil)
	})
}
