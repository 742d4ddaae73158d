package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// auditDay is the first day of the seeded audit entries.
var auditDay = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// seedAudit records 20 entries, one a day from auditDay, as the services
// would: odd ones are pii.read of person p1 by user alice, even ones
// auth.sign_in by user bob, with person p2 on every fourth. It returns the
// log on the store handle.
func seedAudit(t *testing.T, db *store.DB) *audit.Log {
	t.Helper()
	clock := kith.NewFixedClock(auditDay)
	log := audit.New(db, clock)
	for i := 1; i <= 20; i++ {
		e := audit.Entry{Actor: audit.Actor{Kind: audit.ActorUser, Name: "bob"}, Action: audit.ActionSignIn, ObjectType: "user", ObjectID: "bob", Outcome: audit.OutcomeOK}
		if i%2 == 1 {
			e = audit.Entry{Actor: audit.Actor{Kind: audit.ActorUser, Name: "alice"}, Action: audit.ActionPIIRead, ObjectType: "customer", ObjectID: "7", Person: "p1", Outcome: audit.OutcomeOK, Detail: `{"n":1}`}
		} else if i%4 == 0 {
			e.Person = "p2"
		}
		if err := log.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		clock.Add(24 * time.Hour)
	}
	return log
}

var auditRowRe = regexp.MustCompile(`<tr id="audit-(\d+)">`)

