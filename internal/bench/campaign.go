package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/channel/email"
	"github.com/kith-scrm/kith/internal/channel/wecomgroup"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/gcfloor"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// Goals of `kith bench campaign` (issue 7), on the 2-core machine.
const (
	GoalPlanSeconds1M      = 10.0  // planning 1 M recipients on SQLite
	GoalMessagesPerSecond  = 10000 // e-mail, 1 M recipients of a ~2.7 KB message
	GoalCPUSecondsPer100k  = 10.0
	GoalPeakMemoryMB       = 256.0
	campaignBenchBatchMail = 5000
)

// CampaignOptions say what `kith bench campaign` measures.
type CampaignOptions struct {
	Recipients int
	Channel    campaign.Channel // campaign.WeCom or campaign.Email
	// SMTP is the host:port of a server to send the e-mail to (no TLS);
	// empty for the bench's own sink.
	SMTP string
	// SinkCommand, when set, runs the bench's own sink in a child process
	// (a command calling ServeSMTPSink, e.g. `kith bench smtpsink`), so its
	// CPU is not counted as Kith's; nil runs it in this process.
	SinkCommand []string
	// Conns is how many SMTP connections send at once (default 8).
	Conns int
	// BatchSize is the most recipients one batch hands to the channel
	// (default 5,000 for e-mail, 10,000 for WeCom: a task's limit).
	BatchSize int
	// Overlap is how many batches one RunBatch hands over, each prepared
	// and claimed while the one before sends (default: the server's,
	// campaign.ServerOverlap; 1: none overlapped).
	Overlap  int
	DataDir  string
	Progress func(string)
	// PlanOnly stops after planning: nothing is sent.
	PlanOnly bool
	// MemProfile, if set, is a file to write a heap profile to when the
	// sending is done (what is still live then: the gate's tables).
	MemProfile string
}

// CampaignReport is what `kith bench campaign` measured.
type CampaignReport struct {
	Recipients  int     `json:"recipients"`
	Channel     string  `json:"channel"`
	Database    string  `json:"database"`
	LoadAverage float64 `json:"load_average"` // 1-minute load average at the end
	LoadSeconds float64 `json:"load_seconds"` // writing the customers and their consent

	PlanSeconds    float64 `json:"plan_seconds"`
	PlanCPUSeconds float64 `json:"plan_cpu_seconds"`
	PlanPerSecond  float64 `json:"plan_recipients_per_second"`
	Permitted      int     `json:"permitted"`
	Refused        int     `json:"refused"`

	// PlanPeakMemoryMB is the peak resident memory while planning (the
	// peak is reset before it where Linux allows).
	PlanPeakMemoryMB float64 `json:"plan_peak_memory_mb"`

	Sent              int64   `json:"sent"`
	NotSent           int64   `json:"not_sent"` // handed over but refused, failed or unknown
	SendSeconds       float64 `json:"send_seconds"`
	MessagesPerSecond float64 `json:"messages_per_second"` // from the first send to the last
	SendCPUSeconds    float64 `json:"send_cpu_seconds"`
	CPUSecondsPer100k float64 `json:"cpu_seconds_per_100k"`
	MessageBytes      float64 `json:"message_bytes"` // average size as the sink received it (e-mail, own sink)
	SinkMessages      int64   `json:"sink_messages,omitempty"`
	// SinkCPUSeconds is the CPU the bench's own sink used in its child
	// process (not in SendCPUSeconds); 0 when it ran in this process (and
	// is counted in SendCPUSeconds) or another server was used.
	SinkCPUSeconds float64 `json:"sink_cpu_seconds,omitempty"`
	SinkInProcess  bool    `json:"sink_in_process,omitempty"`
	Tasks          int     `json:"wecom_tasks,omitempty"`
	// PeakMemoryMB is the process's peak resident memory (VmHWM) over the
	// whole run; SendPeakMemoryMB over the sending alone (the peak is reset
	// before it where Linux allows).
	PeakMemoryMB     float64 `json:"peak_memory_mb"`
	SendPeakMemoryMB float64 `json:"send_peak_memory_mb"`
	// SendMemory is what the resident memory was made of at its highest
	// sample while sending.
	SendMemory MemoryAtPeak `json:"send_memory"`

	PlanGoal   bool `json:"plan_goal_met"`   // scaled to 1 M: planning < 10 s
	RateGoal   bool `json:"rate_goal_met"`   // e-mail: ≥ 10,000 msg/s
	CPUGoal    bool `json:"cpu_goal_met"`    // e-mail: ≤ 10 CPU-s per 100k
	MemoryGoal bool `json:"memory_goal_met"` // e-mail: peak < 256 MB while sending
}

