package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// peerRun runs a named peer on a backlog of n MRs, of which the listed ones
// are broken, with fixed 30-minute CI.
func peerRun(t *testing.T, name string, n, maxParallel, batch int, broken ...int64) Result {
	t.Helper()
	s := backlog(n, 0, 1)
	s.MaxParallel, s.BatchSize, s.MinWindow = maxParallel, batch, 1
	pop := newPopulation(s)
	for _, id := range broken {
		pop.mrs[id-1].broken = true
	}
	for _, st := range Strategies(s) {
		if st.Name == name {
			r, err := simulate(s, pop, st)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if r.BrokenMerged != 0 {
				t.Errorf("%s merged %d broken MRs", name, r.BrokenMerged)
			}
			return r
		}
	}
	t.Fatalf("no strategy %s", name)
	return Result{}
}

func pipelines(r Result) int { return int(r.PipelinesPerMerged*float64(r.Merged) + 0.5) }

// TestZuulWindowStaysWithinTheCI: with nothing failing the window would
// grow with every merge, but its ceiling is the CI's max_parallel, so a
// window of 10 merges 10 changes per cycle, each in its own pipeline.
func TestZuulWindowStaysWithinTheCI(t *testing.T) {
	r := peerRun(t, "zuul", 70, 10, 8)
	// Seven cycles; the median (35th) change merges in the fourth.
	if r.Merged != 70 || r.Span != 210*time.Minute || pipelines(r) != 70 || r.TTMP50Minutes != 120 {
		t.Errorf("merged %d at %v, %d pipelines, p50 %v; want 70 at 3h30m, 70, 120", r.Merged, r.Span, pipelines(r), r.TTMP50Minutes)
	}
}

// TestZuulSkipsTheFailedChange: five changes, the second broken. At T the
// first merges (the window stays at its ceiling, 5); the second fails, the
// three behind are rebuilt on the nearest non-failing item (the target)
// and the window is halved to 2: two restart at T, the last at 2T; the
// second leaves the queue as it is at its head.
func TestZuulSkipsTheFailedChange(t *testing.T) {
	r := peerRun(t, "zuul", 5, 5, 8, 2)
	if r.Merged != 4 || r.Evicted != 1 || r.GoodEvicted != 0 || r.Span != 90*time.Minute || pipelines(r) != 8 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 4, 1 (0), 1h30m, 8", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
	// The three cancelled pipelines had run their whole 30 minutes.
	if r.WastedPipelineMinutes != 90 {
		t.Errorf("wasted %v minutes, want 90", r.WastedPipelineMinutes)
	}
}

// TestBorsMergesTheBacklogInOneBatch: without failures bors tests every
// waiting PR in one pipeline and merges them all after one cycle.
func TestBorsMergesTheBacklogInOneBatch(t *testing.T) {
	r := peerRun(t, "bors", 50, 20, 8)
	if r.Merged != 50 || r.Span != 30*time.Minute || pipelines(r) != 1 {
		t.Errorf("merged %d at %v in %d pipelines, want 50 at 30m in 1", r.Merged, r.Span, pipelines(r))
	}
}

// TestBorsBisectsToTheCulprit: eight PRs, the third broken. Serial halving,
// halves queued behind the batches already waiting: 1-8 fails, 1-4 fails,
// 5-8 passes, 1-2 passes, 3-4 fails, 3 fails (evicted), 4 passes: seven
// cycles, one PR evicted, the rest merged.
func TestBorsBisectsToTheCulprit(t *testing.T) {
	r := peerRun(t, "bors", 8, 20, 8, 3)
	if r.Merged != 7 || r.Evicted != 1 || r.GoodEvicted != 0 || r.Span != 210*time.Minute || pipelines(r) != 7 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 7, 1 (0), 3h30m, 7", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
}

// TestGitHubGroupsAndConcurrency: groups of G = 5, C = 4 built at once: a
// backlog of 100 merges C·G = 20 per cycle, in 20 pipelines.
func TestGitHubGroupsAndConcurrency(t *testing.T) {
	r := peerRun(t, "github", 100, 4, 5)
	if r.Merged != 100 || r.Span != 150*time.Minute || pipelines(r) != 20 {
		t.Errorf("merged %d at %v in %d pipelines, want 100 at 2h30m in 20", r.Merged, r.Span, pipelines(r))
	}
}

// TestGitHubRemovesTheFailedGroup: two groups of five, PR 3 broken. Both
// fail at T (the second carries the first); the first group leaves the
// queue whole, good PRs too, and the second is rebuilt alone and merges.
func TestGitHubRemovesTheFailedGroup(t *testing.T) {
	r := peerRun(t, "github", 10, 2, 5, 3)
	if r.Merged != 5 || r.Evicted != 5 || r.GoodEvicted != 4 || r.Span != 60*time.Minute || pipelines(r) != 3 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 5, 5 (4), 1h0m, 3", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
}

