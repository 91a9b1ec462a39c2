package metrics

import (
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// carStates are the states a car on a train can be in; the cars gauge has
// a series for each, so a state that empties reads 0 instead of vanishing.
func carStates() [7]train.State {
	return [...]train.State{
		train.StateQueued, train.StateBuilding, train.StateBuilt, train.StateStarting,
		train.StateRunning, train.StatePassed, train.StateFailed,
	}
}

// evictionReasons are the reasons a car leaves without merging; every
// train has an evictions series for each from its start, so a rate over
// them reads 0 rather than nothing.
func evictionReasons() []train.ReasonCode {
	return []train.ReasonCode{
		train.ReasonPipelineFailed, train.ReasonNewCommits, train.ReasonClosed, train.ReasonRetargeted,
		train.ReasonMergedOutside, train.ReasonConflict, train.ReasonTimeout, train.ReasonRemoved,
		train.ReasonBuildFailed, train.ReasonPipelineRefused, train.ReasonMergeRules, train.ReasonDependency,
	}
}

// InitTrain creates the series of the train's counters and its histogram at
// zero, once per train. Without them a train that has not merged, evicted
// or started anything since this replica started has no series, and an
// alert on increase() or rate() of them sees nothing instead of 0. The
// service calls it for every configured train it knows at start; the trace
// calls it for every train it sees.
func (m *Metrics) InitTrain(key train.Key) {
	name := key.String()
	m.mu.Lock()
	_, known := m.trains[name]
	m.trains[name] = struct{}{}
	m.mu.Unlock()
	if known {
		return
	}
	m.toMerge.WithLabelValues(name)
	m.started.WithLabelValues(name)
	m.cancelled.WithLabelValues(name)
	m.wasted.WithLabelValues(name)
	m.merged.WithLabelValues(name)
	for _, r := range evictionReasons() {
		m.evictions.WithLabelValues(name, string(r))
	}
}

// Trace returns the engine trace that feeds the train counters; install it
// with engine.WithTrace.
//
// A pipeline counts as wasted when it is cancelled and its car is not
// merged by the same step: a car that is rebuilt, evicted or removed, or a
// pipeline started for a commit nobody waits for any more. When a later
// car passes, the cars ahead of it merge with it and their own pipelines
// are cancelled; those are cancelled but not wasted, since their cars
// merged, tested within the later car's commit. A cancellation carried out
// by a replica that did not plan it (after a crash) counts as wasted.
func (m *Metrics) Trace() engine.Trace {
	return engine.Trace{Observed: m.observed, Acted: m.acted}
}

func (m *Metrics) observed(key train.Key, _ train.Observation, after train.Train) {
	m.InitTrain(key)
	m.noteMerging(key.String(), after.Outbox)
}

// noteMerging remembers the pipelines the outbox cancels because their
// cars merge: the planner emits a merged car's CancelPipeline together with
// its Record, and the engine reports the plan before it carries the
// actions out, so the cancellation finds its pipeline here.
func (m *Metrics) noteMerging(name string, outbox train.Actions) {
	var merged, pipes map[int64]struct{}
	for _, a := range outbox {
		if r, ok := a.(train.Record); ok && r.Car.State == train.StateMerged && r.Car.Pipeline != 0 {
			if merged == nil {
				merged = map[int64]struct{}{}
			}
			merged[r.Car.Pipeline] = struct{}{}
		}
	}
	for _, a := range outbox {
		if c, ok := a.(train.CancelPipeline); ok {
			if _, ok := merged[c.Pipeline]; ok {
				if pipes == nil {
					pipes = map[int64]struct{}{}
				}
				pipes[c.Pipeline] = struct{}{}
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if pipes == nil {
		delete(m.mergedPipes, name)
		return
	}
	m.mergedPipes[name] = pipes
}

// merging reports whether pipeline is cancelled because its car merges,
// and forgets it.
func (m *Metrics) merging(name string, pipeline int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	pipes := m.mergedPipes[name]
	if _, ok := pipes[pipeline]; !ok {
		return false
	}
	delete(pipes, pipeline)
	if len(pipes) == 0 {
		delete(m.mergedPipes, name)
	}
	return true
}

func (m *Metrics) acted(key train.Key, a train.Action) {
	name := key.String()
	switch a := a.(type) {
	case train.StartPipeline:
		m.started.WithLabelValues(name).Inc()
	case train.CancelPipeline:
		m.cancelled.WithLabelValues(name).Inc()
		if !m.merging(name, a.Pipeline) {
			m.wasted.WithLabelValues(name).Inc()
		}
	case train.Record:
		m.recorded(name, a.Car)
	}
}

// recorded counts a car that left its train.
func (m *Metrics) recorded(name string, c train.Car) {
	switch c.State {
	case train.StateMerged:
		m.merged.WithLabelValues(name).Inc()
		if !c.AddedAt.IsZero() && !c.LeftAt.Before(c.AddedAt) {
			m.toMerge.WithLabelValues(name).Observe(c.LeftAt.Sub(c.AddedAt).Seconds())
		}
	case train.StateEvicted:
		reason := "unknown"
		if c.Reason != nil && c.Reason.Code != "" {
			reason = string(c.Reason.Code)
		}
		m.evictions.WithLabelValues(name, reason).Inc()
	}
}
