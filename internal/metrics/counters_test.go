package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/notify"
	"github.com/trainyard/trainyard/internal/webhook"
)

func TestWebhookCounter(t *testing.T) {
	m, _ := newMetrics(t)
	var c webhook.Counter = m.WebhookCounter()
	c.Count("gitlab", "Merge Request Hook", webhook.OutcomeQueued)
	c.Count("gitlab", "Merge Request Hook", webhook.OutcomeQueued)
	c.Count("gitlab", "Merge Request Hook", webhook.OutcomeDuplicate)
	c.Count("github", "unknown", webhook.OutcomeUnauthorized)

	want := `
# HELP trainyard_webhook_deliveries_total Webhook deliveries received, by forge, event and outcome.
# TYPE trainyard_webhook_deliveries_total counter
trainyard_webhook_deliveries_total{event="Merge Request Hook",forge="gitlab",outcome="duplicate"} 1
trainyard_webhook_deliveries_total{event="Merge Request Hook",forge="gitlab",outcome="queued"} 2
trainyard_webhook_deliveries_total{event="unknown",forge="github",outcome="unauthorized"} 1
`
	if err := testutil.CollectAndCompare(m.webhooks, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestNotifyCounter(t *testing.T) {
	m, _ := newMetrics(t)
	var c notify.Counter = m.NotifyCounter()
	c.Count("releases", "merged", notify.OutcomeSent)
	c.Count("releases", "evicted", notify.OutcomeRetried)
	c.Count("releases", "evicted", notify.OutcomeRetried)
	c.Count("releases", "evicted", notify.OutcomeExpired)
	c.Count("slack#1", "evicted", notify.OutcomeFailed)

	want := `
# HELP trainyard_notifications_total Chat notifications by route, kind and outcome (sent, failed, expired, dropped; retried counts extra attempts).
# TYPE trainyard_notifications_total counter
trainyard_notifications_total{kind="evicted",outcome="expired",route="releases"} 1
trainyard_notifications_total{kind="evicted",outcome="failed",route="slack#1"} 1
trainyard_notifications_total{kind="evicted",outcome="retried",route="releases"} 2
trainyard_notifications_total{kind="merged",outcome="sent",route="releases"} 1
`
	if err := testutil.CollectAndCompare(m.notifications, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestObserveEvent(t *testing.T) {
	m, reg := newMetrics(t)
	observe := (&engine.Workers{Observe: m.ObserveEvent}).Observe
	observe(event.Event{Kind: event.KindPipeline}, "handled", 20*time.Millisecond)
	observe(event.Event{Kind: event.KindPipeline}, "handled", 3*time.Second)
	observe(event.Event{Kind: event.KindComment}, "retry", time.Second)
	// An event that did not decode has no kind; a strange one gets no
	// series of its own.
	observe(event.Event{}, "malformed", 0)
	observe(event.Event{Kind: "tag_push"}, "handled", 0)

	for _, c := range []struct {
		kind, outcome string
		want          float64
	}{
		{"pipeline", "handled", 2},
		{"comment", "retry", 1},
		{"unknown", "malformed", 1},
		{"unknown", "handled", 1},
	} {
		if got := testutil.ToFloat64(m.events.WithLabelValues(c.kind, c.outcome)); got != c.want {
			t.Errorf("events{%s,%s} = %v, want %v", c.kind, c.outcome, got, c.want)
		}
	}
	// Beside them, every kind's dead letters from the start, at 0.
	if n := testutil.CollectAndCount(m.events); n != 4+5 {
		t.Errorf("event series = %d, want 4 and 5 dead-letter series", n)
	}
	for _, kind := range []string{"comment", "mr", "pipeline", "push", "unknown"} {
		if got := testutil.ToFloat64(m.events.WithLabelValues(kind, engine.OutcomeDead)); got != 0 {
			t.Errorf("events{%s,dead_letter} = %v, want 0", kind, got)
		}
	}
	h := histogram(t, reg, "trainyard_event_duration_seconds", map[string]string{"kind": "pipeline"})
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 3.02 {
		t.Fatalf("pipeline event durations: count %d sum %v, want 2 and 3.02", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestObserveSweep(t *testing.T) {
	m, _ := newMetrics(t)
	observe := (&engine.Sweeper{Observe: m.ObserveSweep}).Observe
	observe(300 * time.Millisecond)
	observe(45 * time.Second)

	want := `
# HELP trainyard_sweep_duration_seconds Time one sweep over every active train took.
# TYPE trainyard_sweep_duration_seconds histogram
trainyard_sweep_duration_seconds_bucket{le="0.1"} 0
trainyard_sweep_duration_seconds_bucket{le="0.5"} 1
trainyard_sweep_duration_seconds_bucket{le="1"} 1
trainyard_sweep_duration_seconds_bucket{le="2.5"} 1
trainyard_sweep_duration_seconds_bucket{le="5"} 1
trainyard_sweep_duration_seconds_bucket{le="10"} 1
trainyard_sweep_duration_seconds_bucket{le="30"} 1
trainyard_sweep_duration_seconds_bucket{le="60"} 2
trainyard_sweep_duration_seconds_bucket{le="120"} 2
trainyard_sweep_duration_seconds_bucket{le="300"} 2
trainyard_sweep_duration_seconds_bucket{le="+Inf"} 2
trainyard_sweep_duration_seconds_sum 45.3
trainyard_sweep_duration_seconds_count 2
`
	if err := testutil.CollectAndCompare(m.sweepTook, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestPanicsAndDeadLetters(t *testing.T) {
	m, reg := newMetrics(t)
	m.Panicked("event")
	m.Panicked("event")
	m.Panicked("sweep")
	m.Panicked("made up")
	if got := labelValues(t, reg, "trainyard_panics_total", "where"); !slices.Equal(got, []string{"event", "other", "sweep"}) {
		t.Fatalf("panics where = %v, want event, other, sweep", got)
	}
	if got := testutil.ToFloat64(m.panics.WithLabelValues("event")); got != 2 {
		t.Fatalf("event panics = %v, want 2", got)
	}
	n, fail := int64(3), error(nil)
	if err := WatchDeadLetters(reg, func(context.Context) (int64, error) { return n, fail }); err != nil {
		t.Fatal(err)
	}
	gauge := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, "trainyard_events_dead_letters ") {
				return line
			}
		}
		return ""
	}
	if got := gauge(); got != "trainyard_events_dead_letters 3" {
		t.Fatalf("dead letters line %q", got)
	}
	fail = errors.New("redis down")
	if got := gauge(); got != "" {
		t.Fatalf("dead letters line %q while Redis is down, want none", got)
	}
	if got := testutil.ToFloat64(m.panics.WithLabelValues("sweep")); got != 1 {
		t.Fatalf("the other metrics went missing with the dead-letter count: sweep panics = %v", got)
	}
}
