// Package metrics exports Trainyard's Prometheus metrics. One *Metrics holds
// every collector, registered on the registry it is given, and hands out
// the adapters each part reports through: the engine's trace, the workers'
// and sweeper's observers, the webhook and notification counters, the
// forge clients' HTTP transport and a go-redis hook. What lives in Redis
// (the cars on each train, the dead letters) is read at each scrape
// instead (WatchTrains, WatchDeadLetters), so every replica reports the
// same, current value. Nothing is registered globally, so tests and
// several services in one process never share counts.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trainyard/trainyard/internal/buildinfo"
	"github.com/trainyard/trainyard/internal/engine"
)

// namespace prefixes every metric name.
const namespace = "trainyard"

// Metrics holds Trainyard's collectors. It is safe for concurrent use.
type Metrics struct {
	buildInfo *prometheus.GaugeVec

	toMerge   *prometheus.HistogramVec
	started   *prometheus.CounterVec
	cancelled *prometheus.CounterVec
	wasted    *prometheus.CounterVec
	evictions *prometheus.CounterVec
	merged    *prometheus.CounterVec

	webhooks      *prometheus.CounterVec
	events        *prometheus.CounterVec
	eventTook     *prometheus.HistogramVec
	sweepTook     prometheus.Histogram
	panics        *prometheus.CounterVec
	notifications *prometheus.CounterVec

	forgeTook     *prometheus.HistogramVec
	forgeRequests *prometheus.CounterVec

	redisTook *prometheus.HistogramVec
	redisErrs *prometheus.CounterVec

	// mu guards mergedPipes: per train, the pipelines of cars being merged,
	// whose cancellation is not waste; and trains, the trains whose series
	// exist.
	mu          sync.Mutex
	mergedPipes map[string]map[int64]struct{}
	trains      map[string]struct{}
}

// New creates the collectors and registers them on reg. Like promauto, it
// panics when reg already holds metrics of the same names: that is a
// wiring mistake, found at the first start.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		buildInfo: gaugeVec("build_info",
			"Always 1; its labels name the running build: version, commit, build date and Go version.",
			"version", "commit", "date", "go_version"),
		toMerge: histogramVec("time_to_merge_seconds",
			"Time from a car's addition to the train until its merge.",
			[]float64{60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400}, "train"),
		started: counterVec("pipelines_started_total",
			"Pipelines started for cars.", "train"),
		cancelled: counterVec("pipelines_cancelled_total",
			"Pipelines cancelled while they ran, for any reason (a cancel of one that had finished is not counted).", "train"),
		wasted: counterVec("pipelines_wasted_total",
			"Pipelines cancelled whose car was not merged by that cancellation: their CI time bought nothing.", "train"),
		evictions: counterVec("evictions_total",
			"Cars taken off a train without merging, by reason.", "train", "reason"),
		merged: counterVec("merged_total", "Cars merged.", "train"),

		webhooks: counterVec("webhook_deliveries_total",
			"Webhook deliveries received, by forge, event and outcome.", "forge", "event", "outcome"),
		events: counterVec("events_total",
			"Queued events handled by workers, by kind and outcome.", "kind", "outcome"),
		eventTook: histogramVec("event_duration_seconds",
			"Time a worker spent on one event, including every train round it caused.",
			[]float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}, "kind"),
		sweepTook: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "sweep_duration_seconds",
			Help:    "Time one sweep over every active train took.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		panics: counterVec("panics_total",
			"Panics recovered while handling an event or sweeping, by where (event, sweep).", "where"),
		notifications: counterVec("notifications_total",
			"Chat notifications by route, kind and outcome (sent, failed, expired, dropped; retried counts extra attempts).", "route", "kind", "outcome"),

		forgeTook: histogramVec("forge_request_duration_seconds",
			"Duration of HTTP requests to a forge's API until the answer's headers, by forge and operation.",
			[]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, "forge", "op"),
		forgeRequests: counterVec("forge_requests_total",
			"HTTP requests to a forge's API, by forge, operation and status code (error when no answer came).", "forge", "op", "code"),

		redisTook: histogramVec("redis_command_duration_seconds",
			"Duration of Redis commands, by command; pipelines and transactions as one.",
			[]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, "command"),
		redisErrs: counterVec("redis_errors_total",
			"Redis commands that failed (a missing key is not a failure), by command.", "command"),

		mergedPipes: map[string]map[int64]struct{}{},
		trains:      map[string]struct{}{},
	}
	b := buildinfo.Get()
	m.buildInfo.WithLabelValues(b.Version, b.Commit, b.Date, b.GoVersion).Set(1)
	// An alert on increase() misses a counter's first count when its
	// series starts at it: a replica's first dead letter would go unseen.
	for _, kind := range eventKinds() {
		m.events.WithLabelValues(kind, engine.OutcomeDead)
	}
	reg.MustRegister(m.collectors()...)
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.buildInfo, m.toMerge, m.started, m.cancelled, m.wasted, m.evictions, m.merged,
		m.webhooks, m.events, m.eventTook, m.sweepTook, m.panics, m.notifications,
		m.forgeTook, m.forgeRequests, m.redisTook, m.redisErrs,
	}
}

// NewRegistry returns a registry that already holds the Go runtime and
// process collectors, for a service's /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves g's metrics in the Prometheus exposition formats.
func Handler(g prometheus.Gatherer) http.Handler {
	// A collector that fails must not hide every other metric from the
	// scrape that would show the trouble.
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
}
