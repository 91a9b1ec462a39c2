package train

import "slices"

// Failures and bisection.
//
// A failed pipeline on the main line says only that something in its tree
// is bad: the batch it tested, a car ahead of it, or (if it flaked)
// nothing. So the failed car's batch (the car and the cars riding on its
// pipeline) becomes a set of suspects: they leave the main line, which is
// rebuilt without them at once, and each is tested on its own prefix of
// the batch (Mergify's prefix split, not halves), all in parallel. The
// pipeline of the car behind the failed one is left running as a witness:
// it carries the failed car too, so its pass clears the batch, and for a
// car alone its failure stands in for the second test. The first suspect
// that fails while every car ahead of it passed is the culprit and is
// evicted; it has then failed twice, so a single flake evicts nobody. The
// suspects that passed go back to the main line, at the front of the cars
// not yet tested (a high car to the front of the train, as when added),
// or merge at once when nothing on the main line runs. A batch bisected
// on top of one that fails later goes back to the line instead: its
// failure may have been inherited.
//
// Holding a failure until the pipelines around it finish (to see whether
// one ahead fails too, or one behind passes) was measured in the
// simulator: with CI times that vary it costs far more than it saves.

// settleFailures bisects the first failed main car, unless a pipeline
// behind it that carries it has passed: then the fast-forward merges
// through it.
func (p *planner) settleFailures() bool {
	if p.t.Settings.EagerEviction {
		return p.settleEagerly()
	}
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.Suspect != 0 || c.State != StateFailed {
			continue
		}
		if p.frozen(c.MR) || p.contradicted(i) {
			return false
		}
		p.suspect(i)
		return true
	}
	return false
}

// settleEagerly is GitLab's rule: a failed car leaves at once, and every
// car behind it is rebuilt. A failed batch of several cars is bisected all
// the same, since its last car alone may not be to blame.
func (p *planner) settleEagerly() bool {
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.Suspect != 0 || c.State != StateFailed || p.frozen(c.MR) {
			continue
		}
		if j := p.parent(i); j >= 0 && p.rider(j) {
			p.suspect(i)
			return true
		}
		p.shrinkWindow()
		p.failedBatch()
		p.evict(i, p.failure(c))
		return true
	}
	return false
}

// rider reports whether main car j rides on a pipeline behind it.
func (p *planner) rider(j int) bool {
	c := &p.t.Cars[j]
	return c.Suspect == 0 && c.State == StateBuilt && c.Attempts == 0 && !p.frozen(c.MR)
}

// contradicted reports whether a main car behind failed car i, whose
// commit carries it, passed.
func (p *planner) contradicted(i int) bool {
	for j := i + 1; j < len(p.t.Cars); j++ {
		if c := &p.t.Cars[j]; c.Suspect == 0 && c.State == StatePassed {
			return true
		}
	}
	return false
}

// suspect takes failed main car i and the cars riding on its pipeline off
// the main line, to be tested each on its own prefix. The nearest pipeline
// behind it that carries it is kept as a witness: it is due before any new
// test, and for a car alone its failure stands in for a second test.
func (p *planner) suspect(i int) {
	x := &p.t.Cars[i]
	id := x.Pipeline
	if id == 0 {
		id = -x.MR
	}
	alone := true
	for j := p.parent(i); j >= 0 && p.rider(j); j = p.parent(j) {
		p.t.Cars[j].Suspect, p.t.Cars[j].Retested = id, false
		alone = false
	}
	x.Suspect, x.Retested = id, false
	x.Witness = p.witnessFor(i)
	if !alone || x.Witness == nil || x.Witness.Others > 1 {
		p.toBuilt(x)
		x.Attempts = 0
		x.Reason = nil
	}
	p.shrinkWindow()
	p.failedBatch()
	// A batch bisected behind this one sat on it: its failure may have been
	// this one's, so it goes back to the line. (A detached one sat on
	// commits that landed, so what it finds still holds.)
	for j := i + 1; j < len(p.t.Cars); j++ {
		if c := &p.t.Cars[j]; c.Suspect != 0 && c.Suspect != id && !c.Detached {
			c.Suspect = 0
			p.reset(c)
		}
	}
}

