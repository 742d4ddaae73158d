package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// mixed writes a log with several people, actors and actions, one minute
// apart from t0.
func mixed(t *testing.T, db *store.DB) *audit.Log {
	t.Helper()
	clock := kith.NewFixedClock(t0)
	l := audit.New(db, clock)
	alice := audit.Actor{Kind: audit.ActorUser, Name: "alice"}
	aliceToken := audit.Actor{Kind: audit.ActorToken, Name: "alice"}
	bob := audit.Actor{Kind: audit.ActorUser, Name: "bob"}
	job := audit.Actor{Kind: audit.ActorJob, Name: "ingest.apply"}
	for _, e := range []audit.Entry{
		{Actor: alice, Action: audit.ActionSignIn, Outcome: audit.OutcomeOK},                             // 1
		{Actor: alice, Action: audit.ActionPIIRead, Person: "p1", ObjectType: "customer", Outcome: "ok"}, // 2
		{Actor: bob, Action: audit.ActionSignInFailed, Outcome: audit.OutcomeFailed},                     // 3
		{Actor: bob, Action: audit.ActionPIIReveal, Person: "p2", Outcome: audit.OutcomeDenied},          // 4
		{Actor: aliceToken, Action: audit.ActionPIIRead, Person: "p1", Outcome: "ok"},                    // 5
		{Actor: alice, Action: audit.ActionExport, Outcome: "ok", Detail: `{"rows":2}`},                  // 6
		{Actor: bob, Action: audit.ActionPIIRead, Person: "p2", Outcome: "ok"},                           // 7
		{Actor: job, Action: audit.ActionConsentChange, Person: "p1", Outcome: "ok"},                     // 8
		{Actor: alice, Action: audit.ActionSettingsChange, Outcome: "ok"},                                // 9
		{Actor: alice, Action: "authx.thing", Outcome: "ok"},                                             // 10: not under auth.*
	} {
		MustRecord(t, l, e)
		clock.Add(time.Minute)
	}
	return l
}

func seqs(es []audit.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := mixed(t, db)
		tests := []struct {
			name string
			f    audit.Filter
			want []int64
		}{
			{"all, newest first", audit.Filter{}, []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"person", audit.Filter{Person: "p1"}, []int64{8, 5, 2}},
			{"actor name of any kind", audit.Filter{Actor: "alice"}, []int64{10, 9, 6, 5, 2, 1}},
			{"actor kind and name", audit.Filter{Actor: "user:alice"}, []int64{10, 9, 6, 2, 1}},
			{"token actor", audit.Filter{Actor: "token:alice"}, []int64{5}},
			{"job actor with a dot", audit.Filter{Actor: "job:ingest.apply"}, []int64{8}},
			{"action", audit.Filter{Action: audit.ActionPIIRead}, []int64{7, 5, 2}},
			{"action prefix", audit.Filter{Action: "auth.*"}, []int64{3, 1}},
			{"action prefix pii", audit.Filter{Action: "pii.*"}, []int64{7, 5, 4, 2}},
			{"since", audit.Filter{Since: t0.Add(7 * time.Minute)}, []int64{10, 9, 8}},
			{"until", audit.Filter{Until: t0.Add(2 * time.Minute)}, []int64{2, 1}},
			{"since and until", audit.Filter{Since: t0.Add(time.Minute), Until: t0.Add(3*time.Minute + time.Second)}, []int64{4, 3, 2}},
			{"since in another zone", audit.Filter{Since: t0.Add(7 * time.Minute).In(time.FixedZone("CST", 8*3600))}, []int64{10, 9, 8}},
			{"person and actor", audit.Filter{Person: "p2", Actor: "bob", Action: "pii.*"}, []int64{7, 4}},
			{"before", audit.Filter{Before: 4}, []int64{3, 2, 1}},
			{"nothing", audit.Filter{Person: "p3"}, nil},
		}
		for _, tc := range tests {
			got, next, err := l.List(ctx, tc.f)
			if err != nil || !slices.Equal(seqs(got), tc.want) || next != 0 {
				t.Errorf("%s: got %v next %d err %v, want %v", tc.name, seqs(got), next, err, tc.want)
			}
		}
		e, err := l.Get(ctx, 4)
		if err != nil || e.Seq != 4 || e.Actor.Name != "bob" || e.Action != audit.ActionPIIReveal || e.Hash != e.ComputeHash() {
			t.Errorf("Get(4): %+v %v", e, err)
		}
		if _, err := l.Get(ctx, 11); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("Get(11): %v, want ENOTFOUND", err)
		}
		for _, f := range []audit.Filter{
			{Limit: 501}, {Limit: -1}, {Action: "Auth.*"}, {Action: "pii read"}, {Action: ".*"}, {Before: -3},
			{Since: t0, Until: t0}, {Since: t0, Until: t0.Add(-time.Hour)},
		} {
			if _, _, err := l.List(ctx, f); kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("List(%+v): %v, want EINVALID", f, err)
			}
		}
	})
}

