package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
)

// Decide decides one request; see DecideBatch.
func (g *Gate) Decide(ctx context.Context, r Request) (Decision, error) {
	ds, err := g.DecideBatch(ctx, []Request{r})
	if len(ds) == 0 {
		return refuse(GateError, "The gate could not decide."), err
	}
	return ds[0], err
}

// DecideBatch decides each request and records every decision (and the
// permits of the allowed ones) in one transaction. Requests in one batch
// for the same person count against each other's caps. Decisions come back
// in the order of the requests. On an error every decision is a GATE_ERROR
// refusal: the gate fails closed.
func (g *Gate) DecideBatch(ctx context.Context, reqs []Request) ([]Decision, error) {
	now := g.clock.Now().UTC()
	out := make([]Decision, len(reqs))
	norm := make([]Request, len(reqs))
	pending := make([]int, 0, len(reqs))
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
	if err := g.decideShards(ctx, norm, pending, out, now); err != nil {
		return g.failClosed(out), err
	}
	if err := g.record(ctx, norm, out, now); err != nil {
		return g.failClosed(out), err
	}
	for _, d := range out {
		g.count(d.Reason)
	}
	return out, nil
}

func refuse(r Reason, msg string) Decision { return Decision{Reason: r, Message: msg} }

// failClosed turns every decision into a GATE_ERROR refusal (counted, not
// recorded: the database is what failed).
func (g *Gate) failClosed(out []Decision) []Decision {
	for i := range out {
		g.count(GateError)
		out[i] = refuse(GateError, "The gate could not decide, so the message is not sent.")
	}
	return out
}

