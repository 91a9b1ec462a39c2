package train

import (
	"slices"
	"time"
)

// reconcile derives what must happen from the train's state. Each step is
// safe to repeat; resets, evictions and the moves of bisected cars change
// what the cars behind should sit on, so they run to a fixed point before
// anything new starts.
func (p *planner) reconcile() {
	for p.resetStale() || p.settleFailures() || p.settleSuspects() || p.expireTimeouts() {
	}
	if p.t.ResetDue && p.t.Pending == nil {
		// Nothing more is built or moved on the lane's branch as it is:
		// the answer, its new head, rebuilds what sits on the old one.
		p.t.ResetDue = false
		p.emit(ResetBranch{})
		return
	}
	if p.t.Paused {
		return
	}
	p.startOwed()
	h, held := p.t.Hold(p.now)
	if h.Kind != p.t.Held {
		// What each MR shows says whether the train is held and why.
		p.t.Held = h.Kind
		p.restatus()
	}
	if held {
		p.markHeld(h)
	} else {
		p.fastForward()
	}
	p.advanceMain()
}

// restatus asks every car's MR to show where it stands again.
func (p *planner) restatus() {
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		phase := PhaseQueued
		if c.Builds > 0 {
			phase = PhaseTesting
		}
		p.emit(Status{MR: c.MR, HeadSHA: c.HeadSHA, Source: c.Source, Phase: phase})
	}
}

// markHeld notes on the trail of each car that would merge now, but for
// the hold, what holds it, once per hold.
func (p *planner) markHeld(h Hold) {
	if p.t.TargetHead == "" || p.t.Pending != nil {
		return
	}
	last := p.furthestPassed()
	for i := 0; i <= last; i++ {
		c := &p.t.Cars[i]
		if c.Suspect != 0 {
			continue
		}
		if n := len(c.Trail); n > 0 && c.Trail[n-1].Kind == MarkHeld && c.Trail[n-1].Hold == h.Kind {
			continue
		}
		p.mark(c, Mark{At: p.now, Kind: MarkHeld, Hold: h.Kind, Reason: h.Sentence()})
	}
}

// The train is two kinds of line. The main line is every car that is not
// a suspect: car k sits on the nearest main car ahead of it, so its commit
// carries every main car ahead. A failed batch is taken off the main line
// and bisected on a side line of its own (see bisect.go): its cars, the
// suspects, sit on each other and on the main car the batch sat on, so
// the main line goes on without them while they are tested.

// parent is the index of the car whose commit car i is built on, or -1
// for the target head. A main car sits on the nearest main car ahead; a
// suspect on the nearest car of its own batch that has not failed (a failed
// suspect is skipped, as Zuul re-parents past a failing item), else on the
// main car its batch sat on.
func (p *planner) parent(i int) int {
	c := &p.t.Cars[i]
	for j := i - 1; j >= 0; j-- {
		a := &p.t.Cars[j]
		switch {
		case a.Suspect == 0:
			return j
		case c.Suspect != 0 && a.Suspect == c.Suspect && a.State != StateFailed:
			return j
		}
	}
	return -1
}

// expectedBase is the commit car i must be built on; empty while its parent
// has no commit yet.
func (p *planner) expectedBase(i int) string {
	if j := p.parent(i); j >= 0 {
		return p.t.Cars[j].Commit
	}
	return p.t.TargetHead
}

// hasPipeline reports whether the car's current commit has a pipeline
// asked for, running or finished.
func (c *Car) hasPipeline() bool {
	switch c.State {
	case StateStarting, StateRunning, StatePassed, StateFailed:
		return true
	}
	return false
}

func (c *Car) inFlight() bool { return c.State == StateStarting || c.State == StateRunning }

// resetStale returns to the queue every car built on a commit it should no
// longer sit on. A detached suspect keeps its pipeline: its base landed on
// the target, so its result still tells whether it is good.
func (p *planner) resetStale() bool {
	changed := false
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.State == StateQueued || p.frozen(c.MR) || (c.Detached && c.hasPipeline()) {
			continue
		}
		if base := p.expectedBase(i); base == "" || c.Base != base {
			p.reset(c)
			changed = true
		}
	}
	return changed
}

