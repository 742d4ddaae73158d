package gate

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
)

// The database path: how the gate decided before it kept its state in
// memory (cache.go), one batch at a time with SQL. DecideBatchFromDatabase
// uses it as the reference the cache is checked against, and `kith bench
// gate` as the baseline.

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
		s := fnv32(reqs[i].Person.Key) % readShards
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
		var memo contentMemo
		for _, i := range idx {
			st := states[reqs[i].Person]
			d := decideOne(&reqs[i], viewOf(st), pol, sends[reqs[i].Person], nil, &memo)
			if d.Allowed && reqs[i].Class == Marketing {
				// later requests in this batch count this one
				sends[reqs[i].Person] = append(sends[reqs[i].Person], reqs[i].At.UnixMicro())
			}
			out[i] = d
		}
	}
	return nil
}

// recentSends returns the marketing sends since since to each person on ch.
func recentSends(ctx context.Context, q store.Querier, persons []consent.Person, ch consent.Channel, since time.Time) (map[consent.Person][]int64, error) {
	out := map[consent.Person][]int64{}
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
				out[p] = append(out[p], at.UnixMicro())
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

// sendsChunk is how many persons one count of sends asks about; SQLite's
// cost per $N parameter grows with their number, so keep it modest.
const sendsChunk = 100
