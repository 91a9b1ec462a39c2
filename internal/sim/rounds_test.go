package sim

import (
	"fmt"
	"testing"
)

// Pipelines started together with fixed CI end at one instant, and the
// engine plans results that wait for a train in one pass. Planned one at
// a time, the first result's builds were started, and the second's
// cancelled them at once: a pipeline that cost a run and decided nothing.
// Planned together, an action the next result supersedes is never done.
func TestResultsOfOneInstantArePlannedTogether(t *testing.T) {
	for _, tc := range []struct {
		window   int
		p, flake float64
		arrival  string
	}{
		{5, 0.2, 0.03, ArrivalBacklog},
		{20, 0.1, 0.015, ArrivalBacklog},
		{20, 0.1, 0.015, ArrivalPoisson},
	} {
		t.Run(fmt.Sprintf("w=%d p=%v flake=%v %s", tc.window, tc.p, tc.flake, tc.arrival), func(t *testing.T) {
			s := backlog(300, tc.p, 1)
			s.MaxParallel, s.FlakeProbability = tc.window, tc.flake
			if tc.arrival == ArrivalPoisson {
				s.Arrival, s.RatePerHour, s.MRs = ArrivalPoisson, 7.5, 300
			}
			for _, name := range []string{"trainyard", "gitlab"} {
				var st Strategy
				for _, x := range Strategies(s) {
					if x.Name == name {
						st = x
					}
				}
				r := newRun(s, newPopulation(s), st)
				if err := r.loop(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				stillborn := 0
				for _, p := range r.stats.pipelines {
					if p.cancelled && p.end == p.start {
						stillborn++
					}
				}
				if stillborn > 0 {
					t.Errorf("%s: %d of %d pipelines were cancelled at the instant they started", name, stillborn, len(r.stats.pipelines))
				}
			}
		})
	}
}
