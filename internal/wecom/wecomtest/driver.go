package wecomtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Errors of the driver methods, for errors.Is.
var (
	ErrNotFound = errors.New("wecomtest: not found")
	ErrInvalid  = errors.New("wecomtest: invalid")
	ErrConflict = errors.New("wecomtest: conflict")
)

// maxStateChars bounds the 「联系我」 state (path/92228: 不超过30个字符).
const maxStateChars = 30

// FailReason values of transfer_fail.
const (
	FailCustomerRefused     = "customer_refused"
	FailCustomerLimitExceed = "customer_limit_exceed"
)

// The driver methods make things happen as people would in the WeCom client
// or the admin console: each changes the corp and then delivers the
// callback WeCom sends for it, returning the outcome. An error means nothing
// changed and nothing was sent.

func (s *Sandbox) event(name, change string) Event {
	return Event{ToUserName: s.opt.CorpID, FromUserName: "sys", CreateTime: s.now().Unix(),
		MsgType: "event", Event: name, ChangeType: change}
}

// AddContact describes a customer adding a member, by a 「联系我」 QR code or
// any other way.
type AddContact struct {
	UserID         string // the member added (required)
	ExternalUserID string // an existing customer; empty creates a new one
	Name           string // the new customer's name; made up when empty
	Type           int    // the new customer's type; 0 means CustomerWeChat
	Gender         int    // the new customer's gender
	CorpName       string // the new customer's corp (CustomerWeCom only)
	State          string // the 「联系我」 state, at most 30 characters
	AddWay         int    // add_way; 0 means 1 (scanned a QR code)
	// Half is a member with skip_verify: add_half_external_contact, and the
	// APIs answer 84061 until the member adds the customer back (another
	// AddContact without Half).
	Half bool
	// NoWelcomeCode leaves out WelcomeCode, as when an admin configured a
	// welcome message for the member. WeCom-user customers never get one.
	NoWelcomeCode bool
}

// CustomerAddsMember is a customer adding a member: add_external_contact,
// or add_half_external_contact when a.Half. The delivery's event carries
// the customer's ExternalUserID.
func (s *Sandbox) CustomerAddsMember(ctx context.Context, a AddContact) (Delivery, error) {
	ev, err := s.addContact(a)
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

func (s *Sandbox) addContact(a AddContact) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.activeMember(a.UserID) == nil {
		return Event{}, fmt.Errorf("%w: member %q", ErrNotFound, a.UserID)
	}
	if utf8.RuneCountInString(a.State) > maxStateChars {
		return Event{}, fmt.Errorf("%w: state is longer than %d characters", ErrInvalid, maxStateChars)
	}
	c := s.st.customerBy[a.ExternalUserID]
	if a.ExternalUserID != "" && c == nil {
		return Event{}, fmt.Errorf("%w: customer %q", ErrNotFound, a.ExternalUserID)
	}
	var r *Relation
	if c != nil {
		r = s.st.relation(a.UserID, c.ExternalUserID)
	}
	fresh := r == nil
	switch {
	case r != nil && r.Half && a.Half, r != nil && !r.Half && !r.DeletedByCustomer:
		return Event{}, fmt.Errorf("%w: %s already follows %s", ErrConflict, a.UserID, c.ExternalUserID)
	case r != nil && !a.Half:
		// The member adds back a half-added customer, or the customer who
		// deleted the member adds them again.
		r.Half, r.DeletedByCustomer = false, false
		if a.State != "" {
			r.State = a.State
		}
	case r != nil:
		return Event{}, fmt.Errorf("%w: %s deleted %s; a half add needs no relation", ErrConflict, c.ExternalUserID, a.UserID)
	default:
		if c == nil {
			c = s.newCustomer(a)
		}
		addWay := a.AddWay
		if addWay == 0 {
			addWay = 1
		}
		r = &Relation{UserID: a.UserID, ExternalUserID: c.ExternalUserID, CreateTime: s.now().Unix(),
			AddWay: addWay, State: a.State, OperUserID: c.ExternalUserID, Half: a.Half}
		s.st.addRelation(r)
	}
	change := ChangeAddExternalContact
	if a.Half {
		change = ChangeAddHalfExternalContact
	}
	ev := s.event(EventChangeExternalContact, change)
	ev.UserID, ev.ExternalUserID, ev.State = a.UserID, c.ExternalUserID, a.State
	// path/92277: no WelcomeCode for WeCom-user customers (a card is sent
	// instead), nor when the member and customer already met (the half add
	// carried the code).
	if !a.NoWelcomeCode && c.Type != CustomerWeCom && fresh {
		ev.WelcomeCode = randID(s.rng, "", 43)
		s.issueWelcome(ev)
	}
	return ev, nil
}

func (s *Sandbox) newCustomer(a AddContact) *Customer {
	c := &Customer{Name: a.Name, Type: a.Type, Gender: a.Gender}
	if c.Name == "" {
		c.Name = familyNames[s.rng.IntN(len(familyNames))] + givenNames[s.rng.IntN(len(givenNames))]
	}
	if c.Type == CustomerWeCom {
		c.ExternalUserID = s.newID("wo")
		c.CorpName = a.CorpName
		c.Avatar = "http://p.qlogo.cn/bizmail/" + randID(s.rng, "", 40) + "/0"
	} else {
		c.Type = CustomerWeChat
		c.ExternalUserID = s.newID("wm")
		c.Avatar = "http://wx.qlogo.cn/mmhead/" + randID(s.rng, "", 40) + "/0"
	}
	s.st.addCustomer(c)
	return c
}

