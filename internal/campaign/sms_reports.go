package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/store"
)

// TakeSMSReports keeps the delivery reports of one provider's push and
// applies them to the campaign deliveries they are about, in one
// transaction: a sent delivery whose provider id (Tencent's SerialNo,
// Aliyun's BizId, shared by a request's numbers) and number — the person
// its permit was consumed for — match a report becomes delivered, or
// failed with the carrier's code as its reason and the provider's text as
// its detail. A report is kept once (by provider, id, number and outcome),
// so a push the provider sends again changes nothing; a report that comes
// before its send was settled waits and is applied by the campaign's next
// poll (ApplySMSReports). A report that matches no sent delivery but names
// its batch (the session context, SMSSession) settles the number's unknown
// delivery in that batch — one whose answer was lost, which is never resent
// — as delivered or failed: the provider's report is proof of what became
// of it. It returns how many reports were new and how many deliveries they
// moved.
func (s *Service) TakeSMSReports(ctx context.Context, reports []sms.Report) (stored, applied int, err error) {
	now := s.clock.Now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		stored, applied = 0, 0
		for _, r := range reports {
			at := r.At.UTC()
			if at.IsZero() || at.After(now) {
				at = now
			}
			var id int64
			err := tx.QueryRowContext(ctx, `INSERT INTO sms_reports (provider, provider_id, phone, delivered, code, description, session, reported_at, received_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (provider, provider_id, phone, delivered) DO NOTHING RETURNING id`,
				r.Provider, r.ProviderID, r.Phone, r.Delivered, clip(r.Code), clip(r.Description), clip(r.Session), at, now).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue // pushed again
			}
			if err != nil {
				return err
			}
			stored++
			ok, err := applyReport(ctx, tx, pendingReport{id: id, providerID: r.ProviderID, phone: r.Phone, delivered: r.Delivered,
				code: r.Code, description: r.Description, session: clip(r.Session), at: at}, now)
			if err != nil {
				return err
			}
			if ok {
				applied++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("campaign: sms reports: %w", err)
	}
	return stored, applied, nil
}

// pendingReport is a kept report not applied yet.
type pendingReport struct {
	id                      int64
	providerID, phone, code string
	description, session    string
	delivered               bool
	at                      time.Time
}

// SMSSession is the session context an SMS batch is sent with (Tencent's
// SessionContext, Aliyun's OutId); the provider echoes it in the batch's
// delivery reports.
func SMSSession(campaignID, batchID int64) string {
	return fmt.Sprintf("campaign-%d-batch-%d", campaignID, batchID)
}

// parseSMSSession reads the campaign and batch of an SMSSession.
func parseSMSSession(s string) (campaignID, batchID int64, ok bool) {
	rest, found := strings.CutPrefix(s, "campaign-")
	if !found {
		return 0, 0, false
	}
	c, b, found := strings.Cut(rest, "-batch-")
	if !found {
		return 0, 0, false
	}
	campaignID, err1 := strconv.ParseInt(c, 10, 64)
	batchID, err2 := strconv.ParseInt(b, 10, 64)
	// Only the form SMSSession writes ("+2" or "02" names no batch).
	if err1 != nil || err2 != nil || campaignID <= 0 || batchID <= 0 || SMSSession(campaignID, batchID) != s {
		return 0, 0, false
	}
	return campaignID, batchID, true
}