// benchMail is the bench's e-mail: about 2.7 KB as sent, personalised.
var benchMail = campaign.Content{
	Subject: "AD {{name}}, the spring collection is in",
	Text: "Dear {{name}},\n\n" + strings.Repeat("The spring collection has arrived in store and online: linen shirts, light jackets and new colours.\n", 6) +
		"\nThis message was sent to {{email}}.\n",
	HTML: "<html><body><p>Dear {{name}},</p>" + strings.Repeat("<p>The spring collection has arrived in store and online: linen shirts, light jackets and new colours.</p>", 6) +
		"<p>This message was sent to {{email}}.</p></body></html>",
}

// benchAddress is customer id's synthetic e-mail address.
func benchAddress(id int64) string { return fmt.Sprintf("c%d@bench.example", id) }

// mailAddresser gives every customer its synthetic address: the bench
// does not depend on where the application keeps e-mail addresses.
type mailAddresser struct{}

func (mailAddresser) Addresses(_ context.Context, ch campaign.Channel, ids []int64) (map[int64]campaign.Recipient, error) {
	out := make(map[int64]campaign.Recipient, len(ids))
	for _, id := range ids {
		out[id] = campaign.Recipient{CustomerID: id, Person: consent.Email(benchAddress(id))}
	}
	return out, nil
}

// mailTransport hands a batch to an email.Mailer with each recipient's
// values, and notes when the first and the last message went.
type mailTransport struct {
	m           *email.Mailer
	first, last atomic.Int64
}

func (t *mailTransport) Send(ctx context.Context, permits []gate.Permit, b campaign.Batch) ([]channel.Result, error) {
	t.first.CompareAndSwap(0, time.Now().UnixNano())
	vars := make([]email.Vars, len(b.Recipients))
	for i, r := range b.Recipients {
		vars[i] = email.Vars{"name": fmt.Sprintf("Customer %d", r.CustomerID), "email": benchAddress(r.CustomerID)}
	}
	msg := email.Message{Class: gate.Class(b.Campaign.Purpose), Subject: b.Campaign.Content.Subject, Text: b.Campaign.Content.Text, HTML: b.Campaign.Content.HTML}
	res, err := t.m.Send(ctx, permits, msg, vars)
	t.last.Store(time.Now().UnixNano())
	return res, err
}