func (p *planner) expireTimeouts() bool {
	limit := p.t.Settings.PipelineTimeout
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if w := c.Witness; w != nil && w.Status == "" && !w.Started.IsZero() && p.now.Sub(w.Started) > limit {
			// A witness that does not finish tells nothing: test the car.
			p.emit(CancelPipeline{MR: c.MR, Pipeline: w.Pipeline})
			w.Status = PipelineCanceled
			return true
		}
		if c.State != StateRunning || c.PipelineStartedAt.IsZero() || p.frozen(c.MR) {
			continue
		}
		if p.now.Sub(c.PipelineStartedAt) > limit {
			p.evict(i, Reason{Code: ReasonTimeout, Pipeline: c.Pipeline, Commit: c.Commit,
				Detail: msgTimeout(c.Pipeline, limit)})
			return true
		}
	}
	return false
}

// startOwed builds the suspects and starts the pipelines that are owed
// before any new batch: a retry of a failed pipeline and every suspect's
// own test.
func (p *planner) startOwed() {
	free := p.budgets()
	unclaimed := free // by the suspects built here
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		suspect := c.Suspect != 0
		switch {
		case suspect && c.State == StateQueued && p.t.TargetHead != "":
			if base := p.expectedBase(i); base != "" {
				// Built to start only while pipelines are free for it.
				p.build(i, base, unclaimed.left(true) > 0)
				unclaimed.take(true)
			}
		case free.left(suspect) > 0 && c.State == StateBuilt && (suspect || c.Attempts > 0):
			p.start(i)
			free.take(suspect)
		}
	}
}

// budgets are the pipelines the suspects and the main line may still
// start: one budget unless BisectParallel parts them.
type budgets struct {
	suspects, main int
	shared         bool
}

func (p *planner) budgets() budgets {
	return budgets{suspects: p.free(true), main: p.free(false), shared: p.t.Settings.BisectParallel == 0}
}

func (b budgets) left(suspect bool) int {
	if suspect {
		return b.suspects
	}
	return b.main
}

// take counts a pipeline started from the suspects' budget (suspect) or
// the main line's; a shared budget loses it from both.
func (b *budgets) take(suspect bool) {
	if suspect || b.shared {
		b.suspects--
	}
	if !suspect || b.shared {
		b.main--
	}
}

// free is how many more pipelines the suspects (suspect) or the main line
// may start: with BisectParallel, each from a budget of its own.
func (p *planner) free(suspect bool) int {
	s := p.t.Settings
	if s.BisectParallel == 0 {
		return s.MaxParallel - p.inFlight()
	}
	n := p.suspectsInFlight()
	if suspect {
		return s.BisectParallel - n
	}
	return s.MaxParallel - (p.inFlight() - n)
}

// suspectsInFlight counts the suspects' own pipelines that run.
func (p *planner) suspectsInFlight() int {
	n := 0
	for i := range p.t.Cars {
		if c := &p.t.Cars[i]; c.Suspect != 0 && c.inFlight() {
			n++
		}
	}
	return n
}

// inFlight counts the pipelines running for the train: the cars' own and
// the witnesses.
func (p *planner) inFlight() int {
	n := 0
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.inFlight() {
			n++
		}
		if c.Witness != nil && c.Witness.Status == "" {
			n++
		}
	}
	return n
}

func (p *planner) start(i int) {
	p.t.Cars[i].State = StateStarting
	p.emit(p.startAction(i))
}

