package customer

import (
	"github.com/kith-scrm/kith/internal/protect"
	"time"
)

// Member is a staff account of the merchant's WeCom corp.
type Member struct {
	UserID         string
	Name           string
	Departments    []int64
	Position       string
	Status         int // WeCom: 1 active, 2 disabled, 4 not activated, 5 left
	ContactEnabled bool
	LeftAt         *time.Time
}

// Customer is an external contact: a WeChat (or WeCom) user the merchant's
// members follow.
type Customer struct {
	ID             int64
	ExternalUserID string
	UnionID        string
	Name           string
	Avatar         string
	Type           int // 1 WeChat user, 2 WeCom user
	Gender         int // 0 unknown, 1 male, 2 female
	CorpName       string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Follow states.
const (
	FollowActive            = "active"
	FollowDeletedByMember   = "deleted_by_member"   // the relation is gone
	FollowDeletedByCustomer = "deleted_by_customer" // a one-way relation remains
)

// Follow is the relation between one member and one customer.
type Follow struct {
	MemberUserID string
	Remark       string
	Description  string
	AddWay       int
	State        string // the channel state that brought the customer
	OperUserID   string
	AddedAt      time.Time
	TagIDs       []string
	Status       string
	EndedAt      *time.Time
	// Synced marks a relation seen by a full sync (ApplyFollow records when);
	// EndUnseenFollows ends the active relations a sync did not see.
	Synced bool
	// Phones are the phone numbers the member noted for the customer, sealed
	// (never plaintext). ApplyFollow replaces the stored ones when Phones is
	// not nil; nil leaves them as they are.
	Phones []protect.Sealed
}

// TagGroup is a group of corp tags.
type TagGroup struct {
	GroupID   string
	Name      string
	Order     int
	CreatedAt time.Time
	Tags      []Tag
}

// Tag is a corp tag.
type Tag struct {
	TagID     string
	GroupID   string
	Name      string
	Order     int
	CreatedAt time.Time
}
