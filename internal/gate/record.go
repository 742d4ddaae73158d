package gate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// recordChunk is how many rows one INSERT writes. Small: SQLite looks up
// each $N parameter by name, so a statement with thousands of them costs
// quadratic time (16 rows measured fastest on SQLite here).
const recordChunk = 16

// record gives every decision an id, every allowed one a permit, and writes
// them all in one transaction.
func (g *Gate) record(ctx context.Context, reqs []Request, out []Decision, now time.Time) error {
	ids, tokens, err := newIDs(len(out))
	if err != nil {
		return fmt.Errorf("gate: random ids: %w", err)
	}
	var decRows, permRows [][]any
	for i := range out {
		d := &out[i]
		r := reqs[i]
		d.ID = ids[i]
		var ev any
		if d.ConsentEventID != 0 {
			ev = d.ConsentEventID
		}
		decRows = append(decRows, []any{d.ID, now, clip(string(r.Person.Kind)), clip(r.Person.Key), clip(string(r.Channel)), clip(string(r.Purpose)),
			clip(string(r.Class)), clip(r.Campaign), clip(r.Sender), d.Allowed, string(d.Reason), clip(d.Message), ev})
		if !d.Allowed {
			continue
		}
		p := &permit{id: d.ID, token: tokens[i], person: r.Person, channel: r.Channel, purpose: r.Purpose, class: r.Class, msgType: r.Type,
			campaign: r.Campaign, sender: r.Sender, tz: r.Location.String(), expires: now.Add(PermitTTL)}
		if r.At.After(now) {
			p.expires = r.At.UTC().Add(PermitTTL)
		}
		d.Permit = Permit{p}
		permRows = append(permRows, []any{p.id, tokenHash(p.token), string(p.person.Kind), p.person.Key, string(p.channel), string(p.purpose),
			string(p.class), p.campaign, p.sender, p.tz, now, p.expires})
	}
	return g.db.InTx(ctx, func(sqlTx *sql.Tx) error {
		tx := store.NewCachedTx(sqlTx)
		defer tx.Close()
		if err := insertRows(ctx, tx, "gate_decisions (id, at, person_kind, person_key, channel, purpose, class, campaign, sender, allowed, reason, detail, consent_event_id)", decRows); err != nil {
			return fmt.Errorf("gate: record decisions: %w", err)
		}
		if err := insertRows(ctx, tx, "gate_permits (id, token_hash, person_kind, person_key, channel, purpose, class, campaign, sender, tz, decided_at, expires_at)", permRows); err != nil {
			return fmt.Errorf("gate: record permits: %w", err)
		}
		return nil
	})
}

// clip bounds what a refused, malformed request puts in the record: at most
// 300 bytes of valid UTF-8.
func clip(s string) string {
	if len(s) > 300 {
		s = s[:300]
	}
	return strings.ToValidUTF8(s, "")
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// insertRows writes rows into table (with its column list) in multi-row
// INSERTs of recordChunk rows, each statement shape prepared once.
func insertRows(ctx context.Context, tx *store.CachedTx, table string, rows [][]any) error {
	for start := 0; start < len(rows); start += recordChunk {
		chunk := rows[start:min(start+recordChunk, len(rows))]
		cols := len(chunk[0])
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " VALUES ")
		args := make([]any, 0, len(chunk)*cols)
		for i, row := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + placeholders(len(args), cols) + ")")
			args = append(args, row...)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
