package gate

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kith-scrm/kith/internal/consent"
)

// statKey is what the gate counts decisions by.
type statKey struct {
	channel consent.Channel
	reason  Reason
}

// latencyBuckets are the upper bounds, in seconds, of the call latency
// histogram (Decide and DecideBatch calls, whatever their size).
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// stats are the gate's counters since it started.
type stats struct {
	mu     sync.RWMutex
	counts map[statKey]*atomic.Int64

	calls      atomic.Int64
	decisions  atomic.Int64
	sumNanos   atomic.Int64
	bucketHits []atomic.Int64 // one per latencyBuckets entry, plus +Inf
}

func newStats() *stats {
	return &stats{counts: map[statKey]*atomic.Int64{}, bucketHits: make([]atomic.Int64, len(latencyBuckets)+1)}
}

func (g *Gate) count(ch consent.Channel, r Reason) { g.countN(statKey{ch, r}, 1) }

// countN adds n decisions of k.
func (g *Gate) countN(k statKey, n int64) {
	s := g.stats
	s.mu.RLock()
	c, ok := s.counts[k]
	s.mu.RUnlock()
	if !ok {
		s.mu.Lock()
		if c, ok = s.counts[k]; !ok {
			c = new(atomic.Int64)
			s.counts[k] = c
		}
		s.mu.Unlock()
	}
	c.Add(n)
}

// observe counts one Decide or DecideBatch call of n decisions that took d.
func (g *Gate) observe(n int, d time.Duration) {
	s := g.stats
	s.calls.Add(1)
	s.decisions.Add(int64(n))
	s.sumNanos.Add(int64(d))
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	s.bucketHits[i].Add(1)
}

// Counts returns how many decisions this gate made since it started, by
// reason (refusals by Consume that Misuse saw included).
func (g *Gate) Counts() map[Reason]int64 {
	out := map[Reason]int64{}
	for k, n := range g.CountsByChannel() {
		out[k.Reason] += n
	}
	return out
}

// CountKey is a channel and a reason.
type CountKey struct {
	Channel consent.Channel // "" for a refusal whose request named no valid channel
	Reason  Reason
}

// CountsByChannel returns how many decisions this gate made since it
// started, by channel and reason.
func (g *Gate) CountsByChannel() map[CountKey]int64 {
	s := g.stats
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[CountKey]int64, len(s.counts))
	for k, c := range s.counts {
		out[CountKey{k.channel, k.reason}] = c.Load()
	}
	return out
}

// Collector returns a Prometheus collector of the gate's counters:
// kith_gate_decisions_total{channel,reason} and the call latency histogram
// kith_gate_call_duration_seconds. Register it once:
// metrics.Registry.MustRegister(g.Collector()).
func (g *Gate) Collector() prometheus.Collector { return collector{g} }

type collector struct{ g *Gate }

var (
	decisionsDesc = prometheus.NewDesc("kith_gate_decisions_total", "Gate decisions made on this node, by channel and reason (OK allows).",
		[]string{"channel", "reason"}, nil)
	callsDesc = prometheus.NewDesc("kith_gate_call_duration_seconds", "Time Decide and DecideBatch calls took on this node, whatever their size.",
		nil, nil)
)

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- decisionsDesc
	ch <- callsDesc
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.g.CountsByChannel() {
		ch <- prometheus.MustNewConstMetric(decisionsDesc, prometheus.CounterValue, float64(n), string(k.Channel), string(k.Reason))
	}
	s := c.g.stats
	buckets := make(map[float64]uint64, len(latencyBuckets))
	var cum uint64
	for i, ub := range latencyBuckets {
		cum += uint64(s.bucketHits[i].Load())
		buckets[ub] = cum
	}
	ch <- prometheus.MustNewConstHistogram(callsDesc, uint64(s.calls.Load()), time.Duration(s.sumNanos.Load()).Seconds(), buckets)
}
