package metrics

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trainyard/trainyard/internal/sim"
	"github.com/trainyard/trainyard/internal/train"
)

var (
	keyApp = train.Key{Forge: "gitlab", Project: "group/app", Branch: "main"}
	keyLib = train.Key{Forge: "github", Project: "org/lib", Branch: "dev"}
)

func carsIn(states ...train.State) []train.Car {
	cars := make([]train.Car, len(states))
	for i, s := range states {
		cars[i] = train.Car{MR: int64(i + 1), State: s}
	}
	return cars
}

func TestTrainGaugesReadTheStoredTrains(t *testing.T) {
	_, reg := newMetrics(t)
	trains := []train.Train{
		{Key: keyApp, Paused: true, Cars: carsIn(train.StateQueued, train.StateQueued, train.StateRunning, train.StatePassed)},
		{Key: keyLib, Cars: carsIn(train.StateBuilding)},
		// Listed twice (an index entry repeated): one series, not a
		// failed scrape.
		{Key: keyLib, Cars: carsIn(train.StateBuilding)},
	}
	var fail error
	if err := WatchTrains(reg, func(context.Context) ([]train.Train, error) { return trains, fail }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP trainyard_cars Cars on each train by state, read from Redis at each scrape.
# TYPE trainyard_cars gauge
trainyard_cars{state="building",train="gitlab:group/app:main"} 0
trainyard_cars{state="built",train="gitlab:group/app:main"} 0
trainyard_cars{state="failed",train="gitlab:group/app:main"} 0
trainyard_cars{state="passed",train="gitlab:group/app:main"} 1
trainyard_cars{state="queued",train="gitlab:group/app:main"} 2
trainyard_cars{state="running",train="gitlab:group/app:main"} 1
trainyard_cars{state="starting",train="gitlab:group/app:main"} 0
trainyard_cars{state="building",train="github:org/lib:dev"} 1
trainyard_cars{state="built",train="github:org/lib:dev"} 0
trainyard_cars{state="failed",train="github:org/lib:dev"} 0
trainyard_cars{state="passed",train="github:org/lib:dev"} 0
trainyard_cars{state="queued",train="github:org/lib:dev"} 0
trainyard_cars{state="running",train="github:org/lib:dev"} 0
trainyard_cars{state="starting",train="github:org/lib:dev"} 0
# HELP trainyard_train_paused 1 while a train is paused, 0 otherwise, read from Redis at each scrape.
# TYPE trainyard_train_paused gauge
trainyard_train_paused{train="gitlab:group/app:main"} 1
trainyard_train_paused{train="github:org/lib:dev"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trainyard_cars", "trainyard_train_paused"); err != nil {
		t.Fatal(err)
	}
	// The next scrape reads again: what merged and moved on is gone.
	trains = []train.Train{{Key: keyApp, Cars: carsIn(train.StateBuilt)}}
	if got := gauge(t, reg, "trainyard_cars", map[string]string{"train": keyApp.String(), "state": "queued"}); got != 0 {
		t.Fatalf("queued cars after they left = %v, want 0", got)
	}
	if got := gauge(t, reg, "trainyard_train_paused", map[string]string{"train": keyApp.String()}); got != 0 {
		t.Fatalf("paused after a resume = %v, want 0", got)
	}
	if got := labelValues(t, reg, "trainyard_train_paused", "train"); !slices.Equal(got, []string{keyApp.String()}) {
		t.Fatalf("trains = %v, want only %s", got, keyApp)
	}
	fail = errors.New("redis down")
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "redis down") {
		t.Fatalf("gather while Redis is down: %v, want the error", err)
	}
}

