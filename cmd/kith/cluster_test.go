package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestTwoNodesOnPostgres runs two `kith serve` processes on one PostgreSQL
// database and checks that they share the work: 100 probe jobs enqueued
// through both nodes run exactly once in total. A node with other secrets
// is refused.
func TestTwoNodesOnPostgres(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		t.Skipf("set %s (such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the two-node test", storetest.EnvURL)
	}
	t.Parallel()
	dbURL := storetest.NewPostgresDatabase(t)
	cluster := kithEnv(t,
		"KITH_DATABASE_URL", dbURL,
		"KITH_SESSION_KEY", newKey(),
		"KITH_FIELD_KEY", newKey(),
		"KITH_BLIND_INDEX_KEY", newKey(),
		"KITH_ADMIN_PASSWORD", "a long enough password",
	)
	node := func(name string) map[string]string {
		return with(cluster, "KITH_NODE_NAME", name, "KITH_DATA_DIR", filepath.Join(t.TempDir(), name))
	}
	// Both start at once on the empty database: they race to migrate it and
	// to record the secrets and the owner.
	nodes := startServers(t, node("node-a"), node("node-b"))
	a, b := nodes[0], nodes[1]
	for _, n := range nodes {
		if code, body := call(t, "GET", n.url+"/readyz", "", ""); code != 200 {
			t.Fatalf("%s /readyz: %d %v", n.name, code, body)
		}
	}

	tok := createToken(t, node("cli"), "admin", "cluster-test")
	const batch = "cluster-X"
	for _, n := range nodes {
		code, body := call(t, "POST", n.url+"/api/v1/jobs/probes", tok, fmt.Sprintf(`{"count":50,"batch":%q}`, batch))
		if code != http.StatusAccepted {
			t.Fatalf("%s: POST /api/v1/jobs/probes: %d %v", n.name, code, body)
		}
		if ids, _ := body["job_ids"].([]any); len(ids) != 50 {
			t.Errorf("%s: enqueued %d jobs, want 50: %v", n.name, len(ids), body)
		}
	}

	report := func(n *proc) map[string]any {
		code, body := call(t, "GET", n.url+"/api/v1/jobs/probes/"+batch, tok, "")
		if code != 200 {
			t.Fatalf("%s: GET /api/v1/jobs/probes/%s: %d %v", n.name, batch, code, body)
		}
		return body
	}
	deadline := time.Now().Add(60 * time.Second)
	var rep map[string]any
	for {
		rep = report(a)
		if rep["distinct_jobs"] == float64(100) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %v of 100 probe jobs ran within 60 s: %v", rep["distinct_jobs"], rep)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every job has run. Read the report once more: jobs.Probes counts the
	// runs and the distinct jobs in two queries, so the report that first
	// showed 100 distinct jobs may count fewer runs than that.
	rep = report(a)
	if rep["distinct_jobs"] != float64(100) || rep["runs"] != float64(100) {
		t.Errorf("100 jobs ran %v times, want each exactly once: %v", rep["runs"], rep)
	}
	t.Logf("runs by node: %v", rep["by_node"])
	if repB := report(b); repB["runs"] != rep["runs"] || repB["distinct_jobs"] != rep["distinct_jobs"] {
		t.Errorf("node B reports %v, node A %v", repB, rep)
	}

	// The command-line check works on the cluster as well.
	r := runKith(t, node("checker"), "jobs", "check", "--count", "30", "--timeout", "60s")
	if r.code != 0 || !strings.Contains(r.stdout, "All 30 probe jobs ran exactly once") {
		t.Errorf("kith jobs check on the cluster: %s", r)
	}
	if r := runKith(t, node("migrator"), "migrate"); r.code != 0 {
		t.Errorf("kith migrate beside the cluster: %s", r)
	}

	t.Run("node with other secrets", func(t *testing.T) {
		env := with(node("node-c"), "KITH_SESSION_KEY", newKey(), "KITH_ADDR", freePort(t))
		r := runKith(t, env, "serve")
		if r.code == 0 {
			t.Fatalf("a node with other secrets started: %s", r)
		}
		oneLine(t, "stderr", r.stderr, []string{"secrets", "KITH_SESSION_KEY"}, []string{env["KITH_SESSION_KEY"], cluster["KITH_SESSION_KEY"]})
		mustNotExist(t, "its data dir", env["KITH_DATA_DIR"])
	})
	t.Run("node without secrets", func(t *testing.T) {
		env := with(node("node-d"), "KITH_ADDR", freePort(t))
		for _, k := range []string{"KITH_SESSION_KEY", "KITH_FIELD_KEY", "KITH_BLIND_INDEX_KEY"} {
			delete(env, k)
		}
		r := runKith(t, env, "serve")
		if r.code == 0 {
			t.Fatalf("a node without the cluster's secrets started: %s", r)
		}
		oneLine(t, "stderr", r.stderr, []string{"secrets", "KITH_SESSION_KEY"}, nil)
		// It must not leave a data dir with new secrets of its own.
		mustNotExist(t, "its data dir", env["KITH_DATA_DIR"])
	})

	// The cluster is unharmed, and both nodes stop gracefully.
	for _, n := range nodes {
		if code, body := call(t, "GET", n.url+"/readyz", "", ""); code != 200 {
			t.Errorf("%s /readyz after the refused nodes: %d %v", n.name, code, body)
		}
	}
	for _, n := range nodes {
		if err := n.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if code := n.wait(t, sigtermLimit); code != 0 {
			t.Errorf("%s: exit %d after SIGINT, want 0", n.name, code)
		}
		if !strings.Contains(n.stderr.String(), "msg=stopped") {
			t.Errorf(`%s: no "stopped" in the log`, n.name)
		}
	}
}
