package train

import (
	"slices"
	"strconv"
	"time"
)

// Plan applies one observation to a train and returns the new train and the
// actions that bring the world in line with it. It never modifies t.
//
// Plan is level-triggered: after recording the observation it re-derives
// everything from the state (which cars are stale, which failures are
// final, how far the target may move, which cars may be built), so a lost
// or repeated observation costs time, never correctness.
func Plan(t Train, obs Observation, now time.Time) (Train, []Action) {
	return Apply(t.Clone(), obs, now)
}

// Apply is Plan for a caller that gives t up: it plans on t itself rather
// than on a copy, which spares copying a long train for every observation
// (the simulator's hot path). t must not be used afterwards.
func Apply(t Train, obs Observation, now time.Time) (Train, []Action) {
	p := &planner{t: t, now: now}
	p.t.Settings = p.t.Settings.WithDefaults()
	if p.t.Cars == nil {
		p.t.Cars = []Car{}
	}
	p.observe(obs)
	p.reconcile()
	switch {
	case !p.t.Idle():
		p.t.IdleSince = time.Time{}
	case p.t.IdleSince.IsZero():
		p.t.IdleSince = now
	}
	return p.t, p.actions
}

type planner struct {
	t       Train
	now     time.Time
	actions []Action
}

func (p *planner) emit(a ...Action) { p.actions = append(p.actions, a...) }

// frozen reports whether mr is part of a fast-forward in flight: its fate is
// decided by that push's result, so nothing else may change it meanwhile.
func (p *planner) frozen(mr int64) bool {
	return p.t.Pending != nil && slices.Contains(p.t.Pending.MRs, mr)
}

// maxHandled bounds the command ids a train remembers: far more than
// can be in flight at once.
const maxHandled = 256

// seen records a command's event id and reports whether it was applied
// before. Commands without an id are always applied.
func (p *planner) seen(event string) bool {
	if event == "" {
		return false
	}
	if slices.Contains(p.t.Handled, event) {
		return true
	}
	p.t.Handled = append(p.t.Handled, event)
	if n := len(p.t.Handled) - maxHandled; n > 0 {
		p.t.Handled = slices.Delete(p.t.Handled, 0, n)
	}
	return false
}

func (p *planner) observe(obs Observation) {
	switch o := obs.(type) {
	case Added:
		if p.seen(o.Event) {
			return
		}
	case Retried:
		if p.seen(o.Event) {
			return
		}
	case Removed:
		if p.seen(o.Event) {
			return
		}
	}
	switch o := obs.(type) {
	case Added:
		p.add(o)
	case Retried:
		p.retry(o)
	case Removed:
		p.remove(o)
	case Paused:
		p.setPaused(true, actor(o.By, o.Via))
	case Resumed:
		p.setPaused(false, actor(o.By, o.Via))
	case Froze:
		p.freeze(o)
	case Unfroze:
		p.unfreeze(o)
	case Drain:
		p.drain(o)
	case RepoFileRead:
		p.repoFileRead(o)
	case LanesFound:
		p.lanesFound(o)
	case HeadChanged:
		p.headChanged(o)
	case Closed:
		p.closed(o)
	case Retargeted:
		p.retargeted(o)
	case RulesUnmet:
		p.rulesUnmet(o)
	case Built:
		p.built(o)
	case PipelineCreated:
		p.pipelineCreated(o)
	case PipelineStatus:
		p.pipelineStatus(o)
	case PipelineFound:
		p.pipelineFound(o)
	case PipelineRefused:
		if i := p.t.Index(o.MR); i >= 0 && !p.frozen(o.MR) && p.t.Cars[i].State == StateStarting && p.t.Cars[i].Commit == o.SHA {
			p.evict(i, Reason{Code: ReasonPipelineRefused, Commit: o.SHA, Detail: Words(msgPipelineRefused(o.Reason))})
		}
	case TargetHead:
		p.targetHead(o)
	case FastForwarded:
		p.fastForwarded(o)
	case Resync:
		p.resync()
	case LanePassed:
		p.lanePassed(o)
	case LaneLeft:
		p.laneLeft(o)
	case LaneStale:
		p.t.ResetDue = true
	case LaneLost:
		p.laneLost(o)
	case Tick:
		// Time passing is handled by reconcile, but for strays.
		p.t.Strays = slices.DeleteFunc(p.t.Strays, func(s Stray) bool { return p.now.Sub(s.Pushed) > StrayWindow })
	}
}

