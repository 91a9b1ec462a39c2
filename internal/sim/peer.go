package sim

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// lineRules describe a peer merge queue. The peers documented by GitHub,
// bors-ng and Zuul all keep one ordered line of units (a change, a group,
// a batch) in which each unit is tested on top of every unit ahead that is
// not failing, and merge a unit only once it has reached the head with a
// passing pipeline. They differ in how units are cut, how many may be
// tested at once, and what a failed unit at the head turns into.
type lineRules struct {
	// window is how many units from the head may be tested at once.
	window int
	// aimd grows the window by one per merged unit, up to ceiling (0: no
	// limit), and halves it per evicted one, never below floor.
	aimd           bool
	floor, ceiling int
	// maxSize is the most MRs a unit holds (0: no limit); a unit with
	// fewer than minSize is cut only once the oldest waiting MR has waited
	// wait.
	maxSize, minSize int
	wait             time.Duration
	// bisect splits a failed unit of several MRs into two halves at the
	// back of the line; otherwise every MR of a failed unit is evicted.
	bisect bool
	// split cuts a failed unit as Mergify documents: into as many parts as
	// the window allows plus one, the first ones tested at once, each on
	// the parts before it, the last never retested (it failed with the
	// others, so if they all pass it holds the culprit). Parts behind the
	// first that fails go back to the queue; that one is split again.
	split bool
	// retries restarts a failed pipeline on the same commit this many
	// times before the unit counts as failed.
	retries int
	// keep leaves a failed unit in the line, and the units behind built
	// on it, for as long as a unit built on it may still pass: that pass
	// tested the failed unit's MRs too, so they merge with it (GitHub's
	// HEADGREEN, Trunk's pending failure). A failed unit at the head with
	// no such unit left is evicted, or bisected off the line with lane.
	keep bool
	// optimistic, with keep, merges every unit ahead of a passing one,
	// running or failed, without waiting for their results (Trunk's
	// optimistic merging); a failed head then waits only for the depth
	// units behind it. Without it a unit merges only once every unit ahead
	// has a result, and a failed head waits for the units that were under
	// test on it when it failed (see proof).
	optimistic bool
	depth      int
	// lane, when positive, bisects a failed unit of several MRs outside
	// the line, with up to lane pipelines of its own (see trunk.go).
	lane int
}

// unit is one entry of a peer's line.
type unit struct {
	mrs  []int64
	base string // commit the unit was built on; "" when not built
	sha  string
	pipe int64 // its pipeline; 0 when none
	// state of its pipeline: running, success or failed
	state train.PipelineState
	tries int // retries spent on this build
	// part numbers the split a unit belongs to (0: none); presumed marks
	// the last part of a split, known to fail without a test of its own,
	// and blame the pipeline that failed it.
	part     int
	presumed bool
	blame    int64
}

// lineRun simulates one peer on the same world, MRs and CI draws as the
// planner's strategies.
type lineRun struct {
	rules   lineRules
	s       Scenario
	pop     population
	world   *World
	ci      *ciSampler
	stats   *tally
	queue   eventQueue
	seq     uint64
	now     time.Duration
	window  int
	waiting []int64 // arrived, in no unit yet
	line    []*unit
	byPipe  map[int64][]*unit
	wake    time.Duration // pending wake-up for a group's wait; -1: none
	splits  int
	probes  []*probe // the bisection lane's tests, oldest first
}

// evWake ends a wait for more MRs to fill a group.
const evWake eventKind = 100

func simulateLine(s Scenario, pop population, name string, rules lineRules) (Result, error) {
	return newLineRun(s, pop, rules).run(name)
}

// newLineRun prepares a run; it is apart from run so that a test can
// script the CI draws.
func newLineRun(s Scenario, pop population, rules lineRules) *lineRun {
	r := &lineRun{
		rules: rules, s: s, pop: pop, world: NewWorld(), ci: newCISampler(s), stats: newTally(),
		window: max(rules.window, 1), byPipe: map[int64][]*unit{}, wake: -1,
	}
	for _, m := range pop.mrs {
		if m.broken {
			r.world.Broken[m.id] = true
		}
	}
	r.world.Conflicts = pop.conflicts
	return r
}

