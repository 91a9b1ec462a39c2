package sim

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSharedPoolHoldsMaxParallel runs the shared pool where it is hardest
// to hold: flakes, conflicts, variable CI, cross-lane MRs that interact,
// urgent MRs, and pools from the smallest allowed up. checkPool fails the
// run on the first start past max_parallel (urgent pipelines aside), and
// without urgent MRs the peak it records must stay within it too.
func TestSharedPoolHoldsMaxParallel(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		for _, k := range []int{2, 3, 4, 8} {
			for _, mp := range []int{k + 1, 12, 20} {
				for _, urgent := range []float64{0, 0.05} {
					s := backlog(150, 0.15, seed)
					s.CI, s.CISpread = DurationLognormal, Duration(15*time.Minute)
					s.FlakeProbability, s.ConflictProbability = 0.05, 0.01
					s.Lanes, s.CrossLane, s.LaneConflict = k, 0.3, 0.3
					s.LanePool, s.MaxParallel, s.MinWindow, s.UrgentFraction = LanePoolShared, mp, min(s.MinWindow, mp), urgent
					r := strategy(t, s, LanesStrategy)
					l := r.Lanes
					if l == nil || l.Pool != LanePoolShared || len(l.Windows) != k {
						t.Fatalf("seed %d lanes %d pool %d: lanes result %+v", seed, k, mp, l)
					}
					if urgent == 0 && (l.PeakPipelines > mp || l.PeakPipelines == 0) {
						t.Errorf("seed %d lanes %d pool %d: peak %d pipelines", seed, k, mp, l.PeakPipelines)
					}
					if r.BrokenMerged != 0 {
						t.Errorf("seed %d lanes %d pool %d: %d broken MRs merged", seed, k, mp, r.BrokenMerged)
					}
				}
			}
		}
	}
}

// TestSharedPoolLendsIdlePipelines: with two lanes and all the work in
// one of them, a static cut leaves that lane its half of the pipelines,
// while the shared pool lets it use what the idle lane does not.
func TestSharedPoolLendsIdlePipelines(t *testing.T) {
	s := backlog(200, 0.02, 3)
	s.Lanes, s.MaxParallel = 2, 12
	busy := func(s Scenario) Result {
		t.Helper()
		pop := newPopulation(s)
		mrLanes := make([][]int, len(pop.mrs))
		for i := range mrLanes {
			mrLanes[i] = []int{0}
		}
		st := Strategies(s)[slices.IndexFunc(Strategies(s), func(x Strategy) bool { return x.Name == LanesStrategy })]
		r, err := newLaneRun(s, pop, st, mrLanes).run(st.Name)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	static := busy(s)
	s.LanePool = LanePoolShared
	shared := busy(s)
	if got := static.Lanes.Windows[0]; got != 6 {
		t.Fatalf("static window of the busy lane = %d, want 6", got)
	}
	if got := shared.Lanes.Windows[0]; got <= 6 || got > 10 {
		t.Errorf("shared: the busy lane ran at most %d pipelines at once, want more than its static 6 and at most 10", got)
	}
	if shared.Merged != static.Merged || shared.ThroughputPerHour <= static.ThroughputPerHour {
		t.Errorf("shared merged %d at %.2f/h, static %d at %.2f/h: want the same MRs, faster",
			shared.Merged, shared.ThroughputPerHour, static.Merged, static.ThroughputPerHour)
	}
}

// TestStaticPoolIsTheDefault: lane_pool static gives exactly what no
// lane_pool gives, and the report does not name a pool.
func TestStaticPoolIsTheDefault(t *testing.T) {
	s := backlog(120, 0.1, 5)
	s.Lanes, s.CrossLane, s.LaneConflict = 3, 0.2, 0.2
	def, err := Compare(s)
	if err != nil {
		t.Fatal(err)
	}
	s.LanePool = LanePoolStatic
	static, err := Compare(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(def, static) {
		t.Errorf("lane_pool static differs from the default")
	}
	b, err := json.Marshal(static)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pool") {
		t.Errorf("a static report names a pool: %s", b)
	}
}

func TestLanePoolValidate(t *testing.T) {
	for _, tt := range []struct {
		pool       string
		lanes, max int
		want       string
	}{
		{"wide", 2, 12, `lane_pool: "wide" is not static or shared`},
		{LanePoolShared, 4, 4, "lane_pool: shared needs max_parallel (4) above lanes (4)"},
	} {
		s := DefaultScenario()
		s.LanePool, s.Lanes, s.MaxParallel, s.MinWindow = tt.pool, tt.lanes, tt.max, 1
		err := s.Validate()
		if !errors.Is(err, ErrInvalidScenario) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s with %d lanes and %d pipelines: %v, want %q", tt.pool, tt.lanes, tt.max, err, tt.want)
		}
	}
}
