package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/train"
)

// feedAll registers what the service registers beside New and gives
// every metric at least one series.
func feedAll(t *testing.T, m *Metrics, reg prometheus.Registerer) {
	t.Helper()
	if err := WatchTrains(reg, func(context.Context) ([]train.Train, error) {
		return []train.Train{{Key: keyApp, Cars: carsIn(train.StateRunning)}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := WatchDeadLetters(reg, func(context.Context) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	tr := m.Trace()
	tr.Observed(keyApp, train.Tick{}, train.Train{Key: keyApp, Cars: carsIn(train.StateRunning)})
	for _, a := range []train.Action{
		train.StartPipeline{MR: 1},
		train.CancelPipeline{MR: 1, Pipeline: 9},
		train.Record{Car: train.Car{MR: 1, State: train.StateMerged, AddedAt: t0, LeftAt: t0.Add(time.Hour)}},
		train.Record{Car: train.Car{MR: 2, State: train.StateEvicted, Reason: &train.Reason{Code: train.ReasonTimeout}}},
	} {
		tr.Acted(keyApp, a)
	}
	m.WebhookCounter().Count("gitlab", "Note Hook", "queued")
	m.NotifyCounter().Count("releases", "merged", "sent")
	m.ObserveEvent(event.Event{Kind: event.KindMR}, "handled", time.Second)
	m.ObserveSweep(time.Second)
	m.Panicked("event")
	req := httptest.NewRequest(http.MethodGet, "https://gitlab.example/api/v4/version", nil)
	if _, err := m.ForgeTransport("gitlab", byPath, answering(http.StatusOK)).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	hook := m.RedisHook().ProcessHook(func(context.Context, redis.Cmder) error { return io.ErrUnexpectedEOF })
	_ = hook(context.Background(), redis.NewStringCmd(context.Background(), "get", "k"))
}

func TestHandlerServesParsableText(t *testing.T) {
	reg := NewRegistry()
	m := New(reg)
	feedAll(t, m, reg)
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("get /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type = %q, want text exposition", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, name := range []string{
		"trainyard_cars", "trainyard_time_to_merge_seconds", "trainyard_pipelines_wasted_total",
		"trainyard_forge_request_duration_seconds", "trainyard_redis_command_duration_seconds",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	got := mfs["trainyard_merged_total"].GetMetric()
	if len(got) != 1 || got[0].GetCounter().GetValue() != 1 {
		t.Fatalf("trainyard_merged_total = %v, want one series at 1", got)
	}
}

func TestNewPanicsOnASecondRegistration(t *testing.T) {
	_, reg := newMetrics(t)
	defer func() {
		if recover() == nil {
			t.Fatal("a second New on one registry did not panic")
		}
	}()
	New(reg)
}