func (r *lineRun) run(name string) (Result, error) {
	pop := r.pop
	if len(pop.mrs) > 0 {
		r.schedule(event{at: pop.mrs[0].at, kind: evArrival})
	}
	horizon := time.Duration(r.s.Horizon)
	for r.queue.Len() > 0 {
		e := heap.Pop(&r.queue).(event)
		if horizon > 0 && e.at > horizon {
			return r.stats.result(name, r.world), nil
		}
		r.now = e.at
		switch e.kind {
		case evArrival:
			if e.idx+1 < len(pop.mrs) {
				r.schedule(event{at: pop.mrs[e.idx+1].at, kind: evArrival, idx: e.idx + 1})
			}
			r.stats.arrived++
			r.waiting = append(r.waiting, pop.mrs[e.idx].id)
		case evFinish:
			r.finish(e.id)
		case evWake:
			r.wake = -1
		}
		// A queue acts on what it sees, and it sees at once everything
		// that happens at one instant: a backlog arrives whole.
		if r.queue.Len() > 0 && r.queue[0].at == r.now {
			continue
		}
		r.step()
	}
	if len(r.line) > 0 || len(r.waiting) > 0 || len(r.probes) > 0 {
		return Result{}, fmt.Errorf("simulate %s: %w at %v with %d units, %d MRs waiting and %d in bisection", name, ErrStuck, r.now, len(r.line), len(r.waiting), len(r.probes))
	}
	return r.stats.result(name, r.world), nil
}

func (r *lineRun) schedule(e event) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.queue, e)
}

func (r *lineRun) finish(id int64) {
	p := r.world.Pipeline(id)
	if p.Status != train.PipelineRunning {
		return // cancelled meanwhile
	}
	st := r.world.Finish(id, r.stats.pipelines[id].flake)
	r.stats.pipelines[id].end = r.now
	units := r.byPipe[id]
	delete(r.byPipe, id)
	for _, u := range units {
		if u.pipe != id {
			continue
		}
		u.state = st.Status
		if st.Status == train.PipelineFailed && u.tries < r.rules.retries {
			u.tries++
			r.start(u)
			continue
		}
		if st.Status == train.PipelineFailed && u.part != 0 {
			r.requeueBehind(u)
		}
	}
}

// step brings the line up to date after an event: it resolves the head
// while it can, cuts new units into free room, and (re)builds every unit in
// the window whose base moved.
func (r *lineRun) step() {
	for {
		r.resolveHead()
		r.cut()
		changed := r.rebuild()
		// A lane result can return MRs to the queue and a lane test can
		// reuse a pipeline that already passed: either may let the line
		// move again.
		if r.rules.lane > 0 && r.runLane() {
			changed = true
		}
		if !changed {
			return
		}
	}
}

// resolveHead merges or evicts units at the head that have a result.
func (r *lineRun) resolveHead() {
	if r.rules.keep {
		r.resolveKept()
		return
	}
	for len(r.line) > 0 {
		u := r.line[0]
		if u.presumed {
			u.state = train.PipelineFailed
		} else if u.base != r.world.Target {
			return
		}
		switch u.state {
		case train.PipelineSuccess:
			r.world.FastForward(train.FastForwardTarget{To: u.sha, Expected: r.world.Target, MRs: u.mrs})
			for _, mr := range u.mrs {
				r.record(mr, train.StateMerged, 0)
			}
			r.line = r.line[1:]
			if r.rules.aimd && (r.rules.ceiling == 0 || r.window < r.rules.ceiling) {
				r.window++
			}
		case train.PipelineFailed:
			r.line = r.line[1:]
			blame := u.pipe
			if u.presumed {
				blame = u.blame
			}
			if r.rules.split && len(u.mrs) > 1 {
				r.line = append(r.splitParts(u, blame), r.line...)
				continue
			}
			if r.rules.bisect && len(u.mrs) > 1 {
				half := len(u.mrs) / 2
				a := &unit{mrs: u.mrs[:half:half]}
				b := &unit{mrs: u.mrs[half:]}
				// bors-ng pushes the halves to the queue, behind the
				// batches already in it.
				r.line = append(r.line, a, b)
				continue
			}
			for _, mr := range u.mrs {
				r.record(mr, train.StateEvicted, blame)
			}
			if r.rules.aimd {
				r.window = max(r.window/2, r.rules.floor, 1)
			}
		default:
			return
		}
	}
}

