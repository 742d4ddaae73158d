package wecomwelcome_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/channel/wecomwelcome"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

func row(t *testing.T, db *store.DB, code string) (status string, errcode int, reason string) {
	t.Helper()
	if err := db.R.QueryRow("SELECT status, errcode, reason FROM welcome_sends WHERE welcome_code = $1", code).Scan(&status, &errcode, &reason); err != nil {
		t.Fatal(err)
	}
	return
}

func TestWelcomeOncePerCode(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sb := wecomtest.Start(t, wecomtest.Options{})
		wecomtest.MustSeed(t, sb.Sandbox, 1, wecomtest.SeedOptions{Customers: 5})
		client, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: sb.CorpID(), Secret: sb.Secret()})
		if err != nil {
			t.Fatal(err)
		}
		g := gate.New(db, bytes.Repeat([]byte("k"), 32), kith.SystemClock{})
		s := wecomwelcome.New(db, g, func(context.Context) (*wecom.Client, error) { return client, nil }, kith.SystemClock{}, nil)
		member := sb.Members()[0].UserID
		arrive := func() acquisition.WelcomeSend {
			d, err := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: member})
			if err != nil {
				t.Fatal(err)
			}
			return acquisition.WelcomeSend{Code: d.Event.WelcomeCode, ExternalUserID: d.Event.ExternalUserID, Member: member, Text: "你好"}
		}
		permit := func(w acquisition.WelcomeSend) gate.Permit {
			d, err := g.Decide(ctx, gate.Request{Person: consent.ExternalUser(w.ExternalUserID), Channel: consent.ChannelWeCom,
				Class: gate.Service, Type: "welcome", Content: gate.Content{Body: w.Text}})
			if err != nil || !d.Allowed {
				t.Fatalf("decide: %+v %v", d, err)
			}
			return d.Permit
		}
		w := arrive()
		p := permit(w)
		if err := s.SendWelcome(ctx, p, w); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := row(t, db, w.Code); st != wecomwelcome.StatusSent {
			t.Fatalf("status %s", st)
		}
		// Again with the same code, even with a new permit: nothing is sent.
		if err := s.SendWelcome(ctx, permit(w), w); err != nil || len(sb.WelcomesSent()) != 1 {
			t.Fatalf("again: %v, %d sent", err, len(sb.WelcomesSent()))
		}
		if done, _ := s.Attempted(ctx, w.Code); !done {
			t.Fatal("the code is not marked attempted")
		}
		// A used permit for another customer: refused by the gate, recorded.
		w2 := arrive()
		if err := s.SendWelcome(ctx, p, w2); err != nil {
			t.Fatal(err)
		}
		if st, _, reason := row(t, db, w2.Code); st != wecomwelcome.StatusRefused || !strings.HasPrefix(reason, "PERMIT_REUSED") {
			t.Fatalf("reused permit: %s %q", st, reason)
		}
		// WeCom does not answer: failed, outcome unknown, not sent again.
		w3 := arrive()
		down, _ := wecom.New(wecom.Config{BaseURL: "http://127.0.0.1:1", CorpID: sb.CorpID(), Secret: sb.Secret(), MaxRetries: -1})
		s2 := wecomwelcome.New(db, g, func(context.Context) (*wecom.Client, error) { return down, nil }, kith.SystemClock{}, nil)
		if err := s2.SendWelcome(ctx, permit(w3), w3); err != nil {
			t.Fatal(err)
		}
		if st, _, reason := row(t, db, w3.Code); st != wecomwelcome.StatusFailed || !strings.Contains(reason, "not sent again") {
			t.Fatalf("no answer: %s %q", st, reason)
		}
		if err := s.SendWelcome(ctx, permit(w3), w3); err != nil || len(sb.WelcomesSent()) != 1 {
			t.Fatalf("after no answer: %v, %d sent", err, len(sb.WelcomesSent()))
		}
		// A code WeCom says was used elsewhere: failed with the meaning.
		w4 := arrive()
		if err := client.SendWelcomeMsg(ctx, wecom.WelcomeMsg{WelcomeCode: w4.Code, Text: &wecom.WelcomeText{Content: "another app"}}); err != nil {
			t.Fatal(err)
		}
		s.SendWelcome(ctx, permit(w4), w4)
		if st, code, reason := row(t, db, w4.Code); st != wecomwelcome.StatusFailed || code != 41051 || !strings.Contains(reason, "already used") {
			t.Fatalf("used elsewhere: %s %d %q", st, code, reason)
		}
		if f, err := wecomwelcome.RecentFailures(ctx, db.R, 0, 10); err != nil || len(f) != 0 {
			t.Fatalf("failures of channel 0 (no channel): %+v %v", f, err)
		}
		if n, _ := wecomwelcome.Counts(ctx, db.R, 0); len(n) != 0 {
			t.Fatalf("counts of channel 0: %v", n)
		}
	})
}
