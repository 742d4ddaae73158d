package providers

import (
	"context"
	"regexp"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// Tester sends the settings page's test messages. A test message is a
// service message to the address or number the operator typed: it goes
// through the gate like every other message (service class, so no
// marketing consent is needed, but an opt-out or suppression of that
// address still refuses it), its permit is consumed before the send, and
// the caller audits it.
type Tester struct {
	DB       *store.DB
	Gate     *gate.Gate
	Clock    kith.Clock
	TokenKey []byte
}

// TestResult is what a test send did.
type TestResult struct {
	DecisionID string
	Result     channel.Result
}

// decide asks the gate for one service message and returns its permit, or
// the refusal as an EFORBIDDEN error.
func (t *Tester) decide(ctx context.Context, p consent.Person, ch consent.Channel, by string, c gate.Content) (gate.Decision, error) {
	d, err := t.Gate.Decide(ctx, gate.Request{Person: p, Channel: ch, Class: gate.Service, Sender: "settings-test:" + by, Content: c})
	if err != nil {
		return d, err
	}
	if !d.Allowed {
		return d, kith.Errorf(kith.EFORBIDDEN, "The gate refused the test message (%s): %s", d.Reason, d.Message)
	}
	return d, nil
}

// Email sends a test e-mail to addr with set.
func (t *Tester) Email(ctx context.Context, set Settings, addr, by string) (TestResult, error) {
	norm, err := protect.NormalizeEmail(addr)
	if err != nil {
		return TestResult{}, err
	}
	claim := &channel.Claimer{DB: t.DB, Gate: t.Gate}
	m, err := NewMailer(set, claim, t.Clock, t.TokenKey)
	if err != nil {
		return TestResult{}, err
	}
	defer m.Close()
	msg := email.Message{Class: gate.Service, Subject: "Kith test message / 测试邮件",
		Text: "This is a test message from Kith's provider settings. 这是一封来自 Kith 服务商设置的测试邮件。"}
	d, err := t.decide(ctx, consent.Email(norm), consent.ChannelEmail, by, gate.Content{Subject: msg.Subject, Body: msg.Text})
	if err != nil {
		return TestResult{DecisionID: d.ID}, err
	}
	res, err := m.Send(ctx, []gate.Permit{d.Permit}, msg, nil)
	if err != nil {
		return TestResult{DecisionID: d.ID}, err
	}
	return TestResult{DecisionID: d.ID, Result: res[0]}, nil
}

var smsVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}|\{([0-9]+)\}`)

// SMS sends a test SMS to number with the template id given (a
// notification template; each of its variables gets "1234").
func (t *Tester) SMS(ctx context.Context, set Settings, number, templateID, by string) (TestResult, error) {
	if _, err := protect.NormalizePhone(number); err != nil {
		return TestResult{}, err
	}
	var tpl *SMSTemplate
	for i := range set.SMS.Templates {
		if set.SMS.Templates[i].ID == templateID {
			tpl = &set.SMS.Templates[i]
		}
	}
	if tpl == nil {
		return TestResult{}, kith.Errorf(kith.EINVALID, "template: %q is not one of the saved templates", templateID)
	}
	if tpl.Marketing {
		return TestResult{}, kith.Errorf(kith.EINVALID, "template: a test is sent with a notification template, not a promotion one")
	}
	m := sms.Message{Sign: set.SMS.SignName, Template: sms.Template{ID: tpl.ID, Text: tpl.Text}, Session: "settings-test"}
	seen := map[string]bool{}
	for _, v := range smsVar.FindAllStringSubmatch(tpl.Text, -1) {
		name := v[1] + v[2]
		if !seen[name] {
			seen[name] = true
			m.Params = append(m.Params, sms.Param{Name: name, Value: "1234"})
		}
	}
	if err := m.Validate(); err != nil {
		return TestResult{}, err
	}
	s, err := NewSMS(set, &channel.Claimer{DB: t.DB, Gate: t.Gate}, t.Clock)
	if err != nil {
		return TestResult{}, err
	}
	d, err := t.decide(ctx, consent.Phone(number), consent.ChannelSMS, by, m.Content())
	if err != nil {
		return TestResult{DecisionID: d.ID}, err
	}
	res, err := s.Send(ctx, []gate.Permit{d.Permit}, m)
	if err != nil {
		return TestResult{DecisionID: d.ID}, err
	}
	return TestResult{DecisionID: d.ID, Result: res[0]}, nil
}
