package wecomsync

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// Prepare implements ingest.Applier for WeCom callback events. It fetches
// what an event does not carry (a customer's details, a tag's name) from
// the API, and returns the Write that applies it. Events Kith does not act
// on yet are kept (a nil Write).
func (s *Syncer) Prepare(ctx context.Context, source, kind string, body []byte) (ingest.Write, error) {
	if source != "wecom" {
		return nil, fmt.Errorf("wecomsync: events from %q are not WeCom's", source)
	}
	ev, err := callback.ParseEvent(body)
	if err != nil {
		return nil, err
	}
	switch ev.Event {
	case callback.EventChangeExternalContact:
		return s.prepareContact(ctx, ev)
	case callback.EventChangeExternalTag:
		return s.prepareTag(ctx, ev)
	case eventChangeContact:
		return s.prepareMember(ctx, ev)
	}
	// change_external_chat and everything else: stored and shown for now.
	return nil, nil
}

func (s *Syncer) prepareContact(ctx context.Context, ev *callback.Event) (ingest.Write, error) {
	at := ev.Time().UTC()
	switch ev.ChangeType {
	case callback.ChangeAddExternalContact, callback.ChangeEditExternalContact, callback.ChangeAddHalfExternalContact:
		client, err := s.conn.Client(ctx)
		if err != nil {
			return nil, err
		}
		detail, err := fetchContact(ctx, client, ev.ExternalUserID)
		if wecom.ErrorCode(err) == wecom.CodeNoRelation || wecom.ErrorCode(err) == wecom.CodeInvalidExternalUser {
			// Gone again before we looked (or a half add never completed):
			// a later delete event, or the next full sync, settles it.
			return noop, nil
		}
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx store.Querier) error {
			now := s.clock.Now()
			id, err := customer.ApplyCustomer(ctx, tx, toCustomer(detail.ExternalContact), now)
			if err != nil {
				return err
			}
			var keep []string
			for _, fu := range detail.FollowUser {
				keep = append(keep, fu.UserID)
				f := followFromUser(fu)
				f.Phones = s.phones(fu.RemarkMobiles)
				if err := customer.ApplyFollow(ctx, tx, id, f, now); err != nil {
					return err
				}
			}
			return customer.EndCustomerFollowsExcept(ctx, tx, id, keep, now)
		}, nil
	case callback.ChangeDelExternalContact:
		return func(ctx context.Context, tx store.Querier) error {
			return customer.EndFollow(ctx, tx, ev.ExternalUserID, ev.UserID, customer.FollowDeletedByMember, at)
		}, nil
	case callback.ChangeDelFollowUser:
		// The customer removed the member: the relation ends, and WeCom
		// marketing to this customer stops (an opt-out, P-20).
		return func(ctx context.Context, tx store.Querier) error {
			if err := customer.EndFollow(ctx, tx, ev.ExternalUserID, ev.UserID, customer.FollowDeletedByCustomer, at); err != nil {
				return err
			}
			if s.ledger == nil {
				return errors.New("wecomsync: no consent ledger to record the opt-out (Syncer.UseLedger)")
			}
			_, err := s.ledger.OptOut(ctx, tx, consent.OptOutRequest{
				Person: consent.ExternalUser(ev.ExternalUserID), Channel: consent.ChannelWeCom, Source: consent.SourceMemberDeleted,
				Evidence:   consent.Evidence{"event": ev.Kind(), "member": ev.UserID, "create_time": strconv.FormatInt(ev.CreateTime, 10)},
				RecordedBy: "wecom", OccurredAt: at, ReceivedAt: s.clock.Now(),
			})
			return err
		}, nil
	case callback.ChangeTransferFail:
		// The customer stays with the member who had them: nothing changes
		// locally; the event is kept with its FailReason for the console.
		return noop, nil
	}
	return nil, nil
}

// The address-book event of a member leaving (通讯录回调 change_contact,
// ChangeType delete_user); the callback package covers customer contact.
const (
	eventChangeContact = "change_contact"
	changeDeleteUser   = "delete_user"
)

// noop applies an event that needs no change.
func noop(context.Context, store.Querier) error { return nil }

// fetchContact reads a customer with every follower, across pages.
func fetchContact(ctx context.Context, client *wecom.Client, externalUserID string) (*wecom.ExternalContactDetail, error) {
	detail, err := client.GetExternalContact(ctx, externalUserID, "")
	if err != nil {
		return nil, err
	}
	for cursor := detail.NextCursor; cursor != ""; {
		page, err := client.GetExternalContact(ctx, externalUserID, cursor)
		if err != nil {
			return nil, err
		}
		detail.FollowUser = append(detail.FollowUser, page.FollowUser...)
		cursor = page.NextCursor
	}
	return detail, nil
}

func (s *Syncer) prepareTag(ctx context.Context, ev *callback.Event) (ingest.Write, error) {
	isGroup := ev.TagType == callback.TagTypeGroup
	switch ev.ChangeType {
	case callback.TagDelete:
		return func(ctx context.Context, tx store.Querier) error {
			if isGroup {
				return customer.DeleteTags(ctx, tx, nil, []string{ev.ID})
			}
			return customer.DeleteTags(ctx, tx, []string{ev.ID}, nil)
		}, nil
	case callback.TagCreate, callback.TagUpdate, callback.TagShuffle:
		client, err := s.conn.Client(ctx)
		if err != nil {
			return nil, err
		}
		var groups []wecom.TagGroup
		switch {
		case ev.ChangeType == callback.TagShuffle:
			groups, err = client.CorpTagList(ctx, nil, nil) // a new order: read all
		case isGroup:
			groups, err = client.CorpTagList(ctx, nil, []string{ev.ID})
		default:
			groups, err = client.CorpTagList(ctx, []string{ev.ID}, nil)
		}
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx store.Querier) error {
			now := s.clock.Now()
			if ev.ChangeType == callback.TagShuffle {
				var all []customer.TagGroup
				for _, g := range groups {
					if !g.Deleted {
						all = append(all, toTagGroup(g))
					}
				}
				return customer.ReplaceTags(ctx, tx, all, now)
			}
			for _, g := range groups {
				if g.Deleted {
					continue
				}
				if err := customer.ApplyTagGroup(ctx, tx, toTagGroup(g), now); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	return nil, nil
}

func (s *Syncer) prepareMember(ctx context.Context, ev *callback.Event) (ingest.Write, error) {
	if ev.ChangeType != changeDeleteUser {
		return nil, nil
	}
	at := ev.Time().UTC()
	return func(ctx context.Context, tx store.Querier) error {
		return customer.MemberLeft(ctx, tx, ev.UserID, at)
	}, nil
}
