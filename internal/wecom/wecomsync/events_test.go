package wecomsync_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// waitApplied waits until every stored event is applied, stored or failed,
// and fails the test if any failed.
func waitApplied(t *testing.T, db *store.DB, want int) {
	t.Helper()
	svc := ingest.NewService(db, nil, kith.SystemClock{}, quiet)
	deadline := time.Now().Add(60 * time.Second)
	for {
		counts, err := svc.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		done := counts[ingest.StatusApplied] + counts[ingest.StatusStored]
		if counts[ingest.StatusFailed] > 0 {
			failed, _, _ := svc.List(context.Background(), ingest.ListFilter{Status: ingest.StatusFailed})
			t.Fatalf("events failed: %+v", failed)
		}
		if done >= want && counts[ingest.StatusPending] == 0 {
			return
		}
		if time.Now().After(deadline) {
			pending, _, _ := svc.List(context.Background(), ingest.ListFilter{Status: ingest.StatusPending})
			t.Fatalf("%v after 60 s (want %d done); pending: %+v", counts, want, pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eventsKeepKithInSync(t *testing.T, postgres bool) {
	ctx := context.Background()
	sb := wecomtest.Start(t, wecomtest.Options{})
	wecomtest.MustSeed(t, sb.Sandbox, 11, wecomtest.SeedOptions{Customers: 200})
	in := apptest.Start(t, apptest.Options{Postgres: postgres, Env: sandboxEnv(sb)})
	db, err := store.Open(ctx, store.Options{DataDir: in.Config.DataDir, URL: in.Config.DatabaseURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := newSyncer(t, db, sb).FullSync(ctx, "test", nil); err != nil {
		t.Fatal(err)
	}
	sb.SetCallbackURL(in.URL + "/wecom/callback")
	if err := sb.VerifyCallbackURL(ctx); err != nil {
		t.Fatalf("URL verification: %v", err)
	}
	members := sb.Members()
	ids := sb.CustomerIDs()
	events := 0
	must := func(d wecomtest.Delivery, err error) wecomtest.Delivery {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !d.Delivered {
			t.Fatalf("delivery failed: %+v", d)
		}
		events++
		return d
	}

	// People do things in WeCom; Kith hears and follows.
	d := must(sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: members[0].UserID, Name: "周杰", State: "ch_test"}))
	newCustomer := d.Event.ExternalUserID
	must(sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: members[1].UserID, ExternalUserID: newCustomer}))
	remark := "改过的备注"
	groups := sb.TagGroups()
	tag := groups[0].Tags[0].ID
	must(sb.MemberEditsContact(ctx, wecomtest.EditContact{UserID: members[0].UserID, ExternalUserID: newCustomer, Remark: &remark, AddTags: []string{tag}}))
	r := sb.Relations(ids[5])[0]
	must(sb.CustomerDeletesMember(ctx, r.UserID, ids[5]))
	optedOut := ids[5]
	r = sb.Relations(ids[6])[0]
	must(sb.MemberDeletesCustomer(ctx, r.UserID, ids[6]))
	r = sb.Relations(ids[7])[0]
	must(sb.TransferFails(ctx, r.UserID, ids[7], wecomtest.FailCustomerRefused))
	d = must(sb.AdminCreatesTag(ctx, groups[1].Name, "新标签"))
	must(sb.AdminRenamesTag(ctx, groups[2].Tags[0].ID, "改名标签"))
	must(sb.AdminDeletesTag(ctx, groups[3].Tags[0].ID))
	waitApplied(t, db, events)
	compare(t, db, sb)
	assertTags(t, db, sb)
	// A customer who deleted the member opted out of WeCom marketing.
	st, err := consent.NewLedger(db.R, bytes.Repeat([]byte("k"), 32)).State(ctx, consent.ExternalUser(optedOut), consent.Marketing, consent.ChannelWeCom, time.Now())
	if err != nil || st.Permits() {
		t.Fatalf("consent of a customer who deleted the member: %+v %v", st, err)
	}

	// Kith is unreachable while people keep going: WeCom gives up after
	// its retries; the events are sent again once Kith is back.
	sb.SetCallbackURL("http://127.0.0.1:1/wecom/callback")
	r = sb.Relations(ids[8])[0]
	if d, _ := sb.MemberDeletesCustomer(ctx, r.UserID, ids[8]); d.Delivered || d.Attempts != wecomtest.MaxDeliveries {
		t.Fatalf("delivery to a down Kith: %+v", d)
	}
	if d, _ := sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: members[2].UserID, Name: "吴芳"}); d.Delivered {
		t.Fatal("delivered to a down Kith")
	}
	sb.SetCallbackURL(in.URL + "/wecom/callback")
	for _, d := range sb.RedeliverFailed(ctx) {
		if !d.Delivered {
			t.Fatalf("redelivery: %+v", d)
		}
		events++
	}
	waitApplied(t, db, events)
	compare(t, db, sb)

	// The API is down while an event arrives: the event is stored at once
	// and applied when the API answers again.
	if err := sb.InjectFault("/cgi-bin/externalcontact/get", -1, 4); err != nil {
		t.Fatal(err)
	}
	must(sb.CustomerAddsMember(ctx, wecomtest.AddContact{UserID: members[3].UserID, Name: "郑强"}))
	waitApplied(t, db, events)
	compare(t, db, sb)

	// A member leaves: Kith marks them left and keeps their customers for
	// the transfer.
	must(sb.MemberLeaves(ctx, members[4].UserID))
	waitApplied(t, db, events)
	ms, _ := customer.NewDirectory(db).Members(ctx)
	for _, m := range ms {
		if m.UserID == members[4].UserID && (m.LeftAt == nil || m.Status != 5) {
			t.Fatalf("member who left: %+v", m)
		}
	}
}

func assertTags(t *testing.T, db *store.DB, sb *wecomtest.Server) {
	t.Helper()
	local, err := customer.NewDirectory(db).TagGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, g := range local {
		for _, tg := range g.Tags {
			names[tg.TagID] = tg.Name
		}
	}
	n := 0
	for _, g := range sb.TagGroups() {
		if g.Deleted {
			continue
		}
		for _, tg := range g.Tags {
			if tg.Deleted {
				continue
			}
			n++
			if names[tg.ID] != tg.Name {
				t.Fatalf("tag %s is %q locally, %q in WeCom", tg.ID, names[tg.ID], tg.Name)
			}
		}
	}
	if n != len(names) {
		t.Fatalf("%d tags locally, %d in WeCom", len(names), n)
	}
}

func TestEventsKeepKithInSync(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { eventsKeepKithInSync(t, false) })
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { eventsKeepKithInSync(t, true) })
	}
}
