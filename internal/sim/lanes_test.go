package sim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// oneTrainScenario is the scenario of testdata/one-train-*, written by
// trainyard sim before lanes existed.
func oneTrainScenario() Scenario {
	s := backlog(60, 0.1, 4)
	s.CI, s.CISpread, s.FlakeProbability = DurationNormal, Duration(5*time.Minute), 0.02
	return s
}

// TestOneLaneIsTodaysSimulator: with lanes 1 (the default) the strategies
// and every result are those the simulator gave before lanes existed, and
// with lanes the other strategies' results do not move.
func TestOneLaneIsTodaysSimulator(t *testing.T) {
	s := oneTrainScenario()
	if s.Lanes != 1 {
		t.Fatalf("default lanes = %d, want 1", s.Lanes)
	}
	for _, st := range Strategies(s) {
		if st.Name == LanesStrategy {
			t.Fatalf("%s runs with one lane", LanesStrategy)
		}
	}
	rep, err := Compare(s)
	if err != nil {
		t.Fatal(err)
	}
	// The file predates trainyard-bisect, a strategy of its own that
	// lanes do not touch either (checked below).
	before := slices.DeleteFunc(slices.Clone(rep.Strategies), func(r Result) bool { return r.Name == BisectStrategy })
	b, err := json.Marshal(struct {
		Bound      Bound    `json:"bound"`
		Strategies []Result `json:"strategies"`
	}{rep.Bound, before})
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	golden, err := os.ReadFile(filepath.Join("testdata", "one-train-results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results with one lane differ from testdata/one-train-results.json:\n%s", b)
	}

	s.Lanes = 3
	with, err := Compare(s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range with.Strategies {
		names = append(names, r.Name)
		if r.Name == LanesStrategy {
			continue
		}
		if i := slices.IndexFunc(rep.Strategies, func(o Result) bool { return o.Name == r.Name }); i < 0 || !reflect.DeepEqual(r, rep.Strategies[i]) {
			t.Errorf("%s moved with lanes: %+v", r.Name, r)
		}
	}
	if i := slices.Index(names, LanesStrategy); i < 0 || names[i-1] != BisectStrategy || len(names) != len(rep.Strategies)+1 {
		t.Errorf("strategies with lanes: %v", names)
	}
}

// TestLanesOnABacklog is the case the lanes were built for: 4 lanes, 5%
// broken, window 20, a backlog of 400. Every good MR merges, no broken
// one does, and the lanes spend fewer pipelines per merged MR than one
// train. They do not merge faster: 30.16 an hour against trainyard's
// 34.27 at seed 1 (0.88x; seeds 1 to 5: 0.88x, 1.13x, 1.05x, 0.96x,
// 0.95x). A lane's window is a quarter of one train's, and each failed
// batch of 8 is bisected in 8 pipelines of it, so the lanes stall in
// turn, and the last merge waits for the slowest lane. On 1,000 MRs they
// are ahead (TestTargetLanesBeatOneTrain).
func TestLanesOnABacklog(t *testing.T) {
	s := backlog(400, 0.05, 1)
	s.Lanes = 4
	one, lanes := strategy(t, s, "trainyard"), strategy(t, s, LanesStrategy)
	broken := 0
	for _, m := range newPopulation(s).mrs {
		if m.broken {
			broken++
		}
	}
	if lanes.Merged != 400-broken || lanes.Evicted != broken || lanes.BrokenMerged != 0 || lanes.GoodEvicted != 0 {
		t.Errorf("lanes merged %d, evicted %d (%d good), %d broken merged; want %d, %d, 0, 0",
			lanes.Merged, lanes.Evicted, lanes.GoodEvicted, lanes.BrokenMerged, 400-broken, broken)
	}
	l := lanes.Lanes
	if l == nil || l.Lanes != 4 || !slices.Equal(l.Windows, []int{5, 5, 5, 4}) || l.Interactions != 0 || l.Reverts != 0 {
		t.Fatalf("lanes record = %+v", l)
	}
	if got := float64(l.LanePipelines+l.IntegrationPipelines) / float64(lanes.Merged); got != lanes.PipelinesPerMerged {
		t.Errorf("lane + integration pipelines per merged = %v, reported %v", got, lanes.PipelinesPerMerged)
	}
	if lanes.PipelinesPerMerged >= one.PipelinesPerMerged {
		t.Errorf("lanes spend %.2f pipelines per merged MR, one train %.2f", lanes.PipelinesPerMerged, one.PipelinesPerMerged)
	}
	if lanes.ThroughputPerHour < 0.85*one.ThroughputPerHour {
		t.Errorf("lanes merge %.2f an hour, one train %.2f: below the 1.00x measured", lanes.ThroughputPerHour, one.ThroughputPerHour)
	}
	if again := strategy(t, s, LanesStrategy); !reflect.DeepEqual(again, lanes) {
		t.Errorf("the same seed gave %+v, then %+v", lanes, again)
	}
}

// TestTargetLanesBeatOneTrain: on a backlog of 1,000 (4 lanes, 5%
// broken, window 20) the lanes merge faster than one train.
func TestTargetLanesBeatOneTrain(t *testing.T) {
	skipUnderRace(t)
	s := backlog(1000, 0.05, 1)
	s.Lanes = 4
	one, lanes := strategy(t, s, "trainyard"), strategy(t, s, LanesStrategy)
	if lanes.BrokenMerged != 0 || lanes.Merged != one.Merged {
		t.Errorf("lanes merged %d (%d broken), one train %d", lanes.Merged, lanes.BrokenMerged, one.Merged)
	}
	if lanes.ThroughputPerHour <= one.ThroughputPerHour {
		t.Errorf("lanes merge %.2f an hour, one train %.2f", lanes.ThroughputPerHour, one.ThroughputPerHour)
	}
}

// lanesCase runs trainyard-lanes on MRs all arriving at once: broken as
// listed, each on the lanes given, with the conflicting pairs given.
func lanesCase(t *testing.T, s Scenario, broken []bool, lanes [][]int, conflicts ...[2]int64) (*laneRun, Result) {
	t.Helper()
	pop := population{conflicts: map[[2]int64]bool{}}
	for i, b := range broken {
		pop.mrs = append(pop.mrs, mrSpec{id: int64(i + 1), broken: b})
	}
	for _, c := range conflicts {
		pop.conflicts[c] = true
	}
	st := Strategies(s)
	i := slices.IndexFunc(st, func(x Strategy) bool { return x.Name == LanesStrategy })
	if i < 0 {
		t.Fatalf("no %s with %d lanes", LanesStrategy, s.Lanes)
	}
	r := newLaneRun(s, pop, st[i], lanes)
	res, err := r.run(LanesStrategy)
	if err != nil {
		t.Fatal(err)
	}
	return r, res
}

// TestLanesEvictOneMROfAnInteraction: two lanes of two MRs each, and an
// integration of the four that holds an interaction (lane_conflict
// 0.99) between an MR of lane 1 and one of lane 2. The lanes pass at 30
// min; the integration fails at 60 and again at 90 (the same commit), and
// each lane's part is then integrated alone. Lane 1's part is its branch,
// which passed: the target fast-forwards to it at 90, and lane 2's part
// on it is the integration that failed twice, so its prefix of one is
// tested at once. If the interaction is with lane 2's first MR (MR 3),
// that prefix fails at 120 and 150, MR 3 is evicted, and MR 4 merges at
// 180: five integration pipelines. If with MR 4, MR 3 merges at 120, and
// MR 4 on it is again the integration that failed twice: evicted then,
// after three. Lane 2 is reverted either way.
// Seed 1 draws the pair (1, 4), seed 2 the pair (2, 3).
func TestLanesEvictOneMROfAnInteraction(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		s := DefaultScenario()
		s.Lanes, s.LaneConflict, s.Seed = 2, 0.99, seed
		lanesEvictOneMROfAnInteraction(t, s)
	}
}

