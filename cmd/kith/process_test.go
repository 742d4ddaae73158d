package main

// Helpers for the process-level tests: TestMain builds the kith binary once,
// and the tests run it with os/exec in a controlled environment.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
)

// kithBin is the binary TestMain built.
var kithBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kith-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kith tests:", err)
		os.Exit(1)
	}
	kithBin = filepath.Join(dir, "kith")
	if err := buildKith(kithBin); err != nil {
		fmt.Fprintln(os.Stderr, "kith tests: build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildKith(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, "github.com/kith-scrm/kith/cmd/kith")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, buf.String())
	}
	return nil
}

// Bounds on waits. They only keep a broken run from hanging; no test
// asserts that anything is faster than these, except the 10 s of SIGTERM.
const (
	commandTimeout = 2 * time.Minute  // one short-lived kith command
	startTimeout   = 60 * time.Second // a server answering /readyz 200
	stopTimeout    = 15 * time.Second // a killed process being reaped
	sigtermLimit   = 10 * time.Second // what the issue promises for SIGTERM
)

// kithEnv returns a minimal environment for a kith process: PATH, a HOME of
// its own, and the KITH_* variables given as name, value pairs.
func kithEnv(t *testing.T, kv ...string) map[string]string {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatalf("kithEnv: odd number of arguments %q", kv)
	}
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": t.TempDir()}
	for i := 0; i < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// result is how a finished kith command ended.
type result struct {
	code           int
	stdout, stderr string
	dir            string // the working directory it ran in
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runKith runs a kith command to its end in a fresh working directory.
func runKith(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kithBin, args...)
	cmd.Env = envList(env)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kith %s did not end within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), commandTimeout, stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("kith %s: %v", strings.Join(args, " "), err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), dir: cmd.Dir}
}

// proc is a kith process running in the background, killed when the test
// ends.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *apptest.SyncBuffer
	done           chan struct{} // closed once the process was reaped
	addr, url      string        // for servers
	dataDir        string
	env            map[string]string
}

func startKith(t *testing.T, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: &apptest.SyncBuffer{}, stderr: &apptest.SyncBuffer{}, done: make(chan struct{}), env: env}
	p.cmd = exec.Command(kithBin, args...)
	p.cmd.Env = envList(env)
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start kith %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
		}
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			t.Errorf("%s: process %d was not reaped within %s of SIGKILL", p.name, p.cmd.Process.Pid, stopTimeout)
		}
		if t.Failed() {
			t.Logf("%s (kith %s):\n--- stdout:\n%s--- stderr:\n%s", p.name, strings.Join(args, " "), p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s\nstderr:\n%s", p.name, d, p.stderr.String())
		return -1
	}
}

// waitOutput waits up to d until buf contains s.
func (p *proc) waitOutput(t *testing.T, buf *apptest.SyncBuffer, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(buf.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within %s\nstdout:\n%s\nstderr:\n%s", p.name, s, d, p.stdout.String(), p.stderr.String())
		}
		if p.exited() && !strings.Contains(buf.String(), s) {
			t.Fatalf("%s exited (%s) without printing %q\nstdout:\n%s\nstderr:\n%s", p.name, p.cmd.ProcessState, s, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a 127.0.0.1 address no one listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServers starts one `kith serve` per environment, each on a free port,
// and waits until every one answers /readyz with 200. Starting them all
// before waiting lets nodes of a cluster come up at the same time.
func startServers(t *testing.T, envs ...map[string]string) []*proc {
	t.Helper()
	spawn := func(i int) *proc {
		addr := freePort(t)
		env := with(envs[i], "KITH_ADDR", addr)
		p := startKith(t, fmt.Sprintf("server %d (%s)", i, env["KITH_NODE_NAME"]), env, "serve")
		p.addr, p.url, p.dataDir = addr, "http://"+addr, env["KITH_DATA_DIR"]
		return p
	}
	ps := make([]*proc, len(envs))
	for i := range envs {
		ps[i] = spawn(i)
	}
	for i := range ps {
		for attempt := 1; ; attempt++ {
			err := waitReady(ps[i], startTimeout)
			if err == nil {
				break
			}
			// Another process may have taken the free port in between: a
			// fresh port then, but only a few times.
			if ps[i].exited() && strings.Contains(ps[i].stderr.String(), "already in use") && attempt < 3 {
				ps[i] = spawn(i)
				continue
			}
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", ps[i].name, err, ps[i].stdout.String(), ps[i].stderr.String())
		}
	}
	return ps
}

func startServer(t *testing.T, env map[string]string) *proc {
	t.Helper()
	return startServers(t, env)[0]
}

// waitReady polls /readyz until it answers 200, the process exits, or d
// passes.
func waitReady(p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		if p.exited() {
			return fmt.Errorf("exited before it was ready (%s)", p.cmd.ProcessState)
		}
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz did not answer 200 within %s (last: %v)", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sigterm sends SIGTERM and waits for a graceful exit within the 10 s the
// issue promises; it returns the exit code.
func (p *proc) sigterm(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	return p.wait(t, sigtermLimit)
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// call makes an API request and decodes the JSON answer.
func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	var v map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, url, resp.StatusCode, err, raw)
		}
	}
	return resp.StatusCode, v
}

// createToken runs `kith token create` and returns the token from its last
// line of output.
func createToken(t *testing.T, env map[string]string, role, name string) string {
	t.Helper()
	r := runKith(t, env, "token", "create", "--role", role, "--name", name)
	if r.code != 0 {
		t.Fatalf("kith token create --role %s --name %s: %s", role, name, r)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	tok := strings.TrimSpace(lines[len(lines)-1])
	if tok == "" || strings.ContainsAny(tok, " \t`\"") {
		t.Fatalf("kith token create: the last line of stdout is not a token: %q\n%s", lines[len(lines)-1], r)
	}
	if strings.Count(r.stdout, tok) != 1 || strings.Contains(r.stderr, tok) {
		t.Errorf("kith token create: the token should be shown once, on the last line of stdout only\n%s", r)
	}
	return tok
}

// oneLine checks that s is exactly one non-empty line and that it contains
// every one of want and none of notWant.
func oneLine(t *testing.T, what, s string, want, notWant []string) {
	t.Helper()
	if s == "" || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("%s: want exactly one line, got %d:\n%s", what, strings.Count(s, "\n"), s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s: %q is missing from %q", what, w, s)
		}
	}
	for _, w := range notWant {
		if strings.Contains(s, w) {
			t.Errorf("%s: %q should not be in %q", what, w, s)
		}
	}
}

// mustNotExist fails the test if path exists.
func mustNotExist(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %s exists afterwards (err %v); a failed start must leave nothing behind", what, path, err)
	}
}

// mustBeEmpty fails the test if the folder has anything in it.
func mustBeEmpty(t *testing.T, what, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	for _, e := range ents {
		t.Errorf("%s: %s was created in %s", what, e.Name(), dir)
	}
}

// newKey returns base64 of 32 random bytes, as KITH_*_KEY wants.
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
