package gate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// PlatformRule is the WeCom corp's group-message receive rule (企业微信 →
// 群发助手 → 设置群发规则; reference wecom.md §5).
type PlatformRule string

// WeCom rules.
const (
	MonthDays PlatformRule = "month_days" // as many per month as the month has days (the default)
	Week7     PlatformRule = "week_7"     // 7 per week
	Day1      PlatformRule = "day_1"      // 1 per day
)

// SMSCarrierDaily is the carriers' marketing SMS cap per number and day
// (reference sms-email.md §1.5).
const SMSCarrierDaily = 3

// Policy is the merchant's policy for one channel.
type Policy struct {
	Channel consent.Channel
	// Caps per person, counted across every campaign and sender; 0 = no
	// merchant cap (the platform's and the person's still apply).
	CapDay, CapWeek, CapMonth int
	// QuietStart and QuietEnd are minutes after local midnight; the quiet
	// window runs from start to end, across midnight when start > end.
	// Equal values mean no quiet hours.
	QuietStart, QuietEnd int
	WeComRule            PlatformRule // WeCom only
}

// DefaultPolicy is the policy of a channel the merchant has not set: no
// merchant caps, quiet hours 21:00–08:00, WeCom's default rule.
func DefaultPolicy(ch consent.Channel) Policy {
	return Policy{Channel: ch, QuietStart: 21 * 60, QuietEnd: 8 * 60, WeComRule: MonthDays}
}

// window is a cap period.
type window int

const (
	day window = iota
	week
	month
)

var windowNames = [...]string{"day", "week", "month"}

// platformCaps returns the platform's cap per window (0 = none) for the
// instant t in loc (the month's length depends on it).
func platformCaps(p Policy, t time.Time) [3]int {
	switch p.Channel {
	case consent.ChannelWeCom:
		switch p.WeComRule {
		case Day1:
			return [3]int{1, 0, 0}
		case Week7:
			return [3]int{0, 7, 0}
		default:
			return [3]int{0, 0, daysIn(t)}
		}
	case consent.ChannelSMS:
		return [3]int{SMSCarrierDaily, 0, 0}
	}
	return [3]int{}
}

func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, t.Location()).Day()
}

// platformCeiling is the highest cap a merchant may set per window: what
// the platform allows in its shortest period (28 days for a month).
func platformCeiling(p Policy) [3]int {
	c := platformCaps(p, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	if p.Channel == consent.ChannelWeCom && p.WeComRule == Day1 {
		c = [3]int{1, 7, 28}
	}
	if p.Channel == consent.ChannelSMS {
		c = [3]int{SMSCarrierDaily, 7 * SMSCarrierDaily, 28 * SMSCarrierDaily}
	}
	return c
}

// validate says what is wrong with p, in a sentence.
func (p Policy) validate() error {
	bad := func(format string, args ...any) error {
		return kith.Errorf(kith.EINVALID, "gate: policy: "+format, args...)
	}
	if p.Channel != consent.ChannelWeCom && p.Channel != consent.ChannelSMS && p.Channel != consent.ChannelEmail {
		return bad("unknown channel %q; use wecom, sms or email", p.Channel)
	}
	caps := [3]int{p.CapDay, p.CapWeek, p.CapMonth}
	for w, c := range caps {
		if c < 0 {
			return bad("the cap per %s is %d; use 0 (no merchant cap) or more", windowNames[w], c)
		}
	}
	if p.QuietStart < 0 || p.QuietStart > 1439 || p.QuietEnd < 0 || p.QuietEnd > 1439 {
		return bad("quiet hours must be minutes of the day (0 to 1439)")
	}
	if p.Channel == consent.ChannelWeCom && p.WeComRule != MonthDays && p.WeComRule != Week7 && p.WeComRule != Day1 {
		return bad("unknown WeCom rule %q; use month_days, week_7 or day_1 as set in 群发助手", p.WeComRule)
	}
	ceil := platformCeiling(p)
	for w, c := range caps {
		if ceil[w] > 0 && c > ceil[w] {
			return bad("the cap per %s on %s is %d, above the platform's %d; the platform would drop the extra messages silently, so set %d or less",
				windowNames[w], p.Channel, c, ceil[w], ceil[w])
		}
	}
	return nil
}

// SetPolicy saves the policy of a channel, refusing one whose caps exceed
// the platform's.
func (g *Gate) SetPolicy(ctx context.Context, p Policy) error {
	if p.Channel != consent.ChannelWeCom {
		p.WeComRule = MonthDays // stored, never used
	}
	if err := p.validate(); err != nil {
		return err
	}
	_, err := g.db.W.ExecContext(ctx, `INSERT INTO gate_policy (channel, cap_day, cap_week, cap_month, quiet_start, quiet_end, wecom_rule, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (channel) DO UPDATE SET cap_day = excluded.cap_day, cap_week = excluded.cap_week, cap_month = excluded.cap_month,
			quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, wecom_rule = excluded.wecom_rule, updated_at = excluded.updated_at`,
		string(p.Channel), p.CapDay, p.CapWeek, p.CapMonth, p.QuietStart, p.QuietEnd, string(p.WeComRule), g.clock.Now())
	if err != nil {
		return fmt.Errorf("gate: save policy: %w", err)
	}
	g.cache.policyDirty.Store(true)
	g.cache.force() // the next decisions use it
	return nil
}

// Policy returns the policy of a channel (DefaultPolicy when unset).
func (g *Gate) Policy(ctx context.Context, ch consent.Channel) (Policy, error) {
	return loadPolicy(ctx, g.db.R, ch)
}

func loadPolicy(ctx context.Context, q store.Querier, ch consent.Channel) (Policy, error) {
	p := DefaultPolicy(ch)
	var rule string
	err := q.QueryRowContext(ctx, "SELECT cap_day, cap_week, cap_month, quiet_start, quiet_end, wecom_rule FROM gate_policy WHERE channel = $1",
		string(ch)).Scan(&p.CapDay, &p.CapWeek, &p.CapMonth, &p.QuietStart, &p.QuietEnd, &rule)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("gate: policy of %s: %w", ch, err)
	}
	p.WeComRule = PlatformRule(rule)
	return p, nil
}