func lanesEvictOneMROfAnInteraction(t *testing.T, s Scenario) {
	t.Helper()
	r, res := lanesCase(t, s, []bool{false, false, false, false}, [][]int{{0}, {0}, {1}, {1}})
	if len(r.pairs) != 1 {
		t.Fatalf("interactions = %v, want one", r.pairs)
	}
	culprit := r.pairs[0].b // a is lane 1's, b lane 2's, in the order the integration brings them
	if !r.gone[culprit] || len(r.gone) != 1 {
		t.Fatalf("pair %v, evicted %v: want MR %d alone", r.pairs[0], r.gone, culprit)
	}
	span := map[int64]time.Duration{3: 180 * time.Minute, 4: 120 * time.Minute}[culprit]
	if res.Merged != 3 || res.Evicted != 1 || res.GoodEvicted != 1 || res.Span != span {
		t.Errorf("merged %d, evicted %d (%d good), last merge at %v; want 3, 1 (1), %v", res.Merged, res.Evicted, res.GoodEvicted, res.Span, span)
	}
	// MRs 1 and 2 merge at 90 min: the median of the three.
	if res.TTMP50Minutes != 90 {
		t.Errorf("ttm p50 = %v, want 90", res.TTMP50Minutes)
	}
	// Two integrations: MRs 1 and 2, then the one of 3 and 4 that is left.
	want := LanesResult{Lanes: 2, Windows: []int{10, 9}, LanePipelines: 4, IntegrationPipelines: 5, Integrations: 2, Interactions: 1, Reverts: 1}
	if culprit == 4 {
		want.IntegrationPipelines = 3
	}
	if !reflect.DeepEqual(*res.Lanes, want) {
		t.Errorf("lanes record = %+v, want %+v", *res.Lanes, want)
	}
	if got := r.lanes[1].hist; len(got) != 1 || got[0].mr == culprit {
		t.Errorf("lane 2's branch = %v, want the other MR only", got)
	}
}

