package protect

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// KeyState is a field key as the database and the loaded secrets know it:
// never the key, only its id.
type KeyState struct {
	ID          string     `json:"id"`
	Current     bool       `json:"current"`       // new values are sealed under it
	Loaded      bool       `json:"loaded"`        // the instance secrets hold it
	Values      int64      `json:"values"`        // sealed values that use it
	FirstUsedAt *time.Time `json:"first_used_at"` // when a node first sealed under it
	RetiredAt   *time.Time `json:"retired_at"`    // when `kith keys retire` retired it
}

// CheckFieldKeys is run at every start, after the secrets' fingerprint was
// found right: it refuses a current key that was retired and secrets that
// lack a key values may still be sealed under, then records the current
// key. A database that knows no key yet (made before keys were recorded)
// first records the keys its values name. ids are the loaded field keys'
// ids, the current one first.
func CheckFieldKeys(ctx context.Context, db *store.DB, ids []string, now time.Time) error {
	known, err := registered(ctx, db.R)
	if err != nil {
		return err
	}
	if len(known) == 0 {
		counts, err := CountByKey(ctx, db.R)
		if err != nil {
			return err
		}
		for id := range counts {
			if id != "" {
				if err := register(ctx, db.W, id, now); err != nil {
					return err
				}
				known[id] = nil
			}
		}
	}
	cur := ids[0]
	if at, ok := known[cur]; ok && at != nil {
		return fmt.Errorf("the current field key %s was retired on %s and seals no new values; make the newest field key current (field_key in the secrets file, or KITH_FIELD_KEY)", cur, at.UTC().Format(time.DateOnly))
	}
	var missing []string
	for id, retired := range known {
		if retired == nil && !slices.Contains(ids, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("values in this database may be sealed under field key %s, which the instance secrets lack; put it back in previous_field_keys of the secrets file or KITH_PREVIOUS_FIELD_KEYS (`kith keys retire ID` drops a key once no value uses it)", strings.Join(missing, ", "))
	}
	if _, ok := known[cur]; ok {
		return nil // nothing to write: commands beside a busy server start at once
	}
	return register(ctx, db.W, cur, now)
}

// registered returns the recorded key ids with their retirement time (nil
// when not retired).
func registered(ctx context.Context, q store.Querier) (map[string]*time.Time, error) {
	rows, err := q.QueryContext(ctx, "SELECT key_id, retired_at FROM field_keys")
	if err != nil {
		return nil, fmt.Errorf("protect: read field keys: %w", err)
	}
	defer rows.Close()
	out := map[string]*time.Time{}
	for rows.Next() {
		var id string
		var at sql.NullTime
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("protect: read field keys: %w", err)
		}
		out[id] = nil
		if at.Valid {
			t := at.Time
			out[id] = &t
		}
	}
	return out, rows.Err()
}

func register(ctx context.Context, q store.Querier, id string, now time.Time) error {
	if _, err := q.ExecContext(ctx, "INSERT INTO field_keys (key_id, first_used_at) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING", id, now); err != nil {
		return fmt.Errorf("protect: record field key %s: %w", id, err)
	}
	return nil
}

// ListKeys returns every field key the database recorded or the secrets
// hold (ids, the current one first), with how many values each seals.
func ListKeys(ctx context.Context, db *store.DB, ids []string) ([]KeyState, error) {
	counts, err := CountByKey(ctx, db.R)
	if err != nil {
		return nil, err
	}
	rows, err := db.R.QueryContext(ctx, "SELECT key_id, first_used_at, retired_at FROM field_keys")
	if err != nil {
		return nil, fmt.Errorf("protect: list field keys: %w", err)
	}
	defer rows.Close()
	byID := map[string]*KeyState{}
	get := func(id string) *KeyState {
		if byID[id] == nil {
			byID[id] = &KeyState{ID: id, Current: len(ids) > 0 && ids[0] == id, Loaded: slices.Contains(ids, id), Values: counts[id]}
		}
		return byID[id]
	}
	for rows.Next() {
		var id string
		var first, retired sql.NullTime
		if err := rows.Scan(&id, &first, &retired); err != nil {
			return nil, fmt.Errorf("protect: list field keys: %w", err)
		}
		k := get(id)
		if first.Valid {
			t := first.Time.UTC()
			k.FirstUsedAt = &t
		}
		if retired.Valid {
			t := retired.Time.UTC()
			k.RetiredAt = &t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("protect: list field keys: %w", err)
	}
	for _, id := range ids {
		get(id)
	}
	for id := range counts {
		get(id) // a value naming a key nobody recorded (or "" for a value that is not sealed)
	}
	out := make([]KeyState, 0, len(byID))
	for _, k := range byID {
		out = append(out, *k)
	}
	// The current key first, then the others by id.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Current != out[j].Current {
			return out[i].Current
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RetireKey records that field key id is no longer used: it refuses the
// current key, an id the database does not know, and a key any value is
// still sealed under. A retired key may be dropped from the secrets.
func RetireKey(ctx context.Context, db *store.DB, current, id string, now time.Time) error {
	if id == current {
		return kith.Errorf(kith.ECONFLICT, "field key %s is the current key; add a new key and rotate before retiring it", id)
	}
	counts, err := CountByKey(ctx, db.R)
	if err != nil {
		return err
	}
	known, err := registered(ctx, db.R)
	if err != nil {
		return err
	}
	if _, ok := known[id]; !ok && counts[id] == 0 {
		return kith.Errorf(kith.ENOTFOUND, "no field key has the id %q; `kith keys list` shows the ids", id)
	}
	if n := counts[id]; n > 0 {
		return kith.Errorf(kith.ECONFLICT, "%d values are still sealed under field key %s; run `kith keys rotate` first", n, id)
	}
	if err := register(ctx, db.W, id, now); err != nil {
		return err
	}
	if _, err := db.W.ExecContext(ctx, "UPDATE field_keys SET retired_at = $1 WHERE key_id = $2 AND retired_at IS NULL", now, id); err != nil {
		return fmt.Errorf("protect: retire field key %s: %w", id, err)
	}
	return nil
}