// settleSuspects acts on witnesses, evicts culprits and returns suspects
// that passed to the main line.
func (p *planner) settleSuspects() bool {
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.Suspect == 0 || p.frozen(c.MR) {
			continue
		}
		if c.Witness != nil && c.Witness.Status != "" && p.heedWitness(i) {
			return true
		}
		if c.State == StateFailed && p.retested(c) && p.culprit(i) {
			p.evict(i, p.failure(c))
			return true
		}
	}
	for _, last := range p.vouched() {
		if !p.canMergeDirectly(last) {
			p.rejoin(p.prefix(last))
			return true
		}
	}
	return false
}

// witnessFor returns the pipeline of the nearest main car behind failed
// car i that runs on a commit carrying it, or nil.
func (p *planner) witnessFor(i int) *Witness {
	others := 0
	for j := i + 1; j < len(p.t.Cars); j++ {
		c := &p.t.Cars[j]
		if c.Suspect != 0 {
			continue
		}
		if others++; c.State == StateRunning && c.Pipeline != 0 {
			return &Witness{Pipeline: c.Pipeline, SHA: c.Commit, Others: others, Started: c.PipelineStartedAt}
		}
	}
	return nil
}

// retested reports whether failed suspect c failed a test of its own, not
// only the main-line pipeline that made it a suspect. Ids do not tell
// (see Car.Retested); the comparison of ids serves trains saved before
// the mark was kept.
func (p *planner) retested(c *Car) bool {
	return c.Retested || c.Reason == nil || c.Reason.Pipeline != c.Suspect
}

// heedWitness acts on the finished witness of suspect i. A pass clears the
// whole batch. A failure that carried only one more MR confirms the
// failure of a car alone, once what it sits on is known good; otherwise
// the car's own test (or the bisection) decides. A witness cancelled by
// someone else says nothing either.
func (p *planner) heedWitness(i int) bool {
	c := &p.t.Cars[i]
	w := *c.Witness
	switch {
	case w.Status == PipelineSuccess:
		var batch []int
		for j := range p.t.Cars {
			if p.t.Cars[j].Suspect == c.Suspect {
				batch = append(batch, j)
			}
		}
		p.rejoin(batch)
		return true
	case w.Status == PipelineFailed && w.Others <= 1 && c.State == StateFailed:
		if !p.culprit(i) {
			return false // wait until what it sits on is known
		}
		r := p.failure(c)
		r.Detail = msgWitnessFailed(r.Detail, w.Pipeline)
		p.evict(i, r)
		return true
	}
	c.Witness = nil
	if c.State == StateFailed && !p.retested(c) {
		p.toBuilt(c)
		c.Attempts = 0
		c.Reason = nil
	}
	return true
}

func (p *planner) findWitness(id int64, sha string) *Witness {
	for i := range p.t.Cars {
		if w := p.t.Cars[i].Witness; w != nil && w.Pipeline == id && w.SHA == sha {
			return w
		}
	}
	return nil
}

// dropWitness forgets c's witness, cancelling it if it still runs.
func (p *planner) dropWitness(c *Car) {
	if c.Witness.Status == "" {
		p.emit(CancelPipeline{MR: c.MR, Pipeline: c.Witness.Pipeline})
	}
	c.Witness = nil
}

// culprit reports whether failed suspect i failed on its own: the car it
// sits on passed, or it sits on the target (or on a commit that landed
// there while it ran).
func (p *planner) culprit(i int) bool {
	c := &p.t.Cars[i]
	if j := p.parent(i); j >= 0 && p.t.Cars[j].Suspect == c.Suspect {
		return p.t.Cars[j].State == StatePassed && c.Base == p.t.Cars[j].Commit
	}
	return c.Detached || c.Base == p.t.TargetHead
}

