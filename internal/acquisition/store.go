package acquisition

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

const channelColumns = `id, kind, name, group_name, state, skip_verify, daily_cap, spec, remote_id, url, roster, roster_at, sync_error, created_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanChannel(r scanner) (*Channel, error) {
	var ch Channel
	var kind, spec, roster string
	var rosterAt sql.NullTime
	if err := r.Scan(&ch.ID, &kind, &ch.Name, &ch.Group, &ch.State, &ch.SkipVerify, &ch.DailyCap, &spec,
		&ch.RemoteID, &ch.URL, &roster, &rosterAt, &ch.SyncError, &ch.CreatedAt, &ch.UpdatedAt); err != nil {
		return nil, err
	}
	ch.Kind = Kind(kind)
	if err := json.Unmarshal([]byte(spec), &ch.Spec); err != nil {
		return nil, fmt.Errorf("acquisition: channel %d: spec: %w", ch.ID, err)
	}
	if err := json.Unmarshal([]byte(roster), &ch.Roster); err != nil {
		return nil, fmt.Errorf("acquisition: channel %d: roster: %w", ch.ID, err)
	}
	if rosterAt.Valid {
		t := rosterAt.Time.UTC()
		ch.RosterAt = &t
	}
	ch.CreatedAt, ch.UpdatedAt = ch.CreatedAt.UTC(), ch.UpdatedAt.UTC()
	return &ch, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers always encode
	}
	return string(b)
}

// insertChannel stores a new channel (without its WeCom side yet).
func insertChannel(ctx context.Context, q store.Querier, ch *Channel, now time.Time) error {
	err := q.QueryRowContext(ctx, `INSERT INTO acq_channels (kind, name, group_name, state, skip_verify, daily_cap, spec, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
		string(ch.Kind), ch.Name, ch.Group, ch.State, ch.SkipVerify, ch.DailyCap, mustJSON(ch.Spec), now).Scan(&ch.ID)
	if store.IsUniqueViolation(err) {
		return kith.Errorf(kith.ECONFLICT, "state: %q already attributes another channel; choose another", ch.State)
	}
	if err != nil {
		return fmt.Errorf("acquisition: insert channel: %w", err)
	}
	ch.CreatedAt, ch.UpdatedAt = now, now
	return nil
}

// saveChannel writes a channel's plan and WeCom side.
func saveChannel(ctx context.Context, q store.Querier, ch *Channel, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE acq_channels SET name = $1, group_name = $2, state = $3, skip_verify = $4, daily_cap = $5, spec = $6,
		remote_id = $7, url = $8, roster = $9, roster_at = $10, sync_error = $11, updated_at = $12 WHERE id = $13`,
		ch.Name, ch.Group, ch.State, ch.SkipVerify, ch.DailyCap, mustJSON(ch.Spec), ch.RemoteID, ch.URL, mustJSON(nonNil(ch.Roster)),
		ch.RosterAt, ch.SyncError, now, ch.ID)
	if store.IsUniqueViolation(err) {
		return kith.Errorf(kith.ECONFLICT, "state: %q already attributes another channel; choose another", ch.State)
	}
	if err != nil {
		return fmt.Errorf("acquisition: save channel %d: %w", ch.ID, err)
	}
	ch.UpdatedAt = now
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func getChannel(ctx context.Context, q store.Querier, id int64) (*Channel, error) {
	ch, err := scanChannel(q.QueryRowContext(ctx, "SELECT "+channelColumns+" FROM acq_channels WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kith.Errorf(kith.ENOTFOUND, "There is no channel %d.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("acquisition: channel %d: %w", id, err)
	}
	return ch, nil
}

// channelByState returns the channel a state attributes, or nil.
func channelByState(ctx context.Context, q store.Querier, state string) (*Channel, error) {
	ch, err := scanChannel(q.QueryRowContext(ctx, "SELECT "+channelColumns+" FROM acq_channels WHERE state = $1", state))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acquisition: channel of state %q: %w", state, err)
	}
	return ch, nil
}

func listChannels(ctx context.Context, q store.Querier) ([]*Channel, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+channelColumns+" FROM acq_channels ORDER BY group_name, name, id")
	if err != nil {
		return nil, fmt.Errorf("acquisition: channels: %w", err)
	}
	defer rows.Close()
	var out []*Channel
	for rows.Next() {
		ch, err := scanChannel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

// known reads the members who may be put on a code and the corp tags.
func known(ctx context.Context, q store.Querier) (Known, error) {
	k := Known{Members: map[string]bool{}, Tags: map[string]bool{}}
	rows, err := q.QueryContext(ctx, "SELECT userid FROM members WHERE status <> 5 AND left_at IS NULL")
	if err != nil {
		return k, fmt.Errorf("acquisition: members: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return k, err
		}
		k.Members[id] = true
	}
	rows.Close()
	if rows, err = q.QueryContext(ctx, "SELECT tag_id FROM tags"); err != nil {
		return k, fmt.Errorf("acquisition: tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return k, err
		}
		k.Tags[id] = true
	}
	return k, rows.Err()
}

// availability reads who of ids left and how many customers each received
// through state in [from, to).
func availability(ctx context.Context, q store.Querier, state string, ids []string, from, to time.Time) (Availability, error) {
	av := Availability{Left: map[string]bool{}, Today: map[string]int{}}
	rows, err := q.QueryContext(ctx, "SELECT userid, status, left_at FROM members")
	if err != nil {
		return av, fmt.Errorf("acquisition: members: %w", err)
	}
	present := map[string]bool{}
	for rows.Next() {
		var id string
		var status int
		var left sql.NullTime
		if err := rows.Scan(&id, &status, &left); err != nil {
			rows.Close()
			return av, err
		}
		present[id] = true
		if status == 5 || left.Valid {
			av.Left[id] = true
		}
	}
	rows.Close()
	for _, id := range ids {
		if !present[id] {
			av.Left[id] = true // gone from the address book altogether
		}
	}
	rows, err = q.QueryContext(ctx, "SELECT member_userid, COUNT(*) FROM follows WHERE state = $1 AND added_at >= $2 AND added_at < $3 GROUP BY member_userid", state, from, to)
	if err != nil {
		return av, fmt.Errorf("acquisition: arrivals today: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return av, err
		}
		av.Today[id] = n
	}
	return av, rows.Err()
}

// DefaultWelcome returns the default welcome message, or nil.
func (s *Service) DefaultWelcome(ctx context.Context) (*Welcome, error) {
	var raw string
	err := s.db.R.QueryRowContext(ctx, "SELECT message FROM welcome_default WHERE id = 1").Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acquisition: default welcome: %w", err)
	}
	var w Welcome
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return nil, fmt.Errorf("acquisition: default welcome: %w", err)
	}
	return &w, nil
}

// SetDefaultWelcome replaces the default welcome message; nil or an empty
// message removes it.
func (s *Service) SetDefaultWelcome(ctx context.Context, w *Welcome) error {
	if w.Empty() {
		_, err := s.db.W.ExecContext(ctx, "DELETE FROM welcome_default WHERE id = 1")
		return err
	}
	if err := ValidateWelcome("default_welcome", w); err != nil {
		return err
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO welcome_default (id, message, updated_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET message = excluded.message, updated_at = excluded.updated_at`, mustJSON(w), s.clock.Now())
	return err
}
