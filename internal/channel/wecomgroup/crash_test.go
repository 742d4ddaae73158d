package wecomgroup_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel/wecomgroup"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom"
)

// crasher dies (panics) at a random add_msg_template: before the request
// leaves, or after WeCom answered and before Kith read the answer.
type crasher struct {
	rng   *rand.Rand
	every int // one call in every … dies
	n     atomic.Int32
	armed atomic.Bool
}

func (c *crasher) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/add_msg_template") || !c.armed.Load() || c.rng.IntN(c.every) != 0 {
		return http.DefaultTransport.RoundTrip(r)
	}
	c.n.Add(1)
	if c.rng.IntN(2) == 0 {
		panic("killed before the call")
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body.Close()
	}
	panic("killed after WeCom answered")
}

// TestCrashGroupMessages kills the sender (a panic standing in for
// kill -9) at random points of a campaign to 1,200 customers of 2 members
// (KITH_CRASH_RECIPIENTS for more), in batches of 50, restarting it (a new
// Service and gate, as a new process) after each death: every customer is
// in exactly one WeCom task and every delivery is sent.
func TestCrashGroupMessages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n, batch := 1200, 50
		if v, err := strconv.Atoi(os.Getenv("KITH_CRASH_RECIPIENTS")); err == nil && v > 0 {
			n, batch = v, max(50, v/40)
		}
		e := newEnv(t, db, n)
		cr := &crasher{rng: rand.New(rand.NewPCG(7, 7)), every: 3}
		client, err := wecom.New(wecom.Config{BaseURL: e.sb.URL, CorpID: e.sb.CorpID(), Secret: e.sb.Secret(), Now: e.clock.Now,
			HTTPClient: &http.Client{Transport: cr}})
		if err != nil {
			t.Fatal(err)
		}
		get := func(context.Context) (*wecom.Client, error) { return client, nil }
		boot := func() *campaign.Service {
			svc := campaign.New(campaign.Config{DB: db, Gate: gate.New(db, testKey, e.clock), Clock: e.clock})
			svc.BatchSize = batch
			svc.Register(campaign.WeCom, wecomgroup.New(svc.Claimer(), get, e.clock), wecomgroup.NewReconciler(get, e.clock))
			return svc
		}
		e.svc = boot()
		c := e.start(t, campaign.Content{Text: "春季新品到店"})
		cr.armed.Store(true)
		deaths, finished := 0, false
		for range 1000 {
			st, err := func() (st campaign.Step, err error) {
				defer func() {
					if recover() != nil {
						st = -1
					}
				}()
				return e.svc.RunBatch(ctx, c.ID)
			}()
			if st == -1 {
				deaths++
				e.svc = boot() // a new process: nothing in memory survives
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if st == campaign.Finished {
				finished = true
				break
			}
			if st == campaign.InDoubt {
				e.clock.Add(grace) // a task not listed: ask again later
			}
		}
		if !finished || deaths < 5 {
			t.Fatalf("finished %v after %d deaths", finished, deaths)
		}
		seen := map[string]int{}
		for _, m := range e.sb.GroupMsgs() {
			for _, ext := range m.Recipients {
				seen[ext]++
			}
		}
		for _, ext := range e.ext {
			if seen[ext] != 1 {
				t.Errorf("%s is in %d tasks", ext, seen[ext])
			}
		}
		r, err := e.svc.Results(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.ByState["sent"] != n || len(r.ByState) != 1 {
			t.Errorf("results = %+v", r)
		}
		t.Logf("%d deaths, %d tasks", deaths, len(e.sb.GroupMsgs()))
	})
}