func (p *planner) add(o Added) {
	if o.MR <= 0 || o.HeadSHA == "" {
		return
	}
	if i := p.t.Index(o.MR); i >= 0 {
		p.reply(o.MR, o.Event, msgAlreadyOnTrain(p.t.Branch, i+1))
		return
	}
	if p.t.Draining {
		p.reply(o.MR, o.Event, msgDraining(p.t.Branch))
		return
	}
	if k := p.t.InLanesIndex(o.MR); k >= 0 {
		p.reply(o.MR, o.Event, msgAlreadyInLanes(p.t.Branch, p.t.InLanes[k]))
		return
	}
	if p.laned(o) {
		p.toLanes(o)
		return
	}
	var missing []string
	behind := 0 // a car goes behind what it depends on
	for _, d := range o.DependsOn {
		if j := p.t.Index(d.MR); j < 0 {
			missing = append(missing, d.Label)
		} else {
			behind = max(behind, j+1)
		}
	}
	if len(missing) > 0 {
		p.reply(o.MR, o.Event, msgDependsOnMissing(p.t.Branch, missing))
		return
	}
	p.enter(o, behind)
}

// enter puts the MR of o on the train as a car, behind the first behind
// cars at least.
func (p *planner) enter(o Added, behind int) {
	prio := o.Priority
	if !prio.Valid() {
		prio = PriorityNormal
	}
	car := Car{
		MR: o.MR, HeadSHA: o.HeadSHA, Title: o.Title, Source: o.Source,
		AddedBy: o.By, AddedVia: o.Via, AddedAt: p.now, Priority: prio, Method: o.Method,
		State: StateQueued, DependsOn: slices.Clone(o.DependsOn), Stacked: o.Stacked,
	}
	at := len(p.t.Cars)
	switch prio {
	case PriorityHigh:
		// Behind the cars already marked high, ahead of everything else,
		// but never ahead of a car whose merge is in flight.
		at = 0
		for i, c := range p.t.Cars {
			if c.Priority == PriorityHigh || p.frozen(c.MR) {
				at = i + 1
			}
		}
	case PriorityUrgent:
		at = p.untested()
	}
	at = max(at, behind)
	p.t.Cars = slices.Insert(p.t.Cars, at, car)
	// The answer is the MR's status comment, which then follows the car.
	p.emit(Status{MR: o.MR, HeadSHA: o.HeadSHA, Source: o.Source, Phase: PhaseQueued,
		Added: Words(msgAdded(p.t.Branch, at+1, p.estimate(at, o.Estimate)))})
}

// untested is where the cars not yet under test start: behind every car
// that has a pipeline (or rides in a batch that has one), is being
// bisected, is merging, or is urgent itself. An urgent car put there
// changes the base of no pipeline.
func (p *planner) untested() int {
	at := 0
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		if c.hasPipeline() || c.Suspect != 0 || p.frozen(c.MR) || c.Priority == PriorityUrgent || c.Witness != nil {
			at = i + 1
		}
	}
	return at
}

func (p *planner) retry(o Retried) {
	c := p.t.Car(o.MR)
	if c == nil {
		p.add(o.Added)
		return
	}
	if p.frozen(o.MR) {
		p.reply(o.MR, o.Event, msgBeingMerged(p.t.Branch))
		return
	}
	if p.retestInPlace(p.t.Index(o.MR)) {
		p.reply(o.MR, o.Event, msgRetesting(p.t.Branch))
		return
	}
	p.reset(c)
	c.Suspect = 0
	p.reply(o.MR, o.Event, msgRetrying(p.t.Branch))
}

// reachHolds reports whether the main line stays within the pipelines
// the train may run when car i, passed or failed, is tested again: the
// cars behind it were built while it counted as settled. Every car from
// the last settled one ahead of it counts, the ones riding on its
// pipeline or still under test ahead of it included.
func (p *planner) reachHolds(i int) bool {
	reach := p.t.Settings.MaxParallel * p.t.Settings.batchCeiling()
	from := 0
	for j := i - 1; j >= 0; j-- {
		if c := &p.t.Cars[j]; c.Suspect == 0 && (c.State == StatePassed || c.State == StateFailed || p.frozen(c.MR)) {
			from = j + 1
			break
		}
	}
	line := 0
	for j := from; j < len(p.t.Cars); j++ {
		if c := &p.t.Cars[j]; c.Suspect == 0 && c.State != StateQueued {
			line++
		}
	}
	return line <= reach
}

