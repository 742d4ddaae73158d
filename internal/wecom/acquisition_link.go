package wecom

import (
	"context"
	"net/http"

	"github.com/kith-scrm/kith/internal/kith"
)

// AcquisitionLink is a customer-acquisition link (获客助手, path/97398): a
// https://work.weixin.qq.com/ca/… address that opens from outside WeChat.
// Append customer_channel=… (at most 64 bytes) to attribute; it comes back
// as the add event's State.
type AcquisitionLink struct {
	LinkID     string    `json:"link_id,omitempty"`
	LinkName   string    `json:"link_name"`
	URL        string    `json:"url,omitempty"` // answers only
	CreateTime int64     `json:"create_time,omitempty"`
	SkipVerify bool      `json:"skip_verify"`
	Range      LinkRange `json:"-"`
}

// LinkRange is who a link leads to.
type LinkRange struct {
	UserList       []string `json:"user_list,omitempty"`
	DepartmentList []int64  `json:"department_list,omitempty"`
}

// MaxCustomerChannelBytes bounds customer_channel.
const MaxCustomerChannelBytes = 64

func (l *AcquisitionLink) check() error {
	if l.LinkName == "" {
		return kith.Errorf(kith.EINVALID, "wecom: a link needs a link_name")
	}
	if len(l.Range.UserList)+len(l.Range.DepartmentList) == 0 {
		return kith.Errorf(kith.EINVALID, "wecom: a link needs a member or a department in its range")
	}
	for _, u := range l.Range.UserList {
		if err := checkUserID("link userid", u); err != nil {
			return err
		}
	}
	return nil
}

type linkBody struct {
	LinkID     string    `json:"link_id,omitempty"`
	LinkName   string    `json:"link_name"`
	Range      LinkRange `json:"range"`
	SkipVerify bool      `json:"skip_verify"`
}

// CreateAcquisitionLink creates a link and returns it with its link_id and
// url (POST externalcontact/customer_acquisition/create_link).
func (c *Client) CreateAcquisitionLink(ctx context.Context, l AcquisitionLink) (*AcquisitionLink, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	var out struct {
		Link AcquisitionLink `json:"link"`
	}
	in := linkBody{LinkName: l.LinkName, Range: l.Range, SkipVerify: l.SkipVerify}
	if err := c.call(ctx, http.MethodPost, "externalcontact/customer_acquisition/create_link", nil, in, &out); err != nil {
		return nil, err
	}
	out.Link.Range = l.Range
	return &out.Link, nil
}

// UpdateAcquisitionLink changes a link's name, range and skip_verify
// (POST externalcontact/customer_acquisition/update_link).
func (c *Client) UpdateAcquisitionLink(ctx context.Context, l AcquisitionLink) error {
	if l.LinkID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: update_link needs the link_id")
	}
	if err := l.check(); err != nil {
		return err
	}
	in := linkBody{LinkID: l.LinkID, LinkName: l.LinkName, Range: l.Range, SkipVerify: l.SkipVerify}
	return c.call(ctx, http.MethodPost, "externalcontact/customer_acquisition/update_link", nil, in, nil)
}

// GetAcquisitionLink reads a link (POST externalcontact/customer_acquisition/get).
func (c *Client) GetAcquisitionLink(ctx context.Context, linkID string) (*AcquisitionLink, error) {
	if linkID == "" {
		return nil, kith.Errorf(kith.EINVALID, "wecom: customer_acquisition/get needs the link_id")
	}
	var out struct {
		Link  AcquisitionLink `json:"link"`
		Range LinkRange       `json:"range"`
	}
	in := struct {
		LinkID string `json:"link_id"`
	}{linkID}
	if err := c.call(ctx, http.MethodPost, "externalcontact/customer_acquisition/get", nil, in, &out); err != nil {
		return nil, err
	}
	out.Link.LinkID, out.Link.Range = linkID, out.Range
	return &out.Link, nil
}

// DeleteAcquisitionLink deletes a link
// (POST externalcontact/customer_acquisition/delete_link).
func (c *Client) DeleteAcquisitionLink(ctx context.Context, linkID string) error {
	if linkID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: delete_link needs the link_id")
	}
	in := struct {
		LinkID string `json:"link_id"`
	}{linkID}
	return c.call(ctx, http.MethodPost, "externalcontact/customer_acquisition/delete_link", nil, in, nil)
}
