package wecom

import (
	"fmt"
	"strconv"
)

// Gender is a person's gender as WeCom reports it. user/get sends it as a
// string ("1") and the customer APIs as a number; Gender reads both.
type Gender int

// Genders.
const (
	GenderUnknown Gender = 0
	GenderMale    Gender = 1
	GenderFemale  Gender = 2
)

// UnmarshalJSON reads 1, "1", "" and null.
func (g *Gender) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" || s == "null" {
		*g = GenderUnknown
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("wecom: gender %s is not a number", b)
	}
	*g = Gender(n)
	return nil
}

// ContactType tells a WeChat user from a WeCom user.
type ContactType int

// Contact types.
const (
	ContactWeChat ContactType = 1 // a personal WeChat user
	ContactWeCom  ContactType = 2 // a member of another WeCom corp
)

// AddWay says how a member came to have a customer (add_way).
type AddWay int

// Ways a customer is added.
const (
	AddWayUnknown       AddWay = 0
	AddWayQRCode        AddWay = 1 // scanned a QR code
	AddWayMobileSearch  AddWay = 2 // searched by mobile number
	AddWayCardShare     AddWay = 3 // shared contact card
	AddWayGroupChat     AddWay = 4
	AddWayAddressBook   AddWay = 5 // phone address book
	AddWayWeChatContact AddWay = 6
	AddWayWeChatRequest AddWay = 7 // friend request from WeChat
	AddWayThirdParty    AddWay = 8 // service staff added when a third-party app was installed
	AddWayEmailSearch   AddWay = 9
	AddWayInternalShare AddWay = 201 // shared by another member
	AddWayAssigned      AddWay = 202 // assigned by an admin or owner
)

// User is a WeCom member as user/get returns it. Apps created after
// 2022-06-20 no longer receive avatar, gender, mobile, email, biz_mail,
// qr_code and address (path/90196): expect them empty.
type User struct {
	UserID           string           `json:"userid"`
	Name             string           `json:"name"`
	Department       []int64          `json:"department"`
	Order            []int64          `json:"order,omitempty"`
	Position         string           `json:"position,omitempty"`
	Mobile           string           `json:"mobile,omitempty"`
	Gender           Gender           `json:"gender,omitempty"`
	Email            string           `json:"email,omitempty"`
	BizMail          string           `json:"biz_mail,omitempty"`
	IsLeaderInDept   []int            `json:"is_leader_in_dept,omitempty"`
	DirectLeader     []string         `json:"direct_leader,omitempty"`
	Avatar           string           `json:"avatar,omitempty"`
	ThumbAvatar      string           `json:"thumb_avatar,omitempty"`
	Telephone        string           `json:"telephone,omitempty"`
	Alias            string           `json:"alias,omitempty"`
	Address          string           `json:"address,omitempty"`
	OpenUserID       string           `json:"open_userid,omitempty"`
	MainDepartment   int64            `json:"main_department,omitempty"`
	Status           int              `json:"status"` // 1 active, 2 disabled, 4 not activated, 5 left
	QRCode           string           `json:"qr_code,omitempty"`
	ExternalPosition string           `json:"external_position,omitempty"`
	ExternalProfile  *ExternalProfile `json:"external_profile,omitempty"`
}

// ExternalProfile is the public profile of a member or of a WeCom customer.
type ExternalProfile struct {
	ExternalCorpName string          `json:"external_corp_name,omitempty"`
	WechatChannels   *WechatChannels `json:"wechat_channels,omitempty"`
	ExternalAttr     []ExternalAttr  `json:"external_attr,omitempty"`
}

// WechatChannels is the WeChat Channels (视频号) account shown on a profile.
type WechatChannels struct {
	Nickname string `json:"nickname"`
	Status   int    `json:"status,omitempty"`
}

// ExternalAttr is one profile attribute: Type 0 text, 1 web page, 2 mini
// program.
type ExternalAttr struct {
	Type        int                  `json:"type"`
	Name        string               `json:"name"`
	Text        *ExternalAttrText    `json:"text,omitempty"`
	Web         *ExternalAttrWeb     `json:"web,omitempty"`
	Miniprogram *ExternalAttrMiniApp `json:"miniprogram,omitempty"`
}

// ExternalAttrText is a text attribute.
type ExternalAttrText struct {
	Value string `json:"value"`
}

// ExternalAttrWeb is a web page attribute.
type ExternalAttrWeb struct {
	URL   string `json:"url"`
	Title string `json:"title"`
}

// ExternalAttrMiniApp is a mini program attribute.
type ExternalAttrMiniApp struct {
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath"`
	Title    string `json:"title"`
}

