// Command crashseed prepares and finishes the kill -9 crash test
// (cmd/kith/crash_test.go) outside the test process: the test runs under
// -race, where the pure-Go SQLite writing 10,000 customers takes minutes;
// this program is built without it. It is test code, kept under testdata
// so that it is built only by the test.
//
//	crashseed prepare --seed S --customers N   copy the sandbox company seeded with S into the
//	                                           database, with marketing consent; schedule the
//	                                           campaign; print its id
//	crashseed poll --campaign ID --api-base URL --corp-id C --secret S
//	                                           read the campaign's results from the sandbox
//
// The database is the one KITH_DATA_DIR / KITH_DATABASE_URL name.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/wecomgroup"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// Text is the campaign's message; the test looks for it in the sandbox.
const Text = "春季新品到店，回复T退订"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crashseed:", err)
		os.Exit(1)
	}
}

// fatal stands in for testing.T in the code shared with the test.
type fatal struct{}

func (fatal) Helper()                   {}
func (fatal) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (fatal) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func run(args []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if len(args) == 0 {
		return errors.New("say prepare or poll")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	seed := fs.Int64("seed", 7, "the sandbox's seed")
	customers := fs.Int("customers", 10000, "the sandbox's customers")
	id := fs.Int64("campaign", 0, "the campaign to poll")
	base := fs.String("api-base", "", "the sandbox's address")
	corp := fs.String("corp-id", "", "the sandbox's corp id")
	secret := fs.String("secret", "", "the sandbox's secret")
	flags := config.Bind(fs, config.Data)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := flags.Load(os.Getenv)
	if err != nil {
		return err
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.ForCommand)
	if err != nil {
		return err
	}
	defer a.Close()
	w := &crashWorld{a: a}
	var t fatal
	switch args[0] {
	case "prepare":
		sb, err := wecomtest.New(wecomtest.Options{})
		if err != nil {
			return err
		}
		if err := sb.Seed(*seed, wecomtest.SeedOptions{Customers: *customers}); err != nil {
			return err
		}
		w.copyCompany(t, sb)
		fmt.Println(w.prepare(t, *customers))
		return nil
	case "poll":
		waiting, err := w.follow(t, *base, *corp, *secret).Poll(context.Background(), *id)
		if err != nil {
			return err
		}
		fmt.Println(waiting)
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// crashWorld is the instance's database.
type crashWorld struct {
	a *app.App
}

// copyCompany writes the sandbox's members, customers and relations into
// the database, as kith sync would.
func (w *crashWorld) copyCompany(t fatal, sb *wecomtest.Sandbox) {
	t.Helper()
	ctx := context.Background()
	now := w.a.Clock.Now().UTC()
	err := w.a.DB.InTx(ctx, func(sqlTx *sql.Tx) error {
		tx := store.NewCachedTx(sqlTx)
		defer tx.Close()
		for _, m := range sb.Members() {
			if _, err := tx.ExecContext(ctx, "INSERT INTO members (userid, name, status, contact_enabled, updated_at) VALUES ($1, $2, $3, TRUE, $4)",
				m.UserID, m.Name, m.Status, now); err != nil {
				return err
			}
		}
		for _, ext := range sb.CustomerIDs() {
			c, _ := sb.Customer(ext)
			var id int64
			if err := tx.QueryRowContext(ctx, "INSERT INTO customers (external_userid, name, type, gender, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
				ext, c.Name, c.Type, c.Gender, now).Scan(&id); err != nil {
				return err
			}
			for _, r := range sb.Relations(ext) {
				if _, err := tx.ExecContext(ctx, "INSERT INTO follows (customer_id, member_userid, add_way, added_at, updated_at, synced_at) VALUES ($1, $2, $3, $4, $5, $5)",
					id, r.UserID, r.AddWay, time.Unix(r.CreateTime, 0).UTC(), now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// prepare gives every synced customer marketing consent on WeCom, turns
// quiet hours off (the test runs at any hour) and schedules a marketing
// campaign to every customer reachable on WeCom, to start now.
func (w *crashWorld) prepare(t fatal, n int) int64 {
	t.Helper()
	ctx := context.Background()
	db, now := w.a.DB, w.a.Clock.Now()
	g := gate.New(db, w.a.Keys.BlindIndex, w.a.Clock)
	if err := g.SetPolicy(ctx, gate.Policy{Channel: consent.ChannelWeCom, WeComRule: gate.MonthDays}); err != nil {
		t.Fatal(err)
	}
	ledger := consent.NewLedger(db.R, w.a.Keys.BlindIndex)
	notice, err := ledger.Notice(ctx, consent.Marketing, 0)
	if err != nil {
		if notice, err = consent.PublishNotice(ctx, db.W, consent.Marketing, "zh", "我们会通过企业微信向您发送新品和优惠信息。", now); err != nil {
			t.Fatal(err)
		}
	}
	ids := queryStrings(t, db, "SELECT external_userid FROM customers ORDER BY id")
	if len(ids) != n {
		t.Fatalf("kith sync brought %d customers, want %d", len(ids), n)
	}
	// The grants are written in bulk and folded into consent_state as
	// Ledger.Record would (10,000 Records take half a minute here); their
	// hash chain is not what this test is about.
	err = db.InTx(ctx, func(sqlTx *sql.Tx) error {
		tx := store.NewCachedTx(sqlTx)
		defer tx.Close()
		for i, ext := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO consent_events (person_kind, person_key, purpose, channel, action, source, evidence, notice_version,
				notice_hash, scope, recorded_by, occurred_at, received_at, prev_hash, hash) VALUES ('external_userid', $1, 'marketing', 'wecom', 'grant', 'customer',
				'{"url":"https://shop.example/consent"}', $2, $3, '', 'crash-test', $4, $4, $5, $6)`,
				ext, notice.Version, notice.TextHash, now.Add(-time.Hour), strings.Repeat("0", 64), fmt.Sprintf("%064x", i+1)); err != nil {
				return err
			}
		}
		_, err := ledger.RebuildState(ctx, sqlTx, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	owner := queryStrings(t, db, "SELECT id FROM users ORDER BY id LIMIT 1")
	ownerID, _ := strconv.ParseInt(owner[0], 10, 64)
	seg, err := segment.NewStore(db, w.a.Clock).Create(ctx, ownerID, segment.Input{Name: "reachable on WeCom", Expression: "reachable:wecom"})
	if err != nil {
		t.Fatal(err)
	}
	svc := campaign.New(campaign.Config{DB: db, Gate: g, Clock: w.a.Clock, Location: w.a.Config.Location})
	c, err := svc.Create(ctx, ownerID, campaign.Input{Name: "crash", Purpose: campaign.PurposeMarketing, Channel: campaign.WeCom,
		Content: campaign.Content{Text: Text}, Audience: campaign.Audience{SegmentID: seg.ID}, Schedule: campaign.Schedule{Kind: campaign.Now}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Schedule(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func queryStrings(t fatal, db *store.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.R.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// follow returns a campaign service that reads the sandbox's results, as
// the poll job does.
func (w *crashWorld) follow(t fatal, base, corpID, secret string) *campaign.Service {
	t.Helper()
	client, err := wecom.New(wecom.Config{BaseURL: base, CorpID: corpID, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	get := func(context.Context) (*wecom.Client, error) { return client, nil }
	svc := campaign.New(campaign.Config{DB: w.a.DB, Gate: gate.New(w.a.DB, w.a.Keys.BlindIndex, w.a.Clock), Clock: w.a.Clock, Location: w.a.Config.Location})
	svc.RegisterFollower(campaign.WeCom, wecomgroup.NewFollower(get))
	return svc
}