// retestInPlace starts a new pipeline on car i's commit when that commit
// still sits where it should: the cars behind were built on it and keep
// their pipelines, since nothing they test changes. A car that never had
// a pipeline of its own (it rode in a batch), a suspect (the retry puts it
// back on the main line, onto another base) or a detached one is rebuilt
// instead.
func (p *planner) retestInPlace(i int) bool {
	c := &p.t.Cars[i]
	if c.Commit == "" || c.Attempts == 0 || c.Suspect != 0 || c.Detached || c.State == StateBuilding ||
		c.Base != p.expectedBase(i) {
		return false
	}
	if !c.inFlight() && !p.reachHolds(i) {
		return false
	}
	if c.inFlight() && c.Pipeline != 0 && p.findWitness(c.Pipeline, c.Commit) == nil {
		p.emit(CancelPipeline{MR: c.MR, Pipeline: c.Pipeline})
		ended(c, c.Pipeline, PipelineCanceled)
	}
	if c.Witness != nil {
		p.dropWitness(c)
	}
	c.Reason, c.Retested = nil, false
	// Attempts stays above zero, so the new pipeline is owed at once
	// (startOwed) rather than waiting for a batch.
	p.toBuilt(c)
	return true
}

func (p *planner) remove(o Removed) {
	i := p.t.Index(o.MR)
	switch {
	case i < 0 && p.t.InLanesIndex(o.MR) >= 0:
		p.leaveLanes(p.t.InLanesIndex(o.MR), "", Reason{Code: ReasonRemoved, Detail: Words(msgRemovedBy(o.By, o.Via))}, replyKey(o.MR, o.Event, p.now))
	case i < 0:
		p.reply(o.MR, o.Event, msgNotOnTrain(p.t.Branch))
	case p.frozen(o.MR):
		p.reply(o.MR, o.Event, msgBeingMerged(p.t.Branch))
	default:
		// The eviction note is the reply: a repeat of the command finds it
		// posted and says nothing more.
		p.evictKeyed(i, Reason{Code: ReasonRemoved, Detail: Words(msgRemovedBy(o.By, o.Via))}, replyKey(o.MR, o.Event, p.now))
	}
}

func (p *planner) setPaused(paused bool, by string) {
	if p.t.Paused == paused {
		return
	}
	p.t.Paused = paused
	kind := NotifyResumed
	if paused {
		kind = NotifyPaused
	}
	p.emit(Notify{Kind: kind, Key: string(kind) + ":" + p.now.UTC().Format(time.RFC3339Nano), By: by})
}

func (p *planner) freeze(o Froze) {
	h := Hold{Kind: HoldFrozen, Reason: o.Reason, By: actor(o.By, o.Via)}
	if p.t.Frozen != nil && *p.t.Frozen == h {
		return
	}
	p.t.Frozen = &h
	p.emit(Notify{Kind: NotifyFrozen, Key: string(NotifyFrozen) + ":" + p.now.UTC().Format(time.RFC3339Nano), By: h.By, Reason: o.Reason})
}

func (p *planner) unfreeze(o Unfroze) {
	if p.t.Frozen == nil {
		return
	}
	p.t.Frozen = nil
	p.emit(Notify{Kind: NotifyUnfrozen, Key: string(NotifyUnfrozen) + ":" + p.now.UTC().Format(time.RFC3339Nano), By: actor(o.By, o.Via)})
}

func (p *planner) lanesFound(o LanesFound) {
	i := p.t.Index(o.MR)
	if i < 0 || p.t.Cars[i].HeadSHA != o.HeadSHA {
		return
	}
	p.t.Cars[i].Lanes, p.t.Cars[i].LanesOf = slices.Clone(o.Lanes), o.Of
}

func (p *planner) repoFileRead(o RepoFileRead) {
	c := o.Config
	p.t.Repo = &c
	if o.Settings.MaxParallel > 0 {
		p.t.Settings = o.Settings.WithDefaults()
	}
	if c.Error == "" || c.MR == 0 {
		return
	}
	p.emit(Comment{MR: c.MR, Key: "repo-file:" + c.Commit, Body: Words(msgRepoFileRefused(o.Name, p.t.Branch, c.Commit, c.Error))})
}

func (p *planner) drain(o Drain) {
	if p.t.Draining == o.On {
		return
	}
	p.t.Draining = o.On
	kind := NotifyUndrained
	if o.On {
		kind = NotifyDraining
	}
	p.emit(Notify{Kind: kind, Key: string(kind) + ":" + p.now.UTC().Format(time.RFC3339Nano), By: actor(o.By, o.Via)})
}

// The news about a frozen car waits for its fast-forward: if the push
// lands the car is merged as tested, if not the news is acted on then.
// Dropping it instead would leave it to the next sweep to notice.

