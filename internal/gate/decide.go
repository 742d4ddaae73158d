package gate

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
)

// Decide decides one request; see DecideBatch. Concurrent calls share one
// write of their decisions (group commit): each returns once its decision
// is recorded.
func (g *Gate) Decide(ctx context.Context, r Request) (Decision, error) {
	start := time.Now()
	now := g.clock.Now().UTC()
	norm, reason, msg := normalize(r, now)
	var d Decision
	if reason != OK {
		d = refuse(reason, msg)
	} else {
		if err := g.refresh(ctx, now); err != nil {
			g.count(norm.Channel, GateError)
			return refuse(GateError, "The gate could not decide, so the message is not sent."), err
		}
		var w worker
		g.cache.mu.RLock()
		d = g.decideCached(&norm, now, &w)
		g.cache.mu.RUnlock()
	}
	d, err := g.commitOne(ctx, norm, d, now)
	if err != nil {
		g.count(norm.Channel, GateError)
		return refuse(GateError, "The gate could not decide, so the message is not sent."), err
	}
	g.count(norm.Channel, d.Reason)
	g.observe(1, time.Since(start))
	return d, nil
}

// DecideBatch decides each request and records every decision in one
// transaction (one gate_batches row). Requests in one batch for the same
// person count against each other's caps. Decisions come back in the order
// of the requests. On an error every decision is a GATE_ERROR refusal: the
// gate fails closed.
func (g *Gate) DecideBatch(ctx context.Context, reqs []Request) ([]Decision, error) {
	start := time.Now()
	now := g.clock.Now().UTC()
	out, norm, pending := g.prepare(reqs, now)
	if len(pending) > 0 {
		if err := g.refresh(ctx, now); err != nil {
			return g.failClosed(norm, out), err
		}
		g.decideBatchCached(norm, pending, out, now)
	}
	return g.finish(ctx, norm, out, now, start)
}

// DecideBatchFromDatabase decides like DecideBatch but reads consent, sends
// and policy from the database for this batch instead of the gate's
// in-memory state: the reference the cache is tested against, and the
// baseline `kith bench gate` measures it by.
func (g *Gate) DecideBatchFromDatabase(ctx context.Context, reqs []Request) ([]Decision, error) {
	start := time.Now()
	now := g.clock.Now().UTC()
	out, norm, pending := g.prepare(reqs, now)
	if err := g.decideShards(ctx, norm, pending, out, now); err != nil {
		return g.failClosed(norm, out), err
	}
	return g.finish(ctx, norm, out, now, start)
}

// prepare normalises the requests; out holds the refusals of the invalid
// ones, pending the indexes of the others.
func (g *Gate) prepare(reqs []Request, now time.Time) (out []Decision, norm []Request, pending []int) {
	out = make([]Decision, len(reqs))
	norm = make([]Request, len(reqs))
	pending = make([]int, 0, len(reqs))
	for i, r := range reqs {
		var reason Reason
		var msg string
		norm[i], reason, msg = normalize(r, now)
		if reason != OK {
			out[i] = refuse(reason, msg)
			continue
		}
		pending = append(pending, i)
	}
	return out, norm, pending
}

// finish records the decisions and counts them.
func (g *Gate) finish(ctx context.Context, norm []Request, out []Decision, now, start time.Time) ([]Decision, error) {
	if err := g.record(ctx, norm, out, []time.Time{now}); err != nil {
		return g.failClosed(norm, out), err
	}
	agg := map[statKey]int64{}
	for i, d := range out {
		agg[statKey{norm[i].Channel, d.Reason}]++
	}
	for k, n := range agg {
		g.countN(k, n)
	}
	g.observe(len(out), time.Since(start))
	return out, nil
}

