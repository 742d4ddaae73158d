package web

import (
	"github.com/prometheus/client_golang/prometheus"
)

// segmentCollector exposes the segment index's figures on /metrics, read
// at scrape time.
type segmentCollector struct {
	s                                       *Server
	customers, bitmapBytes, lag, builds, up *prometheus.Desc
}

func newSegmentCollector(s *Server) *segmentCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &segmentCollector{s: s,
		up:          d("kith_segment_index_ready", "1 when this node's segment index answers, 0 while it is built or behind (the database answers then)."),
		customers:   d("kith_segment_index_customers", "Customers in this node's segment index."),
		bitmapBytes: d("kith_segment_index_bitmap_bytes", "Serialised size of the segment index's bitmaps."),
		lag:         d("kith_segment_index_lag_seconds", "Time since the segment index last read the change sequence."),
		builds:      d("kith_segment_index_builds_total", "Builds of the segment index since this node started (1, plus rebuilds after a gap)."),
	}
}

// Describe implements prometheus.Collector.
func (c *segmentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.customers, c.bitmapBytes, c.lag, c.builds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *segmentCollector) Collect(ch chan<- prometheus.Metric) {
	ix := c.s.SegmentIndex()
	if ix == nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ready := 0.0
	if ix.Ready() {
		ready = 1
	}
	st := ix.Stats()
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, ready)
	ch <- prometheus.MustNewConstMetric(c.customers, prometheus.GaugeValue, float64(st.Customers))
	ch <- prometheus.MustNewConstMetric(c.bitmapBytes, prometheus.GaugeValue, float64(st.BitmapBytes))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, st.Lag.Seconds())
	ch <- prometheus.MustNewConstMetric(c.builds, prometheus.CounterValue, float64(st.Builds))
}