// Campaign generates the customers, plans a campaign to all of them and
// dispatches it, measuring each part.
func Campaign(ctx context.Context, o CampaignOptions) (CampaignReport, error) {
	if o.Recipients <= 0 {
		o.Recipients = 100_000
	}
	if o.Channel == "" {
		o.Channel = campaign.Email
	}
	if o.Conns <= 0 {
		o.Conns = 8
	}
	if o.BatchSize <= 0 {
		o.BatchSize = campaignBenchBatchMail
		if o.Channel == campaign.WeCom {
			o.BatchSize = 10000
		}
	}
	if o.Overlap <= 0 {
		o.Overlap = campaign.ServerOverlap
	}
	say := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	// The collector as the server sets it (app.Serve).
	defer gcfloor.Keep(gcfloor.Floor)()
	rep := CampaignReport{Recipients: o.Recipients, Channel: string(o.Channel), Database: "sqlite"}
	db, err := store.Open(ctx, store.Options{DataDir: o.DataDir})
	if err != nil {
		return rep, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return rep, err
	}
	clock := kith.NewFixedClock(benchNow)
	g := gate.New(db, benchKeyBytes, clock)
	cfg := campaign.Config{DB: db, Gate: g, Clock: clock}
	var sb *wecomtest.Sandbox
	say(fmt.Sprintf("writing %d customers with %s consent…", o.Recipients, o.Channel))
	t0 := time.Now()
	switch o.Channel {
	case campaign.Email:
		cfg.Addresses = mailAddresser{}
		err = loadMailCustomers(ctx, db, o.Recipients)
	case campaign.WeCom:
		sb, err = loadWeComCustomers(ctx, db, o.Recipients)
	default:
		return rep, kith.Errorf(kith.EINVALID, "bench: channel %q: use wecom or email", o.Channel)
	}
	if err != nil {
		return rep, fmt.Errorf("bench: load: %w", err)
	}
	rep.LoadSeconds = time.Since(t0).Seconds()
	svc := campaign.New(cfg)
	svc.BatchSize = o.BatchSize
	svc.Overlap = o.Overlap
	// Planning needs no transport: with PlanOnly no sink is started (nor
	// its child process).
	var sink any
	if !o.PlanOnly {
		var closeTransport func()
		if sink, closeTransport, err = benchTransport(ctx, o, svc, sb, clock); err != nil {
			return rep, err
		}
		defer closeTransport()
	}

	in := campaign.Input{Name: "bench", Purpose: campaign.PurposeMarketing, Channel: o.Channel, Content: benchMail,
		Audience: campaign.Audience{Tags: []string{"vip"}}, Schedule: campaign.Schedule{Kind: campaign.Now}}
	if o.Channel == campaign.WeCom {
		in.Content = campaign.Content{Text: "春季新品到店，会员专享八折。"}
	}
	c, err := svc.Create(ctx, 0, in)
	if err != nil {
		return rep, err
	}
	if _, err := svc.Schedule(ctx, c.ID); err != nil {
		return rep, err
	}
	// The gate loads its state once per process; a running server has it.
	// (A valid request: an invalid one is refused before the gate reads.)
	warm := gate.Request{Person: consent.Email("warm@bench.example"), Channel: consent.ChannelEmail, Class: gate.Service,
		Content: gate.Content{Subject: "Your order", Body: "Your order has shipped."}}
	if d, err := g.Decide(ctx, warm); err != nil {
		return rep, err
	} else if d.Reason == gate.InvalidRequest {
		return rep, fmt.Errorf("bench: the gate's warm-up request is invalid: %s", d.Message)
	}
	say("planning…")
	// What loading the customers left behind goes back to the system, so
	// the peak measured is planning's.
	debug.FreeOSMemory()
	resetPeakMemory()
	t0, cpu0 := time.Now(), processCPU()
	p, err := svc.Plan(ctx, c.ID)
	if err != nil {
		return rep, err
	}
	rep.PlanSeconds, rep.PlanCPUSeconds = time.Since(t0).Seconds(), (processCPU() - cpu0).Seconds()
	rep.PlanPerSecond = float64(o.Recipients) / rep.PlanSeconds
	rep.Permitted = p.Permitted
	for _, n := range p.Refused {
		rep.Refused += n
	}
	rep.PlanGoal = rep.PlanPerSecond >= 1_000_000/GoalPlanSeconds1M
	rep.PlanPeakMemoryMB = peakMemoryMB()
	if o.PlanOnly {
		rep.PeakMemoryMB = peakMemoryMB()
		rep.LoadAverage = loadAverage()
		return rep, nil
	}

	say(fmt.Sprintf("sending %d messages…", p.Permitted))
	resetPeakMemory()
	sampler := startMemSampler()
	defer sampler.Stop()
	t0, cpu0 = time.Now(), processCPU()
	for {
		st, err := svc.RunBatch(ctx, c.ID)
		if err != nil {
			return rep, err
		}
		if st == campaign.Finished || st == campaign.Idle {
			break
		}
		if st != campaign.Progressed {
			return rep, fmt.Errorf("bench: the campaign stopped at step %d", st)
		}
	}
	wall, cpu := time.Since(t0), processCPU()-cpu0
	rep.SendPeakMemoryMB = peakMemoryMB()
	rep.SendMemory = sampler.Stop()
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return rep, err
		}
	}
	res, err := svc.Results(ctx, c.ID)
	if err != nil {
		return rep, err
	}
	rep.Sent = int64(res.ByState[campaign.DeliverySent] + res.ByState[campaign.DeliveryDelivered])
	rep.NotSent = int64(res.ByState[campaign.DeliveryFailed] + res.ByState[campaign.DeliveryUnknown] + res.ByState[campaign.DeliveryRefused] - rep.Refused)
	span := wall
	if bm, ok := sink.(*benchMailer); ok && bm.last.Load() > bm.first.Load() {
		span = time.Duration(bm.last.Load() - bm.first.Load())
	}
	rep.SendSeconds = span.Seconds()
	if rep.SendSeconds > 0 {
		rep.MessagesPerSecond = float64(rep.Sent) / rep.SendSeconds
	}
	rep.SendCPUSeconds = cpu.Seconds()
	if rep.Sent > 0 {
		rep.CPUSecondsPer100k = cpu.Seconds() / float64(rep.Sent) * 100_000
	}
	if own, ok := ownSink(sink); ok {
		rep.SinkInProcess = true
		rep.SinkMessages = own.Messages()
		if rep.SinkMessages > 0 {
			rep.MessageBytes = float64(own.Bytes()) / float64(rep.SinkMessages)
		}
	}
	if bm, ok := sink.(*benchMailer); ok && bm.child != nil {
		if err := bm.child.stop(); err != nil {
			return rep, err
		}
		rep.SinkMessages, rep.SinkCPUSeconds = bm.child.messages, bm.child.cpu.Seconds()
		if rep.SinkMessages > 0 {
			rep.MessageBytes = float64(bm.child.bytes) / float64(rep.SinkMessages)
		}
	}
	if sb != nil {
		rep.Tasks = len(sb.GroupMsgs())
	}
	rep.PeakMemoryMB = peakMemoryMB()
	rep.LoadAverage = loadAverage()
	if o.Channel == campaign.Email {
		rep.RateGoal = rep.MessagesPerSecond >= GoalMessagesPerSecond
		rep.CPUGoal = rep.CPUSecondsPer100k > 0 && rep.CPUSecondsPer100k <= GoalCPUSecondsPer100k
		rep.MemoryGoal = rep.SendPeakMemoryMB > 0 && rep.SendPeakMemoryMB < GoalPeakMemoryMB
	}
	return rep, nil
}

