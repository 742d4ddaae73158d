package acquisition

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Remote is what WeCom keeps of a channel.
type Remote struct {
	Name       string
	State      string
	SkipVerify bool
	Members    []string
}

// Platform creates and changes channels on WeCom and tags arrivals. Its
// errors that come from WeCom should be kith errors that say the code's
// meaning and what to do (wecomsync's adapter makes them so).
type Platform interface {
	CreateCode(ctx context.Context, r Remote) (remoteID, url string, err error)
	UpdateCode(ctx context.Context, remoteID string, r Remote) error
	DeleteCode(ctx context.Context, remoteID string) error
	CreateLink(ctx context.Context, r Remote) (remoteID, url string, err error)
	UpdateLink(ctx context.Context, remoteID string, r Remote) error
	DeleteLink(ctx context.Context, remoteID string) error
	MarkTags(ctx context.Context, member, externalUserID string, add []string) error
}

// WelcomeSend is one welcome message to send with a welcome code.
type WelcomeSend struct {
	Code           string
	ChannelID      int64 // 0: the customer came by no channel
	ExternalUserID string
	Member         string
	Text           string // rendered: the customer's name is in it
	Attachments    []Attachment
}

// Welcomer sends welcome messages, at most once per welcome code.
type Welcomer interface {
	// Attempted reports whether a send with this code was attempted (or
	// refused) before; such a code is never used again.
	Attempted(ctx context.Context, code string) (bool, error)
	// Refused records that the gate refused the message.
	Refused(ctx context.Context, w WelcomeSend, reason string) error
	// SendWelcome records the attempt and consumes p in one transaction,
	// then calls WeCom and records the outcome.
	SendWelcome(ctx context.Context, p gate.Permit, w WelcomeSend) error
}

// Service manages channels.
type Service struct {
	db       *store.DB
	platform Platform
	welcomer Welcomer
	gate     *gate.Gate
	clock    kith.Clock
	loc      *time.Location
	log      *slog.Logger
	// OnCapReached, if set, is called inside the transaction that records
	// an arrival that brought a member to the channel's cap, so that the
	// code's refresh is enqueued with it.
	OnCapReached func(ctx context.Context, q store.Querier, channelID int64) error
}

// Deps are what a Service needs.
type Deps struct {
	DB       *store.DB
	Platform Platform
	Welcomer Welcomer
	Gate     *gate.Gate
	Clock    kith.Clock
	Location *time.Location // days and shifts are in this zone; UTC when nil
	Log      *slog.Logger
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	if d.Location == nil {
		d.Location = time.UTC
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d.DB, platform: d.Platform, welcomer: d.Welcomer, gate: d.Gate, clock: d.Clock, loc: d.Location, log: d.Log}
}

// Location returns the zone the service counts days in.
func (s *Service) Location() *time.Location { return s.loc }

// Get returns a channel.
func (s *Service) Get(ctx context.Context, id int64) (*Channel, error) {
	return getChannel(ctx, s.db.R, id)
}

// List returns every channel, by group and name.
func (s *Service) List(ctx context.Context) ([]*Channel, error) { return listChannels(ctx, s.db.R) }

// Input is a channel as the console or the API gives it.
type Input struct {
	Kind       Kind
	Name       string
	Group      string
	State      string // empty: generated
	SkipVerify bool
	DailyCap   int
	Spec
}

func (in Input) channel() *Channel {
	return &Channel{Kind: in.Kind, Name: strings.TrimSpace(in.Name), Group: strings.TrimSpace(in.Group), State: in.State,
		SkipVerify: in.SkipVerify, DailyCap: in.DailyCap, Spec: in.Spec}
}

func (s *Service) validate(ctx context.Context, ch *Channel) error {
	k, err := known(ctx, s.db.R)
	if err != nil {
		return err
	}
	return Validate(ch, k)
}

// newState makes a state: "k" and 12 random base32 letters.
func newState() string {
	var b [8]byte
	rand.Read(b[:])
	return "k" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
}

