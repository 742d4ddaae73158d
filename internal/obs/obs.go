// Package obs holds Kith's Prometheus metrics: one registry with the Go
// runtime and process collectors, HTTP requests by route and status, and
// jobs by kind and outcome.
package obs

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the instance's metric set.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests *prometheus.CounterVec   // route, method, code
	HTTPDuration *prometheus.HistogramVec // route
	JobsFinished *prometheus.CounterVec   // kind, outcome
	JobDuration  *prometheus.HistogramVec // kind
}

// New returns a fresh metric set with the runtime collectors registered.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kith_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kith_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		JobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kith_jobs_finished_total",
			Help: "Job runs finished on this node, by kind and outcome (completed, failed, cancelled, snoozed).",
		}, []string{"kind", "outcome"}),
		JobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kith_job_run_duration_seconds",
			Help:    "Time job runs took on this node, by kind.",
			Buckets: prometheus.DefBuckets,
		}, []string{"kind"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.JobsFinished, m.JobDuration,
	)
	return m
}
