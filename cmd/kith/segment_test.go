package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// newSegmentInstance is a migrated instance with 12 customers: every third
// tagged VIP, the even ones followed by li.
func newSegmentInstance(t *testing.T, pg bool) *auditInstance {
	t.Helper()
	in := newAuditInstance(t, pg, 0)
	db := in.open(t)
	defer db.Close()
	ctx := context.Background()
	now := time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if err := customer.ReplaceTags(ctx, tx, []customer.TagGroup{{GroupID: "g1", Name: "等级", CreatedAt: now,
			Tags: []customer.Tag{{TagID: "t-vip", Name: "VIP", CreatedAt: now}}}}, now); err != nil {
			return err
		}
		for i := 1; i <= 12; i++ {
			id, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: fmt.Sprintf("wm%02d", i), Name: fmt.Sprintf("客户%02d", i), Type: 1}, now)
			if err != nil {
				return err
			}
			f := customer.Follow{MemberUserID: "wang", AddedAt: now}
			if i%3 == 0 {
				f.TagIDs = []string{"t-vip"}
			}
			if err := customer.ApplyFollow(ctx, tx, id, f, now); err != nil {
				return err
			}
			if i%2 == 0 {
				if err := customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "li", AddedAt: now}, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestSegmentCommands(t *testing.T) {
	t.Parallel()
	for _, pg := range []bool{false, true} {
		if pg && os.Getenv(storetest.EnvURL) == "" {
			continue
		}
		in := newSegmentInstance(t, pg)
		for _, by := range [][]string{nil, {"--sql"}} {
			args := append([]string{"segment", "count", "tag:VIP and member:li", "--json"}, by...)
			r := runKith(t, in.env, args...)
			var out struct {
				Count      int    `json:"count"`
				CountedBy  string `json:"counted_by"`
				Expression string `json:"expression"`
			}
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Count != 2 || out.Expression != "tag:VIP and member:li" {
				t.Errorf("pg=%v kith %v: %s", pg, args, r)
			}
			if (by == nil) != (out.CountedBy == "index") {
				t.Errorf("pg=%v kith %v counted by %q", pg, args, out.CountedBy)
			}
		}
		// Flags first, the expression last, plain text.
		r := runKith(t, in.env, "segment", "count", "not tag:VIP")
		if r.code != 0 || !strings.Contains(r.stdout, "8 customers match not tag:VIP") {
			t.Errorf("pg=%v count text: %s", pg, r)
		}
		r = runKith(t, in.env, "segment", "explain", "member:li or spent_90d >= 500")
		if r.code != 0 || !strings.Contains(r.stdout, "or: any of") || !strings.Contains(r.stdout, "Reference SQL") ||
			!strings.Contains(r.stdout, "SELECT") || !strings.Contains(r.stdout, "$1 = li") {
			t.Errorf("pg=%v explain: %s", pg, r)
		}
		// The order facts: their meaning and their columns; an unknown
		// category, then one in the catalogue.
		r = runKith(t, in.env, "segment", "explain", `category:女装`)
		if r.code != 1 || !strings.Contains(r.stderr, "unknown category 女装") {
			t.Errorf("pg=%v explain of an unknown category: %s", pg, r)
		}
		db := in.open(t)
		storetest.MustExec(t, db, `INSERT INTO sku_categories (sku, category, updated_at) VALUES ('SKU-1', '女装', $1)`, time.Now())
		db.Close()
		r = runKith(t, in.env, "segment", "explain", `category:"女装" and aov >= 200 and rfm:555 and first_order >= 2026-01-01`)
		for _, want := range []string{`bought a SKU of the category "女装"`, "average order value (net of refunds) ≥ ¥200", "rfm = 555",
			"the first order was on a day ≥ 2026-01-01", "customer_skus", "c.avg_order_fen", "c.rfm_score", "c.first_order_at"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("pg=%v explain of the order facts: no %q in %s", pg, want, r)
			}
		}
	}
}

func TestSegmentCommandsRefuseBadExpressions(t *testing.T) {
	t.Parallel()
	in := newSegmentInstance(t, false)
	r := runKith(t, in.env, "segment", "count", "tag:VIP and ordrs > 1")
	if r.code != 1 || !strings.Contains(r.stderr, "column 13") || !strings.Contains(r.stderr, "tag:VIP and ordrs > 1\n            ^") {
		t.Errorf("bad field: %s", r)
	}
	r = runKith(t, in.env, "segment", "count", "tag:VPI")
	if r.code != 1 || !strings.Contains(r.stderr, "did you mean tag:VIP?") {
		t.Errorf("unknown tag: %s", r)
	}
	r = runKith(t, in.env, "segment", "count")
	if r.code != 2 || !strings.Contains(r.stderr, "quoted argument") {
		t.Errorf("no expression: %s", r)
	}
	r = runKith(t, in.env, "segment", "list")
	if r.code != 2 || !strings.Contains(r.stderr, "count or explain") {
		t.Errorf("unknown verb: %s", r)
	}
}