// Every train the trace sees, or the service names at start, has its
// counters and histogram from then on, at zero.
func TestInitTrainCreatesEverySeriesAtZero(t *testing.T) {
	m, reg := newMetrics(t)
	m.InitTrain(keyApp)
	m.InitTrain(keyApp)
	m.Trace().Observed(keyLib, train.Tick{}, train.Train{Key: keyLib})
	for _, name := range []string{"trainyard_merged_total", "trainyard_pipelines_started_total",
		"trainyard_pipelines_cancelled_total", "trainyard_pipelines_wasted_total"} {
		if got := labelValues(t, reg, name, "train"); !slices.Equal(got, []string{keyLib.String(), keyApp.String()}) {
			t.Errorf("%s trains = %v, want both", name, got)
		}
	}
	var reasons []string
	for _, r := range evictionReasons() {
		reasons = append(reasons, string(r))
	}
	slices.Sort(reasons)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			if v := s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount()); v != 0 {
				t.Errorf("%s %v = %v, want 0", mf.GetName(), s.GetLabel(), v)
			}
		}
	}
	for _, k := range []train.Key{keyApp, keyLib} {
		var got []string
		for _, mf := range mfs {
			if mf.GetName() != "trainyard_evictions_total" {
				continue
			}
			for _, s := range mf.GetMetric() {
				labels := labelMap(s)
				if labels["train"] == k.String() {
					got = append(got, labels["reason"])
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, reasons) {
			t.Errorf("eviction reasons of %s = %v, want %v", k, got, reasons)
		}
		if h := histogram(t, reg, "trainyard_time_to_merge_seconds", map[string]string{"train": k.String()}); h.GetSampleCount() != 0 {
			t.Errorf("time to merge of %s counts %d", k, h.GetSampleCount())
		}
	}
}

// evictionReasons must name every reason the planner gives but merged,
// so that no train lacks the series of one.
func TestEvictionReasonsAreEveryReasonCode(t *testing.T) {
	codes := constValues(t, "../train/train.go", "Reason")
	var want []string
	for _, c := range codes {
		if c != string(train.ReasonMerged) {
			want = append(want, c)
		}
	}
	var got []string
	for _, r := range evictionReasons() {
		got = append(got, string(r))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("evictionReasons = %v, want %v", got, want)
	}
}

func TestActedCountsPipelinesAndDepartures(t *testing.T) {
	m, _ := newMetrics(t)
	tr := m.Trace()
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	app := keyApp.String()

	tr.Acted(keyApp, train.StartPipeline{MR: 1, Commit: "c1"})
	tr.Acted(keyApp, train.StartPipeline{MR: 2, Commit: "c2"})
	tr.Acted(keyLib, train.StartPipeline{MR: 7, Commit: "c7"})
	tr.Acted(keyApp, train.CancelPipeline{MR: 2, Pipeline: 22})
	tr.Acted(keyApp, train.BuildCar{MR: 3})
	tr.Acted(keyApp, train.Record{Car: train.Car{MR: 1, State: train.StateMerged, AddedAt: t0, LeftAt: t0.Add(45 * time.Minute)}})
	tr.Acted(keyApp, train.Record{Car: train.Car{MR: 4, State: train.StateMerged, AddedAt: t0, LeftAt: t0.Add(3 * time.Hour)}})
	// No addition time: counted as merged, but no duration to tell.
	tr.Acted(keyApp, train.Record{Car: train.Car{MR: 5, State: train.StateMerged, LeftAt: t0}})
	tr.Acted(keyApp, train.Record{Car: train.Car{MR: 2, State: train.StateEvicted, Reason: &train.Reason{Code: train.ReasonConflict}}})
	tr.Acted(keyApp, train.Record{Car: train.Car{MR: 6, State: train.StateEvicted, Reason: &train.Reason{Code: train.ReasonConflict}}})
	tr.Acted(keyApp, train.Record{Car: train.Car{MR: 8, State: train.StateEvicted}})

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"started app", testutil.ToFloat64(m.started.WithLabelValues(app)), 2},
		{"started lib", testutil.ToFloat64(m.started.WithLabelValues(keyLib.String())), 1},
		{"cancelled", testutil.ToFloat64(m.cancelled.WithLabelValues(app)), 1},
		{"wasted", testutil.ToFloat64(m.wasted.WithLabelValues(app)), 1},
		{"merged", testutil.ToFloat64(m.merged.WithLabelValues(app)), 3},
		{"evicted conflict", testutil.ToFloat64(m.evictions.WithLabelValues(app, "conflict")), 2},
		{"evicted unknown", testutil.ToFloat64(m.evictions.WithLabelValues(app, "unknown")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	want := `
# HELP trainyard_time_to_merge_seconds Time from a car's addition to the train until its merge.
# TYPE trainyard_time_to_merge_seconds histogram
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="60"} 0
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="120"} 0
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="300"} 0
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="600"} 0
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="900"} 0
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="1800"} 0
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="3600"} 1
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="7200"} 1
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="14400"} 2
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="28800"} 2
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="86400"} 2
trainyard_time_to_merge_seconds_bucket{train="gitlab:group/app:main",le="+Inf"} 2
trainyard_time_to_merge_seconds_sum{train="gitlab:group/app:main"} 13500
trainyard_time_to_merge_seconds_count{train="gitlab:group/app:main"} 2
`
	if err := testutil.CollectAndCompare(m.toMerge, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestWastedPipelinesUnderThePlanner runs the real planner through merges,
// an eviction and a rebuild, and checks which cancellations count as waste.
func TestWastedPipelinesUnderThePlanner(t *testing.T) {
	m, reg := newMetrics(t)
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	y := newYard(t, m.Trace(), t0)
	name := y.key.String()

	if err := WatchTrains(reg, func(context.Context) ([]train.Train, error) { return []train.Train{y.train}, nil }); err != nil {
		t.Fatal(err)
	}
	running := map[string]string{"train": name, "state": "running"}
	y.add(1, 2, 3)
	y.wantStates(train.StateRunning, train.StateRunning, train.StateRunning)
	if got := gauge(t, reg, "trainyard_cars", running); got != 3 {
		t.Fatalf("running cars = %v, want 3", got)
	}

	// !2 passes first: !1 and !2 merge together and !1's own pipeline is
	// cancelled, which is not waste.
	y.now = t0.Add(30 * time.Minute)
	y.finish(2)
	y.wantStates(train.StateRunning)
	if got := testutil.ToFloat64(m.wasted.WithLabelValues(name)); got != 0 {
		t.Fatalf("wasted after a merge = %v, want 0", got)
	}

	// New commits evict !3 while its pipeline runs: waste.
	y.handle(train.HeadChanged{MR: 3, HeadSHA: sim.HeadOf(3, 1)})
	y.wantStates()

	// !4 breaks the build. !5, started on top of it, is rebuilt without it,
	// and its first pipeline runs on as the witness whose failure confirms
	// !4's: nothing is cancelled. !4 leaves; !5's second pipeline passes.
	y.world.Broken[4] = true
	y.add(4)
	y.now = t0.Add(35 * time.Minute)
	y.add(5)
	y.now = t0.Add(40 * time.Minute)
	y.finish(4)
	y.wantStates(train.StateFailed, train.StateRunning)
	y.now = t0.Add(65 * time.Minute)
	y.handle(y.world.Finish(y.train.Car(4).Witness.Pipeline, false))
	y.wantStates(train.StateRunning)
	y.now = t0.Add(95 * time.Minute)
	y.finish(5)
	y.wantStates()

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"started", testutil.ToFloat64(m.started.WithLabelValues(name)), 6},
		{"cancelled", testutil.ToFloat64(m.cancelled.WithLabelValues(name)), 2},
		{"wasted", testutil.ToFloat64(m.wasted.WithLabelValues(name)), 1},
		{"merged", testutil.ToFloat64(m.merged.WithLabelValues(name)), 3},
		{"evicted new_commits", testutil.ToFloat64(m.evictions.WithLabelValues(name, "new_commits")), 1},
		{"evicted pipeline_failed", testutil.ToFloat64(m.evictions.WithLabelValues(name, "pipeline_failed")), 1},
		{"running cars", gauge(t, reg, "trainyard_cars", running), 0},
		{"passed cars", gauge(t, reg, "trainyard_cars", map[string]string{"train": name, "state": "passed"}), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	h := histogram(t, reg, "trainyard_time_to_merge_seconds", map[string]string{"train": name})
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 1800+1800+3600 {
		t.Fatalf("time to merge: count %d sum %v, want 3 and 7200", h.GetSampleCount(), h.GetSampleSum())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.mergedPipes) != 0 {
		t.Fatalf("merging pipelines still remembered after the outbox emptied: %v", m.mergedPipes)
	}
}

func TestPausedTrainUnderThePlanner(t *testing.T) {
	m, reg := newMetrics(t)
	y := newYard(t, m.Trace(), time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	if err := WatchTrains(reg, func(context.Context) ([]train.Train, error) { return []train.Train{y.train}, nil }); err != nil {
		t.Fatal(err)
	}
	y.handle(train.Paused{By: "bob"})
	y.add(1)
	y.wantStates(train.StateQueued)
	name := map[string]string{"train": y.key.String()}
	if got := gauge(t, reg, "trainyard_train_paused", name); got != 1 {
		t.Fatalf("paused = %v, want 1", got)
	}
	if got := gauge(t, reg, "trainyard_cars", map[string]string{"train": y.key.String(), "state": "queued"}); got != 1 {
		t.Fatalf("queued cars = %v, want 1", got)
	}
	y.handle(train.Resumed{By: "bob"})
	if got := gauge(t, reg, "trainyard_train_paused", name); got != 0 {
		t.Fatalf("paused after resume = %v, want 0", got)
	}
	if got := gauge(t, reg, "trainyard_cars", map[string]string{"train": y.key.String(), "state": "running"}); got != 1 {
		t.Fatalf("running cars after resume = %v, want 1", got)
	}
}
