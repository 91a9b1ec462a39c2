package train

import "slices"

// reconcile derives what must happen from the train's state. Each step is
// safe to repeat; resets and evictions change what the cars behind should
// sit on, so they run to a fixed point before anything new starts.
func (p *planner) reconcile() {
	for p.resetStale() || p.evictFailures() || p.expireTimeouts() {
	}
	if p.t.Paused {
		return
	}
	p.startPipelines()
	p.fastForward()
	p.buildCars()
}

// expectedBase is the commit car i must be built on: the commit of the
// nearest car ahead that has not failed (a failed car is skipped, as Zuul
// re-parents past a failing item), or the target head for the first car.
// It is empty while that car has no commit yet.
func (p *planner) expectedBase(i int) string {
	for j := i - 1; j >= 0; j-- {
		if c := &p.t.Cars[j]; c.State != StateFailed {
			return c.Commit
		}
	}
	return p.t.TargetHead
}

// resetStale returns to the queue every car built on a commit it should no
// longer sit on.
func (p *planner) resetStale() bool {
	changed := false
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.State == StateQueued || p.frozen(c.MR) {
			continue
		}
		if base := p.expectedBase(i); base == "" || c.Base != base {
			p.reset(c)
			changed = true
		}
	}
	return changed
}

// evictFailures evicts a failed car once every car ahead of it has passed:
// only then is the failure its own and not inherited from a car ahead.
// With EagerEviction it does not wait for that.
func (p *planner) evictFailures() bool {
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.State != StateFailed || p.frozen(c.MR) {
			if c.State != StatePassed && !p.t.Settings.EagerEviction {
				return false
			}
			continue
		}
		r := Reason{Code: ReasonPipelineFailed, Message: "its pipeline failed"}
		if c.Reason != nil {
			r = *c.Reason
		}
		p.evict(i, r)
		return true
	}
	return false
}

func (p *planner) expireTimeouts() bool {
	limit := p.t.Settings.PipelineTimeout
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.State != StateRunning || c.PipelineStartedAt.IsZero() || p.frozen(c.MR) {
			continue
		}
		if p.now.Sub(c.PipelineStartedAt) > limit {
			p.evict(i, Reason{Code: ReasonTimeout, Pipeline: c.Pipeline, Commit: c.Commit,
				Message: msgTimeout(c.Pipeline, limit)})
			return true
		}
	}
	return false
}

func (p *planner) startPipelines() {
	for i := range p.t.Cars {
		if c := &p.t.Cars[i]; c.State == StateBuilt {
			c.State = StateStarting
			p.emit(p.startAction(i))
		}
	}
}

// fastForward moves the target to the furthest passed car with no failure
// ahead of it: its commit was tested as one tree with every car ahead.
func (p *planner) fastForward() {
	if p.t.Pending != nil || p.t.TargetHead == "" {
		return
	}
	last := -1
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.State == StateFailed || c.Commit == "" {
			break
		}
		if c.State == StatePassed {
			last = i
		}
	}
	if last < 0 {
		return
	}
	ff := &FastForward{To: p.t.Cars[last].Commit, Expected: p.t.TargetHead, MRs: p.chain(last)}
	p.t.Pending = ff
	p.emit(FastForwardTarget{To: ff.To, Expected: ff.Expected, MRs: slices.Clone(ff.MRs)})
}

// buildCars asks for the speculative commit of every queued car inside the
// window whose base is known.
func (p *planner) buildCars() {
	if p.t.TargetHead == "" {
		return
	}
	window := min(len(p.t.Cars), p.t.Settings.MaxParallel)
	for i := range window {
		c := &p.t.Cars[i]
		if c.State != StateQueued {
			continue
		}
		base := p.expectedBase(i)
		if base == "" {
			continue
		}
		c.State = StateBuilding
		c.Base = base
		c.Builds++
		p.emit(p.buildAction(c))
	}
}

// chain lists the MRs whose changes car i's commit carries, front first.
func (p *planner) chain(i int) []int64 {
	var mrs []int64
	for j := 0; j <= i; j++ {
		if c := &p.t.Cars[j]; c.State != StateFailed || j == i {
			mrs = append(mrs, c.MR)
		}
	}
	return mrs
}

func (p *planner) buildAction(c *Car) BuildCar {
	return BuildCar{MR: c.MR, Base: c.Base, HeadSHA: c.HeadSHA, Method: p.t.method(c),
		Title: c.Title, Source: c.Source, Build: c.Builds, At: c.AddedAt}
}

func (p *planner) startAction(i int) StartPipeline {
	c := &p.t.Cars[i]
	return StartPipeline{MR: c.MR, Commit: c.Commit, MRs: p.chain(i)}
}
