package wecomsync

import (
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/wecom"
)

func unix(sec int64) time.Time {
	if sec <= 0 {
		return time.Unix(0, 0).UTC()
	}
	return time.Unix(sec, 0).UTC()
}

func toCustomer(ec wecom.ExternalContact) customer.Customer {
	corp := ec.CorpName
	if corp == "" {
		corp = ec.CorpFullName
	}
	return customer.Customer{
		ExternalUserID: ec.ExternalUserID, UnionID: ec.UnionID, Name: ec.Name, Avatar: ec.Avatar,
		Type: int(ec.Type), Gender: int(ec.Gender), CorpName: corp,
	}
}

func followFromInfo(fi wecom.FollowInfo) customer.Follow {
	return customer.Follow{
		MemberUserID: fi.UserID, Remark: fi.Remark, Description: fi.Description, AddWay: int(fi.AddWay),
		State: fi.State, OperUserID: fi.OperUserID, AddedAt: unix(fi.CreateTime), TagIDs: fi.TagID,
	}
}

func followFromUser(fu wecom.FollowUser) customer.Follow {
	var tags []string
	for _, t := range fu.Tags {
		// Only corp tags (type 1) carry an id; personal tags are the
		// member's own and not Kith's to keep.
		if t.Type == 1 && t.TagID != "" {
			tags = append(tags, t.TagID)
		}
	}
	return customer.Follow{
		MemberUserID: fu.UserID, Remark: fu.Remark, Description: fu.Description, AddWay: int(fu.AddWay),
		State: fu.State, OperUserID: fu.OperUserID, AddedAt: unix(fu.CreateTime), TagIDs: tags,
	}
}

func toTagGroup(g wecom.TagGroup) customer.TagGroup {
	out := customer.TagGroup{GroupID: g.GroupID, Name: g.GroupName, Order: g.Order, CreatedAt: unix(g.CreateTime)}
	for _, t := range g.Tag {
		if t.Deleted {
			continue
		}
		out.Tags = append(out.Tags, customer.Tag{TagID: t.ID, GroupID: g.GroupID, Name: t.Name, Order: t.Order, CreatedAt: unix(t.CreateTime)})
	}
	return out
}

func toMember(u *wecom.User) customer.Member {
	return customer.Member{UserID: u.UserID, Name: u.Name, Departments: u.Department, Position: u.Position, Status: u.Status, ContactEnabled: true}
}
