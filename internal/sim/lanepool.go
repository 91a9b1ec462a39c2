package sim

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/trainyard/trainyard/internal/train"
)

// A shared pipeline pool (lane_pool shared; docs/simulation.md, "A shared
// pipeline pool"). Instead of a fixed window per lane, every lane's
// Settings.MaxParallel is set before each of its planning steps from what
// the whole run holds at that moment:
//
//	free  = max_parallel − 1 − Σ over lanes of max(inFlight(lane), 1)
//	share = free divided evenly among the lanes with cars waiting for a
//	        pipeline (the remainder one each to those with the most
//	        waiting, then the lowest index); 0 for a lane with none
//	max_parallel(lane) = max(inFlight(lane), 1) + share
//
// inFlight is what the planner itself subtracts from MaxParallel (its
// cars' running pipelines and its witnesses). The planner starts no
// pipeline past MaxParallel − inFlight (startOwed and advanceMain both
// count witnesses and suspects; lanes run without a BisectParallel
// budget, which would add its own), and a lane whose MaxParallel is at or
// below what it runs starts nothing and cancels nothing. So one step
// adds at most 1 + share to Σ max(inFlight, 1) when the lane ran nothing,
// and share otherwise, which keeps
//
//	Σ over lanes of max(inFlight(lane), 1) + 1 ≤ max_parallel
//
// true after every step; the integration line's one pipeline is the + 1,
// held for it whether it runs or not. Every running pipeline is counted
// by at least one lane or is the integration's, so no more than
// max_parallel run at once; checkPool asserts it on every start. The
// "1" for a lane that runs nothing is a pipeline kept for it, so that a
// lane always gets one (MaxParallel may not be zero: the planner reads
// it as the default). Urgent cars are tested over the window, as in one
// train, and their pipelines are left out of the count.
//
// A lane plans only when something happens to it, so after every change
// the lanes with waiting cars that the pool would now allow more than at
// their last step are planned again (poke), until none is.

// inFlight counts the pipelines the planner counts as running for t: its
// cars' own and their witnesses (train's planner.inFlight).
func inFlight(t *train.Train) int {
	n := 0
	for i := range t.Cars {
		c := &t.Cars[i]
		if c.State == train.StateStarting || c.State == train.StateRunning {
			n++
		}
		if c.Witness != nil && c.Witness.Status == "" {
			n++
		}
	}
	return n
}

// waiting counts lane l's MRs waiting for a pipeline: held back, or on
// its train with none asked for.
func waiting(l *lane) int {
	n := len(l.held)
	for i := range l.t.Cars {
		switch l.t.Cars[i].State {
		case train.StateQueued, train.StateBuilding, train.StateBuilt:
			n++
		}
	}
	return n
}

// allowance is the MaxParallel lane l may plan with now, what it runs,
// and the pool's free pipelines, both before and after the witnesses at
// risk are counted twice (see orphans): the first is negative only while
// urgent pipelines run over the pool.
func (r *laneRun) allowance(l *lane) (allowed, running, held, free int) {
	atRisk, forgotten := r.orphans()
	held = r.s.MaxParallel - 1 - forgotten
	type want struct{ idx, n int }
	var wants []want
	for _, o := range r.lanes {
		n := inFlight(&o.t)
		if o == l {
			running = n
		}
		held -= max(n, 1)
		if w := waiting(o); w > 0 {
			wants = append(wants, want{o.idx, w})
		}
	}
	free = held - atRisk
	allowed = max(running, 1)
	if free < 0 {
		// Urgent pipelines run over the pool: the lanes start nothing
		// more, their own pipelines' ends included, until it is back.
		allowed = max(running+free, 1)
	}
	slices.SortFunc(wants, func(a, b want) int { return cmp.Or(b.n-a.n, a.idx-b.idx) })
	if k := slices.IndexFunc(wants, func(w want) bool { return w.idx == l.idx }); k >= 0 && free > 0 {
		allowed += free / len(wants)
		if k < free%len(wants) {
			allowed++
		}
	}
	return allowed, running, held, free
}

// allot sets lane l's window for its next planning step. The floor of
// its adaptive window is half of that, as trainyard's default (and as
// each static lane's is half its window).
func (r *laneRun) allot(l *lane) {
	var held int
	l.allowed, _, held, _ = r.allowance(l)
	l.t.Settings.MaxParallel, l.t.Settings.MinWindow = l.allowed, 0
	if held < 0 && r.s.UrgentFraction == 0 && r.err == nil {
		r.err = fmt.Errorf("shared pool at %v: the lanes hold %d pipelines more than max_parallel %d allows", r.now, -held, r.s.MaxParallel)
	}
}

// poke plans again, with a tick, the first lane with waiting cars that
// the pool now allows more pipelines than it runs and than its last step
// had, and reports whether there was one.
func (r *laneRun) poke() bool {
	for _, l := range r.lanes {
		if waiting(l) == 0 {
			continue
		}
		if allowed, running, _, _ := r.allowance(l); allowed > running && allowed > l.allowed {
			r.observe(l, train.Tick{})
			return true
		}
	}
	return false
}

// checkPool notes a pipeline just started for mr by owner and checks the
// pool's bound: at most max_parallel pipelines run at once, not counting
// those of urgent cars.
func (r *laneRun) checkPool(id, mr int64, owner int) {
	if owner != integOwner && r.pop.mrs[mr-1].urgent {
		r.urgent[id] = true
	}
	over := r.urgentRunning()
	n := len(r.world.running)
	r.res.PeakPipelines = max(r.res.PeakPipelines, n)
	if n-over > r.s.MaxParallel && r.err == nil {
		r.err = fmt.Errorf("shared pool at %v: %d pipelines run (%d of them urgent), max_parallel is %d", r.now, n, over, r.s.MaxParallel)
	}
}

// urgentRunning counts the running pipelines started for urgent MRs.
func (r *laneRun) urgentRunning() int {
	n := 0
	for id := range r.urgent {
		if r.world.running[id] {
			n++
		} else {
			delete(r.urgent, id)
		}
	}
	return n
}

// orphans counts the pipelines the lanes' planners count once but may
// forget while they still run, and those they forgot. A suspect that
// merges while its witness runs leaves the witness running, forgotten:
// train's merge cancels the cars' own pipelines, not their witnesses, so
// one train runs it over its window too. A witness that is no car's
// running pipeline is counted here once more, from the start, so that
// when it is forgotten the planner's count drops and this one takes it
// over: the planner cannot start a pipeline in its place. A running lane
// pipeline that no planner counts at all is counted here until it ends.
func (r *laneRun) orphans() (atRisk, forgotten int) {
	known := map[string]bool{}
	for _, l := range r.lanes {
		own := map[string]bool{}
		for i := range l.t.Cars {
			if c := &l.t.Cars[i]; c.State == train.StateStarting || c.State == train.StateRunning {
				own[c.Commit], known[c.Commit] = true, true
			}
		}
		for i := range l.t.Cars {
			if w := l.t.Cars[i].Witness; w != nil && w.Status == "" {
				known[w.SHA] = true
				if !own[w.SHA] {
					atRisk++
				}
			}
		}
	}
	for id := range r.world.running {
		if !slices.Contains(r.owners[id], integOwner) && !known[r.world.Pipeline(id).SHA] {
			forgotten++
		}
	}
	return atRisk, forgotten
}
