package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// Querier is what the Apply… functions write through: a transaction
// (*sql.Tx or *store.CachedTx), so that the caller commits them together
// with whatever caused them (an event marked applied, a sync cursor).
type Querier = store.Querier

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func splitIDs(s string) []int64 {
	var out []int64
	for _, p := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// ApplyMember inserts or updates a member.
func ApplyMember(ctx context.Context, q Querier, m Member, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO members (userid, name, departments, position, status, contact_enabled, left_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (userid) DO UPDATE SET name = excluded.name, departments = excluded.departments, position = excluded.position,
			status = excluded.status, contact_enabled = excluded.contact_enabled, left_at = excluded.left_at, updated_at = excluded.updated_at`,
		m.UserID, m.Name, joinIDs(m.Departments), m.Position, m.Status, m.ContactEnabled, m.LeftAt, now)
	if err != nil {
		return fmt.Errorf("customer: apply member %s: %w", m.UserID, err)
	}
	return nil
}

// ApplyCustomer inserts or updates a customer by its external user id and
// returns its id.
func ApplyCustomer(ctx context.Context, q Querier, c Customer, now time.Time) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `INSERT INTO customers (external_userid, unionid, name, avatar, type, gender, corp_name, search_grams, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (external_userid) DO UPDATE SET unionid = excluded.unionid, name = excluded.name, avatar = excluded.avatar,
			type = excluded.type, gender = excluded.gender, corp_name = excluded.corp_name, search_grams = excluded.search_grams,
			updated_at = excluded.updated_at
		RETURNING id`,
		c.ExternalUserID, c.UnionID, c.Name, c.Avatar, c.Type, c.Gender, c.CorpName, Grams(c.Name), now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("customer: apply customer %s: %w", c.ExternalUserID, err)
	}
	return id, nil
}

// keepOneWay is true for a relation the customer deleted that WeCom still
// reports (it keeps a one-way relation): it stays ended until the customer
// adds the member again, which gives the relation a newer add time.
const keepOneWay = `follows.status = 'deleted_by_customer' AND excluded.added_at <= follows.ended_at`

// ApplyFollow inserts or updates the relation between a customer and a
// member, makes it active (unless the customer deleted the member and has not
// added them again), and replaces its tags.
func ApplyFollow(ctx context.Context, q Querier, customerID int64, f Follow, now time.Time) error {
	var synced *time.Time
	if f.Synced {
		synced = &now
	}
	_, err := q.ExecContext(ctx, `INSERT INTO follows (customer_id, member_userid, remark, description, add_way, state, oper_userid, added_at, status, ended_at, updated_at, synced_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', NULL, $9, $10)
		ON CONFLICT (customer_id, member_userid) DO UPDATE SET remark = excluded.remark, description = excluded.description,
			add_way = excluded.add_way, state = excluded.state, oper_userid = excluded.oper_userid, added_at = excluded.added_at,
			status = CASE WHEN `+keepOneWay+` THEN follows.status ELSE 'active' END,
			ended_at = CASE WHEN `+keepOneWay+` THEN follows.ended_at ELSE NULL END,
			updated_at = excluded.updated_at, synced_at = COALESCE(excluded.synced_at, follows.synced_at)`,
		customerID, f.MemberUserID, f.Remark, f.Description, f.AddWay, f.State, f.OperUserID, f.AddedAt, now, synced)
	if err != nil {
		return fmt.Errorf("customer: apply follow %d/%s: %w", customerID, f.MemberUserID, err)
	}
	if err := setFollowTags(ctx, q, customerID, f.MemberUserID, f.TagIDs); err != nil {
		return err
	}
	if f.Phones == nil {
		return nil
	}
	return setFollowPhones(ctx, q, customerID, f.MemberUserID, f.Phones)
}

// setFollowPhones replaces a relation's sealed phone numbers; numbers with
// the same index are stored once.
func setFollowPhones(ctx context.Context, q Querier, customerID int64, member string, phones []protect.Sealed) error {
	if _, err := q.ExecContext(ctx, "DELETE FROM customer_phones WHERE customer_id = $1 AND member_userid = $2", customerID, member); err != nil {
		return fmt.Errorf("customer: clear phones %d/%s: %w", customerID, member, err)
	}
	seen := map[string]bool{}
	for _, p := range phones {
		if seen[p.Index] || p.Index == "" {
			continue
		}
		seen[p.Index] = true
		if _, err := q.ExecContext(ctx, "INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id) VALUES ($1, $2, $3, $4, $5)",
			customerID, member, p.Value, p.Index, p.KeyID); err != nil {
			return fmt.Errorf("customer: phone of %d/%s: %w", customerID, member, err)
		}
	}
	return nil
}

func setFollowTags(ctx context.Context, q Querier, customerID int64, member string, tagIDs []string) error {
	if _, err := q.ExecContext(ctx, "DELETE FROM follow_tags WHERE customer_id = $1 AND member_userid = $2", customerID, member); err != nil {
		return fmt.Errorf("customer: clear tags %d/%s: %w", customerID, member, err)
	}
	seen := map[string]bool{}
	for _, t := range tagIDs {
		if seen[t] || t == "" {
			continue
		}
		seen[t] = true
		if _, err := q.ExecContext(ctx, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, $3)", customerID, member, t); err != nil {
			return fmt.Errorf("customer: tag %d/%s with %s: %w", customerID, member, t, err)
		}
	}
	return nil
}

// MarkTags adds and removes tags on one relation, as a member's mark_tag
// does. Tags already present or already absent are left as they are.
func MarkTags(ctx context.Context, q Querier, externalUserID, member string, add, remove []string) error {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT f.customer_id FROM follows f JOIN customers c ON c.id = f.customer_id
		WHERE c.external_userid = $1 AND f.member_userid = $2`, externalUserID, member).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return kith.Errorf(kith.ENOTFOUND, "%s does not follow customer %s", member, externalUserID)
	}
	if err != nil {
		return fmt.Errorf("customer: find relation: %w", err)
	}
	for _, t := range remove {
		if _, err := q.ExecContext(ctx, "DELETE FROM follow_tags WHERE customer_id = $1 AND member_userid = $2 AND tag_id = $3", id, member, t); err != nil {
			return fmt.Errorf("customer: untag: %w", err)
		}
	}
	for _, t := range add {
		if _, err := q.ExecContext(ctx, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", id, member, t); err != nil {
			return fmt.Errorf("customer: tag: %w", err)
		}
	}
	return nil
}

// EndFollow records that a relation ended: status is FollowDeletedByMember
// or FollowDeletedByCustomer. Ending an unknown relation is not an error
// (the event may arrive before the relation was ever synced).
func EndFollow(ctx context.Context, q Querier, externalUserID, member, status string, at time.Time) error {
	if status != FollowDeletedByMember && status != FollowDeletedByCustomer {
		return fmt.Errorf("customer: end follow: unknown status %q", status)
	}
	_, err := q.ExecContext(ctx, `UPDATE follows SET status = $1, ended_at = $2, updated_at = $2
		WHERE member_userid = $3 AND customer_id = (SELECT id FROM customers WHERE external_userid = $4)`,
		status, at, member, externalUserID)
	if err != nil {
		return fmt.Errorf("customer: end follow %s/%s: %w", externalUserID, member, err)
	}
	return nil
}

// EndUnseenFollows ends, as deleted by the member, the active relations that
// a full sync which started at since did not see and that nothing else
// touched since; it returns how many it ended. Relations of members who
// left stay: WeCom hides them until they are transferred.
func EndUnseenFollows(ctx context.Context, q Querier, since, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE follows SET status = 'deleted_by_member', ended_at = $1, updated_at = $1
		WHERE status = 'active' AND updated_at < $2 AND (synced_at IS NULL OR synced_at < $2)
			AND member_userid NOT IN (SELECT userid FROM members WHERE left_at IS NOT NULL)`, now, since)
	if err != nil {
		return 0, fmt.Errorf("customer: end unseen relations: %w", err)
	}
	return res.RowsAffected()
}

// EndCustomerFollowsExcept ends, as deleted by the member, a customer's
// active relations with members other than those listed: what WeCom no
// longer reports after a change.
func EndCustomerFollowsExcept(ctx context.Context, q Querier, customerID int64, keep []string, now time.Time) error {
	rows, err := q.QueryContext(ctx, "SELECT member_userid FROM follows WHERE customer_id = $1 AND status = 'active'", customerID)
	if err != nil {
		return fmt.Errorf("customer: relations of %d: %w", customerID, err)
	}
	var gone []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return fmt.Errorf("customer: relations of %d: %w", customerID, err)
		}
		if !slices.Contains(keep, m) {
			gone = append(gone, m)
		}
	}
	rows.Close()
	for _, m := range gone {
		if _, err := q.ExecContext(ctx, "UPDATE follows SET status = 'deleted_by_member', ended_at = $1, updated_at = $1 WHERE customer_id = $2 AND member_userid = $3",
			now, customerID, m); err != nil {
			return fmt.Errorf("customer: end relation %d/%s: %w", customerID, m, err)
		}
	}
	return nil
}

// MemberLeft records that a member left the company. Their relations stay
// until the customers are transferred.
func MemberLeft(ctx context.Context, q Querier, userID string, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO members (userid, status, left_at, updated_at) VALUES ($1, 5, $2, $2)
		ON CONFLICT (userid) DO UPDATE SET status = 5, left_at = excluded.left_at, updated_at = excluded.updated_at`, userID, at)
	if err != nil {
		return fmt.Errorf("customer: member %s left: %w", userID, err)
	}
	return nil
}

// SetRemark sets a relation's remark and description, as a write through
// the API does (WeCom sends no callback for it).
func SetRemark(ctx context.Context, q Querier, externalUserID, member, remark, description string, now time.Time) error {
	res, err := q.ExecContext(ctx, `UPDATE follows SET remark = $1, description = $2, updated_at = $3
		WHERE member_userid = $4 AND customer_id = (SELECT id FROM customers WHERE external_userid = $5)`,
		remark, description, now, member, externalUserID)
	if err != nil {
		return fmt.Errorf("customer: set remark: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kith.Errorf(kith.ENOTFOUND, "%s does not follow customer %s", member, externalUserID)
	}
	return nil
}

// ApplyTagGroup inserts or updates a tag group and the tags listed with it.
// Tags of the group that are not listed are left alone; use DeleteTags.
func ApplyTagGroup(ctx context.Context, q Querier, g TagGroup, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO tag_groups (group_id, name, sort_order, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (group_id) DO UPDATE SET name = excluded.name, sort_order = excluded.sort_order, updated_at = excluded.updated_at`,
		g.GroupID, g.Name, g.Order, g.CreatedAt, now)
	if err != nil {
		return fmt.Errorf("customer: apply tag group %s: %w", g.GroupID, err)
	}
	for _, t := range g.Tags {
		_, err := q.ExecContext(ctx, `INSERT INTO tags (tag_id, group_id, name, sort_order, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tag_id) DO UPDATE SET group_id = excluded.group_id, name = excluded.name, sort_order = excluded.sort_order, updated_at = excluded.updated_at`,
			t.TagID, g.GroupID, t.Name, t.Order, t.CreatedAt, now)
		if err != nil {
			return fmt.Errorf("customer: apply tag %s: %w", t.TagID, err)
		}
	}
	return nil
}

// DeleteTags removes tags and whole groups, and takes the tags off every
// relation.
func DeleteTags(ctx context.Context, q Querier, tagIDs, groupIDs []string) error {
	for _, g := range groupIDs {
		if _, err := q.ExecContext(ctx, "DELETE FROM follow_tags WHERE tag_id IN (SELECT tag_id FROM tags WHERE group_id = $1)", g); err != nil {
			return fmt.Errorf("customer: delete group %s: %w", g, err)
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tags WHERE group_id = $1", g); err != nil {
			return fmt.Errorf("customer: delete group %s: %w", g, err)
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tag_groups WHERE group_id = $1", g); err != nil {
			return fmt.Errorf("customer: delete group %s: %w", g, err)
		}
	}
	for _, t := range tagIDs {
		if _, err := q.ExecContext(ctx, "DELETE FROM follow_tags WHERE tag_id = $1", t); err != nil {
			return fmt.Errorf("customer: delete tag %s: %w", t, err)
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tags WHERE tag_id = $1", t); err != nil {
			return fmt.Errorf("customer: delete tag %s: %w", t, err)
		}
	}
	return nil
}

// ReplaceTags makes the local corp tags exactly groups (a full sync):
// groups and tags that WeCom no longer has are deleted.
func ReplaceTags(ctx context.Context, q Querier, groups []TagGroup, now time.Time) error {
	keepGroups, keepTags := map[string]bool{}, map[string]bool{}
	for _, g := range groups {
		keepGroups[g.GroupID] = true
		for _, t := range g.Tags {
			keepTags[t.TagID] = true
		}
		if err := ApplyTagGroup(ctx, q, g, now); err != nil {
			return err
		}
	}
	var goneGroups, goneTags []string
	rows, err := q.QueryContext(ctx, "SELECT group_id FROM tag_groups")
	if err != nil {
		return fmt.Errorf("customer: list groups: %w", err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		if !keepGroups[id] {
			goneGroups = append(goneGroups, id)
		}
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, "SELECT tag_id FROM tags")
	if err != nil {
		return fmt.Errorf("customer: list tags: %w", err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		if !keepTags[id] {
			goneTags = append(goneTags, id)
		}
	}
	rows.Close()
	return DeleteTags(ctx, q, goneTags, goneGroups)
}
