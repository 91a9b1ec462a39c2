package metrics

import (
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// carStates are the states a car on a train can be in; the cars gauge has
// a series for each, so a state that empties reads 0 instead of its last
// count.
func carStates() [7]train.State {
	return [...]train.State{
		train.StateQueued, train.StateBuilding, train.StateBuilt, train.StateStarting,
		train.StateRunning, train.StatePassed, train.StateFailed,
	}
}

// Trace returns the engine trace that feeds the train metrics; install it
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
	name := key.String()
	states := carStates()
	var counts [len(states)]int
	for i := range after.Cars {
		for j, s := range states {
			if after.Cars[i].State == s {
				counts[j]++
				break
			}
		}
	}
	for j, s := range states {
		m.cars.WithLabelValues(name, string(s)).Set(float64(counts[j]))
	}
	paused := 0.0
	if after.Paused {
		paused = 1
	}
	m.paused.WithLabelValues(name).Set(paused)
	m.noteMerging(name, after.Outbox)
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
