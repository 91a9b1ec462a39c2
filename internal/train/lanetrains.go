package train

import (
	"slices"
	"strings"
	"time"
)

// With Settings.LaneTrains, an MR whose lanes are known when it is added
// is first tested in the train of each lane's branch, where only the MRs
// of that lane are ahead of it, so a broken MR in one lane holds up no
// other. The lane trains are ordinary trains whose target is the lane's
// branch; the edge carries JoinLane and LeaveLane to them, and brings
// back LanePassed when the MR merged into a lane's branch and LaneLeft
// when it left a lane's train unmerged. Once it passed in every lane it
// touches, the MR joins this train as it was added, and is tested once
// more here, on the target with everything ahead of it: the target still
// moves only to a commit whose exact tree passed.

// LaneWindows cuts a window of maxParallel pipelines between k lanes'
// trains: one pipeline is kept for the train that integrates them (the
// target's) and the rest shared as evenly as possible, the first lanes
// taking one more; every lane gets at least one, so with maxParallel ≤ k,
// k + 1 pipelines may run at once.
func LaneWindows(maxParallel, k int) []int {
	out := make([]int, k)
	budget := maxParallel - 1
	for i := range out {
		out[i] = budget / k
		if i < budget%k {
			out[i]++
		}
		out[i] = max(out[i], 1)
	}
	return out
}

// IntegrationBatch is the most cars one pipeline of a train that
// integrates lanes tests: its MRs passed their lanes already, so a
// failure is rare, and one pipeline should take what they passed.
const IntegrationBatch = 64

// Integrating returns s for the train that integrates its lanes' trains
// (LaneTrains with lanes): the one pipeline LaneWindows keeps for it, in
// batches as large as IntegrationBatch, and a failed pipeline run once
// more before its batch is bisected (with one pipeline a flake would
// otherwise cost a test of every suspect in turn). The simulator found
// this as fast as the project's whole window and far cheaper: that
// window tests almost every MR alone a second time, and with cross-lane
// interactions it evicted up to a tenth of the good MRs
// (docs/simulation.md). Other settings are returned as they are.
func (s Settings) Integrating() Settings {
	if !s.LaneTrains || len(s.Lanes) == 0 {
		return s
	}
	s.MaxParallel, s.MinWindow = 1, 1
	s.BatchSize, s.MaxBatchSize = IntegrationBatch, 0
	s.Retries = 1
	return s
}

// LaneSettings returns s for the train of lane i of n: its share of the
// window (LaneWindows), with a floor of half of it, and no lanes or
// schedule of its own (a freeze holds the target, not the lanes' tests).
func (s Settings) LaneSettings(i, n int) Settings {
	s.MaxParallel, s.MinWindow = LaneWindows(s.WithDefaults().MaxParallel, n)[i], 0
	s.LaneTrains, s.Lanes, s.Schedule = false, nil, Schedule{}
	return s
}

// laned reports whether the MR of o goes to its lanes' trains first. One
// that depends on other MRs, is stacked, or is urgent joins this train at
// once, as do MRs whose lanes are not known or not the train's.
func (p *planner) laned(o Added) bool {
	s := p.t.Settings
	if !s.LaneTrains || len(s.Lanes) == 0 || len(o.Lanes) == 0 || len(o.DependsOn) > 0 || o.Stacked != "" || o.Priority == PriorityUrgent {
		return false
	}
	for _, l := range o.Lanes {
		if !slices.ContainsFunc(s.Lanes, func(x Lane) bool { return x.Name == l }) {
			return false
		}
	}
	return true
}

// toLanes sends the MR of o to the trains of its lanes.
func (p *planner) toLanes(o Added) {
	lc := LaneCar{Add: o, Lanes: slices.Clone(o.Lanes), Since: p.now}
	lc.Add.DependsOn, lc.Add.Lanes = nil, nil
	slices.Sort(lc.Lanes)
	lc.Lanes = slices.Compact(lc.Lanes)
	p.t.InLanes = append(p.t.InLanes, lc)
	for _, l := range lc.Lanes {
		a := lc.Add
		a.Event = joinEvent(l, o)
		p.emit(JoinLane{Lane: l, Add: a})
	}
	p.emit(Status{MR: o.MR, HeadSHA: o.HeadSHA, Source: o.Source, Phase: PhaseQueued, Added: Words(msgToLanes(p.t.Branch, lc.Lanes))})
}