func (p *planner) headChanged(o HeadChanged) {
	i := p.t.Index(o.MR)
	if i < 0 && o.HeadSHA != "" {
		if k := p.t.InLanesIndex(o.MR); k >= 0 && p.t.InLanes[k].Add.HeadSHA != o.HeadSHA {
			p.laneNews(k, Reason{Code: ReasonNewCommits, Detail: Words(msgNewCommits(p.t.InLanes[k].Add.HeadSHA, o.HeadSHA)), Commit: o.HeadSHA})
		}
		return
	}
	if i < 0 || o.HeadSHA == "" || p.t.Cars[i].HeadSHA == o.HeadSHA {
		return
	}
	if p.frozen(o.MR) {
		p.news(i).HeadSHA = o.HeadSHA
		return
	}
	p.evict(i, Reason{Code: ReasonNewCommits, Detail: Words(msgNewCommits(p.t.Cars[i].HeadSHA, o.HeadSHA)), Commit: o.HeadSHA})
}

func (p *planner) closed(o Closed) {
	i := p.t.Index(o.MR)
	r := Reason{Code: ReasonClosed, Detail: Words("the merge request was closed")}
	if o.Merged {
		r = Reason{Code: ReasonMergedOutside, Detail: Words("the merge request was merged outside the train")}
	}
	if i < 0 {
		if k := p.t.InLanesIndex(o.MR); k >= 0 {
			p.laneNews(k, r)
		}
		return
	}
	if p.frozen(o.MR) {
		n := p.news(i)
		n.Closed, n.Merged = true, o.Merged
		return
	}
	p.evict(i, r)
}

func (p *planner) rulesUnmet(o RulesUnmet) {
	i := p.t.Index(o.MR)
	if i < 0 || o.Message == "" {
		return
	}
	if p.frozen(o.MR) {
		p.news(i).Rules = o.Message
		return
	}
	p.evict(i, Reason{Code: ReasonMergeRules, Detail: Words(msgRulesUnmet(o.Message))})
}

func (p *planner) retargeted(o Retargeted) {
	i := p.t.Index(o.MR)
	if i < 0 && o.Branch != p.t.Branch {
		if k := p.t.InLanesIndex(o.MR); k >= 0 {
			p.laneNews(k, Reason{Code: ReasonRetargeted, Detail: Words("its target branch changed to " + Quote(o.Branch))})
		}
		return
	}
	if i < 0 || o.Branch == p.t.Branch || (o.Branch != "" && o.Branch == p.t.Cars[i].Stacked) {
		return
	}
	if p.frozen(o.MR) {
		p.news(i).Branch = o.Branch
		return
	}
	p.evict(i, Reason{Code: ReasonRetargeted, Detail: Words("its target branch changed to " + Quote(o.Branch))})
}

func (p *planner) news(i int) *News {
	c := &p.t.Cars[i]
	if c.News == nil {
		c.News = &News{}
	}
	return c.News
}

// heedNews acts on what happened to the cars of a fast-forward that did
// not land, as it would have when it happened.
func (p *planner) heedNews(mrs []int64) {
	for _, mr := range mrs {
		c := p.t.Car(mr)
		if c == nil || c.News == nil {
			continue
		}
		n := *c.News
		c.News = nil
		switch {
		case n.Closed:
			p.closed(Closed{MR: mr, Merged: n.Merged})
		case n.HeadSHA != "":
			p.headChanged(HeadChanged{MR: mr, HeadSHA: n.HeadSHA})
		case n.Branch != "":
			p.retargeted(Retargeted{MR: mr, Branch: n.Branch})
		case n.Rules != "":
			p.rulesUnmet(RulesUnmet{MR: mr, Message: n.Rules})
		}
	}
}

func (p *planner) built(o Built) {
	i := p.t.Index(o.MR)
	if i < 0 {
		return
	}
	c := &p.t.Cars[i]
	if c.State != StateBuilding || c.Base != o.Base || c.HeadSHA != o.HeadSHA {
		return // a build for a base the car no longer sits on
	}
	switch {
	case len(o.Conflict) > 0:
		paths := slices.Clone(o.Conflict)
		slices.Sort(paths)
		paths = slices.Compact(paths)
		p.evict(i, Reason{Code: ReasonConflict, Detail: Words(msgConflict(p.t.Branch, i == 0, paths)), Paths: paths, Base: o.Base})
	case o.Error != "" || o.Commit == "":
		msg := o.Error
		if msg == "" {
			msg = "the build produced no commit"
		}
		p.evict(i, Reason{Code: ReasonBuildFailed, Detail: Words("the speculative commit could not be built: " + msg)})
	default:
		c.Commit = o.Commit
		c.PushedAt = time.Time{}
		if o.OnPush {
			c.PushedAt = p.now
		}
		p.mark(c, Mark{Kind: MarkBuilt, Commit: o.Commit, Base: o.Base})
		p.toBuilt(c)
	}
}

// mark adds a step to the car's trail, dropping the oldest past MaxTrail.
func (p *planner) mark(c *Car, m Mark) {
	m.At = p.now
	if len(c.Trail) >= MaxTrail {
		c.Trail = slices.Delete(c.Trail, 0, len(c.Trail)-MaxTrail+1)
	}
	c.Trail = append(c.Trail, m)
}

