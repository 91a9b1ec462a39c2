package sim

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func backlog(n int, p float64, seed uint64) Scenario {
	s := DefaultScenario()
	s.MRs, s.BreakProbability, s.Seed = n, p, seed
	return s
}

func strategy(t *testing.T, s Scenario, name string) Result {
	t.Helper()
	for _, st := range Strategies(s) {
		if st.Name == name {
			r, err := Simulate(s, st)
			if err != nil {
				t.Fatalf("simulate %s: %v", name, err)
			}
			return r
		}
	}
	t.Fatalf("no strategy %s", name)
	return Result{}
}

func TestSerialMergesOnePerCycle(t *testing.T) {
	r := strategy(t, backlog(10, 0, 1), "serial")
	if r.Merged != 10 || r.Evicted != 0 || r.Span != 300*time.Minute {
		t.Fatalf("merged %d evicted %d last merge %v, want 10, 0, 5h0m", r.Merged, r.Evicted, r.Span)
	}
	if r.ThroughputPerHour != 2 || r.PipelinesPerMerged != 1 || r.WastedPipelineMinutes != 0 {
		t.Errorf("throughput %v pipelines/merged %v wasted %v, want 2, 1, 0", r.ThroughputPerHour, r.PipelinesPerMerged, r.WastedPipelineMinutes)
	}
	// The 5th and 10th MRs merge at 150 and 300 minutes.
	if r.TTMP50Minutes != 150 || r.TTMP95Minutes != 300 || r.TTMP99Minutes != 300 {
		t.Errorf("ttm p50/p95/p99 = %v/%v/%v, want 150/300/300", r.TTMP50Minutes, r.TTMP95Minutes, r.TTMP99Minutes)
	}
}

func TestBrokenMRsAreNeverMerged(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		s := backlog(100, 0.15, seed)
		s.CI, s.CISpread, s.FlakeProbability, s.ConflictProbability, s.Retries = DurationLognormal, Duration(15*time.Minute), 0.05, 0.01, 1
		rep, err := Compare(s)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, r := range rep.Strategies {
			if r.BrokenMerged != 0 {
				t.Errorf("seed %d %s: %d broken MRs merged", seed, r.Name, r.BrokenMerged)
			}
			if r.Merged+r.Evicted != 100 {
				t.Errorf("seed %d %s: merged %d + evicted %d, want 100", seed, r.Name, r.Merged, r.Evicted)
			}
		}
	}
}

func TestSameSeedSameReport(t *testing.T) {
	s := backlog(120, 0.1, 7)
	s.CI, s.CISpread, s.FlakeProbability = DurationNormal, Duration(5*time.Minute), 0.03
	var out [2][]byte
	for i := range out {
		rep, err := Compare(s)
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
	}
	if string(out[0]) != string(out[1]) {
		t.Fatalf("two runs differ:\n%s\n%s", out[0], out[1])
	}
	s.Seed = 8
	rep, _ := Compare(s)
	if other, _ := json.Marshal(rep); string(other) == string(out[0]) {
		t.Error("another seed gave the same report")
	}
}

func TestGitLabMatchesItsFormula(t *testing.T) {
	const p, w = 0.1, 20
	s := backlog(400, p, 3)
	r := strategy(t, s, "gitlab")
	cycles := r.Span.Hours() / (30 * time.Minute).Hours()
	want := GitLabChangesPerCycle(p, w)
	if got := float64(r.Resolved) / cycles; math.Abs(got-want)/want > 0.15 {
		t.Errorf("resolved %.2f MRs per cycle, formula %.2f", got, want)
	}
	if got, want := float64(r.Merged)/cycles, (1-p)*want; math.Abs(got-want)/want > 0.15 {
		t.Errorf("merged %.2f MRs per cycle, formula %.2f", got, want)
	}
}

func TestOracleBoundBacklog(t *testing.T) {
	b := OracleBound(backlog(10, 0, 1))
	// w = 20 > 10: all ten merge after one 30-minute cycle.
	if b.ThroughputPerHour != 20 || b.TTMP50Minutes != 30 {
		t.Errorf("bound = %+v, want 20/h, 30 min", b)
	}
	s := backlog(500, 0.2, 1)
	s.BatchSize = 1
	b = OracleBound(s)
	// 400 good MRs, 20 per 30-minute cycle: the last merges after 20 cycles,
	// the 200th (the median) after 10.
	if b.ThroughputPerHour != 40 || b.TTMP50Minutes != 300 {
		t.Errorf("bound = %+v, want 40/h, 300 min", b)
	}
	// Batches of 8: 160 per cycle, so three cycles, the median in the second.
	s.BatchSize = 8
	b = OracleBound(s)
	if math.Abs(b.ThroughputPerHour-400/1.5) > 1e-9 || b.TTMP50Minutes != 60 {
		t.Errorf("bound = %+v, want 266.7/h, 60 min", b)
	}
}

