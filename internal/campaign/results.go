package campaign

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// OptOutWindow is how long after a recipient was sent a campaign an
// opt-out on the campaign's channel counts as an opt-out after it.
const OptOutWindow = 7 * 24 * time.Hour

// Summary is a campaign's results as the console and the API show them.
// Every number counts deliveries (one per recipient):
//   - Recipients: every delivery row (the audience snapshot).
//   - Refused: refused by the gate, at planning or at hand-over, by reason
//     (NO_ADDRESS for no identity on the channel).
//   - Planned: Recipients − Refused: every recipient the gate let through.
//   - Waiting: still planned or claimed (not handed over yet).
//   - Sent: accepted by the platform: sent, delivered, or failed after it
//     was accepted (a provider id is known).
//   - Delivered: the platform reported it delivered (WeCom: the member
//     confirmed and the customer received it).
//   - Failed: failed, by reason; Unknown: in doubt after a crash, never
//     resent; Cancelled: planned when the campaign was cancelled.
//   - OptedOut: recipients sent the campaign (sent or delivered) whose
//     consent on the campaign's channel was withdrawn or refused — a
//     withdraw or refuse event in the consent ledger for the person the
//     message went to (the permit's person), of any purpose and source
//     (an unsubscribe link, a "T" reply, a deleted WeCom contact, the
//     console) — at or after their send and less than OptOutWindow later.
//     Counted once per recipient, by the source of the first such event.
//   - Unconfirmed (WeCom group messages and moments): members whose tasks
//     wait for their confirmation, with how many of their customers wait.
type Summary struct {
	Recipients, Planned, Waiting, Sent, Delivered, Unknown, Cancelled int
	Refused, Failed                                                   int
	RefusedBy, FailedBy                                               map[string]int
	OptedOut                                                          int
	OptedOutBy                                                        map[string]int // by consent event source
	Unconfirmed                                                       map[string]int // member → customers waiting
}

