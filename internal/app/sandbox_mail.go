package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// demoEmails is how many demo customers `serve --sandbox` gives an e-mail
// address; every other one also consents to marketing e-mail.
const demoEmails = 40

// sandboxEmails gives the sandbox's first customers demo e-mail addresses
// (@example.com: the sandbox's SMTP sink takes them) and half of them
// consent to marketing e-mail, so an e-mail campaign can be shown end to
// end. It does nothing when addresses exist already.
func sandboxEmails(ctx context.Context, db *store.DB, prot *protect.Protector, ledger *consent.Ledger, clock kith.Clock, log *slog.Logger) {
	if !waitMembers(ctx, db, 1) {
		return
	}
	var have int
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM protected_values WHERE owner_kind = 'customer' AND field = 'email'").Scan(&have); err != nil || have > 0 {
		return
	}
	rows, err := db.R.QueryContext(ctx, "SELECT id FROM customers ORDER BY id LIMIT $1", demoEmails)
	if err != nil {
		log.Warn("sandbox e-mail addresses", "err", err)
		return
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	now := clock.Now()
	n, err := consent.PublishNotice(ctx, db.W, consent.Marketing, "zh-CN", "我们会通过电子邮件向您发送新品和会员优惠，可随时退订。", now)
	if err != nil {
		log.Warn("sandbox e-mail consent notice", "err", err)
		return
	}
	for i, id := range ids {
		addr := fmt.Sprintf("demo-%d@example.com", id)
		if _, err := customer.AddEmail(ctx, db.W, prot, id, addr, customer.EmailFromImport, "sandbox", now); err != nil {
			log.Warn("sandbox e-mail address", "customer", id, "err", err)
			return
		}
		if i%2 == 1 {
			continue
		}
		if err := ledger.Record(ctx, db.W, consent.Event{Person: consent.Email(addr), Purpose: consent.Marketing, Channel: consent.ChannelEmail,
			Action: consent.Grant, Source: consent.SourceCustomer, Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/signup"},
			NoticeVersion: n.Version, NoticeHash: n.TextHash, RecordedBy: "sandbox", OccurredAt: now, ReceivedAt: now}); err != nil {
			log.Warn("sandbox e-mail consent", "customer", id, "err", err)
			return
		}
	}
	log.Info("sandbox: demo customers have e-mail addresses", "customers", len(ids))
}
