package campaign

import (
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/gate"
)

// EmailVariables are the variables an e-mail campaign may use besides the
// built-in ones ({{email}}, {{unsubscribe_url}}, {{unsubscribe_mailto}}):
// {{name}} is the customer's name.
var EmailVariables = []string{"name"}

// EmailText is the plain-text part of an e-mail: Text, or made from HTML
// when only that was written.
func (c Content) EmailText() string {
	if c.Text != "" || c.HTML == "" {
		return c.Text
	}
	return email.TextFromHTML(c.HTML)
}

// EmailMessage returns the e-mail content as the email adapter sends it.
func (c Content) EmailMessage(p Purpose) email.Message {
	class := gate.Service
	if p == PurposeMarketing {
		class = gate.Marketing
	}
	return email.Message{Class: class, Subject: c.Subject, Text: c.EmailText(), HTML: c.HTML}
}
