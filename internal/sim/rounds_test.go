package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/trainyard/trainyard/internal/train"
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

// rounds follows the engine's pass: the whole queue is planned before any
// action, the target's moves go first, and a round stops after an action
// that learnt a pipeline's final result, which is planned before the
// actions left.
func TestRoundsPlanFirstMovesFirstAndStopAtAResult(t *testing.T) {
	var log []string
	plan := func(o train.Observation) []train.Action {
		switch o := o.(type) {
		case train.Added:
			log = append(log, fmt.Sprintf("plan add !%d", o.MR))
			if o.MR == 1 {
				return []train.Action{train.BuildCar{MR: 1}, train.FastForwardTarget{To: "f"}}
			}
			return []train.Action{train.BuildCar{MR: 2}}
		case train.PipelineStatus:
			log = append(log, "plan result "+string(o.Status))
			return []train.Action{train.BuildCar{MR: 3}}
		}
		t.Fatalf("unexpected observation %T", o)
		return nil
	}
	act := func(a train.Action) []train.Observation {
		switch a := a.(type) {
		case train.FastForwardTarget:
			log = append(log, "move "+a.To)
		case train.BuildCar:
			log = append(log, fmt.Sprintf("build !%d", a.MR))
			if a.MR == 1 {
				return []train.Observation{train.PipelineStatus{Pipeline: 7, Status: train.PipelineSuccess}}
			}
		}
		return nil
	}
	rounds([]train.Observation{train.Added{MR: 1}, train.Added{MR: 2}}, plan, act)
	want := []string{"plan add !1", "plan add !2", "move f", "build !1", "plan result success", "build !2", "build !3"}
	if !slices.Equal(log, want) {
		t.Errorf("rounds did\n  %q\nwant\n  %q", log, want)
	}
}

// Lanes plan what ends at one instant together too, each train its own
// results. A few pipelines may still be cancelled as they start: an
// eviction on one lane takes a cross-lane MR off another (takeOut), which
// the engine, too, hears apart from the result that started them.
func TestLanesPlanResultsOfOneInstantTogether(t *testing.T) {
	for _, w := range []int{12, 20} {
		s := backlog(300, 0.1, 1)
		s.MaxParallel, s.FlakeProbability, s.Lanes = w, 0.015, 4
		var st Strategy
		for _, x := range Strategies(s) {
			if x.Name == LanesStrategy {
				st = x
			}
		}
		pop := newPopulation(s)
		r := newLaneRun(s, pop, st, assignLanes(s, len(pop.mrs), st.lanes))
		if _, err := r.run(st.Name); err != nil {
			t.Fatalf("w=%d: %v", w, err)
		}
		stillborn := 0
		for _, p := range r.stats.pipelines {
			if p.cancelled && p.end == p.start {
				stillborn++
			}
		}
		if stillborn > len(r.stats.pipelines)/100 {
			t.Errorf("w=%d: %d of %d pipelines were cancelled at the instant they started, want at most 1%%", w, stillborn, len(r.stats.pipelines))
		}
	}
}
