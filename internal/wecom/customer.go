package wecom

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of the customer APIs (path/96316, path/96317).
const (
	MaxBatchUsers         = 100 // userids per batch/get_by_user call
	MaxBatchLimit         = 100 // customers per batch/get_by_user page
	MaxRemarkLen          = 20  // characters of a remark
	MaxDescriptionLen     = 150 // characters of a description
	MaxRemarkCompanyLen   = 20  // characters of a remark company
	defaultAllByUserLimit = MaxBatchLimit
)

// BatchGetByUser returns one page of the customers of up to 100 members
// (POST externalcontact/batch/get_by_user, path/96316). cursor is "" for the
// first page, then the previous NextCursor; limit is 1 to 100, or 0 for
// WeCom's default of 50. Members without an interop licence are listed in
// FailInfo; if none of them has one, WeCom answers CodeUnlicensed.
func (c *Client) BatchGetByUser(ctx context.Context, userIDs []string, cursor string, limit int) (*BatchGetByUserResult, error) {
	if len(userIDs) == 0 {
		return nil, kith.Errorf(kith.EINVALID, "wecom: batch/get_by_user needs at least one userid")
	}
	if len(userIDs) > MaxBatchUsers {
		return nil, kith.Errorf(kith.EINVALID, "wecom: batch/get_by_user takes at most %d userids, not %d; split the list", MaxBatchUsers, len(userIDs))
	}
	for i, id := range userIDs {
		if err := checkUserID(fmt.Sprintf("userid %d of the list", i+1), id); err != nil {
			return nil, err
		}
	}
	if limit < 0 || limit > MaxBatchLimit {
		return nil, kith.Errorf(kith.EINVALID, "wecom: batch/get_by_user limit is %d; it must be 1 to %d, or 0 for WeCom's default of 50", limit, MaxBatchLimit)
	}
	in := struct {
		UserIDList []string `json:"userid_list"`
		Cursor     string   `json:"cursor"`
		Limit      int      `json:"limit,omitempty"`
	}{userIDs, cursor, limit}
	var out BatchGetByUserResult
	if err := c.call(ctx, http.MethodPost, "externalcontact/batch/get_by_user", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlicensedError reports members whose customers WeCom left out because
// they have no interop licence (互通许可). A sync that gets it must not take
// the missing customers for deleted ones.
type UnlicensedError struct {
	UserIDs []string
}

// Error implements the error interface.
func (e *UnlicensedError) Error() string {
	ids := e.UserIDs
	more := ""
	if len(ids) > 5 {
		ids, more = ids[:5], fmt.Sprintf(" and %d more", len(e.UserIDs)-5)
	}
	return fmt.Sprintf("wecom: %d member(s) have no interop licence (互通许可), so their customers were left out: %s%s",
		len(e.UserIDs), strings.Join(ids, ", "), more)
}

// AllByUser calls fn with every customer of every member in userIDs, one
// member–customer relationship at a time. It splits userIDs into groups of
// 100 and follows next_cursor to the last page. It stops at the first error,
// including one returned by fn, and returns it as is. When all pages were
// read but WeCom left some members out for lack of a licence, it returns an
// *UnlicensedError naming them.
func (c *Client) AllByUser(ctx context.Context, userIDs []string, fn func(ExternalContactWithFollow) error) error {
	var unlicensed []string
	for start := 0; start < len(userIDs); start += MaxBatchUsers {
		group := userIDs[start:min(start+MaxBatchUsers, len(userIDs))]
		cursor := ""
		for {
			page, err := c.BatchGetByUser(ctx, group, cursor, defaultAllByUserLimit)
			if ErrorCode(err) == CodeUnlicensed {
				// None of this group is licensed; the other groups may be.
				unlicensed = append(unlicensed, group...)
				break
			}
			if err != nil {
				return err
			}
			if page.FailInfo != nil {
				unlicensed = append(unlicensed, page.FailInfo.UnlicensedUserIDList...)
			}
			for _, item := range page.ExternalContactList {
				if err := fn(item); err != nil {
					return err
				}
			}
			if page.NextCursor == "" {
				break
			}
			if page.NextCursor == cursor {
				return fmt.Errorf("wecom: externalcontact/batch/get_by_user: next_cursor did not advance; stopping to avoid a loop")
			}
			cursor = page.NextCursor
		}
	}
	if len(unlicensed) > 0 {
		return &UnlicensedError{UserIDs: unlicensed}
	}
	return nil
}

// GetExternalContact returns a customer and the members who added them
// (GET externalcontact/get, path/96315). cursor is "" for the first page;
// follow NextCursor when the customer has more than 500 followers.
func (c *Client) GetExternalContact(ctx context.Context, externalUserID, cursor string) (*ExternalContactDetail, error) {
	if externalUserID == "" {
		return nil, kith.Errorf(kith.EINVALID, "wecom: external_userid is empty")
	}
	q := url.Values{"external_userid": {externalUserID}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out ExternalContactDetail
	if err := c.call(ctx, http.MethodGet, "externalcontact/get", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemarkRequest changes what a member noted about a customer
// (externalcontact/remark). Empty fields are not sent and so stay as they
// are. RemarkMobiles replaces all remark mobiles; []string{""} clears them.
type RemarkRequest struct {
	UserID           string   `json:"userid"`
	ExternalUserID   string   `json:"external_userid"`
	Remark           string   `json:"remark,omitempty"`         // at most 20 characters
	Description      string   `json:"description,omitempty"`    // at most 150 characters
	RemarkCompany    string   `json:"remark_company,omitempty"` // at most 20 characters; WeChat customers only
	RemarkMobiles    []string `json:"remark_mobiles,omitempty"`
	RemarkPicMediaID string   `json:"remark_pic_mediaid,omitempty"` // from the media upload API
}

// Remark sets a member's remark on a customer
// (POST externalcontact/remark, path/96317).
func (c *Client) Remark(ctx context.Context, r RemarkRequest) error {
	if err := checkUserID("userid", r.UserID); err != nil {
		return err
	}
	if r.ExternalUserID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: external_userid is empty")
	}
	if r.Remark == "" && r.Description == "" && r.RemarkCompany == "" && len(r.RemarkMobiles) == 0 && r.RemarkPicMediaID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: remark: set at least one of remark, description, remark company, remark mobiles or picture")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"remark", r.Remark, MaxRemarkLen},
		{"description", r.Description, MaxDescriptionLen},
		{"remark company", r.RemarkCompany, MaxRemarkCompanyLen},
	} {
		if err := checkLen(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	return c.call(ctx, http.MethodPost, "externalcontact/remark", nil, r, nil)
}