// benchTransport registers the channel's transport: a Mailer to the sink
// (or o.SMTP), or the WeCom group-message sender to the sandbox.
func benchTransport(ctx context.Context, o CampaignOptions, svc *campaign.Service, sb *wecomtest.Sandbox, clock kith.Clock) (any, func(), error) {
	if o.Channel == campaign.WeCom {
		srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		go srv.Serve(ln)
		client, err := wecom.New(wecom.Config{BaseURL: "http://" + ln.Addr().String(), CorpID: sb.CorpID(), Secret: sb.Secret(), Now: clock.Now, RatePerSecond: 1000})
		if err != nil {
			srv.Close()
			return nil, nil, err
		}
		get := func(context.Context) (*wecom.Client, error) { return client, nil }
		svc.Register(campaign.WeCom, wecomgroup.New(svc.Claimer(), get, clock), wecomgroup.NewReconciler(get, clock))
		return srv, func() { srv.Close() }, nil
	}
	addr, closeSink := o.SMTP, func() {}
	var sink *SMTPSink
	var child *childSink
	switch {
	case addr != "":
	case len(o.SinkCommand) > 0:
		var err error
		if child, err = startChildSink(o.SinkCommand); err != nil {
			return nil, nil, err
		}
		addr, closeSink = child.addr, func() { child.stop() }
	default:
		var err error
		if sink, err = StartSMTPSink(); err != nil {
			return nil, nil, err
		}
		addr, closeSink = sink.Addr(), func() { sink.Close() }
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		closeSink()
		return nil, nil, err
	}
	dkim, err := email.NewDKIM("bench.example", "k1", key)
	if err != nil {
		closeSink()
		return nil, nil, err
	}
	composer, err := email.NewComposer(email.Sender{From: mail.Address{Name: "Bench Shop", Address: "news@bench.example"},
		UnsubscribeURL: "https://kith.bench.example/u/", UnsubscribeMailto: "unsubscribe@bench.example", TokenKey: benchKeyBytes}, dkim, clock)
	if err != nil {
		closeSink()
		return nil, nil, err
	}
	m, err := email.NewMailer(email.SMTPConfig{Addr: addr, TLS: email.NoTLS, Conns: o.Conns, PerConn: 1_000_000, Timeout: 30 * time.Second}, composer, svc.Claimer(), nil)
	if err != nil {
		closeSink()
		return nil, nil, err
	}
	t := &mailTransport{m: m}
	svc.Register(campaign.Email, t, nil)
	return &benchMailer{mailTransport: t, sink: sink, child: child}, func() { m.Close(); closeSink() }, nil
}

// benchMailer is the e-mail transport and, when the bench runs its own,
// the sink.
type benchMailer struct {
	*mailTransport
	sink  *SMTPSink  // in this process
	child *childSink // in a child process
}

func ownSink(v any) (*SMTPSink, bool) {
	if b, ok := v.(*benchMailer); ok && b.sink != nil {
		return b.sink, true
	}
	return nil, false
}
