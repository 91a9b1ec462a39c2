package sim

import "github.com/trainyard/trainyard/internal/train"

// DefaultMinWindow is the thrift strategy's floor: the window may shrink
// to two pipelines when failures are frequent.
const DefaultMinWindow = 2

// Strategy is a named planner configuration.
type Strategy struct {
	Name     string
	Settings train.Settings
}

// Strategies returns the strategies compared for a scenario: one MR at a
// time, as bors and Marge-bot merge; GitLab's merge trains (a fixed window
// of cars, a pipeline each, a failed car leaves at once, no retries);
// trainyard's defaults with the scenario's window, batch limit and
// retries; and the same with an adaptive window allowed to shrink further,
// which spends less CI (thrift).
func Strategies(s Scenario) []Strategy {
	ty := train.Settings{MaxParallel: s.MaxParallel, BatchSize: s.BatchSize, Retries: s.Retries}
	thrift := ty
	thrift.MinWindow = s.MinWindow
	fixed := func(w int) train.Settings {
		return train.Settings{MaxParallel: w, MinWindow: w, BatchSize: 1, EagerEviction: true}.WithDefaults()
	}
	return []Strategy{
		{Name: "serial", Settings: fixed(1)},
		{Name: "gitlab", Settings: fixed(s.MaxParallel)},
		{Name: "trainyard", Settings: ty.WithDefaults()},
		{Name: "thrift", Settings: thrift.WithDefaults()},
	}
}
