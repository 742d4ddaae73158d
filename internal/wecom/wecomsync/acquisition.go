package wecomsync

import (
	"context"
	"time"

	"github.com/kith-scrm/kith/internal/acquisition"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// hooks are what other packages want done while events are applied.
type hooks struct {
	arrival    func(context.Context, acquisition.Arrival) (func(context.Context, store.Querier) error, error)
	memberLeft func(ctx context.Context, q store.Querier, userID string, at time.Time) error
}

// OnArrival makes every add_external_contact and add_half_external_contact
// call fn after the customer's details were fetched; the write fn returns
// (may be nil) commits after the relation, in the same transaction.
// acquisition.Service.Arrive is such a function.
func (s *Syncer) OnArrival(fn func(context.Context, acquisition.Arrival) (func(context.Context, store.Querier) error, error)) {
	s.hooks.arrival = fn
}

// OnMemberLeft makes a member's departure (change_contact delete_user)
// call fn in the transaction that records it.
func (s *Syncer) OnMemberLeft(fn func(ctx context.Context, q store.Querier, userID string, at time.Time) error) {
	s.hooks.memberLeft = fn
}

// arrive runs the arrival hook for an add event, returning a write that
// does nothing when there is no hook.
func (s *Syncer) arrive(ctx context.Context, ev *callback.Event, detail *wecom.ExternalContactDetail) (func(context.Context, store.Querier) error, error) {
	if s.hooks.arrival == nil || ev.ChangeType == callback.ChangeEditExternalContact {
		return noop, nil
	}
	w, err := s.hooks.arrival(ctx, acquisition.Arrival{
		Member: ev.UserID, ExternalUserID: ev.ExternalUserID, Name: detail.ExternalContact.Name,
		State: ev.State, WelcomeCode: ev.WelcomeCode, EventTime: ev.CreateTime,
	})
	if err != nil || w == nil {
		return noop, err
	}
	return w, nil
}

func (s *Syncer) left(ctx context.Context, q store.Querier, userID string, at time.Time) error {
	if s.hooks.memberLeft == nil {
		return nil
	}
	return s.hooks.memberLeft(ctx, q, userID, at)
}

// Acquisition returns the adapter through which internal/acquisition
// creates and changes contact ways and links and marks arrival tags.
func (s *Syncer) Acquisition() acquisition.Platform { return platform{s} }

// platform implements acquisition.Platform with the WeCom client. WeCom's
// refusals become kith errors with the code's meaning.
type platform struct{ s *Syncer }

func (p platform) client(ctx context.Context) (*wecom.Client, error) { return p.s.conn.Client(ctx) }

func (p platform) CreateCode(ctx context.Context, r acquisition.Remote) (string, string, error) {
	c, err := p.client(ctx)
	if err != nil {
		return "", "", err
	}
	skip := r.SkipVerify
	id, qr, err := c.AddContactWay(ctx, wecom.ContactWay{Type: wecom.ContactWayMulti, Scene: wecom.ContactWaySceneQR,
		Remark: r.Name, SkipVerify: &skip, State: r.State, User: r.Members})
	return id, qr, platformError(err)
}

func (p platform) UpdateCode(ctx context.Context, id string, r acquisition.Remote) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	skip := r.SkipVerify
	return platformError(c.UpdateContactWay(ctx, wecom.ContactWay{ConfigID: id, Remark: r.Name, SkipVerify: &skip, State: r.State, User: r.Members}))
}

func (p platform) DeleteCode(ctx context.Context, id string) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	return platformError(c.DelContactWay(ctx, id))
}

func (p platform) CreateLink(ctx context.Context, r acquisition.Remote) (string, string, error) {
	c, err := p.client(ctx)
	if err != nil {
		return "", "", err
	}
	l, err := c.CreateAcquisitionLink(ctx, wecom.AcquisitionLink{LinkName: r.Name, SkipVerify: r.SkipVerify, Range: wecom.LinkRange{UserList: r.Members}})
	if err != nil {
		return "", "", platformError(err)
	}
	return l.LinkID, l.URL, nil
}

func (p platform) UpdateLink(ctx context.Context, id string, r acquisition.Remote) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	return platformError(c.UpdateAcquisitionLink(ctx, wecom.AcquisitionLink{LinkID: id, LinkName: r.Name, SkipVerify: r.SkipVerify, Range: wecom.LinkRange{UserList: r.Members}}))
}

func (p platform) DeleteLink(ctx context.Context, id string) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	return platformError(c.DeleteAcquisitionLink(ctx, id))
}

func (p platform) MarkTags(ctx context.Context, member, externalUserID string, add []string) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	err = c.MarkTag(ctx, wecom.MarkTagRequest{UserID: member, ExternalUserID: externalUserID, AddTag: add})
	if code := wecom.ErrorCode(err); code != 0 && code != wecom.CodeBusy && code != wecom.CodeRateLimited && code != wecom.CodeConcurrency {
		return kith.Errorf(kith.EINVALID, "WeCom refused the arrival tags (error %d): %s", code, wecom.Meaning(code))
	}
	return platformError(err)
}