// resolveKept resolves the head of a line that keeps failed units: it
// merges through the first unit whose pass proves the units ahead, and
// drops a failed head once nothing built on it can still pass.
func (r *lineRun) resolveKept() {
	for len(r.line) > 0 {
		head := r.line[0]
		if head.base != r.world.Target {
			return // rebuild moves it first
		}
		through, pending := r.proof()
		switch {
		case through >= 0:
			r.mergeThrough(through)
		case pending || head.state != train.PipelineFailed:
			return
		default:
			r.line = r.line[1:]
			if r.rules.lane > 0 && len(head.mrs) > 1 {
				r.bisectOff(head)
				continue
			}
			for _, mr := range head.mrs {
				r.record(mr, train.StateEvicted, head.pipe)
			}
		}
	}
}

// proof walks the chain of units built each on the one ahead from the
// target. through is the unit whose pass merges it and every unit ahead
// (-1: none); pending reports a unit still running that the head waits
// for before it may be dropped.
func (r *lineRun) proof() (through int, pending bool) {
	base := r.world.Target
	for i, u := range r.line {
		if u.pipe == 0 || u.base != base {
			break
		}
		switch u.state {
		case train.PipelineSuccess:
			return i, false
		case train.PipelineRunning:
			if i == 0 {
				pending = true
			} else if r.rules.optimistic {
				pending = pending || i <= r.rules.depth
			} else {
				// A failed head waits for the units that were already
				// under test on it when it failed; those built on it since
				// would keep a broken head waiting as long as MRs arrive.
				failed := r.stats.pipelines[r.line[0].pipe].end
				pending = r.stats.pipelines[u.pipe].start <= failed
			}
			if !r.rules.optimistic {
				return -1, pending
			}
		}
		base = u.sha
	}
	return -1, pending
}

// mergeThrough merges units 0..i on the pass of unit i, whose commit
// carries them all. Pipelines still running ahead of it can tell nothing
// more and are stopped.
func (r *lineRun) mergeThrough(i int) {
	last := r.line[i]
	var mrs []int64
	for _, u := range r.line[:i+1] {
		mrs = append(mrs, u.mrs...)
		if u != last {
			r.cancel(u)
		}
	}
	r.world.FastForward(train.FastForwardTarget{To: last.sha, Expected: r.world.Target, MRs: mrs})
	for _, mr := range mrs {
		r.record(mr, train.StateMerged, 0)
	}
	r.line = r.line[i+1:]
}

// cut forms units from waiting MRs while the window has room.
func (r *lineRun) cut() {
	for len(r.line) < r.window && len(r.waiting) > 0 {
		n := len(r.waiting)
		if r.rules.maxSize > 0 {
			n = min(n, r.rules.maxSize)
		}
		if n < r.rules.minSize {
			oldest := r.pop.mrs[r.waiting[0]-1].at
			if due := oldest + r.rules.wait; r.now < due {
				if r.wake != due {
					r.wake = due
					r.schedule(event{at: due, kind: evWake})
				}
				return
			}
		}
		r.line = append(r.line, &unit{mrs: r.waiting[:n:n]})
		r.waiting = r.waiting[n:]
	}
}

// rebuild walks the line from the head, basing each unit on the nearest
// unit ahead that is not failing (Zuul's nearest non-failing item), and
// reports whether it built anything: a conflict or a pipeline that had
// already passed may let the head resolve.
func (r *lineRun) rebuild() bool {
	base := r.world.Target
	changed := false
	for i := 0; i < len(r.line); i++ {
		u := r.line[i]
		if u.presumed {
			continue
		}
		if u.base != base {
			r.cancel(u)
			if i >= r.window {
				continue
			}
			r.build(u, base)
			if len(u.mrs) == 0 {
				r.line = append(r.line[:i], r.line[i+1:]...)
				i--
				changed = true
				continue
			}
			r.start(u)
			changed = true
		}
		if u.state != train.PipelineFailed || r.rules.keep {
			base = u.sha
		}
	}
	return changed
}