// Create validates a channel, stores it, and creates its code or link on
// WeCom with the members the plan puts on it now.
func (s *Service) Create(ctx context.Context, in Input) (*Channel, error) {
	ch := in.channel()
	if ch.State == "" {
		ch.State = newState()
	}
	if err := s.validate(ctx, ch); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	roster, why, err := s.roster(ctx, ch, now)
	if err != nil {
		return nil, err
	}
	if why == "none" {
		return nil, invalid("members", "none of the members can receive customers now")
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error { return insertChannel(ctx, tx, ch, now) })
	if err != nil {
		return nil, err
	}
	r := Remote{Name: ch.Name, State: ch.State, SkipVerify: ch.SkipVerify, Members: roster}
	if ch.Kind == KindCode {
		ch.RemoteID, ch.URL, err = s.platform.CreateCode(ctx, r)
	} else {
		ch.RemoteID, ch.URL, err = s.platform.CreateLink(ctx, r)
	}
	if err != nil {
		// Nothing exists on WeCom: the channel is not kept.
		if _, derr := s.db.W.ExecContext(context.WithoutCancel(ctx), "DELETE FROM acq_channels WHERE id = $1", ch.ID); derr != nil {
			s.log.Error("acquisition: remove a channel WeCom refused", "channel", ch.ID, "err", derr)
		}
		return nil, err
	}
	ch.Roster, ch.RosterAt = roster, &now
	if err := saveChannel(context.WithoutCancel(ctx), s.db.W, ch, now); err != nil {
		return nil, err
	}
	return ch, nil
}

// Update changes a channel's plan and puts it on WeCom. The kind cannot
// change.
func (s *Service) Update(ctx context.Context, id int64, in Input) (*Channel, error) {
	old, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	ch := in.channel()
	ch.ID, ch.Kind, ch.RemoteID, ch.URL, ch.CreatedAt = old.ID, old.Kind, old.RemoteID, old.URL, old.CreatedAt
	if ch.State == "" {
		ch.State = old.State
	}
	if ch.State != old.State {
		// The customers who came before carry the old state: statistics and
		// caps would lose them.
		return nil, invalid("state", "a channel's state cannot change (it is %q); create a new channel instead", old.State)
	}
	if err := s.validate(ctx, ch); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	roster, why, err := s.roster(ctx, ch, now)
	if err != nil {
		return nil, err
	}
	if why == "none" {
		return nil, invalid("members", "none of the members can receive customers now")
	}
	if err := s.push(ctx, ch, roster); err != nil {
		return nil, err
	}
	ch.Roster, ch.RosterAt, ch.SyncError = roster, &now, ""
	if err := saveChannel(ctx, s.db.W, ch, now); err != nil {
		return nil, err
	}
	return ch, nil
}

func (s *Service) push(ctx context.Context, ch *Channel, roster []string) error {
	r := Remote{Name: ch.Name, State: ch.State, SkipVerify: ch.SkipVerify, Members: roster}
	if ch.Kind == KindCode {
		return s.platform.UpdateCode(ctx, ch.RemoteID, r)
	}
	return s.platform.UpdateLink(ctx, ch.RemoteID, r)
}

// Delete removes a channel from WeCom and from Kith. Customers it brought
// keep their attribution (the follow relation's state).
func (s *Service) Delete(ctx context.Context, id int64) error {
	ch, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if ch.RemoteID != "" {
		if ch.Kind == KindCode {
			err = s.platform.DeleteCode(ctx, ch.RemoteID)
		} else {
			err = s.platform.DeleteLink(ctx, ch.RemoteID)
		}
		if err != nil {
			return err
		}
	}
	_, err = s.db.W.ExecContext(ctx, "DELETE FROM acq_channels WHERE id = $1", id)
	return err
}

// day returns the local day around t as UTC instants [from, to).
func (s *Service) day(t time.Time) (time.Time, time.Time) {
	l := t.In(s.loc)
	from := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, s.loc)
	return from.UTC(), from.AddDate(0, 0, 1).UTC()
}

