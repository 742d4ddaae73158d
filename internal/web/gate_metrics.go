package web

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kith-scrm/kith/internal/gate"
)

// gateCollector exposes the gate's decisions on /metrics, read from the
// gate's own counters at scrape time so that deciding costs no extra work.
type gateCollector struct {
	g    *gate.Gate
	desc *prometheus.Desc
}

func newGateCollector(g *gate.Gate) *gateCollector {
	return &gateCollector{g: g, desc: prometheus.NewDesc("kith_gate_decisions_total",
		"Gate decisions made on this node since it started, by reason (OK is a permit; every other reason a refusal).",
		[]string{"reason"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *gateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *gateCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.g.Counts()
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, string(r))
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(counts[gate.Reason(r)]), r)
	}
}