// TestLanesTakeABrokenCrossLaneMROffBothLanes: MR 2 touches both lanes
// and is broken. It is evicted in one lane and removed from the other,
// counted once, and the MRs behind it in both lanes merge.
func TestLanesTakeABrokenCrossLaneMROffBothLanes(t *testing.T) {
	s := DefaultScenario()
	s.Lanes = 2
	r, res := lanesCase(t, s, []bool{false, true, false, false, false}, [][]int{{0}, {0, 1}, {1}, {0}, {1}})
	if res.Merged != 4 || res.Evicted != 1 || res.GoodEvicted != 0 || res.BrokenMerged != 0 || !r.gone[2] {
		t.Errorf("merged %d, evicted %d (%d good), %d broken merged, gone %v; want 4, 1 (0), 0, MR 2", res.Merged, res.Evicted, res.GoodEvicted, res.BrokenMerged, r.gone)
	}
	if res.Lanes.CrossLaneMRs != 1 || res.Lanes.Reverts != 0 {
		t.Errorf("lanes record = %+v", *res.Lanes)
	}
	for _, mr := range []int64{1, 3, 4, 5} {
		if !r.onTarget[mr] {
			t.Errorf("MR %d is not on the target", mr)
		}
	}
}

// TestLanesRevertAnMREvictedAfterItPassedInTheOtherLane: MR 3 touches
// lanes 1 and 2 and conflicts with MR 2, which is ahead of it in lane 2
// only. Windows of one pipeline (max_parallel 3) and batches of one.
// Lane 1 passes MR 3 at 30 min and MR 4 on it at 60, but neither may be
// integrated while MR 3 waits for lane 2. There MR 1 is broken: it fails
// at 30 and 60 and is evicted; MR 2 passes at 90, and MR 3, built on it,
// conflicts. MR 3 is reverted off lane 1's branch, and one integration of
// MRs 4 and 2 merges them at 120.
func TestLanesRevertAnMREvictedAfterItPassedInTheOtherLane(t *testing.T) {
	s := DefaultScenario()
	s.Lanes, s.MaxParallel, s.MinWindow, s.BatchSize = 2, 3, 1, 1
	r, res := lanesCase(t, s, []bool{true, false, false, false}, [][]int{{1}, {1}, {0, 1}, {0}}, [2]int64{2, 3})
	if res.Merged != 2 || res.Evicted != 2 || res.GoodEvicted != 1 || res.Span != 120*time.Minute {
		t.Errorf("merged %d, evicted %d (%d good), last merge at %v; want 2, 2 (1), 2h0m0s", res.Merged, res.Evicted, res.GoodEvicted, res.Span)
	}
	want := LanesResult{Lanes: 2, Windows: []int{1, 1}, CrossLaneMRs: 1, LanePipelines: 5, IntegrationPipelines: 1, Integrations: 1, Reverts: 1}
	if !reflect.DeepEqual(*res.Lanes, want) {
		t.Errorf("lanes record = %+v, want %+v", *res.Lanes, want)
	}
	if !r.onTarget[2] || !r.onTarget[4] || r.onTarget[3] || r.world.carries(r.world.commits[r.world.Target], 3) {
		t.Errorf("on the target: %v", r.world.Content(r.world.Target))
	}
	if got := r.lanes[0].hist; len(got) != 1 || got[0].mr != 4 {
		t.Errorf("lane 1's branch = %v, want MR 4 alone", got)
	}
}

