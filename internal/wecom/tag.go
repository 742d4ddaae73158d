package wecom

import (
	"context"
	"math"
	"net/http"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of enterprise customer tags (path/96320).
const (
	MaxTagNameLen = 30   // characters of a tag or tag group name
	MaxCorpTags   = 3000 // enterprise tags per corp, answered with CodeTagLimit
)

// CorpTagList returns enterprise tag groups with their tags
// (POST externalcontact/get_corp_tag_list, path/96320). With no IDs it
// returns all; with groupIDs it ignores tagIDs.
func (c *Client) CorpTagList(ctx context.Context, tagIDs, groupIDs []string) ([]TagGroup, error) {
	in := struct {
		TagID   []string `json:"tag_id,omitempty"`
		GroupID []string `json:"group_id,omitempty"`
	}{tagIDs, groupIDs}
	var out struct {
		TagGroup []TagGroup `json:"tag_group"`
	}
	if err := c.call(ctx, http.MethodPost, "externalcontact/get_corp_tag_list", nil, in, &out); err != nil {
		return nil, err
	}
	return out.TagGroup, nil
}

// AddCorpTagRequest adds tags to the group GroupID, or to the group named
// GroupName, which is created if missing (then Order orders the new group).
type AddCorpTagRequest struct {
	GroupID   string       `json:"group_id,omitempty"`
	GroupName string       `json:"group_name,omitempty"` // at most 30 characters
	Order     int          `json:"order,omitempty"`      // larger first; 0 to 2^32-1
	Tag       []AddCorpTag `json:"tag"`
	// AgentID is only for legacy third-party multi-app suites; leave it 0.
	AgentID int64 `json:"agentid,omitempty"`
}

// AddCorpTag is one tag to add.
type AddCorpTag struct {
	Name  string `json:"name"`            // 1 to 30 characters
	Order int    `json:"order,omitempty"` // larger first; 0 to 2^32-1
}

// AddCorpTag adds enterprise tags and returns the group with the new tags'
// IDs (POST externalcontact/add_corp_tag). A corp has at most 3000 tags
// (CodeTagLimit); tags with the same name in a group are created once.
func (c *Client) AddCorpTag(ctx context.Context, r AddCorpTagRequest) (*TagGroup, error) {
	if len(r.Tag) == 0 {
		return nil, kith.Errorf(kith.EINVALID, "wecom: add_corp_tag needs at least one tag; WeCom has no empty groups")
	}
	if err := checkLen("tag group name", r.GroupName, MaxTagNameLen); err != nil {
		return nil, err
	}
	if err := checkOrder("tag group order", r.Order); err != nil {
		return nil, err
	}
	for _, t := range r.Tag {
		if t.Name == "" {
			return nil, kith.Errorf(kith.EINVALID, "wecom: a tag name is empty")
		}
		if err := checkLen("tag name", t.Name, MaxTagNameLen); err != nil {
			return nil, err
		}
		if err := checkOrder("tag order", t.Order); err != nil {
			return nil, err
		}
	}
	var out struct {
		TagGroup TagGroup `json:"tag_group"`
	}
	if err := c.call(ctx, http.MethodPost, "externalcontact/add_corp_tag", nil, r, &out); err != nil {
		return nil, err
	}
	return &out.TagGroup, nil
}

// EditCorpTagRequest renames or reorders a tag or tag group. ID is required;
// Name and Order are left unchanged when empty and nil.
type EditCorpTagRequest struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`  // at most 30 characters
	Order *int   `json:"order,omitempty"` // larger first; 0 to 2^32-1
	// AgentID is only for legacy third-party multi-app suites; leave it 0.
	AgentID int64 `json:"agentid,omitempty"`
}

// EditCorpTag changes a tag or tag group created by this app
// (POST externalcontact/edit_corp_tag).
func (c *Client) EditCorpTag(ctx context.Context, r EditCorpTagRequest) error {
	if r.ID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: edit_corp_tag needs the ID of a tag or tag group")
	}
	if r.Name == "" && r.Order == nil {
		return kith.Errorf(kith.EINVALID, "wecom: edit_corp_tag needs a new name or order")
	}
	if err := checkLen("tag name", r.Name, MaxTagNameLen); err != nil {
		return err
	}
	if r.Order != nil {
		if err := checkOrder("tag order", *r.Order); err != nil {
			return err
		}
	}
	return c.call(ctx, http.MethodPost, "externalcontact/edit_corp_tag", nil, r, nil)
}

// DelCorpTag deletes tags and whole tag groups created by this app
// (POST externalcontact/del_corp_tag). A group whose tags are all deleted
// is deleted too.
func (c *Client) DelCorpTag(ctx context.Context, tagIDs, groupIDs []string) error {
	if len(tagIDs) == 0 && len(groupIDs) == 0 {
		return kith.Errorf(kith.EINVALID, "wecom: del_corp_tag needs a tag ID or a group ID")
	}
	in := struct {
		TagID   []string `json:"tag_id,omitempty"`
		GroupID []string `json:"group_id,omitempty"`
	}{tagIDs, groupIDs}
	return c.call(ctx, http.MethodPost, "externalcontact/del_corp_tag", nil, in, nil)
}

// MarkTagRequest adds and removes enterprise tags on one member's customer.
type MarkTagRequest struct {
	UserID         string   `json:"userid"`
	ExternalUserID string   `json:"external_userid"`
	AddTag         []string `json:"add_tag,omitempty"`
	RemoveTag      []string `json:"remove_tag,omitempty"`
}

// MarkTag tags a customer as seen by one member
// (POST externalcontact/mark_tag, path/92118). The customer must be the
// member's customer. Changes made through the API raise no callback.
func (c *Client) MarkTag(ctx context.Context, r MarkTagRequest) error {
	if err := checkUserID("userid", r.UserID); err != nil {
		return err
	}
	if r.ExternalUserID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: external_userid is empty")
	}
	if len(r.AddTag) == 0 && len(r.RemoveTag) == 0 {
		return kith.Errorf(kith.EINVALID, "wecom: mark_tag needs a tag to add or to remove")
	}
	return c.call(ctx, http.MethodPost, "externalcontact/mark_tag", nil, r, nil)
}

// checkOrder rejects orders outside [0, 2^32).
func checkOrder(field string, order int) error {
	if order < 0 || int64(order) > math.MaxUint32 {
		return kith.Errorf(kith.EINVALID, "wecom: %s %d is out of range; it must be 0 to %d", field, order, uint32(math.MaxUint32))
	}
	return nil
}