// auditRows returns the seqs of the rows of an audit page.
func auditRows(body string) []string {
	var out []string
	for _, m := range auditRowRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// entriesOf lists the log's entries with the action, newest first.
func entriesOf(t *testing.T, log *audit.Log, action string) []audit.Entry {
	t.Helper()
	es, _, err := log.List(context.Background(), audit.Filter{Action: action, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestAuditPage(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	log := seedAudit(t, db)
	c := signedIn(t, in, auth.RoleAuditor) // seq 21: its sign-in

	body := c.get("/audit", 200)
	rows := auditRows(body)
	// Newest first: the page's own read (22), the sign-in (21), then the seeded entries.
	if len(rows) != 22 || rows[0] != "22" || rows[1] != "21" || rows[21] != "1" {
		t.Fatalf("rows %v, want 22 … 1", rows)
	}
	mustContain(t, "audit page", body, `id="nav-audit" aria-current="page"`, "The chain is intact: 22 entries verified.",
		`href="/audit?person=p1"`, "user:alice", "pii.read", `{&#34;n&#34;:1}`)
	head, err := log.Get(context.Background(), 22)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "checkpoint", body, fmt.Sprintf(`<code class="mono" id="audit-checkpoint">seq 22 %s</code>`, head.Hash))
	if head.Action != audit.ActionAuditRead || head.Actor.String() != "user:u-auditor" {
		t.Fatalf("the page's read was recorded as %+v", head)
	}

	// Filters. Each view also records its own read, which names the person filtered by.
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"person=p2", []string{"", "20", "16", "12", "8", "4"}},
		{"actor=alice", []string{"19", "17", "15", "13", "11", "9", "7", "5", "3", "1"}},
		{"actor=" + url.QueryEscape("user:bob") + "&person=p2", []string{"20", "16", "12", "8", "4"}},
		{"action=pii.read&since=2025-03-03&until=2025-03-07", []string{"7", "5", "3"}},
		{"action=auth.*&until=2025-03-04", []string{"4", "2"}},
	} {
		rows := auditRows(c.get("/audit?"+tc.query, 200))
		if tc.want[0] == "" { // the newest row is the read just recorded
			tc.want = tc.want[1:]
			if len(rows) > 0 {
				rows = rows[1:]
			}
		}
		if strings.Join(rows, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: rows %v, want %v", tc.query, rows, tc.want)
		}
	}
	if es := entriesOf(t, log, audit.ActionAuditRead); len(es) != 6 || !strings.Contains(es[0].Detail, `"until":"2025-03-04"`) || es[2].Person != "p2" {
		t.Fatalf("audit.read entries: %+v", es)
	}
	for _, q := range []string{"action=DROP", "since=yesterday", "before=-1", "limit=501", "since=2025-03-05&until=2025-03-01"} {
		c.get("/audit?"+q, 400)
	}

	// Keyset pages of 4 bob entries; the reads are by u-auditor, so they do not shift the pages.
	body = c.get("/audit?actor=bob&limit=4", 200)
	if rows := auditRows(body); strings.Join(rows, ",") != "20,18,16,14" {
		t.Fatalf("first page %v", rows)
	}
	next := regexp.MustCompile(`<a href="([^"]*)" id="audit-next"`).FindStringSubmatch(body)
	if next == nil || !strings.Contains(next[1], "before=14") || !strings.Contains(next[1], "actor=bob") || strings.Contains(next[1], "offset") {
		t.Fatalf("next link %v", next)
	}
	body = c.get(strings.ReplaceAll(next[1], "&amp;", "&"), 200)
	if rows := auditRows(body); strings.Join(rows, ",") != "12,10,8,6" {
		t.Fatalf("second page %v", rows)
	}
	mustContain(t, "second page", body, `id="audit-first"`)
	body = c.get("/audit?actor=bob&limit=4&before=6", 200)
	if rows := auditRows(body); strings.Join(rows, ",") != "4,2" || strings.Contains(body, `id="audit-next"`) {
		t.Fatalf("last page %v", rows)
	}

	// The owner sees it; the admin, who runs the instance, does not, nor the link.
	signedIn(t, in, auth.RoleOwner).get("/audit", 200)
	admin := signedIn(t, in, auth.RoleAdmin)
	admin.get("/audit", 403)
	admin.get("/audit/export?format=csv", 403)
	mustNotContain(t, "admin dashboard", admin.get("/", 200), `id="nav-audit"`)
	signedIn(t, in, auth.RoleAgent).get("/audit", 403)
}

func TestAuditExport(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	log := seedAudit(t, db)
	c := signedIn(t, in, auth.RoleAuditor)

	body := c.get("/audit?action=pii.read", 200)
	csvLink := regexp.MustCompile(`<a href="([^"]*)" id="audit-export-csv"`).FindStringSubmatch(body)
	if csvLink == nil || !strings.Contains(csvLink[1], "action=pii.read") || !strings.Contains(csvLink[1], "format=csv") {
		t.Fatalf("csv link %v", csvLink)
	}
	resp, out := c.do("GET", strings.ReplaceAll(csvLink[1], "&amp;", "&"), nil, en)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="kith-audit-`) {
		t.Fatalf("csv export: %d %v", resp.StatusCode, resp.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 11 || recs[0][0] != "seq" || recs[0][4] != "action" || recs[1][0] != "1" || recs[10][0] != "19" {
		t.Fatalf("csv: %d records, %v", len(recs), recs[:min(3, len(recs))])
	}
	for _, r := range recs[1:] {
		if r[4] != "pii.read" || r[3] != "alice" || r[7] != "p1" {
			t.Fatalf("csv row %v", r)
		}
	}
	e1, _ := log.Get(context.Background(), 1)
	if recs[1][12] != e1.Hash {
		t.Fatalf("csv hash %s, want %s", recs[1][12], e1.Hash)
	}

	resp, out = c.do("GET", "/audit/export?format=jsonl&person=p2", nil, en)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(resp.Header.Get("Content-Disposition"), `.jsonl"`) {
		t.Fatalf("jsonl export: %d %v", resp.StatusCode, resp.Header)
	}
	var seqs []int64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e struct {
			Seq    int64
			Person string
			Hash   string
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("jsonl line %q: %v", sc.Text(), err)
		}
		if e.Person != "p2" || len(e.Hash) != 64 {
			t.Fatalf("jsonl entry %+v", e)
		}
		seqs = append(seqs, e.Seq)
	}
	// Oldest first, with the export's own entry (it names the person).
	if fmt.Sprint(seqs) != "[4 8 12 16 20 24]" {
		t.Fatalf("jsonl seqs %v", seqs)
	}

	exports := entriesOf(t, log, audit.ActionAuditExport)
	if len(exports) != 2 || exports[0].Person != "p2" || !strings.Contains(exports[0].Detail, `"format":"jsonl"`) ||
		!strings.Contains(exports[1].Detail, `"action":"pii.read"`) || exports[1].Actor.String() != "user:u-auditor" {
		t.Fatalf("audit.export entries: %+v", exports)
	}
	c.get("/audit/export?format=xml", 400)
	c.get("/audit/export", 400)
	if n := len(entriesOf(t, log, audit.ActionAuditExport)); n != 2 {
		t.Fatalf("a refused export was recorded: %d entries", n)
	}
}

// tamperAudit changes audit entries past the log's append-only triggers,
// as someone with direct access to the database could.
func tamperAudit(t *testing.T, db *store.DB, stmt string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.W.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if db.Dialect == store.SQLite {
		for _, trig := range []string{"audit_log_no_update", "audit_log_no_delete"} {
			if _, err := conn.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+trig); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		if _, err := conn.ExecContext(ctx, "SET session_replication_role = replica"); err != nil {
			t.Skipf("cannot bypass the triggers: %v", err)
		}
		defer conn.ExecContext(ctx, "RESET session_replication_role")
	}
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

func TestAuditVerifyShowsTampering(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedAudit(t, db)
	c := signedIn(t, in, auth.RoleAuditor)
	_, token, err := in.Auth(t).CreateToken(context.Background(), "aud", auth.RoleAuditor)
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	mustContain(t, "intact log", c.get("/audit", 200), "The chain is intact", `id="audit-checkpoint"`)

	tamperAudit(t, db, "UPDATE audit_log SET person = 'p9' WHERE seq = 7")
	body := c.get("/audit", 200)
	mustContain(t, "tampered log", body, "The chain is broken at seq 7 (changed).", `id="audit-checkpoint-none"`, "entry 7 was changed")
	mustNotContain(t, "tampered log", body, "The chain is intact", `id="audit-checkpoint"`)

	resp, out := c.do("GET", "/api/v1/audit/verify", nil, bearer)
	var rep struct {
		OK    bool
		Break *struct {
			Seq  int64
			Kind string
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil || rep.OK || rep.Break == nil || rep.Break.Seq != 7 || rep.Break.Kind != "changed" {
		t.Fatalf("verify API: %d %s", resp.StatusCode, out)
	}
	if resp, out := c.do("GET", "/api/v1/audit/checkpoint", nil, bearer); resp.StatusCode != 409 || !strings.Contains(out, "broken at seq 7") {
		t.Fatalf("checkpoint of a broken log: %d %s", resp.StatusCode, out)
	}
}

func TestAuditAPI(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	log := seedAudit(t, db)
	a := in.Auth(t)
	tokens := map[auth.Role]map[string]string{}
	for _, role := range []auth.Role{auth.RoleAuditor, auth.RoleAgent, auth.RoleAdmin, auth.RoleOperator} {
		_, secret, err := a.CreateToken(context.Background(), "t-"+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = map[string]string{"Authorization": "Bearer " + secret}
	}
	c := newClient(t, in)
	aud := tokens[auth.RoleAuditor]

	var page struct {
		Entries []struct {
			Seq       int64
			ActorKind string `json:"actor_kind"`
			Actor     string
			Action    string
			Person    string
		}
		NextBefore *int64 `json:"next_before"`
	}
	resp, out := c.do("GET", "/api/v1/audit?action=pii.read&limit=3", nil, aud)
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &page) != nil {
		t.Fatalf("list: %d %s", resp.StatusCode, out)
	}
	if len(page.Entries) != 3 || page.Entries[0].Seq != 19 || page.Entries[0].Actor != "alice" || page.Entries[0].Person != "p1" ||
		page.NextBefore == nil || *page.NextBefore != 15 {
		t.Fatalf("list: %s", out)
	}
	resp, out = c.do("GET", fmt.Sprintf("/api/v1/audit?action=pii.read&limit=3&before=%d", *page.NextBefore), nil, aud)
	if json.Unmarshal([]byte(out), &page) != nil || len(page.Entries) != 3 || page.Entries[0].Seq != 13 {
		t.Fatalf("second page: %s", out)
	}
	if resp, out := c.do("GET", "/api/v1/audit?action=Bad", nil, aud); resp.StatusCode != 400 || !strings.Contains(out, "auth.*") {
		t.Fatalf("bad filter: %d %s", resp.StatusCode, out)
	}

	resp, out = c.do("GET", "/api/v1/audit/5", nil, aud)
	e5, _ := log.Get(context.Background(), 5)
	if resp.StatusCode != 200 || !strings.Contains(out, `"hash": "`+e5.Hash+`"`) || !strings.Contains(out, `"seq": 5`) {
		t.Fatalf("entry: %d %s", resp.StatusCode, out)
	}
	if resp, _ := c.do("GET", "/api/v1/audit/9999", nil, aud); resp.StatusCode != 404 {
		t.Fatalf("missing entry: %d", resp.StatusCode)
	}

	resp, out = c.do("GET", "/api/v1/audit/export?format=jsonl&actor=bob", nil, aud)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || strings.Count(out, "\n") != 10 {
		t.Fatalf("export: %d %v\n%s", resp.StatusCode, resp.Header, out)
	}
	resp, out = c.do("GET", "/api/v1/audit/verify", nil, aud)
	if resp.StatusCode != 200 || !strings.Contains(out, `"ok": true`) || !strings.Contains(out, `"break": null`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	var cp struct {
		Seq  int64
		Hash string
	}
	resp, out = c.do("GET", "/api/v1/audit/checkpoint", nil, aud)
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &cp) != nil {
		t.Fatalf("checkpoint: %d %s", resp.StatusCode, out)
	}
	if last, _ := log.Get(context.Background(), cp.Seq); last.Hash != cp.Hash || last.Action != audit.ActionAuditRead {
		t.Fatalf("checkpoint %+v, entry %+v", cp, last)
	}
	// Every call was recorded against the token, except the refused filter:
	// a request that reads nothing is not recorded as a read.
	reads := entriesOf(t, log, audit.ActionAuditRead)
	if len(reads) != 6 || reads[0].Actor.String() != "token:t-auditor" {
		t.Fatalf("audit.read entries: %d %+v", len(reads), reads[0])
	}
	if ex := entriesOf(t, log, audit.ActionAuditExport); len(ex) != 1 || !strings.Contains(ex[0].Detail, `"actor":"bob"`) {
		t.Fatalf("audit.export entries: %+v", ex)
	}

	// Entries cannot be changed, by anyone; each try is recorded.
	before, _ := log.Get(context.Background(), 3)
	for _, tc := range []struct {
		method string
		role   auth.Role
	}{{"PUT", auth.RoleAgent}, {"PATCH", auth.RoleAuditor}, {"DELETE", auth.RoleAdmin}, {"POST", auth.RoleOperator}} {
		resp, out := c.do(tc.method, "/api/v1/audit/3", strings.NewReader(`{"action":"nothing"}`), tokens[tc.role])
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" || !strings.Contains(out, "Audit entries cannot be changed or deleted.") {
			t.Fatalf("%s as %s: %d %v %s", tc.method, tc.role, resp.StatusCode, resp.Header, out)
		}
		tries := entriesOf(t, log, audit.ActionAuditChangeAttempt)
		if len(tries) == 0 || tries[0].Outcome != audit.OutcomeDenied || tries[0].Actor.String() != "token:t-"+string(tc.role) ||
			tries[0].ObjectID != "3" || !strings.Contains(tries[0].Detail, `"method":"`+tc.method+`"`) {
			t.Fatalf("%s as %s recorded %+v", tc.method, tc.role, tries)
		}
	}
	if resp, _ := c.do("DELETE", "/api/v1/audit/3", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous DELETE: %d", resp.StatusCode)
	}
	if n := len(entriesOf(t, log, audit.ActionAuditChangeAttempt)); n != 4 {
		t.Fatalf("%d change attempts recorded, want 4", n)
	}
	after, _ := log.Get(context.Background(), 3)
	if after != before {
		t.Fatalf("entry 3 changed: %+v → %+v", before, after)
	}
	if rep, err := log.Verify(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep, err)
	}
	// The admin token may not read the log.
	if resp, _ := c.do("GET", "/api/v1/audit", nil, tokens[auth.RoleAdmin]); resp.StatusCode != 403 {
		t.Fatalf("admin list: %d", resp.StatusCode)
	}
}