// TestLanesNeverMergeABrokenMR runs the lanes with everything that makes
// them work harder: flakes, conflicts, interactions, varying CI, urgent
// MRs, many cross-lane MRs; integrated by the line and by the target's
// train.
func TestLanesNeverMergeABrokenMR(t *testing.T) {
	for _, integration := range []string{LaneIntegrationLine, LaneIntegrationTrain} {
		for seed := uint64(1); seed <= 3; seed++ {
			s := backlog(150, 0.15, seed)
			s.CI, s.CISpread, s.FlakeProbability, s.ConflictProbability = DurationLognormal, Duration(15*time.Minute), 0.05, 0.01
			s.Lanes, s.CrossLane, s.LaneConflict, s.UrgentFraction = 3, 0.3, 0.3, 0.05
			s.LaneIntegration = integration
			r := strategy(t, s, LanesStrategy)
			if r.BrokenMerged != 0 || r.Merged+r.Evicted != 150 || r.Urgent == nil {
				t.Errorf("%s, seed %d: merged %d + evicted %d, %d broken merged, urgent %v", integration, seed, r.Merged, r.Evicted, r.BrokenMerged, r.Urgent)
			}
		}
	}
}

func TestLanesValidate(t *testing.T) {
	for _, tt := range []struct {
		set   func(*Scenario)
		field string
	}{
		{func(s *Scenario) { s.Lanes = 0 }, "lanes"},
		{func(s *Scenario) { s.Lanes = MaxLanes + 1 }, "lanes"},
		{func(s *Scenario) { s.CrossLane = 1.5 }, "cross_lane"},
		{func(s *Scenario) { s.LaneConflict = 1 }, "lane_conflict"},
		{func(s *Scenario) { s.LaneIntegration = "octopus" }, "lane_integration"},
		{func(s *Scenario) { s.LaneIntegration, s.LanePool = LaneIntegrationTrain, LanePoolShared }, "lane_integration"},
	} {
		s := DefaultScenario()
		tt.set(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidScenario) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v, want an error naming it", tt.field, err)
		}
	}
}

// With lane_integration train, the target's own train, run by the
// production planner with Settings.LaneTrains, sends each MR to its
// lanes and tests it once it passed in every one. MR 2 touches both
// lanes and is broken: evicted in one lane, taken off the other by the
// target's train, counted once; the rest merge. Every MR is in one
// integration batch at most, one pipeline at a time.
func TestLaneTrainsTakeABrokenCrossLaneMROffBothLanes(t *testing.T) {
	s := DefaultScenario()
	s.Lanes, s.LaneIntegration = 2, LaneIntegrationTrain
	r, res := lanesCase(t, s, []bool{false, true, false, false, false}, [][]int{{0}, {0, 1}, {1}, {0}, {1}})
	if res.Merged != 4 || res.Evicted != 1 || res.GoodEvicted != 0 || res.BrokenMerged != 0 || !r.gone[2] {
		t.Errorf("merged %d, evicted %d (%d good), %d broken merged, gone %v; want 4, 1 (0), 0, MR 2", res.Merged, res.Evicted, res.GoodEvicted, res.BrokenMerged, r.gone)
	}
	for _, mr := range []int64{1, 3, 4, 5} {
		if !r.onTarget[mr] {
			t.Errorf("MR %d is not on the target", mr)
		}
	}
	if !r.main.Idle() || res.Lanes.IntegrationPipelines > 4 || res.Lanes.Integrations < 1 || res.Lanes.Reverts != 0 || res.Lanes.CrossLaneMRs != 1 {
		t.Errorf("target's train %+v, lanes record %+v", r.main, *res.Lanes)
	}
}

// TestLaneTrainsRevertAnMREvictedAfterItPassedInTheOtherLane is the line's
// case above with the target's train integrating: MR 3 passed in lane 1
// and conflicts in lane 2, so the target's train takes it off lane 1's
// branch (a revert), and MRs 2 and 4 merge.
func TestLaneTrainsRevertAnMREvictedAfterItPassedInTheOtherLane(t *testing.T) {
	s := DefaultScenario()
	s.Lanes, s.MaxParallel, s.MinWindow, s.BatchSize, s.LaneIntegration = 2, 3, 1, 1, LaneIntegrationTrain
	r, res := lanesCase(t, s, []bool{true, false, false, false}, [][]int{{1}, {1}, {0, 1}, {0}}, [2]int64{2, 3})
	if res.Merged != 2 || res.Evicted != 2 || res.GoodEvicted != 1 || !r.gone[1] || !r.gone[3] {
		t.Errorf("merged %d, evicted %d (%d good), gone %v; want 2, 2 (1), MRs 1 and 3", res.Merged, res.Evicted, res.GoodEvicted, r.gone)
	}
	if res.Lanes.Reverts != 1 || !r.onTarget[2] || !r.onTarget[4] || r.world.carries(r.world.commits[r.world.Target], 3) {
		t.Errorf("lanes record %+v, on the target: %v", *res.Lanes, r.world.Content(r.world.Target))
	}
	if got := r.lanes[0].hist; len(got) != 1 || got[0].mr != 4 {
		t.Errorf("lane 1's branch = %v, want MR 4 alone", got)
	}
}