// vouched returns, per bisected batch, the furthest suspect that passed,
// once no suspect of the batch behind it still runs (moving the passed
// ones would make those stale).
func (p *planner) vouched() []int {
	var out []int
	var seen []int64
	for i := len(p.t.Cars) - 1; i >= 0; i-- {
		c := &p.t.Cars[i]
		if c.Suspect == 0 || slices.Contains(seen, c.Suspect) || p.frozen(c.MR) {
			continue
		}
		if c.inFlight() {
			seen = append(seen, c.Suspect)
			continue
		}
		if c.State == StatePassed {
			seen = append(seen, c.Suspect)
			out = append(out, i)
		}
	}
	slices.Reverse(out)
	return out
}

// canMergeDirectly reports whether passed suspect last may move the
// target itself: its chain sits on the target head, and nothing on the
// main line runs that the move would waste.
func (p *planner) canMergeDirectly(last int) bool {
	for j := last; j >= 0; j = p.parent(j) {
		if c := &p.t.Cars[j]; c.Detached || c.Base != p.expectedBase(j) {
			return false // not the tree its chain says
		}
	}
	for i := range p.t.Cars {
		if c := &p.t.Cars[i]; c.Suspect == 0 && c.inFlight() {
			return false
		}
	}
	return true
}

// directMerge returns a passed suspect that may move the target, or -1.
func (p *planner) directMerge() int {
	for _, last := range p.vouched() {
		if p.canMergeDirectly(last) {
			return last
		}
	}
	return -1
}

// mergingSuspects reports whether the fast-forward in flight carries
// suspects: the main line is rebuilt on it once it lands.
func (p *planner) mergingSuspects() bool {
	if p.t.Pending == nil {
		return false
	}
	for i := range p.t.Cars {
		if c := &p.t.Cars[i]; c.Suspect != 0 && p.frozen(c.MR) {
			return true
		}
	}
	return false
}

// prefix lists passed suspect last and the suspects of its batch ahead of
// it in its chain, front first.
func (p *planner) prefix(last int) []int {
	id := p.t.Cars[last].Suspect
	var out []int
	for j := last; j >= 0 && p.t.Cars[j].Suspect == id; j = p.parent(j) {
		out = append(out, j)
	}
	slices.Reverse(out)
	return out
}

// rejoin returns suspects shown good (cars at indices idx, front first) to
// the main line, behind every suspect (ahead of one, they would become
// what it sits on) and every car merging. Normal cars go ahead of every
// car not yet tested, so no pipeline is wasted. A high car goes back to
// the front, as when it was added, behind the other high cars and what it
// depends on: being bisected is no reason to wait for the normal cars,
// which are rebuilt on top of it. The cars of its batch go with it, in
// order: every pipeline behind it is lost anyway. All are rebuilt: the
// commits they passed on may never reach the target.
func (p *planner) rejoin(idx []int) {
	moved := make([]Car, 0, len(idx))
	high := false
	for _, j := range idx {
		c := p.t.Cars[j]
		p.reset(&c)
		c.Suspect = 0
		moved = append(moved, c)
		high = high || c.Priority == PriorityHigh
		p.t.Cars[j].MR = 0 // marked for removal
	}
	p.t.Cars = slices.DeleteFunc(p.t.Cars, func(c Car) bool { return c.MR == 0 })
	at := 0
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		switch {
		case c.Suspect != 0 || p.frozen(c.MR):
		case high && (c.Priority == PriorityHigh || slices.ContainsFunc(moved, func(m Car) bool { return m.dependsOn(c.MR) })):
		case !high && c.hasPipeline():
		default:
			continue
		}
		at = i + 1
	}
	p.t.Cars = slices.Insert(p.t.Cars, at, moved...)
}

// detach marks the suspects whose base has just landed on the target, so
// their running pipelines are kept: what they find is still true.
func (p *planner) detach(landed []string) {
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.Suspect != 0 && c.hasPipeline() && slices.Contains(landed, c.Base) {
			c.Detached = true
		}
	}
}

// failure is the reason a car that failed for good is evicted with.
func (p *planner) failure(c *Car) Reason {
	if c.Reason != nil {
		return *c.Reason
	}
	return Reason{Code: ReasonPipelineFailed, Detail: Words("its pipeline failed")}
}
