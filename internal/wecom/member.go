package wecom

import (
	"context"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// FollowUserList returns the userids of the members who have customer
// contact enabled and are in the app's visible range
// (GET externalcontact/get_follow_user_list, path/92571).
func (c *Client) FollowUserList(ctx context.Context) ([]string, error) {
	var out struct {
		FollowUser []string `json:"follow_user"`
	}
	if err := c.call(ctx, http.MethodGet, "externalcontact/get_follow_user_list", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.FollowUser, nil
}

// GetUser returns a member (GET user/get, path/90196). A userid outside the
// app's visible range answers CodeUserNotFound or CodeOutOfScope.
func (c *Client) GetUser(ctx context.Context, userID string) (*User, error) {
	if err := checkUserID("userid", userID); err != nil {
		return nil, err
	}
	var u User
	if err := c.call(ctx, http.MethodGet, "user/get", url.Values{"userid": {userID}}, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// checkUserID rejects an empty or over-long member userid (1 to 64 bytes).
func checkUserID(field, id string) error {
	if id == "" {
		return kith.Errorf(kith.EINVALID, "wecom: %s is empty", field)
	}
	if len(id) > 64 {
		return kith.Errorf(kith.EINVALID, "wecom: %s is %d bytes long; WeCom userids are at most 64", field, len(id))
	}
	return nil
}

// checkLen rejects text longer than max characters (WeCom counts characters,
// so Chinese and Latin letters count the same).
func checkLen(field, s string, max int) error {
	if n := utf8.RuneCountInString(s); n > max {
		return kith.Errorf(kith.EINVALID, "wecom: %s is %d characters long; WeCom allows at most %d", field, n, max)
	}
	return nil
}