// Summarize counts campaign id's results (see Summary).
func (s *Service) Summarize(ctx context.Context, id int64) (Summary, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{RefusedBy: map[string]int{}, FailedBy: map[string]int{}, OptedOutBy: map[string]int{}, Unconfirmed: map[string]int{}}
	rows, err := s.db.R.QueryContext(ctx, `SELECT state, reason, provider_id <> '', COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1
		GROUP BY state, reason, provider_id <> ''`, id)
	if err != nil {
		return sum, fmt.Errorf("campaign: results %d: %w", id, err)
	}
	for rows.Next() {
		var state, reason string
		var accepted bool
		var n int
		if err := rows.Scan(&state, &reason, &accepted, &n); err != nil {
			rows.Close()
			return sum, fmt.Errorf("campaign: results %d: %w", id, err)
		}
		sum.Recipients += n
		switch state {
		case DeliveryRefused:
			sum.Refused += n
			sum.RefusedBy[reason] += n
		case DeliveryPlanned, DeliveryClaimed:
			sum.Waiting += n
		case DeliverySent:
			sum.Sent += n
		case DeliveryDelivered:
			sum.Sent += n
			sum.Delivered += n
		case DeliveryFailed:
			sum.Failed += n
			sum.FailedBy[reason] += n
			if accepted {
				sum.Sent += n
			}
		case DeliveryUnknown:
			sum.Unknown += n
		case DeliveryCancelled:
			sum.Cancelled += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sum, err
	}
	sum.Planned = sum.Recipients - sum.Refused
	outs, err := s.optedOut(ctx, id)
	if err != nil {
		return sum, err
	}
	for _, o := range outs {
		sum.OptedOut++
		sum.OptedOutBy[o.Source]++
	}
	if c.Channel.memberConfirmed() {
		rows, err := s.db.R.QueryContext(ctx, "SELECT sender, COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1 AND state = 'sent' GROUP BY sender", id)
		if err != nil {
			return sum, fmt.Errorf("campaign: results %d: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			var m string
			var n int
			if err := rows.Scan(&m, &n); err != nil {
				return sum, err
			}
			sum.Unconfirmed[m] = n
		}
		return sum, rows.Err()
	}
	return sum, nil
}

// OptOut is a recipient who opted out after being sent a campaign.
type OptOut struct {
	CustomerID int64
	SentAt     time.Time
	At         time.Time // the opt-out event's occurred_at
	Source     string    // the consent event's source
}

// optedOut returns, by customer, the first opt-out after the send within
// OptOutWindow (see Summary). The send is the permit's consumption
// (gate_sends), which also names the person the message went to.
func (s *Service) optedOut(ctx context.Context, id int64) (map[int64]OptOut, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT d.customer_id, g.at, e.occurred_at, e.source FROM campaign_deliveries d
		JOIN gate_sends g ON g.permit_id = d.permit_id
		JOIN consent_events e ON e.person_kind = g.person_kind AND e.person_key = g.person_key AND e.channel = g.channel
		WHERE d.campaign_id = $1 AND d.permit_id <> '' AND d.state IN ('sent', 'delivered') AND e.action IN ('withdraw', 'refuse')
		AND e.occurred_at >= g.at ORDER BY d.customer_id, e.occurred_at`, id)
	if err != nil {
		return nil, fmt.Errorf("campaign: opt-outs of %d: %w", id, err)
	}
	defer rows.Close()
	out := map[int64]OptOut{}
	for rows.Next() {
		var o OptOut
		if err := rows.Scan(&o.CustomerID, &o.SentAt, &o.At, &o.Source); err != nil {
			return nil, fmt.Errorf("campaign: opt-outs of %d: %w", id, err)
		}
		if _, seen := out[o.CustomerID]; seen || o.At.Sub(o.SentAt) >= OptOutWindow {
			continue
		}
		out[o.CustomerID] = o
	}
	return out, rows.Err()
}

// Point is one step of a campaign's results over time: messages handed
// over (Sent, by their batch's time), delivered (by the time the platform
// reported it) and opt-outs after the campaign (by their time).
type Point struct {
	At                        time.Time
	Sent, Delivered, OptedOut int
}

// Series is a campaign's results over time, by hour (a campaign of up to
// three days) or by day, in the instance's time zone; steps with nothing
// are included, so the points are evenly spaced.
type Series struct {
	Step   time.Duration
	Points []Point
}

// maxSeriesPoints bounds a series (a campaign running for years).
const maxSeriesPoints = 400

// Timeline returns campaign id's Series.
func (s *Service) Timeline(ctx context.Context, id int64) (Series, error) {
	counts := map[time.Time]*Point{}
	at := func(t time.Time) *Point {
		h := t.UTC().Truncate(time.Hour)
		p := counts[h]
		if p == nil {
			p = &Point{At: h}
			counts[h] = p
		}
		return p
	}
	hour := hourOf(s.db.Dialect, "b.marked_at")
	if err := s.countByHour(ctx, `SELECT `+hour+`, COUNT(*) FROM campaign_deliveries d JOIN campaign_batches b ON b.id = d.batch_id
		WHERE d.campaign_id = $1 AND (d.state IN ('sent', 'delivered') OR d.state = 'failed' AND d.provider_id <> '') GROUP BY `+hour, id,
		func(t time.Time, n int) { at(t).Sent += n }); err != nil {
		return Series{}, err
	}
	hour = hourOf(s.db.Dialect, "updated_at")
	if err := s.countByHour(ctx, `SELECT `+hour+`, COUNT(*) FROM campaign_deliveries WHERE campaign_id = $1 AND state = 'delivered' GROUP BY `+hour, id,
		func(t time.Time, n int) { at(t).Delivered += n }); err != nil {
		return Series{}, err
	}
	outs, err := s.optedOut(ctx, id)
	if err != nil {
		return Series{}, err
	}
	for _, o := range outs {
		at(o.At).OptedOut++
	}
	return bucket(counts, s.loc), nil
}

// hourOf is the SQL of col's UTC hour as text "YYYY-MM-DD HH" (times are
// stored in UTC).
func hourOf(d store.Dialect, col string) string {
	if d == store.Postgres {
		return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
	}
	return "substr(" + col + ", 1, 13)"
}

func (s *Service) countByHour(ctx context.Context, q string, id int64, add func(time.Time, int)) error {
	rows, err := s.db.R.QueryContext(ctx, q, id)
	if err != nil {
		return fmt.Errorf("campaign: timeline %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			return fmt.Errorf("campaign: timeline %d: %w", id, err)
		}
		t, err := time.Parse("2006-01-02 15", h)
		if err != nil {
			return fmt.Errorf("campaign: timeline %d: hour %q: %w", id, h, err)
		}
		add(t, n)
	}
	return rows.Err()
}

// bucket spreads hourly counts over evenly spaced steps: hours when they
// span at most three days, else days in loc.
func bucket(counts map[time.Time]*Point, loc *time.Location) Series {
	if len(counts) == 0 {
		return Series{Step: time.Hour}
	}
	hours := make([]time.Time, 0, len(counts))
	for h := range counts {
		hours = append(hours, h)
	}
	slices.SortFunc(hours, func(a, b time.Time) int { return a.Compare(b) })
	first, last := hours[0], hours[len(hours)-1]
	ser := Series{Step: time.Hour}
	key := func(t time.Time) time.Time { return t.In(loc) }
	if last.Sub(first) > 72*time.Hour {
		ser.Step = 24 * time.Hour
		key = func(t time.Time) time.Time {
			l := t.In(loc)
			return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		}
	}
	start, end := key(first), key(last)
	if n := int(end.Sub(start)/ser.Step) + 1; n > maxSeriesPoints {
		start = end.Add(-time.Duration(maxSeriesPoints-1) * ser.Step)
	}
	idx := map[int64]int{}
	for t := start; !t.After(end); t = nextStep(t, ser.Step, loc) {
		idx[t.Unix()] = len(ser.Points)
		ser.Points = append(ser.Points, Point{At: t})
	}
	for _, h := range hours {
		i, ok := idx[key(h).Unix()]
		if !ok {
			continue // older than the series shows
		}
		p := &ser.Points[i]
		p.Sent += counts[h].Sent
		p.Delivered += counts[h].Delivered
		p.OptedOut += counts[h].OptedOut
	}
	return ser
}

// nextStep is the step after t: an hour, or the next calendar day in loc.
func nextStep(t time.Time, step time.Duration, loc *time.Location) time.Time {
	if step == time.Hour {
		return t.Add(time.Hour)
	}
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
}
