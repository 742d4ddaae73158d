package consent_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestParseSMSOptOut(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" for not an opt-out
	}{
		{"T", "T"}, {"t", "T"}, {"TD", "TD"}, {"td", "TD"}, {"Td", "TD"}, {"R", "R"}, {"r", "R"}, {"N", "N"},
		{"STOP", "STOP"}, {"stop", "STOP"}, {"Unsubscribe", "UNSUBSCRIBE"},
		{"退订", "退订"}, {"拒收", "拒收"}, {"取消", "取消"},
		// full width, ideographic spaces, stray spaces and punctuation
		{"ＴＤ", "TD"}, {"ｔｄ", "TD"}, {"ｔｄ ", "TD"}, {"Ｒ", "R"}, {"ＳＴＯＰ", "STOP"},
		{"  td。", "TD"}, {"TD!", "TD"}, {"TD！", "TD"}, {"td.", "TD"}, {"\u3000退订\u3000", "退订"},
		{"「退订」", "退订"}, {"R。。。", "R"}, {"\tT\r\n", "T"}, {"T.D.", "TD"}, {"t d", "TD"}, {"退 订", "退订"},
		{"\u200bTD\ufeff", "TD"}, {"TD👍", "TD"}, {"【退订】", "退订"}, {"取消。", "取消"},
		// a leading unambiguous word, and 退订/拒收 anywhere
		{"TD 谢谢", "TD"}, {"td，谢谢", "TD"}, {"STOP please", "STOP"}, {"Stop sending me this", "STOP"},
		{"请退订", "退订"}, {"我要退订，别再发了", "退订"}, {"拒收，谢谢", "拒收"}, {"已拒收", "拒收"},
		// not opt-outs
		{"", ""}, {"   ", ""}, {"。！", ""}, {"TD你好吗", ""}, {"today", ""}, {"TDD", ""}, {"STOPPED", ""},
		{"R u open today?", ""}, {"T恤有货吗", ""}, {"N多少钱", ""}, {"取消订单", ""}, {"取消 订单", ""},
		{"好的", ""}, {"1", ""}, {"Y", ""}, {"YES", ""}, {"退", ""}, {"订", ""}, {"T R", ""}, {"RN", ""},
	}
	for _, c := range cases {
		got, ok := consent.ParseSMSOptOut(c.in)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("ParseSMSOptOut(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestNormalizeReply(t *testing.T) {
	for in, want := range map[string]string{
		"  ｔｄ。": "TD", "TD 谢谢": "TD 谢谢", "td，，谢谢！": "TD 谢谢", "a\u3000b": "A B", "\xff T": "T",
	} {
		if got := consent.NormalizeReply(in); got != want {
			t.Errorf("NormalizeReply(%q) = %q, want %q", in, got, want)
		}
	}
}

func optOut(p consent.Person, ch consent.Channel, src consent.Source, at time.Time) consent.OptOutRequest {
	return consent.OptOutRequest{
		Person: p, Channel: ch, Source: src,
		Evidence:   consent.Evidence{consent.EvidenceMessageID: "mo-1", consent.EvidenceText: "ｔｄ "},
		RecordedBy: "sms", OccurredAt: at, ReceivedAt: at.Add(2 * time.Second),
	}
}

func mustOptOut(tb testing.TB, q store.Querier, r consent.OptOutRequest) int {
	tb.Helper()
	n, err := consent.NewLedger(nil, key).OptOut(context.Background(), q, r)
	if err != nil {
		tb.Fatalf("opt-out: %v", err)
	}
	return n
}

func TestOptOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustRecord(t, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0))
		mustRecord(t, db.W, grant(t, db, alice, consent.Service, consent.ChannelSMS, t0))
		mustRecord(t, db.W, grant(t, db, wm, consent.Marketing, consent.ChannelWeCom, t0))

		// The reply "ｔｄ " from alice: marketing withdrawn, profiling refused
		// (she never granted it), service untouched.
		if n := mustOptOut(t, db.W, optOut(consent.Phone("+8613800138000"), consent.ChannelSMS, consent.SourceOptOutReply, t0.Add(time.Hour))); n != 2 {
			t.Fatalf("recorded %d events, want 2", n)
		}
		at := t0.Add(time.Hour + 3*time.Second)
		for p, want := range map[consent.Purpose]consent.Status{
			consent.Marketing: consent.StatusWithdrawn, consent.Profiling: consent.StatusRefused, consent.Service: consent.StatusGranted,
		} {
			st := mustState(t, db, alice, p, consent.ChannelSMS, at)
			if st.Status != want {
				t.Errorf("%s: %s, want %s", p, st.Status, want)
			}
			if p == consent.Marketing && (st.Last.Source != consent.SourceOptOutReply || st.Last.Evidence[consent.EvidenceMessageID] != "mo-1") {
				t.Errorf("withdrawal evidence %+v", st.Last)
			}
		}
		// Other channels and persons are untouched.
		if st := mustState(t, db, wm, consent.Marketing, consent.ChannelWeCom, at); st.Status != consent.StatusGranted {
			t.Fatalf("wecom consent: %+v", st)
		}
		// A repeat records nothing.
		if n := mustOptOut(t, db.W, optOut(alice, consent.ChannelSMS, consent.SourceOptOutReply, t0.Add(2*time.Hour))); n != 0 {
			t.Fatalf("repeat recorded %d events", n)
		}

		// A WeCom customer deleting the member.
		del := consent.OptOutRequest{Person: wm, Channel: consent.ChannelWeCom, Source: consent.SourceMemberDeleted,
			Evidence:   consent.Evidence{consent.EvidenceInboundEvent: "42", consent.EvidenceMember: "zhangsan"},
			RecordedBy: "wecom", OccurredAt: t0.Add(time.Hour), ReceivedAt: t0.Add(time.Hour)}
		if n := mustOptOut(t, db.W, del); n != 2 {
			t.Fatalf("member deleted: %d events", n)
		}
		if st := mustState(t, db, wm, consent.Marketing, consent.ChannelWeCom, t0.Add(2*time.Hour)); st.Status != consent.StatusWithdrawn {
			t.Fatalf("after member deleted: %+v", st)
		}

		// One-click from a stranger: refusals, so a later import cannot
		// start with a clean slate; a second POST records nothing.
		stranger := consent.Email("new@example.com")
		oc := consent.OptOutRequest{Person: stranger, Channel: consent.ChannelEmail, Source: consent.SourceOneClick,
			Evidence:   consent.Evidence{consent.EvidenceURL: "https://kith.example/u/…", consent.EvidenceUserAgent: "Gmail"},
			RecordedBy: "web", OccurredAt: t0, ReceivedAt: t0}
		if n := mustOptOut(t, db.W, oc); n != 2 {
			t.Fatalf("one-click from a stranger: %d events", n)
		}
		if n := mustOptOut(t, db.W, oc); n != 0 {
			t.Fatalf("second one-click: %d events", n)
		}
		if r, _ := consent.NewLedger(db.R, key).VerifyChain(ctx, stranger); !r.OK || r.Events != 2 {
			t.Fatalf("chain %+v", r)
		}
	})
}