// ended records how the car's pipeline ended on its trail.
func ended(c *Car, pipeline int64, status PipelineState) {
	for i := len(c.Trail) - 1; i >= 0; i-- {
		if m := &c.Trail[i]; m.Kind == MarkPipeline && m.Pipeline == pipeline && m.Commit == c.Commit {
			if m.Status == "" {
				m.Status = status
			}
			return
		}
	}
}

// toBuilt puts a car back to waiting for a pipeline on its commit: a new
// build, a retry, or a suspect's own test. What it knew of its last
// pipeline goes: the next one may have the same id (on GitHub, checks on
// the same commit), and must still be taken as new.
func (p *planner) toBuilt(c *Car) {
	c.State = StateBuilt
	c.Pipeline = 0
	c.PipelineStartedAt = time.Time{}
}

// pipelineCreated takes the pipeline of a car that waits for one on that
// commit, whatever its id: a car waiting for a pipeline has none, and the
// forge may give the new one the id of the car's last (GitHub does, for
// checks on the same commit).
func (p *planner) pipelineCreated(o PipelineCreated) {
	c := p.t.Car(o.MR)
	if c == nil || c.State != StateStarting || c.Commit != o.SHA {
		if c == nil || c.Pipeline != o.Pipeline {
			// Nobody waits for this pipeline any more.
			p.emit(CancelPipeline{MR: o.MR, Pipeline: o.Pipeline})
		}
		return // or seen before
	}
	c.State = StateRunning
	c.Pipeline = o.Pipeline
	c.PipelineStartedAt = p.now
	c.Attempts++
	p.mark(c, Mark{Kind: MarkPipeline, Pipeline: o.Pipeline, Commit: o.SHA})
	c.Retested = c.Suspect != 0
	p.emit(Status{MR: c.MR, HeadSHA: c.HeadSHA, Source: c.Source, Phase: PhaseTesting})
}

// pipelineFound takes a pipeline a push started as the car's when the car
// waits for one on that commit, or is built on it and may start now (a
// pipeline is free and none behind carries it), and it tests the MRs the
// car's commit carries. One the train does not know that still runs on
// the branch of a car on the train is nobody's (a second pipeline for a
// commit whose car has one already, or one for a commit the car has
// left) and is cancelled. A skipped one (the commit's message asks CI
// to skip pushes) is replaced by one asked for at once. Anything else is
// news of a pipeline the train knows, or of one that ended, and is left
// to pipelineStatus.
func (p *planner) pipelineFound(o PipelineFound) {
	i := p.t.Index(o.MR)
	var c *Car
	if i >= 0 {
		c = &p.t.Cars[i]
	}
	// The cars ahead that merged since the push have left the chain: it
	// ends the MRs the pipeline was told.
	waiting := c != nil && (c.State == StateStarting || c.State == StateBuilt && p.mayStart(i)) &&
		c.Commit == o.SHA && endsWith(o.MRs, p.chain(i))
	known := p.findWitness(o.Pipeline, o.SHA) != nil || c != nil && (c.Pipeline == o.Pipeline && c.Commit == o.SHA || c.hadPipeline(o.Pipeline))
	if k := p.stray(o.MR, o.SHA); k >= 0 {
		p.t.Strays = slices.Delete(p.t.Strays, k, k+1)
		if !known && !waiting {
			// Its car moved on before the pipeline was seen: its result
			// is nobody's.
			if !o.Status.Done() {
				p.emit(CancelPipeline{MR: o.MR, Pipeline: o.Pipeline})
			}
			return
		}
	}
	switch {
	case known:
	case waiting && o.Status == PipelineSkipped && c.State == StateStarting:
		a := p.startAction(i)
		a.Again = true
		p.emit(a)
		return
	case waiting && o.Status != PipelineCanceled && o.Status != PipelineSkipped:
		// A car built to start at once may still wait for a free
		// pipeline when its push's pipeline is found: that pipeline runs
		// anyway, and its result is the car's.
		c.State = StateStarting
		p.pipelineCreated(PipelineCreated{MR: o.MR, SHA: o.SHA, Pipeline: o.Pipeline})
	case c != nil && !o.Status.Done():
		// Not for an MR off the train: webhooks come out of order, and
		// a pipeline's "running" may follow the merge it passed.
		p.emit(CancelPipeline{MR: o.MR, Pipeline: o.Pipeline})
		return
	}
	p.pipelineStatus(PipelineStatus{Pipeline: o.Pipeline, SHA: o.SHA, Status: o.Status})
}