// decideBatchCached decides pending from the cache; a large batch is split
// between the CPUs by person, so a person's requests still count against
// each other's caps.
func (g *Gate) decideBatchCached(reqs []Request, pending []int, out []Decision, now time.Time) {
	g.cache.mu.RLock()
	defer g.cache.mu.RUnlock()
	parts := runtime.GOMAXPROCS(0)
	if len(pending) < parallelMin || parts < 2 {
		g.decidePart(reqs, pending, out, now)
		return
	}
	split := make([][]int, parts)
	for _, i := range pending {
		s := fnv32(reqs[i].Person.Key) % uint32(parts)
		split[s] = append(split[s], i)
	}
	var wg sync.WaitGroup
	for _, part := range split {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.decidePart(reqs, part, out, now) // each writes only its own out[i]
		}()
	}
	wg.Wait()
}

// worker is what one goroutine deciding from the cache keeps between
// requests.
type worker struct {
	memo   contentMemo
	hasher *consent.SuppressionHasher // made at the first person without state
	extra  map[sendKey][]int64        // sends allowed earlier in this batch
	one    [1]int64                   // a key's single send, read from the cache
}

// decidePart decides the requests pending (cache read-locked).
func (g *Gate) decidePart(reqs []Request, pending []int, out []Decision, now time.Time) {
	var w worker
	for _, i := range pending {
		r := &reqs[i]
		out[i] = g.decideCached(r, now, &w)
		if out[i].Allowed && r.Class == Marketing {
			if w.extra == nil {
				w.extra = map[sendKey][]int64{}
			}
			k := sendKey{r.Person, r.Channel}
			w.extra[k] = append(w.extra[k], r.At.UnixMicro())
		}
	}
}

// decideCached decides one valid request from the cache (read-locked).
func (g *Gate) decideCached(r *Request, now time.Time, w *worker) Decision {
	c := g.cache
	v := c.view(stateKey{r.Person, r.Purpose, r.Channel}, now.UnixMicro(), w)
	pol, ok := c.policies[r.Channel]
	if !ok {
		pol = DefaultPolicy(r.Channel)
	}
	var sends, more []int64
	if r.Class == Marketing {
		k := sendKey{r.Person, r.Channel}
		sends = c.sends.get(k, &w.one)
		if w.extra != nil {
			more = w.extra[k]
		}
	}
	return decideOne(r, v, pol, sends, more, &w.memo)
}

// fnv32 is the FNV-1a hash of s.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func refuse(r Reason, msg string) Decision { return Decision{Reason: r, Message: msg} }

// failClosed turns every decision into a GATE_ERROR refusal (counted, not
// recorded: the database is what failed).
func (g *Gate) failClosed(reqs []Request, out []Decision) []Decision {
	for i := range out {
		g.count(reqs[i].Channel, GateError)
		out[i] = refuse(GateError, "The gate could not decide, so the message is not sent.")
	}
	return out
}

// normalize checks and completes a request.
func normalize(r Request, now time.Time) (Request, Reason, string) {
	p, err := r.Person.Normalize()
	if err != nil {
		return r, InvalidRequest, "The person is missing or malformed: " + err.Error()
	}
	r.Person = p
	var kind consent.PersonKind
	switch r.Channel {
	case consent.ChannelWeCom:
		kind = consent.KindExternalUser
	case consent.ChannelSMS:
		kind = consent.KindPhone
	case consent.ChannelEmail:
		kind = consent.KindEmail
	default:
		return r, InvalidRequest, fmt.Sprintf("The channel %q is unknown; use wecom, sms or email.", r.Channel)
	}
	if kind != p.Kind {
		return r, InvalidRequest, fmt.Sprintf("A %s person cannot be reached on %s.", p.Kind, r.Channel)
	}
	switch r.Class {
	case Marketing:
		if r.Purpose == "" {
			r.Purpose = consent.Marketing
		}
	case Service:
		if r.Purpose == "" {
			r.Purpose = consent.Service
		}
	default:
		return r, InvalidRequest, fmt.Sprintf("The message class %q is unknown; declare service or marketing.", r.Class)
	}
	if r.Content.Body == "" {
		return r, InvalidRequest, "The message has no body."
	}
	if len(r.Campaign) > 200 || len(r.Sender) > 200 {
		return r, InvalidRequest, "The campaign or sender name is longer than 200 bytes."
	}
	if r.At.IsZero() || r.At.Before(now) {
		r.At = now
	}
	if r.Location == nil {
		r.Location = DefaultLocation
	}
	r.At = r.At.In(r.Location)
	return r, OK, ""
}

