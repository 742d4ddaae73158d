package acquisition

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Arrival is a customer adding a member (add_external_contact or
// add_half_external_contact), as the event and the customer's details say.
type Arrival struct {
	Member         string
	ExternalUserID string
	Name           string // the customer's name, for the welcome message
	State          string // the code's state or the link's customer_channel
	WelcomeCode    string // empty when WeCom gave none
	EventTime      int64  // the event's CreateTime, unix seconds
}

// Arrive greets and tags an arriving customer and returns the write that
// records the arrival, to be committed after the follow relation is
// written (in the same transaction). It runs outside any transaction and
// may run more than once for one event: a welcome code is used at most once
// (Welcomer records it first) and mark_tag is idempotent.
//
// The welcome message goes out first, as WeCom accepts its code for 20
// seconds only. A refusal by the gate or by WeCom is recorded, not retried.
func (s *Service) Arrive(ctx context.Context, a Arrival) (func(context.Context, store.Querier) error, error) {
	var ch *Channel
	var err error
	if a.State != "" {
		if ch, err = channelByState(ctx, s.db.R, a.State); err != nil {
			return nil, err
		}
	}
	if a.WelcomeCode != "" && s.welcomer != nil {
		if err := s.welcome(ctx, ch, a); err != nil {
			return nil, err
		}
	}
	if ch == nil {
		return nil, nil
	}
	var tagged []string
	tagsErr := ""
	if len(ch.Tags) > 0 {
		err := s.platform.MarkTags(ctx, a.Member, a.ExternalUserID, ch.Tags)
		switch kith.ErrorCode(err) {
		case "":
			tagged = ch.Tags
		case kith.EINVALID, kith.ENOTFOUND:
			tagsErr = kith.ErrorMessage(err) // WeCom refused for good (a tag deleted, the relation gone)
		default:
			return nil, err // retried with the event
		}
	}
	at := time.Unix(a.EventTime, 0).UTC()
	return func(ctx context.Context, q store.Querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO acq_arrivals (channel_id, external_userid, member_userid, event_time, arrived_at, tags, tags_error)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (member_userid, external_userid, event_time) DO NOTHING`,
			ch.ID, a.ExternalUserID, a.Member, a.EventTime, at, strings.Join(tagged, ","), tagsErr)
		if err != nil {
			return fmt.Errorf("acquisition: record arrival: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // applied before
		}
		if len(tagged) > 0 {
			// WeCom sends no callback for tags marked through the API.
			if err := customer.MarkTags(ctx, q, a.ExternalUserID, a.Member, tagged, nil); err != nil {
				return err
			}
		}
		return s.checkCap(ctx, q, ch, a.Member, at)
	}, nil
}

// checkCap asks for a refresh when the arrival took the member to the cap.
func (s *Service) checkCap(ctx context.Context, q store.Querier, ch *Channel, member string, at time.Time) error {
	if ch.DailyCap == 0 || s.OnCapReached == nil {
		return nil
	}
	from, to := s.day(at)
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM follows WHERE state = $1 AND member_userid = $2 AND added_at >= $3 AND added_at < $4",
		ch.State, member, from, to).Scan(&n)
	if err != nil {
		return fmt.Errorf("acquisition: count arrivals: %w", err)
	}
	if n >= ch.DailyCap {
		return s.OnCapReached(ctx, q, ch.ID)
	}
	return nil
}

// welcome sends the channel's welcome message, or the default, once.
func (s *Service) welcome(ctx context.Context, ch *Channel, a Arrival) error {
	msg := (*Welcome)(nil)
	if ch != nil {
		msg = ch.Welcome
	}
	if msg.Empty() {
		def, err := s.DefaultWelcome(ctx)
		if err != nil {
			return err
		}
		msg = def
	}
	if msg.Empty() {
		return nil
	}
	done, err := s.welcomer.Attempted(ctx, a.WelcomeCode)
	if err != nil || done {
		return err
	}
	w := WelcomeSend{Code: a.WelcomeCode, ExternalUserID: a.ExternalUserID, Member: a.Member,
		Text: Render(msg.Text, a.Name), Attachments: msg.Attachments}
	if ch != nil {
		w.ChannelID = ch.ID
	}
	body := w.Text
	if body == "" {
		body = "(attachments)"
	}
	d, err := s.gate.Decide(ctx, gate.Request{
		Person: consent.ExternalUser(a.ExternalUserID), Channel: consent.ChannelWeCom, Purpose: consent.Service,
		Class: gate.Service, Sender: a.Member, Type: "welcome", Content: gate.Content{Body: body},
	})
	if err != nil || !d.Allowed {
		reason := string(d.Reason) + ": " + d.Message
		return s.welcomer.Refused(ctx, w, reason)
	}
	// A failure from WeCom is recorded by SendWelcome; only an error before
	// the attempt was recorded comes back, and the event is retried.
	if err := s.welcomer.SendWelcome(ctx, d.Permit, w); err != nil && kith.ErrorCode(err) != kith.EINVALID {
		return err
	}
	return nil
}