// ExternalContact is a customer (外部联系人). UnionID is set only for WeChat
// users when the corp bound a WeChat Open Platform account; Position,
// CorpName and CorpFullName only for WeCom users.
type ExternalContact struct {
	ExternalUserID  string           `json:"external_userid"`
	Name            string           `json:"name"`
	Position        string           `json:"position,omitempty"`
	Avatar          string           `json:"avatar,omitempty"`
	CorpName        string           `json:"corp_name,omitempty"`
	CorpFullName    string           `json:"corp_full_name,omitempty"`
	Type            ContactType      `json:"type"`
	Gender          Gender           `json:"gender"`
	UnionID         string           `json:"unionid,omitempty"`
	ExternalProfile *ExternalProfile `json:"external_profile,omitempty"`
}

// FollowUser is a member's relationship with a customer, as
// externalcontact/get returns it (with tag names).
type FollowUser struct {
	UserID         string               `json:"userid"`
	Remark         string               `json:"remark"`
	Description    string               `json:"description"`
	CreateTime     int64                `json:"createtime"` // Unix seconds
	Tags           []FollowTag          `json:"tags,omitempty"`
	RemarkCorpName string               `json:"remark_corp_name,omitempty"`
	RemarkMobiles  []string             `json:"remark_mobiles,omitempty"`
	OperUserID     string               `json:"oper_userid,omitempty"` // who started the add: a member's userid or the customer's external_userid
	AddWay         AddWay               `json:"add_way"`
	State          string               `json:"state,omitempty"` // the state of the 「联系我」 code or link used
	WechatChannels *FollowWechatChannel `json:"wechat_channels,omitempty"`
}

// FollowTag is a tag a member put on a customer. Type 1 is an enterprise
// tag (TagID set), 2 a member's personal tag.
type FollowTag struct {
	GroupName string `json:"group_name"`
	TagName   string `json:"tag_name"`
	Type      int    `json:"type"`
	TagID     string `json:"tag_id,omitempty"`
}

// FollowWechatChannel is the WeChat Channels account a customer came from.
type FollowWechatChannel struct {
	Nickname string `json:"nickname"`
	Source   int    `json:"source"`
}

// FollowInfo is a member's relationship with a customer as the batch API
// returns it: enterprise tag IDs only, no personal tags.
type FollowInfo struct {
	UserID         string               `json:"userid"`
	Remark         string               `json:"remark"`
	Description    string               `json:"description"`
	CreateTime     int64                `json:"createtime"` // Unix seconds
	TagID          []string             `json:"tag_id,omitempty"`
	RemarkCorpName string               `json:"remark_corp_name,omitempty"`
	RemarkMobiles  []string             `json:"remark_mobiles,omitempty"`
	OperUserID     string               `json:"oper_userid,omitempty"`
	AddWay         AddWay               `json:"add_way"`
	State          string               `json:"state,omitempty"`
	WechatChannels *FollowWechatChannel `json:"wechat_channels,omitempty"`
}

// ExternalContactWithFollow is one customer of one member.
type ExternalContactWithFollow struct {
	ExternalContact ExternalContact `json:"external_contact"`
	FollowInfo      FollowInfo      `json:"follow_info"`
}

// BatchGetByUserResult is one page of customers of some members.
type BatchGetByUserResult struct {
	ExternalContactList []ExternalContactWithFollow `json:"external_contact_list"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor"`
	// FailInfo lists members whose customers were left out.
	FailInfo *BatchFailInfo `json:"fail_info,omitempty"`
}

// BatchFailInfo lists members left out of a batch answer.
type BatchFailInfo struct {
	// UnlicensedUserIDList are members without an interop licence (互通许可).
	UnlicensedUserIDList []string `json:"unlicensed_userid_list,omitempty"`
}

// ExternalContactDetail is a customer with every member who added them.
type ExternalContactDetail struct {
	ExternalContact ExternalContact `json:"external_contact"`
	FollowUser      []FollowUser    `json:"follow_user"`
	// NextCursor is set when the customer has more than 500 followers.
	NextCursor string `json:"next_cursor,omitempty"`
}

// TagGroup is a group of enterprise customer tags.
type TagGroup struct {
	GroupID    string `json:"group_id"`
	GroupName  string `json:"group_name"`
	CreateTime int64  `json:"create_time"` // Unix seconds
	Order      int    `json:"order"`       // larger first; 0 to 2^32-1
	Deleted    bool   `json:"deleted,omitempty"`
	Tag        []Tag  `json:"tag"`
}

// Tag is an enterprise customer tag.
type Tag struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	CreateTime int64  `json:"create_time"` // Unix seconds
	Order      int    `json:"order"`       // larger first; 0 to 2^32-1
	Deleted    bool   `json:"deleted,omitempty"`
}
