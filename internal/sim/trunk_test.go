package sim

import (
	"testing"
	"time"
)

// TestTrunkMergesAFlakeThroughASuccessor: PRs 1 and 2 at 0, PR 3 at 10m,
// a batch each, PR 2's pipeline flaky. At 30m PR 1 merges and PR 2 fails;
// with a pending failure depth of 1 it waits for PR 3, built on it, which
// passes at 40m: optimistic merging merges PRs 2 and 3 with it, three
// pipelines in all and nothing wasted. With depth 0 PR 2 is evicted at
// 30m, and PR 3's pipeline is stopped after 20 minutes and started again
// on PR 1: it merges at 1h, in a fourth pipeline.
func TestTrunkMergesAFlakeThroughASuccessor(t *testing.T) {
	s := backlog(3, 0, 1)
	s.MaxParallel, s.BatchSize = 3, 1
	pop := newPopulation(s)
	pop.mrs[2].at = 10 * time.Minute
	rules := rulesOf(t, s, "trunk")
	r := runFlaky(t, s, pop, "trunk", rules, 2)
	if r.Merged != 3 || r.Evicted != 0 || r.Span != 40*time.Minute || pipelines(r) != 3 || r.WastedPipelineMinutes != 0 {
		t.Errorf("depth 1: merged %d evicted %d at %v in %d pipelines, %v wasted; want 3, 0, 40m0s, 3, 0", r.Merged, r.Evicted, r.Span, pipelines(r), r.WastedPipelineMinutes)
	}
	rules.depth = 0
	r = runFlaky(t, s, pop, "trunk", rules, 2)
	if r.Merged != 2 || r.GoodEvicted != 1 || r.Span != 60*time.Minute || pipelines(r) != 4 || r.WastedPipelineMinutes != 20 {
		t.Errorf("depth 0: merged %d good evicted %d at %v in %d pipelines, %v wasted; want 2, 1, 1h0m0s, 4, 20", r.Merged, r.GoodEvicted, r.Span, pipelines(r), r.WastedPipelineMinutes)
	}
}

// TestTrunkBisectsAsDocumented is Trunk's own example: a batch ABCD, D
// broken, fails at 30m. Off the line, AB is tested and passes at 1h, so CD
// on AB (ABCD again) is known to fail: C is tested on AB and passes at
// 1h30m, and D is evicted without a test of its own. AB and ABC come back
// to the queue on the same target and reuse those passed pipelines: three
// pipelines in all.
func TestTrunkBisectsAsDocumented(t *testing.T) {
	r := peerRun(t, "trunk", 4, 1, 4, 4)
	if r.Merged != 3 || r.Evicted != 1 || r.GoodEvicted != 0 || r.Span != 90*time.Minute || pipelines(r) != 3 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 3, 1 (0), 1h30m0s, 3", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
}

// TestTrunkBisectsWithItsOwnConcurrency: eight PRs in batches of four,
// testing concurrency 1, PR 2 broken. At 30m batch 1-4 fails and is
// bisected while batch 5-8 is tested in the line: two pipelines at once.
//
//	1h     1-2 fails; 5-8 merges; 1 is tested (3-4 waits: the lane's one
//	       pipeline is busy)
//	1h30m  1 passes, so 2 is evicted; 3-4 is tested; 1 goes back to the
//	       queue, tested on 5-8
//	2h     1 merges; 3-4 passed and goes back, tested on 5-8 and 1
//	2h30m  3-4 merges: seven pipelines
func TestTrunkBisectsWithItsOwnConcurrency(t *testing.T) {
	r := peerRun(t, "trunk", 8, 1, 4, 2)
	if r.Merged != 7 || r.Evicted != 1 || r.GoodEvicted != 0 || r.Span != 150*time.Minute || pipelines(r) != 7 {
		t.Errorf("merged %d evicted %d (good %d) at %v in %d pipelines; want 7, 1 (0), 2h30m0s, 7", r.Merged, r.Evicted, r.GoodEvicted, r.Span, pipelines(r))
	}
}
