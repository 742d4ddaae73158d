package email

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
)

// Mailer sends e-mail over a few reused SMTP connections.
type Mailer struct {
	cfg      SMTPConfig
	composer *Composer
	claim    *channel.Claimer
	limiter  *channel.Limiter

	idle chan *conn // connections not in use
	// plainDialogue turns PIPELINING off (tests of the one-command-at-a-time
	// dialogue; servers that offer it are not known to need it).
	plainDialogue bool
	// noChunking turns CHUNKING (BDAT) off: tests of the pipelined DATA
	// dialogue.
	noChunking bool
	mu         sync.Mutex
	open       int // connections open or being dialled
	done       bool
}

// NewMailer returns a Mailer. claim consumes the permits; limiter (nil for
// none) holds the send rate of the server or the campaign.
func NewMailer(cfg SMTPConfig, composer *Composer, claim *channel.Claimer, limiter *channel.Limiter) (*Mailer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if composer == nil || claim == nil {
		return nil, errors.New("email: a Mailer needs a composer and a claimer")
	}
	return &Mailer{cfg: cfg, composer: composer, claim: claim, limiter: limiter, idle: make(chan *conn, cfg.Conns)}, nil
}

// Close closes the idle connections (politely, with QUIT); connections in
// use close when their message is done.
func (m *Mailer) Close() error {
	m.mu.Lock()
	m.done = true
	m.mu.Unlock()
	for {
		select {
		case c := <-m.idle:
			c.client.Quit()
			m.release(nil)
		default:
			return nil
		}
	}
}

// get returns an idle connection, dials one if fewer than Conns are open,
// or waits for one. reused says whether it carried messages before.
func (m *Mailer) get(ctx context.Context) (c *conn, reused bool, err error) {
	select {
	case c := <-m.idle:
		return c, true, nil
	default:
	}
	m.mu.Lock()
	if m.open < m.cfg.Conns {
		m.open++
		m.mu.Unlock()
		c, err := dial(ctx, &m.cfg)
		if err != nil {
			m.release(nil)
			return nil, false, err
		}
		c.pipelining = c.pipelining && !m.plainDialogue
		c.chunking = c.chunking && !m.noChunking
		return c, false, nil
	}
	m.mu.Unlock()
	select {
	case c := <-m.idle:
		return c, true, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// put gives a connection back, or closes it when broken or worn out.
func (m *Mailer) put(c *conn, broken bool) {
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	if broken || done || c.sent >= m.cfg.PerConn {
		if !broken {
			c.client.Quit()
		}
		c.close()
		m.release(nil)
		return
	}
	m.idle <- c
}

func (m *Mailer) release(*conn) {
	m.mu.Lock()
	m.open--
	m.mu.Unlock()
}

// Send sends msg to the person of every permit. It consumes the permits
// first (a refused permit gets a Refused result and no message), then
// renders, signs and sends each message on up to Conns connections at
// once, within the Limiter. vars, when not nil, holds each recipient's
// values in the order of permits. Results come back in the order of
// permits: Sent, Retryable (4xx, or the connection failed before the
// message was handed over), Failed (5xx, or a message that cannot be
// rendered), or Unknown (the connection failed after the message was
// handed over: it is not sent again). The error is for the whole call: an
// invalid message or the claim's transaction; then nothing was sent.
func (m *Mailer) Send(ctx context.Context, permits []gate.Permit, msg Message, vars []Vars) ([]channel.Result, error) {
	if err := m.composer.check(msg); err != nil {
		return nil, err
	}
	if err := checkVars(msg, vars, len(permits)); err != nil {
		return nil, err
	}
	for _, p := range permits {
		if p.Valid() && p.Channel() != consent.ChannelEmail {
			return nil, fmt.Errorf("email: permit %s is for channel %s, not email", p.ID(), p.Channel())
		}
	}
	refusals, err := m.claim.Claim(ctx, permits)
	if err != nil {
		return nil, err
	}
	results := make([]channel.Result, len(permits))
	jobs := make([]job, 0, len(permits))
	for i, p := range permits {
		if refusals[i] != nil {
			results[i] = channel.Refusal(p, refusals[i])
			continue
		}
		j := job{i: i, id: p.ID(), to: p.Person()}
		if vars != nil {
			j.vars = vars[i]
		}
		jobs = append(jobs, j)
	}
	m.run(ctx, msg, jobs, results)
	return results, nil
}

// job is one claimed message: the permit's id and person.
type job struct {
	i    int // index in the results
	id   string
	to   consent.Person
	vars Vars
}

// run renders, signs and sends each job on up to Conns connections at
// once, writing results[j.i].
func (m *Mailer) run(ctx context.Context, msg Message, jobs []job, results []channel.Result) {
	work := make(chan job)
	var wg sync.WaitGroup
	for range min(m.cfg.Conns, len(jobs)) {
		wg.Go(func() {
			var r rendered // one buffer per worker, reused
			for j := range work {
				res := m.deliver(ctx, &r, j.id, j.to, msg, j.vars)
				res.Permit = j.id
				if res.ProviderID == "" {
					res.ProviderID = r.messageID
				}
				results[j.i] = res
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
}

// deliver renders, signs and sends one message.
func (m *Mailer) deliver(ctx context.Context, r *rendered, id string, to consent.Person, msg Message, v Vars) channel.Result {
	if err := m.composer.compose(r, id, to, msg, v); err != nil {
		return channel.Result{Status: channel.Failed, Message: err.Error()}
	}
	if err := m.limiter.Wait(ctx); err != nil {
		return channel.Result{Status: channel.Retryable, Message: err.Error()}
	}
	from := m.composer.s.From.Address
	for attempt := 0; ; attempt++ {
		c, reused, err := m.get(ctx)
		if err != nil {
			return channel.Result{Status: channel.Retryable, Message: err.Error()}
		}
		deadline := time.Now().Add(m.cfg.Timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		res, broken := exchange(c, deadline, from, to.Key, r)
		m.put(c, broken)
		// A connection the server closed while idle fails at MAIL: the
		// server holds nothing, so one more try on a new connection is
		// no resend.
		if res.Status == channel.Retryable && broken && reused && res.Code == "" && attempt == 0 {
			continue
		}
		return res
	}
}
