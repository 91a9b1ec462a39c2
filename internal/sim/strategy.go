package sim

import "github.com/trainyard/trainyard/internal/train"

// Strategy is a named planner configuration.
type Strategy struct {
	Name     string
	Settings train.Settings
}

// Strategies returns the strategies compared for a scenario: one MR at a
// time; GitLab's merge trains (a failed car leaves at once, no retries);
// and trainyard's defaults with the scenario's window and retries.
func Strategies(s Scenario) []Strategy {
	return []Strategy{
		{Name: "serial", Settings: train.Settings{MaxParallel: 1, Retries: s.Retries}.WithDefaults()},
		{Name: "gitlab", Settings: train.Settings{MaxParallel: s.MaxParallel, EagerEviction: true}.WithDefaults()},
		{Name: "trainyard", Settings: train.Settings{MaxParallel: s.MaxParallel, Retries: s.Retries}.WithDefaults()},
	}
}
