// Package wecomwelcome sends WeCom welcome messages (欢迎语,
// send_welcome_msg) for internal/acquisition: the only automated 1:1
// message WeCom allows, once per welcome code and within 20 seconds of the
// customer's arrival.
//
// Each send takes a gate.Permit. The attempt is written to welcome_sends
// (keyed by the welcome code) and the permit consumed in one transaction
// before WeCom is called, so a code is never used twice, even when the
// event that carried it is applied again after a crash: an attempt whose
// outcome is unknown is recorded as failed, never retried into a
// duplicate.
package wecomwelcome

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
)

// Statuses of a welcome send.
const (
	StatusSending = "sending" // recorded, WeCom not answered yet (or the process died meanwhile)
	StatusSent    = "sent"
	StatusFailed  = "failed"  // WeCom refused (errcode and meaning in reason) or did not answer
	StatusRefused = "refused" // the gate refused
)

// Sender sends welcome messages. It implements acquisition.Welcomer.
type Sender struct {
	db     *store.DB
	gate   *gate.Gate
	client func(context.Context) (*wecom.Client, error)
	clock  kith.Clock
	log    *slog.Logger
}

// New returns a Sender that calls WeCom with the client client returns.
func New(db *store.DB, g *gate.Gate, client func(context.Context) (*wecom.Client, error), clock kith.Clock, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{db: db, gate: g, client: client, clock: clock, log: log}
}

// Attempted reports whether code was attempted or refused before.
func (s *Sender) Attempted(ctx context.Context, code string) (bool, error) {
	var n int
	if err := s.db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM welcome_sends WHERE welcome_code = $1", code).Scan(&n); err != nil {
		return false, fmt.Errorf("wecomwelcome: look up code: %w", err)
	}
	return n > 0, nil
}

func (s *Sender) insert(ctx context.Context, q store.Querier, w acquisition.WelcomeSend, status, permit, reason string) (bool, error) {
	var ch any
	if w.ChannelID != 0 {
		ch = w.ChannelID
	}
	now := s.clock.Now()
	var finished any
	if status != StatusSending {
		finished = now
	}
	res, err := q.ExecContext(ctx, `INSERT INTO welcome_sends (welcome_code, channel_id, external_userid, member_userid, permit_id, status, reason, attempted_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (welcome_code) DO NOTHING`,
		w.Code, ch, w.ExternalUserID, w.Member, permit, status, reason, now, finished)
	if err != nil {
		return false, fmt.Errorf("wecomwelcome: record: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Refused records that the gate refused the message for this code.
func (s *Sender) Refused(ctx context.Context, w acquisition.WelcomeSend, reason string) error {
	_, err := s.insert(ctx, s.db.W, w, StatusRefused, "", reason)
	return err
}

// SendWelcome sends w with permit p: it records the attempt and consumes p
// in one transaction, calls send_welcome_msg once, and records the
// outcome. A code attempted before is not sent again (nil is returned). An
// error means nothing was recorded and nothing sent.
func (s *Sender) SendWelcome(ctx context.Context, p gate.Permit, w acquisition.WelcomeSend) error {
	client, err := s.client(ctx)
	if err != nil {
		return err
	}
	fresh := false
	var refusal *gate.Refusal
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if fresh, err = s.insert(ctx, tx, w, StatusSending, p.ID(), ""); err != nil || !fresh {
			return err
		}
		return s.gate.Consume(ctx, tx, p)
	})
	if errors.As(err, &refusal) {
		// Consent or a cap changed since the decision: nothing is sent.
		return s.Refused(ctx, w, string(refusal.Reason)+": "+refusal.Message)
	}
	if err != nil || !fresh {
		return err
	}
	msg := wecom.WelcomeMsg{WelcomeCode: w.Code}
	if w.Text != "" {
		msg.Text = &wecom.WelcomeText{Content: w.Text}
	}
	for _, a := range w.Attachments {
		msg.Attachments = append(msg.Attachments, attachment(a))
	}
	sendErr := client.SendWelcomeMsg(ctx, msg)
	status, code, reason := StatusSent, 0, ""
	if sendErr != nil {
		status, code = StatusFailed, wecom.ErrorCode(sendErr)
		switch {
		case code != 0:
			reason = fmt.Sprintf("WeCom error %d: %s", code, wecom.Meaning(code))
		case kith.ErrorCode(sendErr) == kith.EINVALID:
			reason = "Not sent: " + kith.ErrorMessage(sendErr) // refused before the call
		default:
			// No answer: WeCom may have sent it. Not retried: a duplicate
			// is worse than a missing welcome.
			reason = "No answer from WeCom (" + kith.ErrorMessage(sendErr) + "); the outcome is unknown and the message is not sent again."
			if kith.ErrorCode(sendErr) == kith.EINTERNAL {
				reason = "No answer from WeCom; the outcome is unknown and the message is not sent again."
			}
		}
		s.log.Warn("wecomwelcome: welcome message not sent", "member", w.Member, "errcode", code)
	}
	_, err = s.db.W.ExecContext(context.WithoutCancel(ctx), "UPDATE welcome_sends SET status = $1, errcode = $2, reason = $3, finished_at = $4 WHERE welcome_code = $5",
		status, code, reason, s.clock.Now(), w.Code)
	if err != nil {
		return fmt.Errorf("wecomwelcome: record the outcome: %w", err)
	}
	return nil
}

func attachment(a acquisition.Attachment) wecom.WelcomeAttachment {
	switch a.Type {
	case acquisition.AttachImage:
		return wecom.WelcomeAttachment{MsgType: "image", Image: &wecom.WelcomeImage{MediaID: a.MediaID, PicURL: a.PicURL}}
	case acquisition.AttachLink:
		return wecom.WelcomeAttachment{MsgType: "link", Link: &wecom.WelcomeLink{Title: a.Title, PicURL: a.PicURL, Desc: a.Desc, URL: a.URL}}
	}
	return wecom.WelcomeAttachment{MsgType: "miniprogram", MiniProgram: &wecom.WelcomeMiniProgram{Title: a.Title, PicMediaID: a.MediaID, AppID: a.AppID, Page: a.Page}}
}

// Counts returns how many welcome sends of a channel ended in each status.
func Counts(ctx context.Context, q store.Querier, channelID int64) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, "SELECT status, COUNT(*) FROM welcome_sends WHERE channel_id = $1 GROUP BY status", channelID)
	if err != nil {
		return nil, fmt.Errorf("wecomwelcome: counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Failure is a welcome message that was not sent, with the reason.
type Failure struct {
	ExternalUserID string
	Member         string
	Status         string // failed or refused
	Reason         string
	At             time.Time
}

// RecentFailures returns the newest welcome messages of a channel that were
// not sent, at most limit.
func RecentFailures(ctx context.Context, q store.Querier, channelID int64, limit int) ([]Failure, error) {
	rows, err := q.QueryContext(ctx, `SELECT external_userid, member_userid, status, reason, attempted_at FROM welcome_sends
		WHERE channel_id = $1 AND status IN ('failed', 'refused') ORDER BY attempted_at DESC LIMIT $2`, channelID, limit)
	if err != nil {
		return nil, fmt.Errorf("wecomwelcome: failures: %w", err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.ExternalUserID, &f.Member, &f.Status, &f.Reason, &f.At); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