func TestListPages(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := mixed(t, db)
		for _, f := range []audit.Filter{{Limit: 3}, {Limit: 1, Actor: "alice"}, {Limit: 2, Action: "pii.*"}} {
			all, _, err := l.List(ctx, audit.Filter{Actor: f.Actor, Action: f.Action, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			var paged []audit.Entry
			pages := 0
			for {
				page, next, err := l.List(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page) > f.Limit || (next != 0 && len(page) != f.Limit) {
					t.Errorf("%+v: page of %d, next %d", f, len(page), next)
				}
				paged = append(paged, page...)
				if next == 0 {
					break
				}
				f.Before = next
			}
			if !slices.Equal(seqs(paged), seqs(all)) {
				t.Errorf("%+v: paged %v, all %v", f, seqs(paged), seqs(all))
			}
			if want := (len(all) + f.Limit - 1) / f.Limit; pages < want || pages > want+1 {
				t.Errorf("%+v: %d pages for %d entries", f, pages, len(all))
			}
		}
		// The default page is 50; 60 entries make two pages.
		for range 50 {
			MustRecord(t, l, read("p9"))
		}
		page, next, err := l.List(ctx, audit.Filter{})
		if err != nil || len(page) != 50 || next != 11 {
			t.Errorf("default page: %d entries, next %d, %v", len(page), next, err)
		}
	})
}

