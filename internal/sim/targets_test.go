package sim

import (
	"path/filepath"
	"testing"
	"time"
)

// The scenarios of docs/simulation.md: T = 30 min fixed, max_parallel 20,
// a backlog longer than any strategy clears quickly (so batching pays),
// and half load for the time to merge.
func saturated(p, flake float64) Scenario {
	s := backlog(5000, p, 1)
	s.FlakeProbability = flake
	return s
}

func halfLoad() Scenario {
	s := DefaultScenario()
	s.Arrival, s.RatePerHour, s.MRs, s.BreakProbability, s.FlakeProbability = ArrivalPoisson, 7.5, 3000, 0.10, 0.015
	return s
}

// skipUnderRace skips a long simulation when the race detector is on: the
// simulator runs on one goroutine, so the detector finds nothing there and
// makes it many times slower. make test runs these tests without it.
func skipUnderRace(t *testing.T) {
	if raceDetector {
		t.Skip("long single-goroutine simulation: run without -race (make test does)")
	}
}

// compare runs the named strategies on one scenario's MRs.
func compare(t *testing.T, s Scenario, names ...string) map[string]Result {
	t.Helper()
	pop := newPopulation(s)
	out := map[string]Result{}
	for _, st := range Strategies(s) {
		for _, n := range names {
			if st.Name == n {
				r, err := simulate(s, pop, st)
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				if r.BrokenMerged != 0 {
					t.Errorf("%s merged %d broken MRs", n, r.BrokenMerged)
				}
				out[n] = r
			}
		}
	}
	return out
}

func TestTargetTrainyardBeatsGitLab(t *testing.T) {
	skipUnderRace(t)
	tests := []struct {
		name        string
		s           Scenario
		minRatio    float64 // trainyard's throughput over gitlab's
		maxEvictPct float64 // good MRs evicted, percent of all
	}{
		{"p=0.02", saturated(0.02, 0), 2, 0},
		{"p=0.05", saturated(0.05, 0), 1.3, 0},
		{"p=0.10", saturated(0.10, 0), 1, 0},
		{"p=0.20", saturated(0.20, 0), 1, 0},
		{"p=0.05, 1.5% flaky", saturated(0.05, 0.015), 1.3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := compare(t, tt.s, "gitlab", "trainyard")
			g, y := r["gitlab"], r["trainyard"]
			if got := y.ThroughputPerHour / g.ThroughputPerHour; got < tt.minRatio {
				t.Errorf("throughput %.2f/h is %.2fx gitlab's %.2f/h, want at least %.2fx", y.ThroughputPerHour, got, g.ThroughputPerHour, tt.minRatio)
			}
			if y.PipelinesPerMerged > g.PipelinesPerMerged {
				t.Errorf("%.2f pipelines per merged MR, more than gitlab's %.2f", y.PipelinesPerMerged, g.PipelinesPerMerged)
			}
			if pct := 100 * float64(y.GoodEvicted) / float64(tt.s.MRs); pct > tt.maxEvictPct {
				t.Errorf("%d good MRs evicted (%.2f%%), want at most %.2f%%", y.GoodEvicted, pct, tt.maxEvictPct)
			}
		})
	}
}

func TestTargetThriftSpendsLessCI(t *testing.T) {
	skipUnderRace(t)
	for _, p := range []float64{0.10, 0.20} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			r := compare(t, saturated(p, 0), "gitlab", "thrift")
			g, x := r["gitlab"], r["thrift"]
			if x.PipelinesPerMerged > 0.75*g.PipelinesPerMerged || x.ThroughputPerHour < 0.9*g.ThroughputPerHour {
				t.Errorf("p=%v: thrift %.2f pipelines/merged at %.2f/h; gitlab %.2f at %.2f/h; want at most 0.75x the pipelines at 0.9x the throughput",
					p, x.PipelinesPerMerged, x.ThroughputPerHour, g.PipelinesPerMerged, g.ThroughputPerHour)
			}
		})
	}
}

func TestTargetHalfLoadTimeToMerge(t *testing.T) {
	skipUnderRace(t)
	s := halfLoad()
	r := compare(t, s, "gitlab", "trainyard")
	g, y := r["gitlab"], r["trainyard"]
	ci := time.Duration(s.CIMean).Minutes()
	if y.TTMP50Minutes > 1.25*ci || y.TTMP95Minutes > 3*ci {
		t.Errorf("time to merge p50 %.0f min, p95 %.0f min; want at most %.1f and %.0f", y.TTMP50Minutes, y.TTMP95Minutes, 1.25*ci, 3*ci)
	}
	if y.PipelinesPerMerged > g.PipelinesPerMerged {
		t.Errorf("%.2f pipelines per merged MR, more than gitlab's %.2f", y.PipelinesPerMerged, g.PipelinesPerMerged)
	}
	if pct := 100 * float64(y.GoodEvicted) / float64(s.MRs); pct >= 1 {
		t.Errorf("%d good MRs evicted (%.2f%%), want under 1%%", y.GoodEvicted, pct)
	}
}

// TestScenarioFilesAreTheTargets keeps configs/sim in step with the
// scenarios the targets are checked on.
func TestScenarioFilesAreTheTargets(t *testing.T) {
	for file, want := range map[string]Scenario{
		"saturated.yaml": saturated(0.05, 0),
		"half-load.yaml": halfLoad(),
	} {
		got, err := LoadScenario(filepath.Join("..", "..", "configs", "sim", file), DefaultScenario())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s is %+v, want %+v", file, got, want)
		}
	}
	s, err := LoadScenario(filepath.Join("..", "..", "configs", "sim", "varying-ci.yaml"), DefaultScenario())
	if err != nil || s.CI != DurationLognormal || s.CISpread != Duration(10*time.Minute) {
		t.Errorf("varying-ci.yaml: %+v, %v", s, err)
	}
}