// roster computes who should be on ch's code at now.
func (s *Service) roster(ctx context.Context, ch *Channel, now time.Time) ([]string, string, error) {
	from, to := s.day(now)
	av, err := availability(ctx, s.db.R, ch.State, ch.AllMembers(), from, to)
	if err != nil {
		return nil, "", err
	}
	r, why := Roster(ch, now.In(s.loc), av)
	return r, why, nil
}

// Refresh puts the members ch's plan wants now on its code, if they differ
// from those on it. It reports whether WeCom was called.
func (s *Service) Refresh(ctx context.Context, id int64) (bool, error) {
	ch, err := s.Get(ctx, id)
	if err != nil {
		return false, err
	}
	return s.refresh(ctx, ch)
}

func (s *Service) refresh(ctx context.Context, ch *Channel) (bool, error) {
	if ch.RemoteID == "" {
		return false, nil
	}
	now := s.clock.Now()
	roster, why, err := s.roster(ctx, ch, now)
	if err != nil {
		return false, err
	}
	if why == "none" || slices.Equal(roster, ch.Roster) {
		return false, nil
	}
	if err := s.push(ctx, ch, roster); err != nil {
		msg := kith.ErrorMessage(err)
		if _, uerr := s.db.W.ExecContext(ctx, "UPDATE acq_channels SET sync_error = $1 WHERE id = $2", msg, ch.ID); uerr != nil {
			s.log.Warn("acquisition: record a refresh error", "channel", ch.ID, "err", uerr)
		}
		return false, fmt.Errorf("acquisition: refresh channel %d: %w", ch.ID, err)
	}
	_, err = s.db.W.ExecContext(ctx, "UPDATE acq_channels SET roster = $1, roster_at = $2, sync_error = '' WHERE id = $3", mustJSON(roster), now, ch.ID)
	if err != nil {
		return true, fmt.Errorf("acquisition: save roster of channel %d: %w", ch.ID, err)
	}
	s.log.Info("acquisition: code members changed", "channel", ch.ID, "members", roster, "why", why)
	return true, nil
}

// RefreshAll refreshes every channel and returns how many changed on
// WeCom. A channel WeCom refuses does not stop the others; the first error
// is returned after all were tried.
func (s *Service) RefreshAll(ctx context.Context) (int, error) {
	chs, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, ch := range chs {
		changed, err := s.refresh(ctx, ch)
		if changed {
			n++
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return n, first
}

// MemberLeft takes a member who left the company off every channel's plan,
// inside q (the transaction that records the departure). It returns the
// channels changed, whose codes need a refresh.
func MemberLeft(ctx context.Context, q store.Querier, userID string, now time.Time) ([]int64, error) {
	chs, err := listChannels(ctx, q)
	if err != nil {
		return nil, err
	}
	var changed []int64
	for _, ch := range chs {
		if !slices.Contains(ch.AllMembers(), userID) {
			continue
		}
		ch.Spec = ch.Spec.without(userID)
		if err := saveChannel(ctx, q, ch, now); err != nil {
			return nil, err
		}
		changed = append(changed, ch.ID)
	}
	return changed, nil
}

// Recreate makes a channel's code or link on WeCom again, with a new id,
// for a code that no longer exists there (deleted in the admin console, or
// a sandbox that started afresh). The state, and so the attribution of
// customers who came before, stays.
func (s *Service) Recreate(ctx context.Context, id int64) (*Channel, error) {
	ch, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	roster, why, err := s.roster(ctx, ch, now)
	if err != nil {
		return nil, err
	}
	if why == "none" {
		return nil, invalid("members", "none of the members can receive customers now")
	}
	r := Remote{Name: ch.Name, State: ch.State, SkipVerify: ch.SkipVerify, Members: roster}
	if ch.Kind == KindCode {
		ch.RemoteID, ch.URL, err = s.platform.CreateCode(ctx, r)
	} else {
		ch.RemoteID, ch.URL, err = s.platform.CreateLink(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	ch.Roster, ch.RosterAt, ch.SyncError = roster, &now, ""
	return ch, saveChannel(ctx, s.db.W, ch, now)
}