// build stacks the unit's MRs on base; an MR that conflicts with what is
// below it leaves the queue, as every peer reports a merge conflict.
func (r *lineRun) build(u *unit, base string) {
	u.base, u.sha, u.state, u.tries = base, base, "", 0
	kept := u.mrs[:0:0]
	for _, mr := range u.mrs {
		b := r.world.Build(train.BuildCar{MR: mr, Base: u.sha, HeadSHA: HeadOf(mr, 0), Method: train.MethodMerge})
		if len(b.Conflict) > 0 || b.Error != "" {
			r.record(mr, train.StateEvicted, 0)
			continue
		}
		u.sha = b.Commit
		kept = append(kept, mr)
	}
	u.mrs = kept
}

func (r *lineRun) start(u *unit) {
	p, reused := r.world.StartPipeline(train.StartPipeline{MR: u.mrs[len(u.mrs)-1], Commit: u.sha})
	u.pipe, u.state = p.ID, p.Status
	if !reused {
		r.stats.pipelines[p.ID] = &pipelineRun{start: r.now, end: -1, sha: p.SHA, flake: r.ci.flake()}
		r.schedule(event{at: r.now + r.ci.duration(), kind: evFinish, id: p.ID})
	}
	if p.Status == train.PipelineRunning {
		r.byPipe[p.ID] = append(r.byPipe[p.ID], u)
	}
}

// cancel stops the unit's pipeline unless another unit still waits on it.
func (r *lineRun) cancel(u *unit) {
	id := u.pipe
	u.pipe, u.state, u.base = 0, "", ""
	if id == 0 {
		return
	}
	others := r.byPipe[id][:0]
	for _, o := range r.byPipe[id] {
		if o != u {
			others = append(others, o)
		}
	}
	if len(others) > 0 {
		r.byPipe[id] = others
		return
	}
	delete(r.byPipe, id)
	if p := r.world.Pipeline(id); p != nil && p.Status == train.PipelineRunning {
		r.world.Cancel(id)
		r.stats.pipelines[id].cancelled = true
		r.stats.pipelines[id].end = r.now
	}
}

func (r *lineRun) record(mr int64, state train.State, pipe int64) {
	c := train.Car{MR: mr, State: state}
	if pipe != 0 {
		c.Reason = &train.Reason{Pipeline: pipe}
	}
	r.stats.record(c, r.now, r.pop.mrs[mr-1].at, r.world.Broken[mr])
}

// splitParts cuts a failed unit into min(window+1, size) parts, larger
// parts first; the last is presumed failing.
func (r *lineRun) splitParts(u *unit, blame int64) []*unit {
	r.splits++
	n := min(r.window+1, len(u.mrs))
	parts := make([]*unit, 0, n)
	rest := u.mrs
	for i := range n {
		size := len(rest) / (n - i)
		if len(rest)%(n-i) != 0 {
			size++
		}
		parts = append(parts, &unit{mrs: rest[:size:size], part: r.splits})
		rest = rest[size:]
	}
	last := parts[n-1]
	last.presumed, last.state, last.blame = true, train.PipelineFailed, blame
	return parts
}

// requeueBehind sends the parts of u's split that stand behind it back to
// the front of the queue, their tests cancelled: they were tested on top
// of a failure.
func (r *lineRun) requeueBehind(u *unit) {
	i := 0
	for i < len(r.line) && r.line[i] != u {
		i++
	}
	var back []int64
	kept := r.line[:i+1]
	for _, o := range r.line[i+1:] {
		if o.part == u.part {
			r.cancel(o)
			back = append(back, o.mrs...)
			continue
		}
		kept = append(kept, o)
	}
	r.line = kept
	r.waiting = append(back, r.waiting...)
}