// view is a person's consent as a decision needs it, from the cache or
// from the ledger.
type view struct {
	status     consent.Status
	eventID    int64
	scope      *consent.Scope
	suppressed bool
	permits    bool // consent.State.Permits
}

// viewOf returns the view of a ledger State.
func viewOf(st consent.State) view {
	v := view{status: st.Status, scope: st.Scope, suppressed: st.Suppressed, permits: st.Permits()}
	if st.Last != nil {
		v.eventID = st.Last.ID
	}
	return v
}

// contentMemo remembers the content check of the last message: the
// requests of a batch usually carry the same one.
type contentMemo struct {
	ok      bool
	class   Class
	channel consent.Channel
	content Content
	reason  Reason
	msg     string
}

func (m *contentMemo) check(class Class, ch consent.Channel, c Content) (Reason, string) {
	if m.ok && m.class == class && m.channel == ch && m.content.Body == c.Body && m.content.Subject == c.Subject && len(c.Headers) == 0 && len(m.content.Headers) == 0 {
		return m.reason, m.msg
	}
	reason, msg := checkContent(class, ch, c)
	*m = contentMemo{ok: true, class: class, channel: ch, content: c, reason: reason, msg: msg}
	return reason, msg
}

// decideOne applies the checks to one request. sends are the person's
// marketing sends on the channel (Unix µs): recorded, and allowed earlier
// in the batch.
func decideOne(r *Request, v view, pol Policy, sends, more []int64, memo *contentMemo) Decision {
	d := Decision{ConsentEventID: v.eventID}
	if v.suppressed && !v.permits {
		return withEvent(refuse(Suppressed, "The person is on a suppression list for this purpose and channel."), d)
	}
	if r.Class == Marketing {
		if reason, msg := consentReason(v); reason != OK {
			return withEvent(refuse(reason, msg), d)
		}
		if reason, msg := typeReason(v.scope, r.Type); reason != OK {
			return withEvent(refuse(reason, msg), d)
		}
	}
	if reason, msg := memo.check(r.Class, r.Channel, r.Content); reason != OK {
		return withEvent(refuse(reason, msg), d)
	}
	if r.Class == Marketing {
		if in, end := pol.quiet(r.At); in {
			d := withEvent(refuse(QuietHours, fmt.Sprintf("It is quiet hours for the person (%s local time); send at %s or later.",
				r.At.Format("15:04"), end.Format("2006-01-02 15:04 MST"))), d)
			d.NotBefore = end
			return d
		}
		if reason, msg := capCheck(pol, v.scope, sends, more, r.At); reason != OK {
			return withEvent(refuse(reason, msg), d)
		}
	}
	d.Allowed, d.Reason, d.Message = true, OK, "Allowed."
	return d
}

func withEvent(d, from Decision) Decision {
	d.ConsentEventID = from.ConsentEventID
	return d
}

// typeReason refuses a message type the consent's scope does not list.
func typeReason(scope *consent.Scope, typ string) (Reason, string) {
	if scope == nil || len(scope.Types) == 0 || slices.Contains(scope.Types, typ) {
		return OK, ""
	}
	return TypeNotInScope, fmt.Sprintf("The person agreed to messages of type %s only; this one is of type %q.", strings.Join(scope.Types, ", "), typ)
}

// consentReason maps a consent view to a refusal reason, or OK.
func consentReason(v view) (Reason, string) {
	if v.permits {
		return OK, ""
	}
	switch v.status {
	case consent.StatusWithdrawn:
		return ConsentWithdrawn, "The person withdrew consent for this purpose on this channel."
	case consent.StatusRefused:
		return ConsentRefused, "The person refused (opted out of) this purpose on this channel."
	case consent.StatusExpired:
		return ConsentExpired, "The person's consent for this purpose on this channel has expired."
	case consent.StatusGranted:
		return Suppressed, "The person is suppressed for this purpose and channel, and has not consented again themself since."
	}
	return NoConsent, "The person has not consented to this purpose on this channel."
}