// joinEvent names the request to lane's train made for the command
// behind o, so that a repeat of the command asks once.
func joinEvent(lane string, o Added) string {
	id := o.Event
	if id == "" {
		id = o.HeadSHA
	}
	return "lane:join:" + lane + ":" + id
}

func (p *planner) lanePassed(o LanePassed) {
	k := p.t.InLanesIndex(o.MR)
	if k < 0 {
		return
	}
	lc := &p.t.InLanes[k]
	if lc.Add.HeadSHA != o.HeadSHA || !slices.Contains(lc.Lanes, o.Lane) || slices.Contains(lc.Passed, o.Lane) {
		return
	}
	lc.Passed = append(lc.Passed, o.Lane)
	if len(lc.Passed) < len(lc.Lanes) {
		return
	}
	a, ls := lc.Add, lc.Lanes
	p.t.InLanes = slices.Delete(p.t.InLanes, k, k+1)
	// It was on the train since its add, which was answered then: a
	// drain since lets it finish. (It depends on no other MR.)
	p.enter(a, 0)
	// Its lanes are known: no sweep needs to read them again.
	if c := p.t.Car(a.MR); c != nil {
		c.Lanes, c.LanesOf, c.Laned = ls, LanesDigest(p.t.Settings.Lanes), true
	}
}

// laneLost sends the MR of o to its lane again, under a request of its
// own: the lane's train may remember the first.
func (p *planner) laneLost(o LaneLost) {
	k := p.t.InLanesIndex(o.MR)
	if k < 0 {
		return
	}
	lc := p.t.InLanes[k]
	if lc.Add.HeadSHA != o.HeadSHA || !slices.Contains(lc.Lanes, o.Lane) || slices.Contains(lc.Passed, o.Lane) {
		return
	}
	a := lc.Add
	a.Event = joinEvent(o.Lane, lc.Add) + ":again:" + p.now.UTC().Format(time.RFC3339Nano)
	p.emit(JoinLane{Lane: o.Lane, Add: a})
}

// laneNews takes InLanes[k] off the train for what happened to its MR
// (new commits, closed, retargeted), which every lane would also evict
// it for.
func (p *planner) laneNews(k int, r Reason) {
	lc := p.t.InLanes[k]
	since := lc.Since.UTC().Format(time.RFC3339Nano)
	p.leaveLanes(k, "", r, "evicted:"+string(r.Code)+":lanes:"+since)
}

func (p *planner) laneLeft(o LaneLeft) {
	k := p.t.InLanesIndex(o.MR)
	if k < 0 || p.t.InLanes[k].Add.HeadSHA != o.HeadSHA {
		return
	}
	r := o.Reason
	r.Detail = Join("in lane "+Quote(o.Lane)+": ", r.Detail)
	r.Message = nil
	// Keyed by when it went to its lanes: added again later, it is told
	// again.
	since := p.t.InLanes[k].Since.UTC().Format(time.RFC3339Nano)
	p.leaveLanes(k, o.Lane, r, "evicted:lane:"+o.Lane+":"+o.HeadSHA+":"+since)
}

// leaveLanes takes InLanes[k] off the train for r: off the trains of its
// lanes but from, and tells its MR under key.
func (p *planner) leaveLanes(k int, from string, r Reason, key string) {
	lc := p.t.InLanes[k]
	p.t.InLanes = slices.Delete(p.t.InLanes, k, k+1)
	for _, l := range lc.Lanes {
		if l != from && !slices.Contains(lc.Passed, l) {
			p.emit(LeaveLane{Lane: l, MR: lc.Add.MR, Event: "lane:leave:" + l + ":" + strings.TrimPrefix(key, "reply:")})
		}
	}
	p.staleLanes(lc.Add.MR, lc.Passed)
	o := lc.Add
	p.depart(Car{MR: o.MR, HeadSHA: o.HeadSHA, Title: o.Title, Source: o.Source, AddedBy: o.By, AddedVia: o.Via,
		AddedAt: lc.Since, Priority: o.Priority, Method: o.Method, Lanes: slices.Clone(lc.Lanes)}, r, key)
}

// staleLanes tells the trains of lanes, whose branches the MR merged
// into when it passed there, that it will not merge: a lane's branch
// that kept it would test every later MR of the lane with it, and one
// its new commits conflict with if it is added again.
func (p *planner) staleLanes(mr int64, lanes []string) {
	for _, l := range lanes {
		p.emit(ResetLane{Lane: l, MR: mr})
	}
}