// TestGroupWaitsForItsMinimumSize: with a minimum of 3, a group waits up to
// the wait time for more PRs, then goes with what it has.
func TestGroupWaitsForItsMinimumSize(t *testing.T) {
	s := backlog(3, 0, 1)
	pop := newPopulation(s)
	pop.mrs[1].at, pop.mrs[2].at = time.Minute, 10*time.Minute
	rules := lineRules{window: 1, maxSize: 5, minSize: 3, wait: 5 * time.Minute}
	r, err := simulateLine(s, pop, "grouped", rules)
	if err != nil {
		t.Fatal(err)
	}
	// 1 and 2 go at 5m and merge at 35m; 3 has waited its 5 minutes by then
	// and merges at 65m.
	if r.Merged != 3 || r.Span != 65*time.Minute || pipelines(r) != 2 {
		t.Errorf("merged %d at %v in %d pipelines, want 3 at 1h5m in 2", r.Merged, r.Span, pipelines(r))
	}
}

// TestMergifySplitsAsDocumented is Mergify's own example: a batch of six
// with three parallel checks, PR4 broken. The batch fails; 1-2, 1-4 and 1-5
// are tested at once; 1-2 passes and merges, 1-4 fails, 1-5 is cancelled
// and PR5 and PR6 go back to the queue; PR3 is tested alone and passes,
// so PR4 leaves untested, and 5-6 pass in a new batch on top of PR3.
func TestMergifySplitsAsDocumented(t *testing.T) {
	r := peerRun(t, "mergify", 6, 3, 6, 4)
	if r.Merged != 5 || r.Evicted != 1 || r.GoodEvicted != 0 || r.Span != 90*time.Minute || pipelines(r) != 6 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 5, 1 (0), 1h30m, 6", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
}

// flakes scripts the CI sampler's draws: with fixed CI it draws once per
// new pipeline, and exactly the listed pipelines (numbered from 1 in the
// order they start) flake.
type flakes struct {
	n     int64
	which []int64
}

func (f *flakes) Uint64() uint64 {
	f.n++
	if slices.Contains(f.which, f.n) {
		return 0
	}
	return math.MaxUint64
}

// runFlaky runs a peer's rules on pop with fixed CI and the listed
// pipelines flaking.
func runFlaky(t *testing.T, s Scenario, pop population, name string, rules lineRules, flaky ...int64) Result {
	t.Helper()
	s.FlakeProbability = 0.5
	r := newLineRun(s, pop, rules)
	r.ci = &ciSampler{rng: rand.New(&flakes{which: flaky}), s: s}
	res, err := r.run(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.BrokenMerged != 0 {
		t.Errorf("%s merged %d broken MRs", name, res.BrokenMerged)
	}
	return res
}

// rulesOf returns a named peer's rules for a scenario.
func rulesOf(t *testing.T, s Scenario, name string) lineRules {
	t.Helper()
	for _, st := range Strategies(s) {
		if st.Name == name && st.line != nil {
			return *st.line
		}
	}
	t.Fatalf("no peer %s", name)
	return lineRules{}
}

// TestGitHubHeadGreenMergesAFailedGroupWithTheGroupBehind: groups of
// five, PRs 1-5 at 0 and 6-10 at 10m, the first group's pipeline flaky.
// At 30m it fails while the second, built on it since 10m, still runs;
// with HEADGREEN the first waits, and at 40m the second passes for both:
// ten merged in two pipelines. GitHub's default (ALLGREEN) evicts the
// first group at 30m and rebuilds the second on the target: it merges
// alone at 1h, in a third pipeline.
func TestGitHubHeadGreenMergesAFailedGroupWithTheGroupBehind(t *testing.T) {
	s := backlog(10, 0, 1)
	s.MaxParallel, s.BatchSize = 2, 5
	pop := newPopulation(s)
	for i := 5; i < 10; i++ {
		pop.mrs[i].at = 10 * time.Minute
	}
	r := runFlaky(t, s, pop, "github-headgreen", rulesOf(t, s, "github-headgreen"), 1)
	if r.Merged != 10 || r.Evicted != 0 || r.Span != 40*time.Minute || pipelines(r) != 2 {
		t.Errorf("headgreen: merged %d evicted %d at %v in %d pipelines; want 10, 0, 40m0s, 2", r.Merged, r.Evicted, r.Span, pipelines(r))
	}
	r = runFlaky(t, s, pop, "github", rulesOf(t, s, "github"), 1)
	if r.Merged != 5 || r.GoodEvicted != 5 || r.Span != 60*time.Minute || pipelines(r) != 3 {
		t.Errorf("allgreen: merged %d good evicted %d at %v in %d pipelines; want 5, 5, 1h0m0s, 3", r.Merged, r.GoodEvicted, r.Span, pipelines(r))
	}
}

// TestGitHubHeadGreenEvictsABrokenGroup: with a broken PR the group behind
// fails too, as it carries it, so nothing can pass for the first group:
// it leaves whole, as with ALLGREEN (TestGitHubRemovesTheFailedGroup).
func TestGitHubHeadGreenEvictsABrokenGroup(t *testing.T) {
	r := peerRun(t, "github-headgreen", 10, 2, 5, 3)
	if r.Merged != 5 || r.Evicted != 5 || r.GoodEvicted != 4 || r.Span != 60*time.Minute || pipelines(r) != 3 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 5, 5 (4), 1h0m, 3", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
}