// EditContact is a member editing a customer in the WeCom client. Nil
// fields are left alone.
type EditContact struct {
	UserID, ExternalUserID string
	Remark, Description    *string
	AddTags, RemoveTags    []string // corp tag ids
}

// MemberEditsContact is a member changing a customer's remark, description
// or corp tags in the client: edit_external_contact.
func (s *Sandbox) MemberEditsContact(ctx context.Context, e EditContact) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		r, err := s.friend(e.UserID, e.ExternalUserID)
		if err != nil {
			return Event{}, err
		}
		if e.Remark != nil && utf8.RuneCountInString(*e.Remark) > maxRemarkChars {
			return Event{}, fmt.Errorf("%w: remark is longer than %d characters", ErrInvalid, maxRemarkChars)
		}
		if e.Description != nil && utf8.RuneCountInString(*e.Description) > maxDescriptionChars {
			return Event{}, fmt.Errorf("%w: description is longer than %d characters", ErrInvalid, maxDescriptionChars)
		}
		for _, id := range append(slices.Clone(e.AddTags), e.RemoveTags...) {
			if s.st.liveTag(id) == nil {
				return Event{}, fmt.Errorf("%w: tag %q", ErrNotFound, id)
			}
		}
		if e.Remark != nil {
			r.Remark = *e.Remark
		}
		if e.Description != nil {
			r.Description = *e.Description
		}
		s.st.markTags(r, e.AddTags, e.RemoveTags)
		return s.contactEvent(ChangeEditExternalContact, r), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// friend finds a full (not half-added) relation.
func (s *Sandbox) friend(userID, externalUserID string) (*Relation, error) {
	r := s.st.relation(userID, externalUserID)
	if r == nil || r.Half {
		return nil, fmt.Errorf("%w: %s does not follow %s", ErrNotFound, userID, externalUserID)
	}
	return r, nil
}

func (s *Sandbox) contactEvent(change string, r *Relation) Event {
	ev := s.event(EventChangeExternalContact, change)
	ev.UserID, ev.ExternalUserID = r.UserID, r.ExternalUserID
	return ev
}

// MemberDeletesCustomer is a member deleting a customer: the relation is
// gone (the APIs answer 84061) and del_external_contact is sent.
func (s *Sandbox) MemberDeletesCustomer(ctx context.Context, userID, externalUserID string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		r, err := s.friend(userID, externalUserID)
		if err != nil {
			return Event{}, err
		}
		s.st.removeRelation(r)
		return s.contactEvent(ChangeDelExternalContact, r), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// CustomerDeletesMember is a customer deleting a member: del_follow_user.
// A one-way relation remains and the APIs still return it (path/90313, 84061).
func (s *Sandbox) CustomerDeletesMember(ctx context.Context, userID, externalUserID string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		r, err := s.friend(userID, externalUserID)
		if err != nil {
			return Event{}, err
		}
		if r.DeletedByCustomer {
			return Event{}, fmt.Errorf("%w: %s already deleted %s", ErrConflict, externalUserID, userID)
		}
		r.DeletedByCustomer = true
		return s.contactEvent(ChangeDelFollowUser, r), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// TransferFails reports that a member could not take over a customer
// (transfer_fail): the customer refused, or the member is at the customer
// limit. The customer stays where it was.
func (s *Sandbox) TransferFails(ctx context.Context, userID, externalUserID, reason string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.st.activeMember(userID) == nil {
			return Event{}, fmt.Errorf("%w: member %q", ErrNotFound, userID)
		}
		if s.st.customerBy[externalUserID] == nil {
			return Event{}, fmt.Errorf("%w: customer %q", ErrNotFound, externalUserID)
		}
		if reason != FailCustomerRefused && reason != FailCustomerLimitExceed {
			return Event{}, fmt.Errorf("%w: FailReason must be %s or %s", ErrInvalid, FailCustomerRefused, FailCustomerLimitExceed)
		}
		ev := s.event(EventChangeExternalContact, ChangeTransferFail)
		ev.UserID, ev.ExternalUserID, ev.FailReason = userID, externalUserID, reason
		return ev, nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// MemberLeaves is a member leaving the company: the address book drops them
// (user/get answers 60111, their customers disappear from the APIs until a
// resigned transfer, which is not emulated) and change_contact with
// ChangeType delete_user is sent. WeCom sends address-book events to the
// address-book app's URL; the sandbox has one URL for all.
func (s *Sandbox) MemberLeaves(ctx context.Context, userID string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.st.activeMember(userID)
		if m == nil {
			return Event{}, fmt.Errorf("%w: member %q", ErrNotFound, userID)
		}
		m.Status = MemberLeftCompany
		ev := s.event(EventChangeContact, ChangeDeleteUser)
		ev.UserID = userID
		return ev, nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// AddMember puts a member in the address book (no callback). Status 0
// means MemberActive.
func (s *Sandbox) AddMember(m Member) error {
	if m.UserID == "" || len(m.UserID) > maxUserIDBytes || m.Name == "" {
		return fmt.Errorf("%w: a member needs a userid of 1 to 64 bytes and a name", ErrInvalid)
	}
	if m.Status == 0 {
		m.Status = MemberActive
	}
	m.Department = slices.Clone(m.Department)
	if len(m.Department) == 0 {
		m.Department = []int{1}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.memberByID[m.UserID] != nil {
		return fmt.Errorf("%w: member %q exists", ErrConflict, m.UserID)
	}
	s.st.addMember(&m)
	return nil
}
