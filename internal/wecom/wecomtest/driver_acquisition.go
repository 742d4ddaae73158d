package wecomtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Scan is one customer arriving through a contact way or a link.
type Scan struct {
	At             time.Time
	UserID         string // the member WeCom routed the customer to
	ExternalUserID string
	State          string
	WelcomeCode    string
	Delivered      bool
	Lost           bool // the customer deleted the member again
}

// nextMember takes the next of users in queue order (round robin), the way
// WeCom hands out a multi-member code, skipping members who left.
func (s *Sandbox) nextMember(users []string, next *int) (string, error) {
	for range users {
		u := users[*next%len(users)]
		*next = (*next + 1) % len(users)
		if s.st.activeMember(u) != nil {
			return u, nil
		}
	}
	return "", fmt.Errorf("%w: nobody on the code can receive customers", ErrInvalid)
}

// ScanContactWay is a new customer scanning a contact way's QR code: WeCom
// routes them to the code's next member and sends add_external_contact
// with the way's state and a welcome code.
func (s *Sandbox) ScanContactWay(ctx context.Context, configID, name string) (Scan, error) {
	s.mu.Lock()
	w := s.acqState().ways[configID]
	if w == nil {
		s.mu.Unlock()
		return Scan{}, fmt.Errorf("%w: contact way %q", ErrNotFound, configID)
	}
	u, err := s.nextMember(w.Users, &w.next)
	state := w.State
	s.mu.Unlock()
	if err != nil {
		return Scan{}, err
	}
	return s.arrive(ctx, u, state, name)
}

// OpenLink is a new customer opening a customer-acquisition link with
// customer_channel appended: WeCom routes them to one of the link's members
// and the add event's State is the customer_channel.
func (s *Sandbox) OpenLink(ctx context.Context, linkID, customerChannel, name string) (Scan, error) {
	if len(customerChannel) > maxCustomerChannel {
		return Scan{}, fmt.Errorf("%w: customer_channel is longer than %d bytes", ErrInvalid, maxCustomerChannel)
	}
	s.mu.Lock()
	l := s.acqState().links[linkID]
	if l == nil {
		s.mu.Unlock()
		return Scan{}, fmt.Errorf("%w: link %q", ErrNotFound, linkID)
	}
	u, err := s.nextMember(l.Users, &l.next)
	s.mu.Unlock()
	if err != nil {
		return Scan{}, err
	}
	return s.arrive(ctx, u, customerChannel, name)
}

func (s *Sandbox) arrive(ctx context.Context, userID, state, name string) (Scan, error) {
	ev, err := s.addContact(AddContact{UserID: userID, State: state, Name: name})
	if err != nil {
		return Scan{}, err
	}
	d := s.send(ctx, ev)
	return Scan{At: s.now(), UserID: userID, ExternalUserID: ev.ExternalUserID, State: state, WelcomeCode: ev.WelcomeCode, Delivered: d.Delivered}, nil
}

// Campaign is customers scanning one code (or opening one link) over a
// stretch of time.
type Campaign struct {
	ConfigID string // the contact way scanned; or
	LinkID   string // the link opened, with
	Channel  string // its customer_channel
	Scans    int
	From, To time.Time
	// Advance is called before each scan with its moment: move the clocks
	// (the sandbox's Options.Now must follow) and let Kith do what it does
	// on its own meanwhile.
	Advance func(at time.Time)
	// LoseEvery makes every n-th customer delete the member right after
	// arriving (del_follow_user); 0 means nobody leaves.
	LoseEvery int
	// Seed makes the moments reproducible.
	Seed uint64
}

// RunCampaign runs c and returns what happened to each customer. The
// moments are spread at random over [From, To), in order.
func (s *Sandbox) RunCampaign(ctx context.Context, c Campaign) ([]Scan, error) {
	if c.Scans <= 0 || !c.To.After(c.From) || (c.ConfigID == "") == (c.LinkID == "") {
		return nil, fmt.Errorf("%w: a campaign needs scans, a time range and one contact way or link", ErrInvalid)
	}
	span := c.To.Sub(c.From)
	moments := make([]time.Time, c.Scans)
	rng := rand.New(rand.NewPCG(c.Seed, 0xca4a))
	for i := range moments {
		moments[i] = c.From.Add(time.Duration(rng.Int64N(int64(span/time.Second))) * time.Second)
	}
	sort.Slice(moments, func(i, j int) bool { return moments[i].Before(moments[j]) })
	out := make([]Scan, 0, c.Scans)
	for i, at := range moments {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if c.Advance != nil {
			c.Advance(at)
		}
		var sc Scan
		var err error
		if c.ConfigID != "" {
			sc, err = s.ScanContactWay(ctx, c.ConfigID, "")
		} else {
			sc, err = s.OpenLink(ctx, c.LinkID, c.Channel, "")
		}
		if err != nil {
			return out, fmt.Errorf("scan %d at %s: %w", i+1, at.Format(time.RFC3339), err)
		}
		if c.LoseEvery > 0 && (i+1)%c.LoseEvery == 0 {
			d, err := s.CustomerDeletesMember(ctx, sc.UserID, sc.ExternalUserID)
			if err != nil {
				return out, err
			}
			sc.Lost = d.Delivered
			if !d.Delivered {
				return out, errors.New("wecomtest: a del_follow_user callback was not delivered")
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// maxControlScans bounds one POST /sandbox/scan.
const maxControlScans = 1000

// serveScan is POST /sandbox/scan: config_id (or link_id with
// customer_channel) and count (1 by default) new customers scan now.
func (s *Sandbox) serveScan(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	count := 1
	if v := r.FormValue("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxControlScans {
			s.answer(w, r, nil, fmt.Errorf("%w: count must be 1 to %d", ErrInvalid, maxControlScans))
			return
		}
		count = n
	}
	var scans []Scan
	for range count {
		var sc Scan
		var err error
		if id := r.FormValue("config_id"); id != "" {
			sc, err = s.ScanContactWay(r.Context(), id, "")
		} else {
			sc, err = s.OpenLink(r.Context(), r.FormValue("link_id"), r.FormValue("customer_channel"), "")
		}
		if err != nil {
			s.answer(w, r, nil, err)
			return
		}
		scans = append(scans, sc)
	}
	s.answer(w, r, map[string]any{"scans": scans}, nil)
}
