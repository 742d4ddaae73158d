package customer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// Directory reads customers, members and tags.
type Directory struct {
	db *store.DB
}

// NewDirectory returns a Directory over db.
func NewDirectory(db *store.DB) *Directory { return &Directory{db: db} }

// Filter narrows a customer list.
type Filter struct {
	Query string // part of the name, or an exact external user id
	// PhoneIndex is the blind index of Query read as a phone number
	// (protect.Protector.Index), filled by the caller that holds the keys;
	// when set, customers with that phone number match too.
	PhoneIndex string
	Member     string // followed (actively) by this member
	TagID      string // tagged with this tag by any member
	// Before pages with a keyset: customers with an id below it. Zero starts
	// at the newest.
	Before int64
	Limit  int // 1–200; 0 means 50
}

// MaxQueryLen bounds a search text.
const MaxQueryLen = 100

// Row is one line of a customer list.
type Row struct {
	Customer
	Followers int // active follow relations; more than one marks a shared customer
}

// Page is a page of customers, newest first.
type Page struct {
	Rows []Row
	// Next is the Before of the next page, or 0 at the end.
	Next int64
}

// List returns one page of customers that match f.
func (d *Directory) List(ctx context.Context, f Filter) (*Page, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 200 {
		return nil, kith.Errorf(kith.EINVALID, "limit must be from 1 to 200, not %d", f.Limit)
	}
	f.Query = strings.TrimSpace(f.Query)
	if len([]rune(f.Query)) > MaxQueryLen {
		return nil, kith.Errorf(kith.EINVALID, "the search text must have at most %d characters", MaxQueryLen)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Before > 0 {
		where = append(where, "c.id < "+arg(f.Before))
	}
	if f.Query != "" {
		cond := d.searchWhere(f.Query, arg)
		if f.PhoneIndex != "" {
			cond = "((" + cond + ") OR c.id IN (SELECT p.customer_id FROM customer_phones p WHERE p.phone_index = " + arg(f.PhoneIndex) + "))"
		}
		where = append(where, cond)
	}
	if f.Member != "" {
		where = append(where, "EXISTS (SELECT 1 FROM follows m WHERE m.customer_id = c.id AND m.member_userid = "+arg(f.Member)+" AND m.status = 'active')")
	}
	if f.TagID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM follow_tags t WHERE t.customer_id = c.id AND t.tag_id = "+arg(f.TagID)+")")
	}
	q := `SELECT c.id, c.external_userid, c.unionid, c.name, c.avatar, c.type, c.gender, c.corp_name, c.created_at, c.updated_at,
		(SELECT count(*) FROM follows a WHERE a.customer_id = c.id AND a.status = 'active')
		FROM customers c`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY c.id DESC LIMIT " + arg(f.Limit+1)
	rows, err := d.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("customer: list: %w", err)
	}
	defer rows.Close()
	p := &Page{}
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.ExternalUserID, &r.UnionID, &r.Name, &r.Avatar, &r.Type, &r.Gender, &r.CorpName, &r.CreatedAt, &r.UpdatedAt, &r.Followers); err != nil {
			return nil, fmt.Errorf("customer: list: %w", err)
		}
		p.Rows = append(p.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("customer: list: %w", err)
	}
	if len(p.Rows) > f.Limit {
		p.Rows = p.Rows[:f.Limit]
		p.Next = p.Rows[len(p.Rows)-1].ID
	}
	return p, nil
}

// Detail is a customer with every relation.
type Detail struct {
	Customer
	Follows []Follow
}

// Get returns a customer by external user id with its relations and tags.
func (d *Directory) Get(ctx context.Context, externalUserID string) (*Detail, error) {
	var c Detail
	err := d.db.R.QueryRowContext(ctx, `SELECT id, external_userid, unionid, name, avatar, type, gender, corp_name, created_at, updated_at
		FROM customers WHERE external_userid = $1`, externalUserID).
		Scan(&c.ID, &c.ExternalUserID, &c.UnionID, &c.Name, &c.Avatar, &c.Type, &c.Gender, &c.CorpName, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kith.Errorf(kith.ENOTFOUND, "no customer %s", externalUserID)
	}
	if err != nil {
		return nil, fmt.Errorf("customer: get %s: %w", externalUserID, err)
	}
	rows, err := d.db.R.QueryContext(ctx, `SELECT member_userid, remark, description, add_way, state, oper_userid, added_at, status, ended_at
		FROM follows WHERE customer_id = $1 ORDER BY added_at, member_userid`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("customer: follows of %d: %w", c.ID, err)
	}
	for rows.Next() {
		var f Follow
		var ended sql.NullTime
		if err := rows.Scan(&f.MemberUserID, &f.Remark, &f.Description, &f.AddWay, &f.State, &f.OperUserID, &f.AddedAt, &f.Status, &ended); err != nil {
			rows.Close()
			return nil, fmt.Errorf("customer: follows of %d: %w", c.ID, err)
		}
		if ended.Valid {
			f.EndedAt = &ended.Time
		}
		c.Follows = append(c.Follows, f)
	}
	rows.Close()
	if err := d.getPhones(ctx, &c); err != nil {
		return nil, err
	}
	tags, err := d.db.R.QueryContext(ctx, "SELECT member_userid, tag_id FROM follow_tags WHERE customer_id = $1 ORDER BY tag_id", c.ID)
	if err != nil {
		return nil, fmt.Errorf("customer: tags of %d: %w", c.ID, err)
	}
	defer tags.Close()
	for tags.Next() {
		var member, tag string
		if err := tags.Scan(&member, &tag); err != nil {
			return nil, fmt.Errorf("customer: tags of %d: %w", c.ID, err)
		}
		for i := range c.Follows {
			if c.Follows[i].MemberUserID == member {
				c.Follows[i].TagIDs = append(c.Follows[i].TagIDs, tag)
			}
		}
	}
	return &c, tags.Err()
}

