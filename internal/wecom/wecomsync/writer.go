package wecomsync

import (
	"context"
	"database/sql"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/wecom"
)

// WeCom's limits on what the console writes through.
const (
	maxTagName    = 30 // characters of a tag or group name
	maxRemark     = 20 // characters of a relation's remark
	maxRemarkDesc = 150
)

// platformError turns a WeCom refusal into an application error the console
// can show: the code, its meaning and what to do.
func platformError(err error) error {
	code := wecom.ErrorCode(err)
	if code == 0 {
		return err
	}
	kind := kith.EINVALID
	switch code {
	case wecom.CodeBusy, wecom.CodeRateLimited, wecom.CodeConcurrency:
		kind = kith.EUNAVAILABLE
	}
	return kith.Errorf(kind, "WeCom refused (error %d): %s", code, wecom.Meaning(code))
}

func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > maxTagName {
		return kith.Errorf(kith.EINVALID, "The %s name must have 1 to %d characters.", what, maxTagName)
	}
	return nil
}

// CreateTags adds tags to an existing group (groupID) or to a new group
// (groupName), in WeCom first and then locally, and returns the group.
func (s *Syncer) CreateTags(ctx context.Context, groupID, groupName string, names []string) (*customer.TagGroup, error) {
	if groupID == "" {
		if err := checkName("group", groupName); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return nil, kith.Errorf(kith.EINVALID, "Give at least one tag name.")
	}
	req := wecom.AddCorpTagRequest{GroupID: groupID, GroupName: groupName}
	for _, n := range names {
		if err := checkName("tag", n); err != nil {
			return nil, err
		}
		req.Tag = append(req.Tag, wecom.AddCorpTag{Name: strings.TrimSpace(n)})
	}
	client, err := s.conn.Client(ctx)
	if err != nil {
		return nil, err
	}
	g, err := client.AddCorpTag(ctx, req)
	if err != nil {
		return nil, platformError(err)
	}
	local := toTagGroup(*g)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error { return customer.ApplyTagGroup(ctx, tx, local, s.clock.Now()) })
	return &local, err
}

// RenameTag renames a tag or a group (the id says which).
func (s *Syncer) RenameTag(ctx context.Context, id, name string) error {
	if err := checkName("tag", name); err != nil {
		return err
	}
	client, err := s.conn.Client(ctx)
	if err != nil {
		return err
	}
	if err := client.EditCorpTag(ctx, wecom.EditCorpTagRequest{ID: id, Name: name}); err != nil {
		return platformError(err)
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE tags SET name = $1, updated_at = $2 WHERE tag_id = $3", name, now, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE tag_groups SET name = $1, updated_at = $2 WHERE group_id = $3", name, now, id)
		return err
	})
}

// DeleteTags deletes tags and groups in WeCom and locally.
func (s *Syncer) DeleteTags(ctx context.Context, tagIDs, groupIDs []string) error {
	if len(tagIDs)+len(groupIDs) == 0 {
		return kith.Errorf(kith.EINVALID, "Say which tags or groups to delete.")
	}
	client, err := s.conn.Client(ctx)
	if err != nil {
		return err
	}
	if err := client.DelCorpTag(ctx, tagIDs, groupIDs); err != nil {
		return platformError(err)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return customer.DeleteTags(ctx, tx, tagIDs, groupIDs) })
}

// MarkTags adds and removes corp tags on one relation.
func (s *Syncer) MarkTags(ctx context.Context, member, externalUserID string, add, remove []string) error {
	if len(add)+len(remove) == 0 {
		return kith.Errorf(kith.EINVALID, "Say which tags to add or remove.")
	}
	client, err := s.conn.Client(ctx)
	if err != nil {
		return err
	}
	if err := client.MarkTag(ctx, wecom.MarkTagRequest{UserID: member, ExternalUserID: externalUserID, AddTag: add, RemoveTag: remove}); err != nil {
		return platformError(err)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return customer.MarkTags(ctx, tx, externalUserID, member, add, remove) })
}

// SetRemark sets the remark and description a member keeps on a customer.
func (s *Syncer) SetRemark(ctx context.Context, member, externalUserID, remark, description string) error {
	if utf8.RuneCountInString(remark) > maxRemark {
		return kith.Errorf(kith.EINVALID, "The remark must have at most %d characters.", maxRemark)
	}
	if utf8.RuneCountInString(description) > maxRemarkDesc {
		return kith.Errorf(kith.EINVALID, "The description must have at most %d characters.", maxRemarkDesc)
	}
	client, err := s.conn.Client(ctx)
	if err != nil {
		return err
	}
	if err := client.Remark(ctx, wecom.RemarkRequest{UserID: member, ExternalUserID: externalUserID, Remark: remark, Description: description}); err != nil {
		return platformError(err)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		return customer.SetRemark(ctx, tx, externalUserID, member, remark, description, s.clock.Now())
	})
}