// abandon notes a car leaving its commit (rebuilt, gone or merged)
// while the pipeline its push starts has not been seen: that pipeline,
// once found, is cancelled.
func (p *planner) abandon(c *Car) {
	if c.PushedAt.IsZero() || c.Pipeline != 0 || c.Commit == "" || p.stray(c.MR, c.Commit) >= 0 {
		return
	}
	p.t.Strays = append(p.t.Strays, Stray{MR: c.MR, Commit: c.Commit, Pushed: c.PushedAt})
	if n := len(p.t.Strays) - MaxStrays; n > 0 {
		p.t.Strays = slices.Delete(p.t.Strays, 0, n)
	}
}

// stray returns the index of the stray of mr at commit, or -1.
func (p *planner) stray(mr int64, commit string) int {
	return slices.IndexFunc(p.t.Strays, func(s Stray) bool { return s.MR == mr && s.Commit == commit })
}

// mayStart reports whether built car i may have a pipeline of its own
// now: a pipeline is free, and no pipeline running behind it carries it
// already (it rides in a batch).
func (p *planner) mayStart(i int) bool {
	if p.free(p.t.Cars[i].Suspect != 0) <= 0 {
		return false
	}
	mr := p.t.Cars[i].MR
	for j := i + 1; j < len(p.t.Cars); j++ {
		if p.t.Cars[j].inFlight() && slices.Contains(p.chain(j), mr) {
			return false
		}
	}
	return true
}

// endsWith reports whether list ends with tail.
func endsWith(list, tail []int64) bool {
	return len(tail) <= len(list) && slices.Equal(list[len(list)-len(tail):], tail)
}

// hadPipeline reports whether the car's trail shows pipeline id: one it
// took before, for this commit or an earlier one.
func (c *Car) hadPipeline(id int64) bool {
	for _, m := range c.Trail {
		if m.Kind == MarkPipeline && m.Pipeline == id {
			return true
		}
	}
	return false
}

func (p *planner) pipelineStatus(o PipelineStatus) {
	if w := p.findWitness(o.Pipeline, o.SHA); w != nil && w.Status == "" && o.Status.Done() {
		w.Status = o.Status
		return
	}
	c := p.findPipeline(o.Pipeline, o.SHA)
	if c == nil || c.State != StateRunning || !o.Status.Done() {
		return
	}
	ended(c, o.Pipeline, o.Status)
	if o.Status == PipelineSuccess {
		c.State = StatePassed
		return
	}
	if c.Suspect == 0 && c.Attempts <= p.t.Settings.Retries {
		p.toBuilt(c) // reconcile starts the next attempt
		return
	}
	c.State = StateFailed
	msg := msgPipelineFailed(o.Pipeline, o.Status, c.Attempts)
	if c.Suspect > 0 {
		msg = msgBisectFailed(msg, c.Suspect)
	}
	c.Reason = &Reason{Code: ReasonPipelineFailed, Pipeline: o.Pipeline, Commit: o.SHA, Detail: msg}
}

func (p *planner) findPipeline(id int64, sha string) *Car {
	for i := range p.t.Cars {
		if c := &p.t.Cars[i]; c.Pipeline == id && c.Commit == sha {
			return c
		}
	}
	return nil
}

func (p *planner) targetHead(o TargetHead) {
	if o.SHA == "" || o.SHA == p.t.TargetHead {
		return
	}
	if p.t.Pending != nil && o.SHA == p.t.Pending.To {
		p.fastForwarded(FastForwarded{To: o.SHA})
		return
	}
	if p.landedVia(o.SHA, nil) {
		return
	}
	p.t.TargetHead = o.SHA
}

func (p *planner) fastForwarded(o FastForwarded) {
	ff := p.t.Pending
	if ff == nil {
		return
	}
	if o.To != ff.To {
		// The result of a move the pending one took over: if it landed,
		// so did the cars up to it.
		if !o.Rejected {
			p.landedVia(o.To, o.Deleted)
		}
		return
	}
	if o.Rejected && o.Expected != "" && o.Expected != ff.Expected && o.Head != ff.To {
		// A refusal of an earlier attempt at this move, replayed or
		// late: the attempt that replaced it, from the head the train
		// knows now, may still land, so dropping the move here would
		// leave a push the train no longer counts on. (One that found
		// the target at the move's commit says it landed.)
		return
	}
	if o.Rejected && o.Head != ff.To {
		p.landedVia(o.Head, nil)
		p.t.Pending = nil
		if o.Head != "" {
			p.t.TargetHead = o.Head
		}
		p.heedNews(ff.MRs)
		return
	}
	p.t.Pending = nil
	if p.t.TargetHead == ff.Expected || slices.Contains(ff.Via, p.t.TargetHead) {
		p.t.TargetHead = ff.To
	}
	p.mergeLanded(ff, o.Deleted)
}