func TestOptOutRefusesBadInput(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cases := []struct {
			name   string
			change func(r *consent.OptOutRequest)
			field  string
		}{
			{"no evidence", func(r *consent.OptOutRequest) { r.Evidence = nil }, "evidence"},
			{"reply without message id", func(r *consent.OptOutRequest) { r.Evidence = consent.Evidence{"text": "TD"} }, "evidence.message_id"},
			{"no source", func(r *consent.OptOutRequest) { r.Source = "" }, "source"},
			{"import", func(r *consent.OptOutRequest) { r.Source = consent.SourceImport }, "import"},
			{"no person", func(r *consent.OptOutRequest) { r.Person = consent.Person{} }, "person"},
			{"wrong channel", func(r *consent.OptOutRequest) { r.Channel = consent.ChannelEmail }, "channel"},
			{"no recorded_by", func(r *consent.OptOutRequest) { r.RecordedBy = "" }, "recorded_by"},
			{"no time", func(r *consent.OptOutRequest) { r.OccurredAt = time.Time{} }, "occurred_at"},
		}
		for _, c := range cases {
			r := optOut(alice, consent.ChannelSMS, consent.SourceOptOutReply, t0)
			c.change(&r)
			n, err := consent.NewLedger(nil, key).OptOut(ctx, db.W, r)
			if n != 0 || kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), c.field) {
				t.Errorf("%s: %d, %v; want EINVALID naming %q", c.name, n, err, c.field)
			}
		}
	})
}

// TestConcurrentRecords has writers race for one person: the chain never
// forks; a loser gets ECONFLICT and succeeds on a retry.
func TestConcurrentRecords(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const writers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		conflicts := 0
		for i := range writers {
			e := grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0.Add(time.Duration(i)*time.Minute))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := db.InTx(ctx, func(tx *sql.Tx) error { return consent.NewLedger(nil, key).Record(ctx, tx, e) })
					if kith.ErrorCode(err) == kith.ECONFLICT {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("record: %v", err)
					}
					return
				}
			}()
		}
		wg.Wait()
		r, err := consent.NewLedger(db.R, key).VerifyChain(ctx, alice)
		if err != nil || !r.OK || r.Events != writers {
			t.Fatalf("chain after racing writers: %+v %v", r, err)
		}
		t.Logf("%d conflicts retried", conflicts)
	})
}
