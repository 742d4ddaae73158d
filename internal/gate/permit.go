package gate

import (
	"time"

	"github.com/kith-scrm/kith/internal/consent"
)

// Permit allows one message to one person on one channel, once. Its only
// field is unexported, so code outside this package can hold, copy and pass
// a Permit but never make one: the zero Permit is all it can write, and
// Consume refuses it. A copy is still one permit: Consume accepts it once.
type Permit struct{ p *permit }

type permit struct {
	id       string
	token    string // random; only its SHA-256 is stored
	person   consent.Person
	channel  consent.Channel
	purpose  consent.Purpose
	class    Class
	msgType  string
	campaign string
	sender   string
	tz       string
	expires  time.Time
}

// Valid reports whether p came from the gate (it is not the zero Permit).
// Only Consume says whether it may still be used.
func (p Permit) Valid() bool { return p.p != nil }

// ID returns the permit's id ("" for the zero Permit): the id Explain takes.
func (p Permit) ID() string {
	if p.p == nil {
		return ""
	}
	return p.p.id
}

// Person returns whom the permit allows a message to.
func (p Permit) Person() consent.Person {
	if p.p == nil {
		return consent.Person{}
	}
	return p.p.person
}

// Channel returns the channel the permit is for.
func (p Permit) Channel() consent.Channel {
	if p.p == nil {
		return ""
	}
	return p.p.channel
}

// ExpiresAt returns when the permit can no longer be consumed.
func (p Permit) ExpiresAt() time.Time {
	if p.p == nil {
		return time.Time{}
	}
	return p.p.expires
}