// mergeLanded merges the cars of a fast-forward that landed; the push
// deleted the car branches of the MRs in deleted.
func (p *planner) mergeLanded(ff *FastForward, deleted []int64) {
	landed := []string{ff.Expected}
	for _, mr := range ff.MRs {
		if c := p.t.Car(mr); c != nil {
			landed = append(landed, c.Commit)
		}
	}
	p.merge(ff, deleted)
	p.detach(landed)
}

// landedVia reports whether sha is the commit of a move the pending
// fast-forward took over, and if so records that it landed: the cars up
// to it merge now, the rest still wait for the pending push, and the
// train's head moves there unless it is further already.
func (p *planner) landedVia(sha string, deleted []int64) bool {
	ff := p.t.Pending
	if ff == nil {
		return false
	}
	at := slices.Index(ff.Via, sha)
	if at < 0 {
		return false
	}
	if h := slices.Index(ff.Via, p.t.TargetHead); p.t.TargetHead == ff.Expected || (h >= 0 && h < at) {
		p.t.TargetHead = sha
	}
	n := slices.IndexFunc(ff.MRs, func(mr int64) bool {
		c := p.t.Car(mr)
		return c != nil && c.Commit == sha
	})
	if n < 0 {
		return true // merged already
	}
	p.mergeLanded(&FastForward{To: sha, Expected: ff.Expected, MRs: slices.Clone(ff.MRs[:n+1])}, deleted)
	ff.MRs = slices.Delete(ff.MRs, 0, n+1)
	return true
}

// merge takes the cars of a completed fast-forward off the train; the
// push deleted the car branches of the MRs in deleted.
func (p *planner) merge(ff *FastForward, deleted []int64) {
	var merged []Car
	var pipeline int64
	for _, mr := range ff.MRs {
		i := p.t.Index(mr)
		if i < 0 {
			continue
		}
		c := p.t.Cars[i]
		if c.Commit == ff.To {
			pipeline = c.Pipeline
		}
		merged = append(merged, c)
		p.t.Cars = slices.Delete(p.t.Cars, i, i+1)
	}
	for i := range merged {
		c := &merged[i]
		p.abandon(c)
		if c.Pipeline != 0 && c.State != StatePassed && c.State != StateFailed {
			// Its own result no longer matters: a later car's commit,
			// which contains it, passed.
			p.emit(CancelPipeline{MR: c.MR, Pipeline: c.Pipeline})
		}
		c.State = StateMerged
		c.LeftAt = p.now
		msg := msgMerged(p.t.Branch, ff.To, pipeline)
		if c.News != nil && c.News.HeadSHA != "" {
			msg = Join(msg, " "+msgLeftOut(c.News.HeadSHA))
		}
		c.Reason = &Reason{Code: ReasonMerged, Pipeline: pipeline, Commit: ff.To, Message: msg}
		if !slices.Contains(deleted, c.MR) {
			p.emit(DeleteCarRef{MR: c.MR})
		}
		// The forge announces the merge itself: the status comment gets
		// the outcome, with no note of its own.
		p.emit(
			Status{MR: c.MR, HeadSHA: c.HeadSHA, Source: c.Source, Phase: PhaseMerged, Outcome: c.Reason.Message},
			Record{Car: c.clone()},
		)
		// The forge sees an MR merged when its head reaches its target:
		// never for a squash or a rebase, nor for a stacked MR, whose
		// target is another MR's branch. The train closes those.
		if p.t.method(c) != MethodMerge || c.Stacked != "" {
			p.emit(CloseMR{MR: c.MR, Commit: ff.To})
		}
	}
	if len(merged) > 0 {
		p.emit(Notify{Kind: NotifyMerged, Key: "merged:" + ff.To, Cars: merged, Commit: ff.To})
		p.growWindow(len(merged))
		p.mergedBatch(len(merged))
	}
}

func (p *planner) resync() {
	if p.t.Pending != nil {
		p.emit(FastForwardTarget{To: p.t.Pending.To, Expected: p.t.Pending.Expected, MRs: slices.Clone(p.t.Pending.MRs)})
	}
	for i := range p.t.Cars {
		c := &p.t.Cars[i]
		switch c.State {
		case StateBuilding:
			p.emit(p.buildAction(i))
		case StateStarting:
			p.emit(p.startAction(i))
		}
	}
}

// evict takes car i off the train for reason r.
func (p *planner) evict(i int, r Reason) {
	c := p.t.Cars[i]
	p.evictKeyed(i, r, "evicted:"+string(r.Code)+":"+strconv.Itoa(c.Builds)+":"+c.AddedAt.UTC().Format(time.RFC3339Nano))
}