// TagGroups returns every tag group with its tags, in WeCom's order.
func (d *Directory) TagGroups(ctx context.Context) ([]TagGroup, error) {
	rows, err := d.db.R.QueryContext(ctx, `SELECT g.group_id, g.name, g.sort_order, g.created_at, t.tag_id, t.name, t.sort_order, t.created_at
		FROM tag_groups g LEFT JOIN tags t ON t.group_id = g.group_id
		ORDER BY g.sort_order DESC, g.group_id, t.sort_order DESC, t.tag_id`)
	if err != nil {
		return nil, fmt.Errorf("customer: tag groups: %w", err)
	}
	defer rows.Close()
	var out []TagGroup
	for rows.Next() {
		var g TagGroup
		var tid, tname sql.NullString
		var torder sql.NullInt64
		var tcreated sql.NullTime
		if err := rows.Scan(&g.GroupID, &g.Name, &g.Order, &g.CreatedAt, &tid, &tname, &torder, &tcreated); err != nil {
			return nil, fmt.Errorf("customer: tag groups: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].GroupID != g.GroupID {
			out = append(out, g)
		}
		if tid.Valid {
			last := &out[len(out)-1]
			last.Tags = append(last.Tags, Tag{TagID: tid.String, GroupID: g.GroupID, Name: tname.String, Order: int(torder.Int64), CreatedAt: tcreated.Time})
		}
	}
	return out, rows.Err()
}

// Members returns every member, by name.
func (d *Directory) Members(ctx context.Context) ([]Member, error) {
	rows, err := d.db.R.QueryContext(ctx, "SELECT userid, name, departments, position, status, contact_enabled, left_at FROM members ORDER BY name, userid")
	if err != nil {
		return nil, fmt.Errorf("customer: members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var deps string
		var left sql.NullTime
		if err := rows.Scan(&m.UserID, &m.Name, &deps, &m.Position, &m.Status, &m.ContactEnabled, &left); err != nil {
			return nil, fmt.Errorf("customer: members: %w", err)
		}
		m.Departments = splitIDs(deps)
		if left.Valid {
			m.LeftAt = &left.Time
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Count returns the number of customers.
func (d *Directory) Count(ctx context.Context) (int, error) {
	var n int
	err := d.db.R.QueryRowContext(ctx, "SELECT count(*) FROM customers").Scan(&n)
	return n, err
}

// searchWhere is the condition of a search: an exact look-up for something
// that looks like an external user id, else the name index (all the
// query's character pairs) narrowed to names that really contain the text.
func (d *Directory) searchWhere(q string, arg func(any) string) string {
	if externalIDRe.MatchString(q) {
		return "c.external_userid = " + arg(q)
	}
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q)) + "%"
	exact := fmt.Sprintf(`lower(c.name) LIKE %s ESCAPE '\'`, arg(like))
	grams := queryGrams(q)
	if len(grams) == 0 {
		return exact // only punctuation: nothing to look up in the index
	}
	if d.db.Dialect == store.Postgres {
		return fmt.Sprintf("c.search @@ plainto_tsquery('simple', %s) AND %s", arg(strings.Join(grams, " ")), exact)
	}
	quoted := make([]string, len(grams))
	for i, g := range grams {
		quoted[i] = `"` + strings.ReplaceAll(g, `"`, `""`) + `"`
	}
	return fmt.Sprintf("c.id IN (SELECT rowid FROM customer_search WHERE customer_search MATCH %s) AND %s", arg(strings.Join(quoted, " AND ")), exact)
}

// getPhones adds each relation's sealed phone numbers.
func (d *Directory) getPhones(ctx context.Context, c *Detail) error {
	rows, err := d.db.R.QueryContext(ctx, "SELECT member_userid, phone_sealed, phone_index, key_id FROM customer_phones WHERE customer_id = $1 ORDER BY phone_index", c.ID)
	if err != nil {
		return fmt.Errorf("customer: phones of %d: %w", c.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var member string
		var p protect.Sealed
		if err := rows.Scan(&member, &p.Value, &p.Index, &p.KeyID); err != nil {
			return fmt.Errorf("customer: phones of %d: %w", c.ID, err)
		}
		for i := range c.Follows {
			if c.Follows[i].MemberUserID == member {
				c.Follows[i].Phones = append(c.Follows[i].Phones, p)
			}
		}
	}
	return rows.Err()
}