// applyReport moves the sent delivery a report is about and marks the
// report applied; a report whose delivery is not settled yet (or is not
// a campaign's: a test send) stays pending. It reports whether a delivery
// moved.
func applyReport(ctx context.Context, q store.Querier, r pendingReport, now time.Time) (bool, error) {
	var found int
	// The literal provider_id <> '' lets SQLite use the partial index.
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM campaign_deliveries d JOIN gate_sends g ON g.permit_id = d.permit_id
		WHERE d.channel = 'sms' AND d.provider_id <> '' AND d.provider_id = $1 AND g.person_kind = 'phone' AND g.person_key = $2`,
		r.providerID, r.phone).Scan(&found); err != nil {
		return false, err
	}
	state, reason, detail := DeliveryDelivered, "", ""
	if !r.delivered {
		state, reason, detail = DeliveryFailed, r.code, r.description
		if reason == "" {
			reason = "UNDELIVERED"
		}
	}
	var res sql.Result
	var err error
	if found > 0 {
		res, err = q.ExecContext(ctx, `UPDATE campaign_deliveries SET state = $1, reason = $2, detail = $3, updated_at = $4
			WHERE channel = 'sms' AND provider_id <> '' AND provider_id = $5 AND state = 'sent'
			AND permit_id IN (SELECT permit_id FROM gate_sends WHERE person_kind = 'phone' AND person_key = $6)`,
			state, clip(reason), clip(detail), r.at, r.providerID, r.phone)
	} else {
		// No sent delivery has the id: the answer that would have given it
		// may have been lost, leaving the delivery unknown. The session
		// names the batch, and the number the person in it.
		campaignID, batchID, ok := parseSMSSession(r.session)
		if !ok {
			return false, nil
		}
		if r.delivered {
			detail = "The answer to the send was lost; the provider's delivery report settled it."
		}
		res, err = q.ExecContext(ctx, `UPDATE campaign_deliveries SET state = $1, reason = $2, detail = $3, provider_id = $4, updated_at = $5
			WHERE campaign_id = $6 AND batch_id = $7 AND channel = 'sms' AND state = 'unknown'
			AND permit_id IN (SELECT permit_id FROM gate_sends WHERE person_kind = 'phone' AND person_key = $8)`,
			state, clip(reason), clip(detail), r.providerID, r.at, campaignID, batchID, r.phone)
	}
	if err != nil {
		return false, err
	}
	moved, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if found == 0 && moved == 0 {
		return false, nil // not yet settled (or no campaign's): stays pending
	}
	// Applied either way: a delivery already delivered or failed (an
	// earlier report) keeps its first outcome.
	if _, err := q.ExecContext(ctx, "UPDATE sms_reports SET applied_at = $1 WHERE id = $2", now, r.id); err != nil {
		return false, err
	}
	return moved > 0, nil
}

// ApplySMSReports applies the kept reports about campaign id's deliveries
// that came before their sends were settled (within FollowFor). It
// returns how many deliveries moved.
func (s *Service) ApplySMSReports(ctx context.Context, id int64) (int, error) {
	// Reports older than FollowFor are not looked at again: one that never
	// found its delivery (a test send's, another number's) stays kept.
	// Those matched by id, and those naming one of the campaign's batches
	// (which may settle an unknown delivery).
	rows, err := s.db.R.QueryContext(ctx, `SELECT r.id, r.provider_id, r.phone, r.delivered, r.code, r.description, r.session, r.reported_at FROM sms_reports r
		WHERE r.applied_at IS NULL AND r.received_at >= $2 AND (r.session LIKE $3 OR EXISTS (SELECT 1 FROM campaign_deliveries d
			WHERE d.campaign_id = $1 AND d.channel = 'sms' AND d.provider_id <> '' AND d.provider_id = r.provider_id)) ORDER BY r.id`,
		id, s.clock.Now().UTC().Add(-FollowFor), fmt.Sprintf("campaign-%d-batch-%%", id))
	if err != nil {
		return 0, fmt.Errorf("campaign: sms reports of %d: %w", id, err)
	}
	var pending []pendingReport
	for rows.Next() {
		var r pendingReport
		if err := rows.Scan(&r.id, &r.providerID, &r.phone, &r.delivered, &r.code, &r.description, &r.session, &r.at); err != nil {
			rows.Close()
			return 0, fmt.Errorf("campaign: sms reports of %d: %w", id, err)
		}
		pending = append(pending, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(pending) == 0 {
		return 0, err
	}
	now := s.clock.Now().UTC()
	moved := 0
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		moved = 0
		for _, r := range pending {
			ok, err := applyReport(ctx, tx, r, now)
			if err != nil {
				return err
			}
			if ok {
				moved++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("campaign: sms reports of %d: %w", id, err)
	}
	return moved, nil
}

// KeepSMSReports is how long a delivery report is kept: past FollowFor no
// poll looks at it again, and a day more lets a late poll finish. A report
// holds a phone number, so it is not kept longer than it can serve (a
// report the provider pushes again after that is stored anew and changes
// nothing: its delivery has settled).
const KeepSMSReports = FollowFor + 24*time.Hour

// pruneBatch bounds how many reports one statement deletes, and
// pruneBatches how many statements one prune runs (the rest waits for the
// next tick), so a prune never holds the writer for long.
const (
	pruneBatch   = 1000
	pruneBatches = 20
)

// PruneSMSReports deletes the delivery reports received more than
// KeepSMSReports ago and returns how many it deleted. Ids grow with time,
// so each statement looks only at the oldest reports.
func (s *Service) PruneSMSReports(ctx context.Context) (int, error) {
	cutoff := s.clock.Now().UTC().Add(-KeepSMSReports)
	total := 0
	for range pruneBatches {
		res, err := s.db.W.ExecContext(ctx, `DELETE FROM sms_reports WHERE id IN (
			SELECT id FROM sms_reports ORDER BY id LIMIT $1) AND received_at < $2`, pruneBatch, cutoff)
		if err != nil {
			return total, fmt.Errorf("campaign: prune sms reports: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("campaign: prune sms reports: %w", err)
		}
		total += int(n)
		if n < pruneBatch {
			break
		}
	}
	return total, nil
}