// evictKeyed evicts car i, telling its MR under key.
func (p *planner) evictKeyed(i int, r Reason, key string) {
	c := p.t.Cars[i]
	p.t.Cars = slices.Delete(p.t.Cars, i, i+1)
	p.abandon(&c)
	if c.Laned {
		p.staleLanes(c.MR, c.Lanes)
	}
	if c.Pipeline != 0 && (c.State == StateRunning) {
		p.emit(CancelPipeline{MR: c.MR, Pipeline: c.Pipeline})
	}
	if c.Witness != nil {
		p.dropWitness(&c)
	}
	if c.Builds > 0 {
		p.emit(DeleteCarRef{MR: c.MR})
	}
	defer func() { p.evictDependents(c) }()
	c = p.depart(c, r, key)
}

// depart tells car c's MR, the chat and the history that it left the
// train unmerged, for r, under key, and returns it as it left.
func (p *planner) depart(c Car, r Reason, key string) Car {
	c.State = StateEvicted
	c.LeftAt = p.now
	r.Message = msgEvicted(p.t.Branch, r.Detail)
	c.Reason = &r
	phase := PhaseEvicted
	if r.Code == ReasonRemoved {
		phase = PhaseRemoved
	}
	// An eviction asks something of the author: it gets a note of its
	// own, which notifies, besides the outcome in the status comment.
	p.emit(
		Comment{MR: c.MR, Key: key, Body: r.Message},
		Status{MR: c.MR, HeadSHA: c.HeadSHA, Source: c.Source, Phase: phase, Outcome: r.Message},
		Notify{Kind: NotifyEvicted, Key: key, Cars: []Car{c.clone()}},
		Record{Car: c.clone()},
	)
	return c
}

// evictDependents evicts the cars that depend on gone, which left the
// train unmerged, and theirs in turn.
func (p *planner) evictDependents(gone Car) {
	for {
		i := slices.IndexFunc(p.t.Cars, func(c Car) bool {
			return slices.ContainsFunc(c.DependsOn, func(d Dep) bool { return d.MR == gone.MR })
		})
		if i < 0 || p.frozen(p.t.Cars[i].MR) {
			return
		}
		label := ""
		for _, d := range p.t.Cars[i].DependsOn {
			if d.MR == gone.MR {
				label = d.Label
			}
		}
		p.evict(i, Reason{Code: ReasonDependency, Detail: Join(msgDependencyLeft(label), gone.Reason.Why())})
	}
}

// carriesDeps reports whether a move to car last's commit carries every
// MR on the train that the cars it merges depend on: a dependent MR
// never merges without its dependencies (a dependency being bisected is
// off the line the car was built on).
func (p *planner) carriesDeps(last int) bool {
	if !slices.ContainsFunc(p.t.Cars, func(c Car) bool { return len(c.DependsOn) > 0 }) {
		return true // the common case, without walking the chain
	}
	chain := p.chain(last)
	for _, mr := range chain {
		for _, d := range p.t.Car(mr).DependsOn {
			if p.t.Index(d.MR) >= 0 && !slices.Contains(chain, d.MR) {
				return false
			}
		}
	}
	return true
}

// reset returns a car to the queue, abandoning its build and pipeline
// (a pipeline kept as a witness runs on).
func (p *planner) reset(c *Car) {
	p.abandon(c)
	if c.State == StateRunning && c.Pipeline != 0 && p.findWitness(c.Pipeline, c.Commit) == nil {
		p.emit(CancelPipeline{MR: c.MR, Pipeline: c.Pipeline})
		ended(c, c.Pipeline, PipelineCanceled)
	}
	if c.Witness != nil {
		p.dropWitness(c)
	}
	c.State = StateQueued
	c.Base, c.Commit = "", ""
	c.Pipeline, c.Attempts = 0, 0
	c.PipelineStartedAt, c.PushedAt = time.Time{}, time.Time{}
	c.Reason = nil
	c.Detached, c.Retested = false, false
}

// estimate is the expected time until the car at position i merges: the
// cars are tested a window at a time, each window taking about one
// pipeline duration.
func (p *planner) estimate(i int, perWindow time.Duration) time.Duration {
	if perWindow <= 0 {
		return 0
	}
	return time.Duration(p.t.Settings.Window(i)+1) * perWindow
}

func (p *planner) reply(mr int64, event, body string) {
	p.emit(Comment{MR: mr, Key: replyKey(mr, event, p.now), Body: Words(body)})
}

// replyKey names the answer to a command: one per command event.
func replyKey(mr int64, event string, now time.Time) string {
	if event == "" {
		return "reply:" + strconv.FormatInt(mr, 10) + ":" + now.UTC().Format(time.RFC3339Nano)
	}
	return "reply:" + event
}
