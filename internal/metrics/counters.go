package metrics

import (
	"time"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/notify"
	"github.com/trainyard/trainyard/internal/webhook"
)

// WebhookCounter counts webhook deliveries; give it to webhook.Options.
type WebhookCounter struct{ m *Metrics }

var _ webhook.Counter = WebhookCounter{}

// WebhookCounter returns the counter of webhook deliveries.
func (m *Metrics) WebhookCounter() WebhookCounter { return WebhookCounter{m} }

// Count counts one delivery. The webhook listener bounds event names before
// a request is authenticated, so label values stay few.
func (c WebhookCounter) Count(forge, event, outcome string) {
	c.m.webhooks.WithLabelValues(forge, event, outcome).Inc()
}

// NotifyCounter counts chat notifications; give it to notify.Options.
type NotifyCounter struct{ m *Metrics }

var _ notify.Counter = NotifyCounter{}

// NotifyCounter returns the counter of chat notifications.
func (m *Metrics) NotifyCounter() NotifyCounter { return NotifyCounter{m} }

// Count counts one notification outcome. Routes are named in the
// configuration, so label values stay few.
func (c NotifyCounter) Count(route, kind, outcome string) {
	c.m.notifications.WithLabelValues(route, kind, outcome).Inc()
}

// ObserveEvent counts a handled event and how long it took; it is the
// engine.Workers Observe function.
func (m *Metrics) ObserveEvent(ev event.Event, outcome string, took time.Duration) {
	kind := eventKind(ev.Kind)
	m.events.WithLabelValues(kind, outcome).Inc()
	m.eventTook.WithLabelValues(kind).Observe(took.Seconds())
}

// eventKind bounds the kind label: an event that did not decode has none,
// and a kind from a newer replica is not worth a series of its own.
func eventKind(k event.Kind) string {
	switch k {
	case event.KindComment, event.KindMR, event.KindPipeline, event.KindPush:
		return string(k)
	}
	return "unknown"
}

// eventKinds are the values of the kind label.
func eventKinds() []string {
	return []string{string(event.KindComment), string(event.KindMR), string(event.KindPipeline), string(event.KindPush), "unknown"}
}

// Panicked counts a recovered panic; where is "event" or "sweep".
func (m *Metrics) Panicked(where string) {
	if where != "event" && where != "sweep" {
		where = "other"
	}
	m.panics.WithLabelValues(where).Inc()
}

// ObserveSweep records how long one sweep pass took; it is the
// engine.Sweeper Observe function.
func (m *Metrics) ObserveSweep(took time.Duration) {
	m.sweepTook.Observe(took.Seconds())
}