// normalize checks and completes a request.
func normalize(r Request, now time.Time) (Request, Reason, string) {
	p, err := consent.ParsePerson(r.Person.String())
	if err != nil {
		return r, InvalidRequest, "The person is missing or malformed: " + err.Error()
	}
	r.Person = p
	want := map[consent.Channel]consent.PersonKind{consent.ChannelWeCom: consent.KindExternalUser, consent.ChannelSMS: consent.KindPhone, consent.ChannelEmail: consent.KindEmail}
	kind, ok := want[r.Channel]
	if !ok {
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

// readShards is how many parts of a large batch are read at once (the
// SQLite reader pool has 8 connections); shardMin is the smallest batch
// that is split.
const (
	readShards = 4
	shardMin   = 512
)

// decideShards runs decide on parts of pending in parallel. A person's
// requests stay in one part, so they still count against each other's caps.
func (g *Gate) decideShards(ctx context.Context, reqs []Request, pending []int, out []Decision, now time.Time) error {
	if len(pending) < shardMin {
		return g.decide(ctx, reqs, pending, out, now)
	}
	parts := make([][]int, readShards)
	for _, i := range pending {
		h := fnv.New32a()
		h.Write([]byte(reqs[i].Person.Key))
		s := h.Sum32() % readShards
		parts[s] = append(parts[s], i)
	}
	eg, ectx := errgroup.WithContext(ctx)
	for _, part := range parts {
		eg.Go(func() error { return g.decide(ectx, reqs, part, out, now) }) // each writes only its own out[i]
	}
	return eg.Wait()
}

type groupKey struct {
	purpose consent.Purpose
	channel consent.Channel
}

// decide fills out[i] for every i in pending.
func (g *Gate) decide(ctx context.Context, reqs []Request, pending []int, out []Decision, now time.Time) error {
	groups := map[groupKey][]int{}
	for _, i := range pending {
		k := groupKey{reqs[i].Purpose, reqs[i].Channel}
		groups[k] = append(groups[k], i)
	}
	ledger := consent.NewLedger(g.db.R, g.key)
	policies := map[consent.Channel]Policy{}
	for k, idx := range groups {
		persons := make([]consent.Person, len(idx))
		for j, i := range idx {
			persons[j] = reqs[i].Person
		}
		states, err := ledger.States(ctx, persons, k.purpose, k.channel, now)
		if err != nil {
			return fmt.Errorf("gate: consent: %w", err)
		}
		pol, ok := policies[k.channel]
		if !ok {
			if pol, err = loadPolicy(ctx, g.db.R, k.channel); err != nil {
				return err
			}
			policies[k.channel] = pol
		}
		sends, err := recentSends(ctx, g.db.R, persons, k.channel, now.AddDate(0, 0, -32))
		if err != nil {
			return err
		}
		for _, i := range idx {
			st := states[reqs[i].Person]
			d := decideOne(reqs[i], st, pol, sends[reqs[i].Person])
			if d.Allowed && reqs[i].Class == Marketing {
				// later requests in this batch count this one
				sends[reqs[i].Person] = append(sends[reqs[i].Person], reqs[i].At)
			}
			out[i] = d
		}
	}
	return nil
}

// decideOne applies the checks to one request.
func decideOne(r Request, st consent.State, pol Policy, sends []time.Time) Decision {
	var d Decision
	if st.Last != nil {
		d.ConsentEventID = st.Last.ID
	}
	if st.Suppressed && !st.Permits() {
		return withEvent(refuse(Suppressed, "The person is on a suppression list for this purpose and channel."), d)
	}
	if r.Class == Marketing {
		if reason, msg := consentReason(st); reason != OK {
			return withEvent(refuse(reason, msg), d)
		}
		if reason, msg := typeReason(st.Scope, r.Type); reason != OK {
			return withEvent(refuse(reason, msg), d)
		}
	}
	if reason, msg := checkContent(r.Class, r.Channel, r.Content); reason != OK {
		return withEvent(refuse(reason, msg), d)
	}
	if r.Class == Marketing {
		if in, end := pol.quiet(r.At); in {
			d := withEvent(refuse(QuietHours, fmt.Sprintf("It is quiet hours for the person (%s local time); send at %s or later.",
				r.At.Format("15:04"), end.Format("2006-01-02 15:04 MST"))), d)
			d.NotBefore = end
			return d
		}
		if reason, msg := capCheck(pol, st.Scope, sends, r.At); reason != OK {
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

// consentReason maps a consent state to a refusal reason, or OK.
func consentReason(st consent.State) (Reason, string) {
	if st.Permits() {
		return OK, ""
	}
	switch st.Status {
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

// recentSends returns the marketing sends since since to each person on ch.
func recentSends(ctx context.Context, q store.Querier, persons []consent.Person, ch consent.Channel, since time.Time) (map[consent.Person][]time.Time, error) {
	out := map[consent.Person][]time.Time{}
	byKind := map[consent.PersonKind][]string{}
	for _, p := range persons {
		byKind[p.Kind] = append(byKind[p.Kind], p.Key)
	}
	for kind, keys := range byKind {
		for start := 0; start < len(keys); start += sendsChunk {
			chunk := keys[start:min(start+sendsChunk, len(keys))]
			args := []any{string(kind), string(ch), since}
			rows, err := q.QueryContext(ctx, "SELECT person_key, at FROM gate_sends WHERE person_kind = $1 AND channel = $2 AND class = 'marketing' AND at >= $3 AND person_key IN ("+
				placeholders(len(args), len(chunk))+")", append(args, anySlice(chunk)...)...)
			if err != nil {
				return nil, fmt.Errorf("gate: count sends: %w", err)
			}
			for rows.Next() {
				var key string
				var at time.Time
				if err := rows.Scan(&key, &at); err != nil {
					rows.Close()
					return nil, fmt.Errorf("gate: count sends: %w", err)
				}
				p := consent.Person{Kind: kind, Key: key}
				out[p] = append(out[p], at)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("gate: count sends: %w", err)
			}
		}
	}
	return out, nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// placeholders returns "$n+1, …, $n+k".
func placeholders(n, k int) string {
	b := make([]byte, 0, k*6)
	for i := range k {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "$%d", n+i+1)
	}
	return string(b)
}

// newIDs returns n random ids and n random tokens.
func newIDs(n int) (ids, tokens []string, err error) {
	buf := make([]byte, n*26)
	if _, err := rand.Read(buf); err != nil {
		return nil, nil, err
	}
	ids, tokens = make([]string, n), make([]string, n)
	for i := range n {
		b := buf[i*26:]
		ids[i] = hex.EncodeToString(b[:10])
		tokens[i] = hex.EncodeToString(b[10:26])
	}
	return ids, tokens, nil
}

// sendsChunk is how many persons one count of sends asks about; SQLite's
// cost per $N parameter grows with their number, so keep it modest.
const sendsChunk = 100