// quiet reports whether t (in the person's zone) is inside quiet hours and,
// if so, when they end.
func (p Policy) quiet(t time.Time) (bool, time.Time) {
	if p.QuietStart == p.QuietEnd {
		return false, time.Time{}
	}
	m := t.Hour()*60 + t.Minute()
	var in bool
	if p.QuietStart < p.QuietEnd {
		in = m >= p.QuietStart && m < p.QuietEnd
	} else {
		in = m >= p.QuietStart || m < p.QuietEnd
	}
	if !in {
		return false, time.Time{}
	}
	end := time.Date(t.Year(), t.Month(), t.Day(), p.QuietEnd/60, p.QuietEnd%60, 0, 0, t.Location())
	if !end.After(t) {
		end = end.AddDate(0, 0, 1)
	}
	return true, end
}

// windowStarts returns the start of t's day, week (Monday) and month in t's
// zone.
func windowStarts(t time.Time) [3]time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	wd := (int(d.Weekday()) + 6) % 7 // Monday = 0
	return [3]time.Time{d, d.AddDate(0, 0, -wd), time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())}
}

// capCheck counts sends (the marketing sends of one person on one channel,
// in Unix µs, any order, in two slices: those recorded and those allowed
// earlier in the same batch) against the effective caps at t and returns
// the reason the next one is refused, or OK.
func capCheck(p Policy, scope *consent.Scope, sends, more []int64, t time.Time) (Reason, string) {
	var n [3]int
	if len(sends)+len(more) > 0 {
		ws := windowStarts(t)
		starts := [3]int64{ws[0].UnixMicro(), ws[1].UnixMicro(), ws[2].UnixMicro()}
		for _, part := range [2][]int64{sends, more} {
			for _, s := range part {
				for w := range n {
					if s >= starts[w] {
						n[w]++
					}
				}
			}
		}
	}
	plat := platformCaps(p, t)
	merch := [3]int{p.CapDay, p.CapWeek, p.CapMonth}
	for w := range n {
		if plat[w] > 0 && n[w] >= plat[w] {
			return PlatformCap, fmt.Sprintf("The platform allows %d %s message(s) per %s to this person, and %d were sent.", plat[w], p.Channel, windowNames[w], n[w])
		}
		if merch[w] > 0 && n[w] >= merch[w] {
			return FreqCap, fmt.Sprintf("The merchant's cap is %d %s message(s) per %s to a person, and %d were sent.", merch[w], p.Channel, windowNames[w], n[w])
		}
	}
	if scope != nil && scope.MaxPerWeek > 0 && n[week] >= scope.MaxPerWeek {
		return ConsentFrequency, fmt.Sprintf("The person agreed to at most %d message(s) per week, and %d were sent this week.", scope.MaxPerWeek, n[week])
	}
	return OK, ""
}
