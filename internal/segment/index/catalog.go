package index

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/kith-scrm/kith/internal/segment"
)

// catalog is the names the language refers to: corp tags and tag groups by
// name (a name may belong to several ids), and the members on record.
type catalog struct {
	tagIDs    map[string][]string // tag name → tag ids
	tagGroup  map[string]string   // tag id → group id
	groupIDs  map[string][]string // group name → group ids
	memberIDs map[string]bool     // members.userid
	skuCat    skuCatalog          // sku_categories (facts_orders.go)
}

// loadCatalog reads the tags, tag groups and members.
func (l *loader) loadCatalog(ctx context.Context) (*catalog, error) {
	c := &catalog{tagIDs: map[string][]string{}, tagGroup: map[string]string{}, groupIDs: map[string][]string{}, memberIDs: map[string]bool{}}
	rows, err := l.db.R.QueryContext(ctx, `SELECT tag_id, group_id, name FROM tags ORDER BY tag_id`)
	if err != nil {
		return nil, fmt.Errorf("segment index: read tags: %w", err)
	}
	for rows.Next() {
		var id, group, name string
		if err := rows.Scan(&id, &group, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("segment index: read tags: %w", err)
		}
		c.tagIDs[name] = append(c.tagIDs[name], id)
		c.tagGroup[id] = group
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment index: read tags: %w", err)
	}
	rows, err = l.db.R.QueryContext(ctx, `SELECT group_id, name FROM tag_groups ORDER BY group_id`)
	if err != nil {
		return nil, fmt.Errorf("segment index: read tag groups: %w", err)
	}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("segment index: read tag groups: %w", err)
		}
		c.groupIDs[name] = append(c.groupIDs[name], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment index: read tag groups: %w", err)
	}
	rows, err = l.db.R.QueryContext(ctx, `SELECT userid FROM members`)
	if err != nil {
		return nil, fmt.Errorf("segment index: read members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("segment index: read members: %w", err)
		}
		c.memberIDs[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segment index: read members: %w", err)
	}
	if err := l.loadSKUCatalog(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// groupBitmaps computes each tag group's customers from its tags' bitmaps.
func (c *catalog) groupBitmaps(tags map[string]*roaring.Bitmap) map[string]*roaring.Bitmap {
	byGroup := map[string][]*roaring.Bitmap{}
	for tag, bm := range tags {
		if g, ok := c.tagGroup[tag]; ok {
			byGroup[g] = append(byGroup[g], bm)
		}
	}
	groups := make(map[string]*roaring.Bitmap, len(byGroup))
	for g, bms := range byGroup {
		groups[g] = roaring.FastOr(bms...)
	}
	return groups
}

// addToGroups adds the customers of some tags' bitmaps to their groups.
func (c *catalog) addToGroups(groups, tags map[string]*roaring.Bitmap) {
	for tag, bm := range tags {
		if g, ok := c.tagGroup[tag]; ok {
			bitmapOf(groups, g).Or(bm)
		}
	}
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether name exists for the set field f: a tag or tag group
// of that name, a member on record or on a follow, a channel some follow
// came through. It implements segment.Catalog, so Check can run against the
// index instead of the database.
func (ix *Index) Has(f segment.Field, name string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	switch f {
	case segment.FieldTag:
		return len(ix.cat.tagIDs[name]) > 0
	case segment.FieldTagGroup:
		return len(ix.cat.groupIDs[name]) > 0
	case segment.FieldMember:
		return ix.cat.memberIDs[name] || ix.st.members[name] != nil || ix.st.otherMembers[name]
	case segment.FieldChannel:
		return ix.st.channels[name] != nil || ix.st.otherChannels[name]
	case segment.FieldReachable:
		return slices.Contains(reachChannels[:], name)
	case segment.FieldSKU, segment.FieldCategory:
		return ix.hasBought(f, name)
	}
	return false
}

// Names lists f's names in order, for suggestions (channels without the
// empty state).
func (ix *Index) Names(f segment.Field) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	set := map[string]bool{}
	switch f {
	case segment.FieldTag:
		return sortedKeys(ix.cat.tagIDs)
	case segment.FieldTagGroup:
		return sortedKeys(ix.cat.groupIDs)
	case segment.FieldMember:
		for _, m := range []map[string]bool{ix.cat.memberIDs, ix.st.otherMembers} {
			for k := range m {
				set[k] = true
			}
		}
		for k := range ix.st.members {
			set[k] = true
		}
	case segment.FieldChannel:
		for k := range ix.st.otherChannels {
			set[k] = true
		}
		for k := range ix.st.channels {
			set[k] = true
		}
		delete(set, "")
	case segment.FieldReachable:
		return slices.Clone(reachChannels[:])
	case segment.FieldSKU, segment.FieldCategory:
		return ix.boughtNames(f)
	default:
		return nil
	}
	return sortedKeys(set)
}

var _ segment.Catalog = (*Index)(nil)