// hashFromDoc recomputes an exported entry's hash by the package
// documentation alone, as an outsider would.
func hashFromDoc(m map[string]any) string {
	var b []byte
	for _, k := range []string{"", "seq", "at", "actor_kind", "actor", "action", "object_type", "object_id", "person", "purpose", "outcome", "detail", "prev_hash"} {
		s := "kith.audit.v1"
		switch v := m[k].(type) {
		case string:
			s = v
		case float64:
			s = fmt.Sprint(int64(v))
		}
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// tricky are values a CSV or JSON writer must get right.
var tricky = []audit.Entry{
	{Actor: audit.Actor{Kind: audit.ActorUser, Name: "张三"}, Action: audit.ActionPIIRead, ObjectType: "customer",
		ObjectID: "wm,1", Person: `p"1"`, Purpose: "客服, 售后", Outcome: audit.OutcomeOK,
		Detail: "{\n  \"备注\": \"VIP, \\\"大客户\\\"\",\n  \"html\": \"<b>&</b>\"\n}"},
	{Actor: audit.Actor{Kind: audit.ActorAnonymous, Name: "=HYPERLINK(\"http://evil\")"}, Action: audit.ActionSignInFailed,
		ObjectID: "-1", Purpose: "@sum", Outcome: audit.OutcomeFailed, Detail: `{"ip":"+86"}`},
	{Actor: audit.Actor{Kind: audit.ActorSystem, Name: "cli"}, Action: audit.ActionAuditExport, Outcome: audit.OutcomeOK},
}

func TestExport(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := audit.New(db, kith.NewFixedClock(t0))
		for _, e := range tricky {
			MustRecord(t, l, e)
		}
		stored := MustEntries(t, l)

		t.Run("jsonl", func(t *testing.T) {
			var buf bytes.Buffer
			n, err := l.Export(ctx, &buf, audit.Filter{}, audit.FormatJSONL)
			if err != nil || n != 3 {
				t.Fatalf("Export: %d %v", n, err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines:\n%s", len(lines), buf.String())
			}
			for i, line := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				e := stored[i]
				if m["seq"] != float64(e.Seq) || m["actor"] != e.Actor.Name || m["detail"] != e.Detail || m["person"] != e.Person ||
					m["at"] != "2025-06-30T02:00:00.123456Z" || m["hash"] != e.Hash {
					t.Errorf("line %d: %v, want %+v", i+1, m, e)
				}
				if got := hashFromDoc(m); got != m["hash"] {
					t.Errorf("line %d: the documented encoding gives %s, the entry has %s", i+1, got, m["hash"])
				}
			}
		})

		t.Run("csv", func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := l.Export(ctx, &buf, audit.Filter{}, audit.FormatCSV); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("the CSV does not parse: %v\n%s", err, buf.String())
			}
			if len(recs) != 4 || strings.Join(recs[0], ",") != "seq,at,actor_kind,actor,action,object_type,object_id,person,purpose,outcome,detail,prev_hash,hash" {
				t.Fatalf("records: %q", recs)
			}
			first := recs[1]
			e := stored[0]
			if first[0] != "1" || first[3] != "张三" || first[6] != "wm,1" || first[7] != `p"1"` || first[8] != "客服, 售后" ||
				first[10] != e.Detail || first[11] != audit.Genesis || first[12] != e.Hash {
				t.Errorf("first row: %q", first)
			}
			// Cells a spreadsheet would run as formulas are defused.
			second := recs[2]
			if second[3] != `'=HYPERLINK("http://evil")` || second[6] != "'-1" || second[8] != "'@sum" {
				t.Errorf("formula cells: %q", second)
			}
		})

		t.Run("filter and limit", func(t *testing.T) {
			var buf bytes.Buffer
			n, err := l.Export(ctx, &buf, audit.Filter{Actor: "user:张三"}, audit.FormatJSONL)
			if err != nil || n != 1 || strings.Count(buf.String(), "\n") != 1 {
				t.Errorf("filtered export: %d %v\n%s", n, err, buf.String())
			}
			buf.Reset()
			n, err = l.Export(ctx, &buf, audit.Filter{Limit: 2}, audit.FormatCSV)
			if err != nil || n != 2 || strings.Count(buf.String(), "\n") != 3+3 { // header, two rows, three newlines inside a detail
				t.Errorf("limited export: %d %v\n%s", n, err, buf.String())
			}
		})

		t.Run("bad input", func(t *testing.T) {
			for _, tc := range []struct {
				f      audit.Filter
				format string
			}{{audit.Filter{}, "xml"}, {audit.Filter{}, ""}, {audit.Filter{Action: "A"}, "csv"}, {audit.Filter{Limit: -1}, "csv"}} {
				var buf bytes.Buffer
				if _, err := l.Export(ctx, &buf, tc.f, tc.format); kith.ErrorCode(err) != kith.EINVALID || buf.Len() != 0 {
					t.Errorf("Export(%+v, %q): %v, wrote %q", tc.f, tc.format, err, buf.String())
				}
			}
		})
	})
}

// TestExportPages: an export longer than a page is whole, in order, and
// leaves out what is appended while it runs.
func TestExportPages(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := audit.New(db, kith.SystemClock{})
		const n = 1234
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := range n {
				if err := l.Append(ctx, tx, read(fmt.Sprint(i%7))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := l.Export(ctx, pw, audit.Filter{}, audit.FormatJSONL)
			pw.CloseWithError(err)
			done <- err
		}()
		sc := bufio.NewScanner(pr)
		var want int64 = 1
		for sc.Scan() {
			if want == 10 {
				// The export is under way: this entry must not be in it.
				MustRecord(t, l, read("late"))
			}
			var m struct{ Seq int64 }
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Seq != want {
				t.Fatalf("line %d: seq %d %v", want, m.Seq, err)
			}
			want++
		}
		if err := <-done; err != nil || want-1 != n {
			t.Errorf("exported %d of %d: %v", want-1, n, err)
		}
		var buf bytes.Buffer
		c, err := l.Export(ctx, &buf, audit.Filter{Person: "3"}, audit.FormatCSV)
		if err != nil || c != 176 { // persons 3, 10, …, 1231
			t.Errorf("filtered export of %d entries: %d %v", n, c, err)
		}
	})
}