func TestPoissonHorizon(t *testing.T) {
	s := DefaultScenario()
	s.Arrival, s.RatePerHour, s.MRs, s.Horizon = ArrivalPoisson, 10, 0, Duration(24*time.Hour)
	r := strategy(t, s, "trainyard")
	// About 240 arrive in a day; all but the last hour's are merged or evicted.
	if r.Merged < 150 || r.Merged > 300 || r.BrokenMerged != 0 {
		t.Errorf("merged %d (broken %d), want 150..300 and 0 broken", r.Merged, r.BrokenMerged)
	}
}

func TestLoadScenario(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("arrival: poisson\nrate_per_hour: 12\nmrs: 50\nci: lognormal\nci_mean: 20m\nci_spread: 5m\nseed: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadScenario(good, DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	if s.Arrival != ArrivalPoisson || s.RatePerHour != 12 || s.CIMean != Duration(20*time.Minute) || s.MaxParallel != 20 || s.Seed != 9 {
		t.Errorf("loaded %+v", s)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("max_paralel: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadScenario(unknown, DefaultScenario()); err == nil {
		t.Error("unknown field accepted")
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("break_probability: 1.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadScenario(bad, DefaultScenario()); !errors.Is(err, ErrInvalidScenario) {
		t.Errorf("err = %v, want ErrInvalidScenario", err)
	}
}

func BenchmarkSimulate100k(b *testing.B) {
	s := DefaultScenario()
	s.Arrival, s.RatePerHour, s.MRs, s.BreakProbability = ArrivalPoisson, 30, 100_000, 0.02
	st := Strategies(s)[2]
	for b.Loop() {
		r, err := Simulate(s, st)
		if err != nil || r.Merged+r.Evicted != 100_000 {
			b.Fatalf("merged %d evicted %d: %v", r.Merged, r.Evicted, err)
		}
	}
}

// TestWithoutFailuresTrainyardReachesTheBound checks the simulator against
// the oracle: with nothing broken, a pipeline per car merges max_parallel
// MRs per cycle, exactly the bound; with batches, every cycle merges
// max_parallel × batch_size, except the first, whose cars each got a
// pipeline as they arrived, before the queue was long.
func TestWithoutFailuresTrainyardReachesTheBound(t *testing.T) {
	s := backlog(1600, 0, 1)
	s.BatchSize = 1
	r := strategy(t, s, "trainyard")
	if b := OracleBound(s); r.ThroughputPerHour != b.ThroughputPerHour || r.TTMP50Minutes != b.TTMP50Minutes {
		t.Errorf("one car per pipeline: %.2f/h, p50 %.0f min; bound %.2f/h, %.0f min", r.ThroughputPerHour, r.TTMP50Minutes, b.ThroughputPerHour, b.TTMP50Minutes)
	}
	s.BatchSize = 8
	r = strategy(t, s, "trainyard")
	// 20 cars in the first cycle, then 1580 in ten cycles of 160.
	if want := 1600 / (11 * 0.5); math.Abs(r.ThroughputPerHour-want) > 1e-9 || r.Span != 11*30*time.Minute {
		t.Errorf("batches of 8: %.2f/h, last merge at %v; want %.2f/h at 5h30m", r.ThroughputPerHour, r.Span, want)
	}
}

// BenchmarkCompareBacklog5000 runs one target scenario: 5,000 MRs, 5%
// broken, every strategy.
func BenchmarkCompareBacklog5000(b *testing.B) {
	s := backlog(5000, 0.05, 1)
	for b.Loop() {
		if _, err := Compare(s); err != nil {
			b.Fatal(err)
		}
	}
}

// Where failures are rare, the adaptive batch size grows past batch_size
// and merges more per pipeline: the case of docs/simulation.md where bors's
// unbounded batch merged 37 an hour and trainyard's batches of 8 23.
func TestAdaptiveBatchMergesMoreWhenFailuresAreRare(t *testing.T) {
	s := DefaultScenario()
	s.MRs, s.MaxParallel, s.BreakProbability, s.Arrival = 300, 2, 0.01, ArrivalBacklog
	fixed, adaptive := strategy(t, s, "trainyard"), strategy(t, s, "trainyard-adaptive")
	if adaptive.BrokenMerged != 0 {
		t.Fatalf("adaptive merged %d broken MRs", adaptive.BrokenMerged)
	}
	if adaptive.ThroughputPerHour < 1.2*fixed.ThroughputPerHour {
		t.Errorf("adaptive merges %.2f/h, fixed batches %.2f/h: want at least 1.2 times",
			adaptive.ThroughputPerHour, fixed.ThroughputPerHour)
	}
}

// MRs that conflict as they are added leave the train idle: the held
// ones must still be handed over, or the run stops with MRs never tried.
func TestConflictsAtTheirAddDoNotStallTheRun(t *testing.T) {
	s := backlog(500, 0.05, 1)
	s.ConflictProbability = 0.02
	r := strategy(t, s, "serial")
	if r.Merged+r.Evicted != 500 {
		t.Fatalf("merged %d + evicted %d, want all 500 MRs to leave", r.Merged, r.Evicted)
	}
}
