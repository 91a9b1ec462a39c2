package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/train"
)

// BenchmarkObserved is the trace's cost per planned observation on a
// train with a full window of cars.
func BenchmarkObserved(b *testing.B) {
	m, _ := newMetrics(b)
	tr := m.Trace()
	states := carStates()
	cars := make([]train.State, 20)
	for i := range cars {
		cars[i] = states[i%len(states)]
	}
	t := train.Train{Key: keyApp, Cars: carsIn(cars...),
		Outbox: train.Actions{train.BuildCar{MR: 1}, train.StartPipeline{MR: 2}, train.Comment{MR: 3}}}
	b.ReportAllocs()
	for b.Loop() {
		tr.Observed(keyApp, train.Tick{}, t)
	}
}

func BenchmarkActed(b *testing.B) {
	m, _ := newMetrics(b)
	tr := m.Trace()
	a := train.CancelPipeline{MR: 1, Pipeline: 7}
	b.ReportAllocs()
	for b.Loop() {
		tr.Acted(keyApp, a)
	}
}

func BenchmarkObserveEvent(b *testing.B) {
	m, _ := newMetrics(b)
	ev := event.Event{Kind: event.KindPipeline}
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveEvent(ev, "handled", time.Millisecond)
	}
}

// BenchmarkForgeTransport is the transport's overhead on one request,
// without the round trip.
func BenchmarkForgeTransport(b *testing.B) {
	m, _ := newMetrics(b)
	tr := m.ForgeTransport("gitlab", byPath, answering(http.StatusOK))
	req := httptest.NewRequest(http.MethodGet, "https://gitlab.example/api/v4/version", nil)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = tr.RoundTrip(req)
	}
}

// BenchmarkRedisHook is the hook's overhead on one command, without the
// round trip.
func BenchmarkRedisHook(b *testing.B) {
	m, _ := newMetrics(b)
	h := m.RedisHook()
	next := func(context.Context, redis.Cmder) error { return nil }
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "k")
	b.ReportAllocs()
	for b.Loop() {
		_ = h.ProcessHook(next)(ctx, cmd)
	}
}
