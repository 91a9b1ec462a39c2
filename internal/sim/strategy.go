package sim

import (
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// DefaultMinWindow is the thrift strategy's floor: the window may shrink
// to two pipelines when failures are frequent.
const DefaultMinWindow = 2

// LanesStrategy is the name of the strategy that runs trainyard's
// settings on Scenario.Lanes lanes (only when there are more than one).
const LanesStrategy = "trainyard-lanes"

// AdaptiveBatchFactor sets trainyard-adaptive's MaxBatchSize: this many
// times the scenario's batch size, room for bors-sized batches when
// failures are rare without letting one estimate run away.
const AdaptiveBatchFactor = 4

// BisectStrategy is trainyard's settings with a bisection budget of its
// own as large as max_parallel, Trunk's default bisection concurrency: the
// suspects of a failed batch run beside the main line's pipelines, so up
// to twice max_parallel pipelines run at once.
const BisectStrategy = "trainyard-bisect"

// Strategy is a named planner configuration.
type Strategy struct {
	Name     string
	Settings train.Settings
	// line, when set, runs a peer merge queue's own rules (see peer.go)
	// instead of the planner.
	line *lineRules
	// lanes, when above one, runs Settings on each of that many lanes and
	// an integration line (see lanes.go).
	lanes int
}

// Strategies returns the strategies compared for a scenario: one MR at a
// time, as bors and Marge-bot merge; GitLab's merge trains (a fixed window
// of cars, a pipeline each, a failed car leaves at once, no retries);
// trainyard's defaults with the scenario's window, batch limit and
// retries; the same with an adaptive window allowed to shrink further,
// which spends less CI (thrift); and the same with a batch size that
// follows the observed failure rate, from batch_size up to
// AdaptiveBatchFactor times it (trainyard-adaptive: not trainyard's
// default, since on the shipped grid it left every point where trainyard
// is behind still behind; docs/simulation.md); and the same with a
// bisection budget beside the window (trainyard-bisect: not the default,
// since it runs more pipelines at once than max_parallel says). With
// Scenario.Lanes above one, trainyard-lanes follows: trainyard's settings
// on each lane (lanes.go).
func Strategies(s Scenario) []Strategy {
	ty := train.Settings{MaxParallel: s.MaxParallel, BatchSize: s.BatchSize, Retries: s.Retries}
	thrift := ty
	thrift.MinWindow = s.MinWindow
	adaptive := ty
	adaptive.MaxBatchSize = AdaptiveBatchFactor * max(s.BatchSize, 1)
	bisect := ty
	bisect.BisectParallel = s.MaxParallel
	fixed := func(w int) train.Settings {
		return train.Settings{MaxParallel: w, MinWindow: w, BatchSize: 1, EagerEviction: true}.WithDefaults()
	}
	out := []Strategy{
		{Name: "serial", Settings: fixed(1)},
		{Name: "gitlab", Settings: fixed(s.MaxParallel)},
		{Name: "trainyard", Settings: ty.WithDefaults()},
		{Name: "thrift", Settings: thrift.WithDefaults()},
		{Name: "trainyard-adaptive", Settings: adaptive.WithDefaults()},
		{Name: BisectStrategy, Settings: bisect.WithDefaults()},
	}
	if s.Lanes > 1 {
		// trainyard's settings on each lane; the windows are cut from
		// max_parallel by simulateLanes.
		out = append(out, Strategy{Name: LanesStrategy, Settings: ty.WithDefaults(), lanes: s.Lanes})
	}
	return append(out, []Strategy{
		{Name: "zuul", line: zuulRules(s)},
		{Name: "bors", line: borsRules()},
		{Name: "github", line: githubRules(s)},
		{Name: "mergify", line: mergifyRules(s)},
		{Name: "github-headgreen", line: githubHeadGreenRules(s)},
		{Name: "trunk", line: trunkRules(s)},
	}...)
}

// Planner reports whether the production planner runs the strategy, as
// against a peer merge queue's rules: only the planner adds urgent MRs
// with a priority (Scenario.UrgentFraction).
func (st Strategy) Planner() bool { return st.line == nil }

// zuulRules is Zuul's dependent pipeline: a change per item, each tested on
// the nearest non-failing item ahead, and a window that starts at
// max_parallel, grows by one per merged change and halves per failed one,
// down to Zuul's default floor of 1. Its ceiling is max_parallel, as
// window-ceiling set to the CI capacity: Zuul's default has none, but the
// simulated CI runs every pipeline at once, and more changes in flight
// than every other strategy gets would measure more CI, not a better
// queue.
func zuulRules(s Scenario) *lineRules {
	return &lineRules{window: s.MaxParallel, aimd: true, floor: 1, ceiling: s.MaxParallel, maxSize: 1}
}

// borsRules is bors-ng: one batch of everything waiting, tested alone; a
// failed batch is split in halves, tested one after the other, down to
// the single PR that fails.
func borsRules() *lineRules {
	return &lineRules{window: 1, bisect: true}
}

// GitHubGroupWait is GitHub's default wait for a merge group to reach its
// minimum size.
const GitHubGroupWait = 5 * time.Minute

// githubRules is GitHub's merge queue with "only merge non-failing pull
// requests": groups of up to batch_size PRs (minimum 1, GitHub's
// default), max_parallel of them built at once, each on the groups ahead;
// a failed group's PRs all leave the queue and the groups behind are
// rebuilt without them. No bisection.
func githubRules(s Scenario) *lineRules {
	return &lineRules{window: s.MaxParallel, maxSize: s.BatchSize, minSize: 1, wait: GitHubGroupWait}
}

// mergifyRules is Mergify's merge queue: batches of batch_size,
// max_parallel_checks (max_parallel) of them tested at once, each on the
// ones ahead, and a failed batch split into parts (see lineRules.split).
func mergifyRules(s Scenario) *lineRules {
	return &lineRules{window: s.MaxParallel, maxSize: s.BatchSize, split: true}
}

// githubHeadGreenRules is GitHub's merge queue with "only merge
// non-failing pull requests" off (grouping strategy HEADGREEN): the same
// groups, but a failed group stays in the queue, with the groups behind
// still built on it, while one of them may pass; if one does, it carries
// the failed group's PRs, and they merge with it. A group merges only once
// every group ahead of it has a result.
func githubHeadGreenRules(s Scenario) *lineRules {
	r := githubRules(s)
	r.keep = true
	return r
}

// Trunk Merge Queue's defaults, from its documentation: a batch waits up to
// TrunkBatchWait to fill, and a failed batch waits for
// TrunkPendingFailureDepth batches behind it (the depth Trunk recommends to
// start with when optimistic merging is on; its default, 0, turns the
// successor wait off).
const (
	TrunkBatchWait           = 5 * time.Minute
	TrunkPendingFailureDepth = 1
)

// trunkRules is Trunk Merge Queue with batching, optimistic merging and a
// pending failure depth: batches of batch_size, testing concurrency
// max_parallel, each built on every batch ahead still in the queue, failed
// ones included; a passing batch merges every batch ahead of it; a failed
// batch at the head waits for the batches within the depth behind it, then
// is bisected off the line with a bisection concurrency of its own, which
// defaults to the testing concurrency.
func trunkRules(s Scenario) *lineRules {
	return &lineRules{
		window: s.MaxParallel, maxSize: s.BatchSize, minSize: s.BatchSize, wait: TrunkBatchWait,
		keep: true, optimistic: true, depth: TrunkPendingFailureDepth, lane: s.MaxParallel,
	}
}
