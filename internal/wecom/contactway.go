package wecom

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of 「联系我」 contact ways (path/96348).
const (
	MaxContactWayUsers   = 100 // members of a multi-user way, departments expanded (41041)
	MaxContactWayState   = 30  // characters of state
	MaxContactWayRemark  = 30  // characters of remark
	ContactWaySingle     = 1   // type: one member
	ContactWayMulti      = 2   // type: several members
	ContactWaySceneMini  = 1   // scene: a button in a mini program
	ContactWaySceneQR    = 2   // scene: a QR code
	maxContactWayParties = 100
)

// ContactWay is a 「联系我」 way: the request of add_contact_way and what
// get_contact_way answers.
type ContactWay struct {
	ConfigID   string   `json:"config_id,omitempty"`
	Type       int      `json:"type,omitempty"`  // ContactWaySingle or ContactWayMulti
	Scene      int      `json:"scene,omitempty"` // ContactWaySceneMini or ContactWaySceneQR
	Style      int      `json:"style,omitempty"` // mini-program button style
	Remark     string   `json:"remark,omitempty"`
	SkipVerify *bool    `json:"skip_verify,omitempty"` // nil: WeCom's default, true
	State      string   `json:"state,omitempty"`       // comes back in the add event and follow_user.state
	User       []string `json:"user,omitempty"`
	Party      []int64  `json:"party,omitempty"`
	IsTemp     bool     `json:"is_temp,omitempty"`
	ExpiresIn  int      `json:"expires_in,omitempty"`
	// IsExclusive lets a customer add only one of the way's members.
	IsExclusive bool `json:"is_exclusive,omitempty"`
	// QRCode is the URL of the QR code image (answers only).
	QRCode string `json:"qr_code,omitempty"`
}

func (w *ContactWay) check(adding bool) error {
	if adding {
		switch {
		case w.Type != ContactWaySingle && w.Type != ContactWayMulti:
			return kith.Errorf(kith.EINVALID, "wecom: contact way type %d must be 1 (one member) or 2 (several)", w.Type)
		case w.Scene != ContactWaySceneMini && w.Scene != ContactWaySceneQR:
			return kith.Errorf(kith.EINVALID, "wecom: contact way scene %d must be 1 (mini program) or 2 (QR code)", w.Scene)
		case w.Type == ContactWaySingle && (len(w.User) != 1 || len(w.Party) > 0):
			return kith.Errorf(kith.EINVALID, "wecom: a single-member contact way needs exactly one userid")
		case len(w.User)+len(w.Party) == 0:
			return kith.Errorf(kith.EINVALID, "wecom: a contact way needs a member or a department")
		}
	}
	if n := len(w.User); n > MaxContactWayUsers {
		return kith.Errorf(kith.EINVALID, "wecom: a contact way has at most %d members, not %d", MaxContactWayUsers, n)
	}
	if len(w.Party) > maxContactWayParties {
		return kith.Errorf(kith.EINVALID, "wecom: a contact way has at most %d departments", maxContactWayParties)
	}
	for _, u := range w.User {
		if err := checkUserID("contact way userid", u); err != nil {
			return err
		}
	}
	if n := utf8.RuneCountInString(w.State); n > MaxContactWayState {
		return kith.Errorf(kith.EINVALID, "wecom: contact way state is %d characters; WeCom allows at most %d", n, MaxContactWayState)
	}
	return checkLen("contact way remark", w.Remark, MaxContactWayRemark)
}

// AddContactWay creates a 「联系我」 way and returns its config_id and QR
// code URL (POST externalcontact/add_contact_way, path/96348). Keep the
// config_id: without it the way can be neither changed nor deleted.
func (c *Client) AddContactWay(ctx context.Context, w ContactWay) (configID, qrCode string, err error) {
	if err := w.check(true); err != nil {
		return "", "", err
	}
	w.ConfigID, w.QRCode = "", ""
	var out struct {
		ConfigID string `json:"config_id"`
		QRCode   string `json:"qr_code"`
	}
	if err := c.call(ctx, http.MethodPost, "externalcontact/add_contact_way", nil, w, &out); err != nil {
		return "", "", err
	}
	return out.ConfigID, out.QRCode, nil
}

// UpdateContactWay changes a way's remark, skip_verify, state and members
// (POST externalcontact/update_contact_way). The type and scene cannot
// change; the member list given replaces the old one.
func (c *Client) UpdateContactWay(ctx context.Context, w ContactWay) error {
	if w.ConfigID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: update_contact_way needs the config_id")
	}
	if err := w.check(false); err != nil {
		return err
	}
	in := struct {
		ConfigID   string   `json:"config_id"`
		Remark     string   `json:"remark,omitempty"`
		SkipVerify *bool    `json:"skip_verify,omitempty"`
		Style      int      `json:"style,omitempty"`
		State      string   `json:"state,omitempty"`
		User       []string `json:"user,omitempty"`
		Party      []int64  `json:"party,omitempty"`
		ExpiresIn  int      `json:"expires_in,omitempty"`
	}{w.ConfigID, w.Remark, w.SkipVerify, w.Style, w.State, w.User, w.Party, w.ExpiresIn}
	return c.call(ctx, http.MethodPost, "externalcontact/update_contact_way", nil, in, nil)
}

// GetContactWay reads a way (POST externalcontact/get_contact_way).
func (c *Client) GetContactWay(ctx context.Context, configID string) (*ContactWay, error) {
	if configID == "" {
		return nil, kith.Errorf(kith.EINVALID, "wecom: get_contact_way needs the config_id")
	}
	var out struct {
		ContactWay ContactWay `json:"contact_way"`
	}
	in := struct {
		ConfigID string `json:"config_id"`
	}{configID}
	if err := c.call(ctx, http.MethodPost, "externalcontact/get_contact_way", nil, in, &out); err != nil {
		return nil, err
	}
	return &out.ContactWay, nil
}

// DelContactWay deletes a way; its QR code stops working
// (POST externalcontact/del_contact_way).
func (c *Client) DelContactWay(ctx context.Context, configID string) error {
	if configID == "" {
		return kith.Errorf(kith.EINVALID, "wecom: del_contact_way needs the config_id")
	}
	in := struct {
		ConfigID string `json:"config_id"`
	}{configID}
	return c.call(ctx, http.MethodPost, "externalcontact/del_contact_way", nil, in, nil)
}
