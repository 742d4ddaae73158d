package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/channel/sms"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// NoAddress is the refusal reason of a customer without an identity on
// the campaign's channel (no active follow for WeCom, no number for SMS).
const NoAddress = "NO_ADDRESS"

// SMSPricePerPartFen is the default estimate of one billed SMS part, in
// fen (Tencent's and Aliyun's list prices are about 0.045 yuan).
const SMSPricePerPartFen = 4.5

// planned is the gate's answer about one recipient.
type planned struct {
	customer int64
	sender   string
	allowed  bool
	deferred bool // quiet hours now: planned, sent when they end
	reason   string
	detail   string
}

// evaluate snapshots c's audience and asks the gate about every
// recipient, DecideChunk at a time.
func (s *Service) evaluate(ctx context.Context, c Campaign) ([]planned, error) {
	ids, err := s.audience.Resolve(ctx, c.Audience)
	if err != nil {
		return nil, err
	}
	return s.evaluateIDs(ctx, c, ids)
}

// evaluateIDs asks the gate about the customers ids of c's audience.
func (s *Service) evaluateIDs(ctx context.Context, c Campaign, ids []int64) ([]planned, error) {
	addrs, err := s.addressesOf(ctx, c, ids)
	if err != nil {
		return nil, err
	}
	return s.decide(ctx, c, ids, addrs)
}

// decide asks the gate about the customers ids of c's audience, whose
// addresses are addrs.
func (s *Service) decide(ctx context.Context, c Campaign, ids []int64, addrs map[int64]Recipient) ([]planned, error) {
	out := make([]planned, 0, len(ids))
	content := c.Content.gateContent(c.Channel, c.Purpose)
	campaign := strconv.FormatInt(c.ID, 10)
	var reqs []gate.Request
	var idx []int
	flush := func() error {
		if len(reqs) == 0 {
			return nil
		}
		ds, err := s.gate.DecideBatch(ctx, reqs)
		if err != nil {
			return fmt.Errorf("campaign: plan %d: gate: %w", c.ID, err)
		}
		for i, d := range ds {
			p := &out[idx[i]]
			p.allowed, p.reason, p.detail = d.Allowed, string(d.Reason), d.Message
			if d.Reason == gate.QuietHours {
				// Planned all the same: the run waits for the end of the
				// quiet hours.
				p.allowed, p.deferred = true, true
			}
		}
		reqs, idx = reqs[:0], idx[:0]
		return nil
	}
	for _, id := range ids {
		r, ok := addrs[id]
		if !ok {
			out = append(out, planned{customer: id, reason: NoAddress, detail: "The customer has no identity on " + string(c.Channel) + "."})
			continue
		}
		out = append(out, planned{customer: id, sender: r.Sender})
		reqs = append(reqs, s.request(c, campaign, content, r))
		idx = append(idx, len(out)-1)
		if len(reqs) >= s.DecideChunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) request(c Campaign, campaign string, content gate.Content, r Recipient) gate.Request {
	req := gate.Request{Person: r.Person, Channel: c.Channel.consent(), Class: gate.Class(c.Purpose), Campaign: campaign,
		Sender: r.Sender, Type: c.Type, Content: content}
	if c.Purpose == PurposeMarketing {
		req.Purpose = consent.Marketing
	}
	return req
}

// Preview is what a campaign would do if it started now.
type Preview struct {
	Audience  int            // customers in the audience
	Permitted int            // recipients the gate allows (now or after quiet hours)
	Deferred  int            // of them, held by quiet hours now
	Refused   map[string]int // refusals by reason (gate reasons and NO_ADDRESS)
	BySender  map[string]int // permitted recipients by sending member (WeCom)
	// SMSParts is the billed parts of one message; SMSCostFen the estimate
	// for every permitted recipient (0 for other channels).
	SMSParts   int
	SMSCostFen int64
}

// Reasons returns the refusal reasons, most frequent first.
func (p Preview) Reasons() []string {
	keys := slices.Collect(maps.Keys(p.Refused))
	slices.SortFunc(keys, func(a, b string) int {
		if p.Refused[a] != p.Refused[b] {
			return p.Refused[b] - p.Refused[a]
		}
		return strings.Compare(a, b)
	})
	return keys
}

func summarize(c Campaign, rows []planned, pricePerPart float64) Preview {
	p := Preview{Refused: map[string]int{}, BySender: map[string]int{}}
	p.add(rows)
	p.price(c, pricePerPart)
	return p
}

// add counts rows into p.
func (p *Preview) add(rows []planned) {
	p.Audience += len(rows)
	for _, r := range rows {
		if r.allowed {
			p.Permitted++
			if r.deferred {
				p.Deferred++
			}
			p.BySender[r.sender]++
		} else {
			p.Refused[r.reason]++
		}
	}
}

// price estimates the SMS cost of p's permitted recipients.
func (p *Preview) price(c Campaign, pricePerPart float64) {
	if c.Channel == SMS {
		p.SMSParts = sms.Parts(c.Content.SMSMessage(c.Purpose).Text())
		p.SMSCostFen = int64(float64(p.Permitted*p.SMSParts)*pricePerPart + 0.5)
	}
}

// Preview shows, before sending, the audience's size, how many the gate
// would refuse and why, the recipients per member and the SMS cost. The
// gate records the decisions as asked; nothing is planned or sent.
func (s *Service) Preview(ctx context.Context, id int64) (Preview, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	rows, err := s.evaluate(ctx, c)
	if err != nil {
		return Preview{}, err
	}
	return summarize(c, rows, s.smsPricePerPart(ctx)), nil
}

// Plan starts a scheduled campaign: it moves it to running, snapshots its
// audience, asks the gate about every recipient and writes one delivery
// row each, refused (with the reason) or planned. Planning again is
// harmless: a planned campaign is left as it is. A campaign with no
// permitted recipient fails, its reason listing the refusals.
func (s *Service) Plan(ctx context.Context, id int64) (Preview, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	switch {
	case c.State == Scheduled:
		if err := s.transition(ctx, s.db.W, id, Scheduled, Running, ""); err != nil {
			return Preview{}, err
		}
	case c.State == Running && !c.PlannedAt.IsZero():
		return Preview{}, nil
	case c.State != Running:
		return Preview{}, kith.Errorf(kith.ECONFLICT, "campaign: %d is %s; only a scheduled campaign starts", id, c.State)
	}
	now := s.clock.Now().UTC()
	p, err := s.planAll(ctx, c, now)
	if err != nil {
		return Preview{}, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE campaigns SET planned_at = $1, updated_at = $1 WHERE id = $2", now, id); err != nil {
			return err
		}
		if p.Permitted > 0 {
			return nil
		}
		var why []string
		for _, r := range p.Reasons() {
			why = append(why, fmt.Sprintf("%s %d", r, p.Refused[r]))
		}
		reason := "No recipient is permitted"
		if len(why) > 0 {
			reason += ": " + strings.Join(why, ", ")
		}
		return s.transition(ctx, tx, id, Running, Failed, reason)
	})
	if err != nil {
		return p, fmt.Errorf("campaign: plan %d: %w", id, err)
	}
	return p, nil
}

var _ store.Querier = (*sql.Tx)(nil)
