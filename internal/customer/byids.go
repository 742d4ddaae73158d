package customer

import (
	"context"
	"fmt"
	"strings"
)

// MaxByIDs bounds one ByIDs call.
const MaxByIDs = 500

// ByIDs returns the customers with the given ids, in the order of ids;
// ids with no customer (deleted meanwhile) are left out. A segment's sample
// and its pages are read this way.
func (d *Directory) ByIDs(ctx context.Context, ids []int64) ([]Row, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxByIDs {
		return nil, fmt.Errorf("customer: by ids: %d ids, at most %d", len(ids), MaxByIDs)
	}
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	rows, err := d.db.R.QueryContext(ctx, `SELECT c.id, c.external_userid, c.unionid, c.name, c.avatar, c.type, c.gender, c.corp_name, c.created_at, c.updated_at,
		(SELECT count(*) FROM follows a WHERE a.customer_id = c.id AND a.status = 'active')
		FROM customers c WHERE c.id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("customer: by ids: %w", err)
	}
	defer rows.Close()
	byID := make(map[int64]Row, len(ids))
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.ExternalUserID, &r.UnionID, &r.Name, &r.Avatar, &r.Type, &r.Gender, &r.CorpName, &r.CreatedAt, &r.UpdatedAt, &r.Followers); err != nil {
			return nil, fmt.Errorf("customer: by ids: %w", err)
		}
		byID[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("customer: by ids: %w", err)
	}
	out := make([]Row, 0, len(byID))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}