// fastForward moves the target to the furthest passed main car: its commit
// was tested as one tree with every main car ahead, so all of them merge,
// a failed one too (a pass behind it shows that failure was not its own).
// When no main car passed, a bisected batch's passed prefix may merge
// instead (see directMerge). While a move is pending, a further car may
// only take it over (see overtake).
func (p *planner) fastForward() {
	if p.t.TargetHead == "" {
		return
	}
	if p.t.Pending != nil {
		p.overtake()
		return
	}
	last := p.furthestPassed()
	if last < 0 {
		if last = p.directMerge(); last >= 0 && !p.carriesDeps(last) {
			last = -1
		}
	}
	if last < 0 {
		return
	}
	p.moveTarget(last, nil)
}

// furthestPassed is the index of the furthest passed main car whose chain
// is built on the target head, car on car, or -1.
func (p *planner) furthestPassed() int {
	last, base := -1, p.t.TargetHead
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.Suspect != 0 {
			continue
		}
		if c.Commit == "" || c.Base != base {
			break
		}
		base = c.Commit
		if c.State == StatePassed && p.carriesDeps(i) {
			last = i
		}
	}
	return last
}

// overtake hands the pending fast-forward over to a further main car
// that passed, when the push has not been tried yet: planned in this same
// pass of the engine, which plans a pass's observations at one instant
// and carries actions out only after. Results coalesced into one pass
// then move the target once, to the furthest car, instead of once per
// car. The further car's commit carries every car of the pending move,
// so the move it replaces is dropped, not made (Train.Wants).
func (p *planner) overtake() {
	ff := p.t.Pending
	if !ff.Planned.Equal(p.now) || ff.Expected != p.t.TargetHead {
		return
	}
	last := p.furthestPassed()
	if last < 0 || p.t.Cars[last].Commit == ff.To {
		return
	}
	mrs := p.chain(last)
	if len(mrs) <= len(ff.MRs) || !slices.Equal(mrs[:len(ff.MRs)], ff.MRs) {
		return // not a car behind the pending move
	}
	for _, mr := range ff.MRs {
		if c := p.t.Car(mr); c == nil || c.News != nil {
			return // news waits for the push it was held back for
		}
	}
	p.moveTarget(last, append(slices.Clone(ff.Via), ff.To))
}

// moveTarget asks for the target to move to car last's commit, merging
// its chain; via are the commits of the moves this one takes over.
func (p *planner) moveTarget(last int, via []string) {
	ff := &FastForward{To: p.t.Cars[last].Commit, Expected: p.t.TargetHead, MRs: p.chain(last), Planned: p.now, Via: via}
	p.t.Pending = ff
	p.emit(FastForwardTarget{To: ff.To, Expected: ff.Expected, MRs: slices.Clone(ff.MRs)})
}

// chain lists the MRs whose changes car i's commit carries, front first.
func (p *planner) chain(i int) []int64 {
	var mrs []int64
	for j := i; j >= 0; j = p.parent(j) {
		mrs = append(mrs, p.t.Cars[j].MR)
	}
	slices.Reverse(mrs)
	return mrs
}

func (p *planner) buildAction(i int) BuildCar {
	c := &p.t.Cars[i]
	return BuildCar{MR: c.MR, Base: c.Base, HeadSHA: c.HeadSHA, Method: p.t.method(c),
		Title: c.Title, Source: c.Source, Build: c.Builds, At: c.AddedAt, MRs: p.chain(i)}
}

// build asks for car i's commit on base; start says its pipeline is to
// start as soon as it is built (see BuildCar.Start).
func (p *planner) build(i int, base string, start bool) {
	c := &p.t.Cars[i]
	c.State = StateBuilding
	c.Base = base
	c.PushedAt = time.Time{}
	c.Builds++
	a := p.buildAction(i)
	a.Start = start
	p.emit(a)
}

func (p *planner) startAction(i int) StartPipeline {
	c := &p.t.Cars[i]
	again := slices.ContainsFunc(c.Trail, func(m Mark) bool { return m.Kind == MarkPipeline && m.Commit == c.Commit })
	return StartPipeline{MR: c.MR, Commit: c.Commit, MRs: p.chain(i), Again: again, Pushed: c.PushedAt}
}
