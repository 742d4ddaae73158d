package providers_test

import (
	"bytes"
	"context"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/email/smtpsink"
	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/providers"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newStore(t *testing.T, db *store.DB, clock kith.Clock) *providers.Store {
	t.Helper()
	sealer, err := fieldcrypt.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return providers.NewStore(db, sealer, clock)
}

// TestSettingsSealedAndChecked: secrets are sealed at rest (the row holds
// none of them), an empty secret keeps the stored one, a bad field is
// refused with its name, and the version changes with every save.
func TestSettingsSealedAndChecked(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := kith.NewFixedClock(time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC))
		st := newStore(t, db, clock)
		empty, err := st.Get(ctx)
		if err != nil || empty.EmailReady() || empty.SMSReady() {
			t.Fatalf("empty: %+v %v", empty, err)
		}
		smtp := providers.SMTP{Host: "smtp.shop.example", Port: 587, TLS: email.StartTLS, Username: "news", Password: "pw-SECRET-1",
			From: "news@shop.example", PublicURL: "https://kith.shop.example/", PerMinute: 600}
		if err := st.SaveSMTP(ctx, smtp, "user:owner"); err != nil {
			t.Fatal(err)
		}
		pemKey, err := email.GenerateDKIMKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveDKIM(ctx, providers.DKIM{Domain: "Shop.Example", Selector: "kith1", PrivateKey: pemKey}, "user:owner"); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveSMS(ctx, providers.SMS{Provider: providers.Tencent, SecretID: "AKIDx", SecretKey: "sk-SECRET-2", SdkAppID: "1400006666",
			SignName: "小店", Templates: []providers.SMSTemplate{{ID: "1001", Text: "您的订单{1}已发货"}}}, "user:owner"); err != nil {
			t.Fatal(err)
		}
		rows, err := db.R.QueryContext(ctx, "SELECT value FROM settings WHERE key LIKE 'providers.%'")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var v string
			rows.Scan(&v)
			n++
			for _, secret := range []string{"pw-SECRET-1", "sk-SECRET-2", "PRIVATE KEY", pemKey[40:80]} {
				if strings.Contains(v, secret) {
					t.Errorf("a stored row holds a secret in clear: %q", v)
				}
			}
		}
		rows.Close()
		if n != 3 {
			t.Fatalf("%d rows", n)
		}
		got, err := st.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.SMTP.Password != "pw-SECRET-1" || got.SMTP.PublicURL != "https://kith.shop.example" || got.DKIM.Domain != "shop.example" ||
			got.DKIM.PrivateKey != pemKey || got.SMS.SecretKey != "sk-SECRET-2" || !got.EmailReady() || !got.SMSReady() {
			t.Errorf("got %+v", got)
		}
		name, value, err := got.DKIM.Record()
		if err != nil || name != "kith1._domainkey.shop.example" || !strings.HasPrefix(value, "v=DKIM1; k=rsa; p=") {
			t.Errorf("record %q %q %v", name, value, err)
		}
		// An empty password keeps the stored one.
		smtp.Password, smtp.PerMinute = "", 60
		if err := st.SaveSMTP(ctx, smtp, "user:owner"); err != nil {
			t.Fatal(err)
		}
		again, _ := st.Get(ctx)
		if again.SMTP.Password != "pw-SECRET-1" || again.SMTP.PerMinute != 60 || again.Version == got.Version {
			t.Errorf("after a save without password: %+v", again.SMTP)
		}
		for _, c := range []struct {
			v    providers.SMTP
			want string
		}{
			{providers.SMTP{Host: "smtp.x.example", Port: 0, TLS: "starttls", From: "a@x.example", PublicURL: "https://k.example"}, "port"},
			{providers.SMTP{Host: "smtp.x.example", Port: 25, TLS: "none", From: "a@x.example", PublicURL: "https://k.example"}, "TLS"},
			{providers.SMTP{Host: "smtp.x.example", Port: 587, TLS: "starttls", From: "not an address", PublicURL: "https://k.example"}, "from"},
			{providers.SMTP{Host: "smtp.x.example", Port: 587, TLS: "starttls", From: "a@x.example", PublicURL: "http://k.example"}, "public address"},
		} {
			if err := st.SaveSMTP(ctx, c.v, "x"); kith.ErrorCode(err) != kith.EINVALID || !strings.HasPrefix(kith.ErrorMessage(err), c.want) {
				t.Errorf("%+v: %v", c.v, err)
			}
		}
		if err := st.SaveDKIM(ctx, providers.DKIM{Domain: "shop.example", Selector: "kith1", PrivateKey: "not pem"}, "x"); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("bad key: %v", err)
		}
		if err := st.SaveSMS(ctx, providers.SMS{Provider: providers.Tencent, SecretID: "AKIDx", SdkAppID: "abc", SignName: "小店"}, "x"); kith.ErrorCode(err) != kith.EINVALID ||
			!strings.Contains(err.Error(), "SDK app id") {
			t.Errorf("bad app id: %v", err)
		}
	})
}

// TestSendersFollowSettingsAndTestEmail: the Senders make a mailer once
// settings exist and a new one after a change; a test e-mail goes through
// the gate to a real SMTP server.
func TestSendersFollowSettingsAndTestEmail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := kith.NewFixedClock(time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC))
		st := newStore(t, db, clock)
		g := gate.New(db, testKey, clock)
		senders := &providers.Senders{Store: st, Claim: &channel.Claimer{DB: db, Gate: g}, Clock: clock, TokenKey: testKey}
		defer senders.Close()
		if _, err := senders.Mailer(ctx); kith.ErrorCode(err) != kith.EUNAVAILABLE {
			t.Fatalf("no settings: %v", err)
		}
		sink, err := smtpsink.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		host, port, _ := strings.Cut(sink.Addr(), ":")
		p := 0
		for _, c := range port {
			p = p*10 + int(c-'0')
		}
		if err := st.SaveSMTP(ctx, providers.SMTP{Host: host, Port: p, TLS: email.NoTLS, From: "news@shop.example", PublicURL: "http://127.0.0.1:8080"}, "x"); err != nil {
			t.Fatal(err)
		}
		m1, err := senders.Mailer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m2, _ := senders.Mailer(ctx); m2 != m1 {
			t.Error("the mailer was made again without a change")
		}
		set, _ := st.Get(ctx)
		tester := &providers.Tester{DB: db, Gate: g, Clock: clock, TokenKey: testKey}
		res, err := tester.Email(ctx, set, "Operator@Shop.example", "user:owner")
		if err != nil || res.Result.Status != channel.Sent || res.DecisionID == "" {
			t.Fatalf("test e-mail: %+v %v", res, err)
		}
		msgs := sink.Messages()
		if len(msgs) != 1 || msgs[0].To[0] != "operator@shop.example" || !strings.Contains(subjectOf(t, msgs[0].Data), "Kith test message") {
			t.Fatalf("sink got %d messages: %+v", len(msgs), msgs)
		}
		if _, err := tester.Email(ctx, set, "nobody", "user:owner"); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("bad address: %v", err)
		}
		if err := st.SaveSMTP(ctx, providers.SMTP{Host: host, Port: p, TLS: email.NoTLS, From: "hello@shop.example", PublicURL: "http://127.0.0.1:8080"}, "x"); err != nil {
			t.Fatal(err)
		}
		if m3, err := senders.Mailer(ctx); err != nil || m3 == m1 {
			t.Errorf("the mailer was not made again after a change: %v", err)
		}
	})
}

func subjectOf(t *testing.T, data []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
