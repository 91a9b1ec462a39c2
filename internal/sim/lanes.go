package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// Lanes: the trainyard-lanes strategy models a design the engine does not
// run yet (docs/simulation.md, "Lanes"). One branch's train is split by
// path globs into K lanes; an MR touching one lane's paths is tested only
// behind that lane's cars.
//
//   - Each lane is a train.Train driven by the production planner, on a
//     virtual target of its own, the lane branch: a lane car's commit is
//     the lane branch plus the lane's cars ahead plus itself, and a lane's
//     fast-forward moves only its lane branch. A broken MR is bisected and
//     evicted within its lane; the other lanes' speculation is untouched.
//   - The integration line moves the real target. When lane branches hold
//     MRs the target lacks, it builds one integration commit, the target
//     plus every lane's new MRs, and tests it in a pipeline of its own;
//     when it passes the target moves to it, and every MR it brings counts
//     as merged then. One integration pipeline runs at a time (none is
//     built on the one in flight), and it is started once everything that
//     happened at that instant has been handled.
//   - A cross-lane MR is on two lanes' trains. It is ready for integration
//     once it passed in both, and a lane's new MRs are integrated as a
//     prefix of its branch, so the MRs behind it on a lane branch wait for
//     it too. Evicted in one lane, it is removed from the other (Removed,
//     or, if it already passed there, reverted off that lane branch: the
//     lane branch is rebuilt without it, and the lane's cars in flight are
//     rebuilt on the new head).
//   - An integration fails only by flake or by a cross-lane interaction:
//     with probability LaneConflict, an integration combining two or more
//     lanes' new MRs holds a pair of them, from lanes they do not share,
//     that fails every tree carrying both. Recovery: a failed integration
//     is tested once more (same commit); failing again, each lane's part
//     of it is integrated alone, one lane after the other, and a part that
//     fails is bisected by halves of its prefix, passing prefixes landing
//     as they pass, down to the one MR whose prefix failed twice, which is
//     evicted (and reverted off its lane branches).
//   - The pipelines: max_parallel − 1 split as evenly as possible between
//     the lanes (each at least one), and one for the integration; or,
//     with lane_pool shared, one pool of max_parallel that each lane draws
//     on before each planning step (see allot).
//
// Conflicts are kept only between MRs that share a lane: MRs of different
// lanes touch disjoint paths by construction.

// MaxLanes bounds Scenario.Lanes.
const MaxLanes = 64

// Streams of the seeded generator for lanes, apart from the MRs' and CI's:
// a scenario with lanes faces the same MRs as one without.
const (
	streamLanes        = 4
	streamLaneConflict = 5
)

// integOwner marks the integration line as the owner of a pipeline.
const integOwner = -1

// LanesResult is what trainyard-lanes did besides merging.
type LanesResult struct {
	// Lanes is the number of lanes; Windows each lane's max_parallel (the
	// integration line has one pipeline more).
	Lanes   int   `json:"lanes"`
	Windows []int `json:"windows"`
	// CrossLaneMRs is how many MRs touch two lanes.
	CrossLaneMRs int `json:"cross_lane_mrs"`
	// LanePipelines and IntegrationPipelines split the pipelines started.
	LanePipelines        int `json:"lane_pipelines"`
	IntegrationPipelines int `json:"integration_pipelines"`
	// Integrations is how many integration commits the target moved to.
	Integrations int `json:"integrations"`
	// Interactions is how many cross-lane interactions were drawn; each
	// costs one of its two MRs an eviction.
	Interactions int `json:"interactions"`
	// Reverts is how many MRs were taken back off a lane branch.
	Reverts int `json:"reverts"`
	// Pool is "shared" when the lanes draw on one pool of max_parallel
	// pipelines, and empty with static windows. With a shared pool,
	// Windows is the most pipelines each lane ran at once, and
	// PeakPipelines the most that ran at once in all, lanes and
	// integration: at most max_parallel (pipelines of urgent cars, which
	// go over the window, aside).
	Pool          string `json:"pool,omitempty"`
	PeakPipelines int    `json:"peak_pipelines,omitempty"`
}

// lane is one lane's train and its virtual branch.
type lane struct {
	idx  int
	t    train.Train
	head string // the lane branch
	// hist lists the MRs on the lane branch, oldest first, each with the
	// lane commit that added it; hist[:from] are all on the target.
	hist []laneEntry
	from int
	// held are the lane's MRs that arrived but that its planner cannot
	// reach yet (see run.feed), oldest first: indices into the population.
	held []int
	// With a shared pool: the max_parallel its last planning step had
	// (allot), and the most pipelines it ran at once.
	allowed, peak int
}

type laneEntry struct {
	mr     int64
	commit string
}

// part is one lane's share of an integration that failed twice, being
// integrated alone; hi is the shortest prefix of mrs known to fail on
// the target (0: none known).
type part struct {
	mrs []int64
	hi  int
}

// interaction is two MRs of lanes they do not share that fail together.
type interaction struct{ a, b int64 }

type laneRun struct {
	s       Scenario
	pop     population
	ci      *ciSampler
	world   *World
	stats   *tally
	res     LanesResult
	root    string
	lanes   []*lane
	mrLanes [][]int // by population index: the lanes an MR touches
	// passed counts the lanes an MR passed in (landed on the lane branch).
	passed   map[int64]int
	onTarget map[int64]bool
	// gone are MRs evicted: from one lane, or by the integration line.
	gone map[int64]bool
	// owners lists per running pipeline who waits for it: lane indices,
	// or integOwner. Lanes share a pipeline when they build the same
	// commit (a cross-lane MR first on both lanes), as the executor
	// reuses one.
	owners map[int64][]int
	// ops are removals and reverts owed to other lanes, carried out once
	// the planner call that caused them has returned.
	ops   []func()
	queue eventQueue
	now   time.Duration
	seq   uint64
	err   error

	// shared is lane_pool shared (allot); urgent holds the pipelines
	// started for urgent MRs, which the planner starts over the window.
	shared bool
	urgent map[int64]bool

	// main, with Scenario.LaneIntegration "train", is the target's train
	// in place of the integration line (newMainTrain, actMain).
	main *train.Train
	// mainPipelines are the pipelines the target's train started.
	mainPipelines []int64

	// The integration line.
	pipeline int64   // running integration pipeline, 0 when none
	commit   string  // its commit
	brings   []int64 // the MRs it brings onto the target
	// split is, for a whole integration, each contributing lane's MRs;
	// partLen is, for a part's test, the length of its prefix tested.
	split   [][]int64
	partLen int
	retest  bool // the whole integration failed once: test it again
	parts   []*part
	fails   map[string]int   // failed pipelines per integration commit
	failed  map[string]int64 // the last failed pipeline per commit
	drawn   map[string]bool  // integration commits already drawn for
	pairs   []interaction
	pairRNG *rand.Rand
}

// simulateLanes runs st's settings on st.lanes lanes and an integration
// line.
func simulateLanes(s Scenario, pop population, st Strategy) (Result, error) {
	return newLaneRun(s, pop, st, assignLanes(s, len(pop.mrs), st.lanes)).run(st.Name)
}

// assignLanes draws, on a stream of its own, the lanes each of n MRs
// touches: two distinct lanes with probability CrossLane, else one, each
// uniformly.
func assignLanes(s Scenario, n, k int) [][]int {
	rng := rand.New(rand.NewPCG(s.Seed, streamLanes))
	out := make([][]int, n)
	for i := range out {
		if rng.Float64() < s.CrossLane {
			a := rng.IntN(k)
			b := (a + 1 + rng.IntN(k-1)) % k
			out[i] = []int{min(a, b), max(a, b)}
		} else {
			out[i] = []int{rng.IntN(k)}
		}
	}
	return out
}

// newLaneRun sets up the lanes of st, mrLanes giving each MR's lanes by
// population index.
func newLaneRun(s Scenario, pop population, st Strategy, mrLanes [][]int) *laneRun {
	k := st.lanes
	r := &laneRun{
		s: s, pop: pop, ci: newCISampler(s), world: NewWorld(), stats: newTally(),
		passed: map[int64]int{}, onTarget: map[int64]bool{}, gone: map[int64]bool{},
		owners: map[int64][]int{}, fails: map[string]int{}, failed: map[string]int64{},
		drawn: map[string]bool{}, pairRNG: rand.New(rand.NewPCG(s.Seed, streamLaneConflict)),
	}
	r.root = r.world.Target
	r.res.Lanes, r.res.Windows = k, train.LaneWindows(s.MaxParallel, k)
	if s.sharedPool() {
		r.shared, r.urgent = true, map[int64]bool{}
		r.res.Pool = LanePoolShared
	}
	for _, m := range pop.mrs {
		if m.broken {
			r.world.Broken[m.id] = true
		}
	}
	r.mrLanes = mrLanes
	for _, ls := range mrLanes {
		if len(ls) > 1 {
			r.res.CrossLaneMRs++
		}
	}
	for pair, on := range pop.conflicts {
		if on && r.shareLane(pair[0], pair[1]) {
			r.world.Conflicts[pair] = true
		}
	}
	if s.UrgentFraction > 0 {
		r.stats.urgent, r.stats.urgentAs = map[int64]bool{}, string(s.urgentPriority())
		for _, m := range pop.mrs {
			if m.urgent {
				r.stats.urgent[m.id] = true
			}
		}
	}
	for i, w := range r.res.Windows {
		set := st.Settings
		set.MaxParallel, set.MinWindow = w, 0 // the floor: half the lane's window
		l := &lane{idx: i, head: r.root,
			t: train.New(train.Key{Forge: "sim", Project: "sim", Branch: fmt.Sprintf("main-lane-%d", i+1)}, set)}
		r.lanes = append(r.lanes, l)
		r.observe(l, train.TargetHead{SHA: l.head})
	}
	if s.trainIntegration() {
		r.main = newMainTrain(st.Settings, k, r.world.Target)
	}
	if len(pop.mrs) > 0 {
		r.schedule(event{at: pop.mrs[0].at, kind: evArrival})
	}
	return r
}

// run runs the simulation to its end and reports it under name.
func (r *laneRun) run(name string) (Result, error) {
	if err := r.loop(); err != nil {
		return Result{}, fmt.Errorf("simulate %s: %w", name, err)
	}
	for _, l := range r.lanes {
		r.stats.landedHeads = append(r.stats.landedHeads, l.head)
	}
	res := r.res
	if r.shared {
		res.Windows = make([]int, len(r.lanes))
		for i, l := range r.lanes {
			res.Windows[i] = l.peak
		}
	}
	r.stats.lanes = &res
	return r.stats.result(name, r.world), nil
}

func (r *laneRun) lanesOf(mr int64) []int { return r.mrLanes[mr-1] }

func (r *laneRun) shareLane(a, b int64) bool {
	for _, l := range r.lanesOf(a) {
		if slices.Contains(r.lanesOf(b), l) {
			return true
		}
	}
	return false
}

func (r *laneRun) schedule(e event) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.queue, e)
}

func (r *laneRun) loop() error {
	horizon := time.Duration(r.s.Horizon)
	for r.queue.Len() > 0 {
		e := heap.Pop(&r.queue).(event)
		if horizon > 0 && e.at > horizon {
			return nil
		}
		r.now = e.at
		switch e.kind {
		case evArrival:
			r.arrive(e.idx)
		case evFinish:
			// Each train it concerns plans what ends at one instant
			// together.
			r.finish(r.queue.endingWith(e)...)
		}
		// The integration line acts on everything that happened at this
		// instant: lane merges due at the same time are in the next
		// integration, not the one after.
		if err := r.settle(r.queue.Len() == 0 || r.queue[0].at > r.now); err != nil {
			return err
		}
	}
	for _, l := range r.lanes {
		if r.main != nil && l.t.Idle() && len(l.held) == 0 {
			continue // what a lane passed is on the target's train
		}
		if !l.t.Idle() || len(l.held) > 0 || l.from < len(l.hist) {
			return fmt.Errorf("%w at %v: lane %d has %d cars, %d MRs held back and %d not integrated",
				ErrStuck, r.now, l.idx+1, len(l.t.Cars), len(l.held), len(l.hist)-l.from)
		}
	}
	if r.pipeline != 0 || r.retest || len(r.parts) > 0 {
		return fmt.Errorf("%w at %v: the integration line is not done", ErrStuck, r.now)
	}
	if r.main != nil && !r.main.Idle() {
		return fmt.Errorf("%w at %v: the target's train holds %d cars and %d MRs in their lanes", ErrStuck, r.now, len(r.main.Cars), len(r.main.InLanes))
	}
	return nil
}

// settle carries out the removals owed between lanes and feeds the lanes
// until nothing changes, then, with integrate, lets the integration line
// act, and again until it waits for a pipeline.
func (r *laneRun) settle(integrate bool) error {
	for r.err == nil {
		if len(r.ops) > 0 {
			op := r.ops[0]
			r.ops = r.ops[1:]
			op()
			continue
		}
		if r.feed() {
			continue
		}
		if r.shared && r.poke() {
			continue
		}
		if r.main != nil || !integrate || !r.integrate() {
			break
		}
	}
	return r.err
}

// feed hands each lane's held MRs to its planner as run.feed does.
func (r *laneRun) feed() bool {
	fed := false
	for _, l := range r.lanes {
		window := l.t.Settings.MaxParallel
		if r.shared {
			// The most a lane may be allowed (allot): so holding the
			// rest back still changes no decision.
			window = r.s.MaxParallel
		}
		limit := 2 * window * max(l.t.Settings.BatchSize, l.t.Settings.MaxBatchSize)
		waiting := 0
		for i := range l.t.Cars {
			if c := &l.t.Cars[i]; c.State == train.StateQueued && c.Suspect == 0 {
				waiting++
			}
		}
		for ; len(l.held) > 0 && waiting < limit; waiting++ {
			m := r.pop.mrs[l.held[0]]
			l.held = l.held[1:]
			r.observe(l, train.Added{MR: m.id, HeadSHA: HeadOf(m.id, 0), By: "sim"})
			fed = true
		}
	}
	return fed
}

func (r *laneRun) arrive(i int) {
	if i+1 < len(r.pop.mrs) {
		r.schedule(event{at: r.pop.mrs[i+1].at, kind: evArrival, idx: i + 1})
	}
	r.stats.arrived++
	m := r.pop.mrs[i]
	if m.urgent {
		r.stats.urgentArrived++
	}
	if r.main != nil {
		add := train.Added{MR: m.id, HeadSHA: HeadOf(m.id, 0), By: "sim", Priority: train.PriorityNormal}
		if m.urgent {
			add.Priority = r.s.urgentPriority()
		}
		for _, li := range r.mrLanes[i] {
			add.Lanes = append(add.Lanes, laneName(li))
		}
		r.observeMain(add)
		return
	}
	for _, li := range r.mrLanes[i] {
		l := r.lanes[li]
		if m.urgent {
			r.observe(l, train.Added{MR: m.id, HeadSHA: HeadOf(m.id, 0), By: "sim", Priority: r.s.urgentPriority()})
		} else {
			l.held = append(l.held, i)
		}
	}
}

func (r *laneRun) finish(ids ...int64) {
	var main []train.Observation
	byLane := make([][]train.Observation, len(r.lanes))
	for _, id := range ids {
		p := r.world.Pipeline(id)
		if p.Status != train.PipelineRunning {
			continue // cancelled meanwhile
		}
		st := r.world.Finish(id, r.stats.pipelines[id].flake || r.interacts(p.SHA))
		r.stats.pipelines[id].end = r.now
		owners := r.owners[id]
		delete(r.owners, id)
		for _, o := range owners {
			switch {
			case o == integOwner && r.main != nil:
				main = append(main, st)
			case o == integOwner:
				r.integrated(st.Status == train.PipelineSuccess)
			default:
				byLane[o] = append(byLane[o], st)
			}
		}
	}
	if len(main) > 0 {
		r.observeMain(main...)
	}
	for i, obs := range byLane {
		if len(obs) > 0 {
			r.observe(r.lanes[i], obs...)
		}
	}
}

// interacts reports whether a commit carries both MRs of an interaction.
func (r *laneRun) interacts(sha string) bool {
	c := r.world.commits[sha]
	for _, x := range r.pairs {
		if r.world.carries(c, x.a) && r.world.carries(c, x.b) {
			return true
		}
	}
	return false
}

// observe plans obs on lane l and carries out the actions, in rounds as
// run.observe does.
func (r *laneRun) observe(l *lane, obs ...train.Observation) {
	rounds(obs, func(o train.Observation) []train.Action {
		if r.shared {
			r.allot(l)
		}
		var actions []train.Action
		l.t, actions = train.Apply(l.t, o, epoch.Add(r.now))
		// A pipeline the lane's planner let go of is cancelled before
		// the next observation of the round is planned: the pool counts
		// one still running that no planner counts as held.
		return slices.DeleteFunc(actions, func(a train.Action) bool {
			c, ok := a.(train.CancelPipeline)
			if ok {
				r.act(l, c)
			}
			return ok
		})
	}, func(a train.Action) []train.Observation {
		obs := r.act(l, a)
		if r.shared {
			l.peak = max(l.peak, inFlight(&l.t))
		}
		return obs
	})
}

func (r *laneRun) act(l *lane, a train.Action) []train.Observation {
	if !l.t.Wants(a) {
		return nil
	}
	switch a := a.(type) {
	case train.BuildCar:
		return []train.Observation{r.world.Build(a)}
	case train.StartPipeline:
		p, reused := r.start(a, l.idx)
		if !reused {
			r.res.LanePipelines++
		}
		return started(a, p)
	case train.CancelPipeline:
		r.release(a.Pipeline, l.idx)
	case train.FastForwardTarget:
		return []train.Observation{r.laneFastForward(l, a)}
	case train.Record:
		r.laneRecord(l, a.Car)
	}
	return nil
}

// start starts a pipeline for owner, or joins the one that runs or passed
// for the same commit.
func (r *laneRun) start(a train.StartPipeline, owner int) (*Pipeline, bool) {
	p, reused := r.world.StartPipeline(a)
	if !reused {
		r.stats.pipelines[p.ID] = &pipelineRun{start: r.now, end: -1, sha: p.SHA, flake: r.ci.flake()}
		r.schedule(event{at: r.now + r.ci.duration(), kind: evFinish, id: p.ID})
		if r.shared {
			r.checkPool(p.ID, a.MR, owner)
		}
	}
	if p.Status == train.PipelineRunning && !slices.Contains(r.owners[p.ID], owner) {
		r.owners[p.ID] = append(r.owners[p.ID], owner)
	}
	return p, reused
}

// release drops owner's interest in a pipeline, cancelling it when
// nobody else waits for it.
func (r *laneRun) release(id int64, owner int) {
	rest := slices.DeleteFunc(r.owners[id], func(o int) bool { return o == owner })
	if len(rest) > 0 {
		r.owners[id] = rest
		return
	}
	delete(r.owners, id)
	if p := r.world.Pipeline(id); p != nil && p.Status == train.PipelineRunning {
		r.world.Cancel(id)
		r.stats.pipelines[id].cancelled = true
		r.stats.pipelines[id].end = r.now
	}
}

// laneFastForward moves lane l's branch as World.FastForward moves the
// target, and notes the MRs it lands.
func (r *laneRun) laneFastForward(l *lane, a train.FastForwardTarget) train.FastForwarded {
	if l.head == a.To {
		return train.FastForwarded{To: a.To, Expected: a.Expected, Head: a.To}
	}
	if l.head != a.Expected {
		return train.FastForwarded{To: a.To, Expected: a.Expected, Rejected: true, Head: l.head}
	}
	for _, mr := range a.MRs {
		if c := l.t.Car(mr); c != nil {
			l.hist = append(l.hist, laneEntry{mr: mr, commit: c.Commit})
		}
	}
	l.head = a.To
	return train.FastForwarded{To: a.To, Expected: a.Expected, Head: a.To}
}

// laneRecord counts a car that left lane l: merged there, it passed in
// that lane; evicted, the MR leaves every lane.
func (r *laneRun) laneRecord(l *lane, c train.Car) {
	if r.main != nil {
		r.laneRecordMain(l, c)
		return
	}
	switch c.State {
	case train.StateMerged:
		r.passed[c.MR]++
	case train.StateEvicted:
		if r.gone[c.MR] {
			return // removed from this lane for its eviction from another
		}
		var pipeline int64
		if c.Reason != nil {
			pipeline = c.Reason.Pipeline
		}
		r.evict(c.MR, pipeline, l.idx)
	}
}

// evict counts mr evicted and takes it off every lane but except.
func (r *laneRun) evict(mr, pipeline int64, except int) {
	r.gone[mr] = true
	r.stats.evict(r.world.Broken[mr], pipeline)
	for _, li := range r.lanesOf(mr) {
		if li != except {
			l := r.lanes[li]
			r.ops = append(r.ops, func() { r.takeOut(l, mr) })
		}
	}
}

// takeOut removes mr from lane l: from its held MRs, from its train, or,
// once it passed there, off its branch.
func (r *laneRun) takeOut(l *lane, mr int64) {
	if i := slices.Index(l.held, int(mr-1)); i >= 0 {
		l.held = slices.Delete(l.held, i, i+1)
		return
	}
	if l.t.Index(mr) >= 0 {
		r.observe(l, train.Removed{MR: mr, By: "sim"})
		return
	}
	if k := slices.IndexFunc(l.hist, func(e laneEntry) bool { return e.mr == mr }); k >= 0 {
		r.revert(l, k)
	}
}

// revert takes hist[k] off lane l's branch: the branch is rebuilt from
// the commit before it with the MRs after it, as a revert commit would
// leave the same tree, and the lane's planner sees its target move, so
// it rebuilds the cars in flight.
func (r *laneRun) revert(l *lane, k int) {
	if k < l.from {
		r.err = fmt.Errorf("revert of MR %d on lane %d: it is on the target", l.hist[k].mr, l.idx+1)
		return
	}
	base := r.root
	if k > 0 {
		base = l.hist[k-1].commit
	}
	hist := slices.Clone(l.hist[:k])
	for _, e := range l.hist[k+1:] {
		b := r.world.Build(train.BuildCar{MR: e.mr, Base: base, HeadSHA: HeadOf(e.mr, 0), Method: l.t.Settings.Method})
		if b.Commit == "" {
			r.err = fmt.Errorf("revert on lane %d: rebuild of MR %d: %v %s", l.idx+1, e.mr, b.Conflict, b.Error)
			return
		}
		hist = append(hist, laneEntry{mr: e.mr, commit: b.Commit})
		base = b.Commit
	}
	r.stats.landedHeads = append(r.stats.landedHeads, l.head)
	l.hist, l.head = hist, base
	r.res.Reverts++
	r.observe(l, train.TargetHead{SHA: base})
}

// integrate takes the integration line's next step when no integration
// pipeline runs, and reports whether it changed anything without waiting
// for a pipeline.
func (r *laneRun) integrate() bool {
	if r.pipeline != 0 {
		return false
	}
	if r.retest {
		return r.startIntegration(r.commit, r.brings)
	}
	for len(r.parts) > 0 && len(r.parts[0].mrs) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) > 0 {
		return r.integratePart(r.parts[0])
	}
	return r.integrateWhole()
}

// integrateWhole builds the target plus every lane's MRs ready for it: a
// lane's MRs not on the target, front first, up to the first that has not
// passed in every lane it touches.
func (r *laneRun) integrateWhole() bool {
	seen := map[int64]bool{}
	var split [][]int64
	var all []int64
	for _, l := range r.lanes {
		for l.from < len(l.hist) && r.onTarget[l.hist[l.from].mr] {
			l.from++
		}
		var mine []int64
		for _, e := range l.hist[l.from:] {
			if r.onTarget[e.mr] || seen[e.mr] {
				continue
			}
			if r.passed[e.mr] < len(r.lanesOf(e.mr)) {
				break
			}
			seen[e.mr] = true
			mine = append(mine, e.mr)
		}
		if len(mine) > 0 {
			split = append(split, mine)
			all = append(all, mine...)
		}
	}
	if len(all) == 0 {
		return false
	}
	commit, brings := r.build(all)
	if r.err != nil {
		return false
	}
	if len(split) > 1 && r.s.LaneConflict > 0 && !r.drawn[commit] {
		r.drawn[commit] = true
		if r.pairRNG.Float64() < r.s.LaneConflict {
			r.drawInteraction(r.crossPairs(brings, nil))
		}
	}
	r.split = split
	r.partLen = 0
	return r.startIntegration(commit, brings)
}

// crossPairs lists the pairs of mrs from lanes they do not share (and
// for which keep holds, unless it is nil), in order.
func (r *laneRun) crossPairs(mrs []int64, keep func(a, b int64) bool) []interaction {
	var pairs []interaction
	for i, a := range mrs {
		for _, b := range mrs[i+1:] {
			if !r.shareLane(a, b) && (keep == nil || keep(a, b)) {
				pairs = append(pairs, interaction{a, b})
			}
		}
	}
	return pairs
}

// drawInteraction picks one of pairs uniformly, if there are any.
func (r *laneRun) drawInteraction(pairs []interaction) {
	if len(pairs) > 0 {
		r.pairs = append(r.pairs, pairs[r.pairRNG.IntN(len(pairs))])
		r.res.Interactions++
	}
}

// integratePart tests a prefix of a lane's part alone on the target: the
// whole part first, then half of the shortest prefix known to fail. The
// first MR of a part whose prefix of one failed twice is the culprit.
// Passing prefixes land at once, so the part shrinks from the front.
func (r *laneRun) integratePart(p *part) bool {
	m := len(p.mrs)
	if p.hi > 0 {
		m = max(p.hi/2, 1)
	}
	commit, brings := r.build(p.mrs[:m])
	if r.err != nil {
		return false
	}
	if r.fails[commit] >= 2 {
		// A tree that failed twice is not tested again (the whole
		// integration's, when the parts ahead landed as they were).
		if m > 1 {
			p.hi = m
			return true
		}
		mr := p.mrs[0]
		p.mrs, p.hi = p.mrs[1:], 0
		r.evict(mr, r.failed[commit], -1)
		return true
	}
	if len(brings) == 0 {
		// On the target already, through another lane's part.
		p.mrs = p.mrs[m:]
		p.hi = max(p.hi-m, 0)
		return true
	}
	r.split, r.partLen = nil, m
	return r.startIntegration(commit, brings)
}

// build makes the integration commit: the target plus mrs, each added on
// the one before (an MR the target carries already is skipped).
func (r *laneRun) build(mrs []int64) (commit string, brings []int64) {
	base := r.world.Target
	for _, mr := range mrs {
		b := r.world.Build(train.BuildCar{MR: mr, Base: base, HeadSHA: HeadOf(mr, 0), Method: train.MethodMerge})
		if b.Commit == "" {
			r.err = fmt.Errorf("integration: MR %d does not build on the target: %v %s", mr, b.Conflict, b.Error)
			return "", nil
		}
		if b.Commit != base {
			brings = append(brings, mr)
		}
		base = b.Commit
	}
	return base, brings
}

// startIntegration starts the integration pipeline, and reports whether
// its result is in already (a pipeline that passed for that exact commit,
// such as a lane's whose branch the target can fast-forward to).
func (r *laneRun) startIntegration(commit string, brings []int64) bool {
	r.commit, r.brings = commit, brings
	p, reused := r.start(train.StartPipeline{MR: brings[len(brings)-1], Commit: commit, MRs: brings}, integOwner)
	if !reused {
		r.res.IntegrationPipelines++
	}
	r.pipeline = p.ID
	if p.Status.Done() {
		r.integrated(p.Status == train.PipelineSuccess)
		return true
	}
	return false
}

// integrated acts on the integration pipeline's result.
func (r *laneRun) integrated(pass bool) {
	id := r.pipeline
	r.pipeline = 0
	if pass {
		r.retest = false
		r.land()
		if r.partLen > 0 {
			p := r.parts[0]
			p.mrs = p.mrs[r.partLen:]
			p.hi = max(p.hi-r.partLen, 0)
		}
		return
	}
	r.fails[r.commit]++
	r.failed[r.commit] = id
	switch {
	case r.partLen > 0:
		r.parts[0].hi = r.partLen
	case r.fails[r.commit] < 2:
		r.retest = true
	default:
		// Failed twice: each lane's part alone, one after the other.
		r.retest = false
		for _, mrs := range r.split {
			r.parts = append(r.parts, &part{mrs: mrs})
		}
	}
}

// land moves the target to the integration commit, which was built on
// it: the MRs it brings are merged.
func (r *laneRun) land() {
	c, t := r.world.commits[r.commit], r.world.commits[r.world.Target]
	if c == nil || c.depth < t.depth || c.ancestorAt(t.depth) != t {
		r.err = fmt.Errorf("integration: %s is not built on the target", r.commit)
		return
	}
	r.world.Target = r.commit
	r.res.Integrations++
	for _, mr := range r.brings {
		r.onTarget[mr] = true
		r.stats.merge(mr, r.now, r.pop.mrs[mr-1].at, r.world.Broken[mr])
	}
}

// laneName names lane i in the target train's settings.
func laneName(i int) string { return fmt.Sprintf("lane-%d", i+1) }

// laneIndex is laneName's inverse.
func laneIndex(name string) int {
	var i int
	if _, err := fmt.Sscanf(name, "lane-%d", &i); err != nil {
		return -1
	}
	return i - 1
}

// newMainTrain is the target's train with Settings.LaneTrains, as the
// engine runs it: MRs go to their k lanes first and join it once they
// passed in each, to be tested there on the target with the settings of
// Settings.Integrating (one pipeline, the integration line's, large
// batches, a failed pipeline run once more before its batch is
// bisected, as the line tests a failed integration again).
func newMainTrain(set train.Settings, k int, head string) *train.Train {
	set.LaneTrains = true
	set.Lanes = nil
	for i := range k {
		set.Lanes = append(set.Lanes, train.Lane{Name: laneName(i), Paths: []string{laneName(i) + "/"}})
	}
	set = set.Integrating()
	t := train.New(train.Key{Forge: "sim", Project: "sim", Branch: "main"}, set)
	t.TargetHead = head
	return &t
}

// observeMain plans obs on the target's train and carries out the
// actions, in rounds as observe does for a lane.
func (r *laneRun) observeMain(obs ...train.Observation) {
	drive(r.main, obs, epoch.Add(r.now), r.actMain)
}

func (r *laneRun) actMain(a train.Action) []train.Observation {
	if !r.main.Wants(a) {
		return nil
	}
	switch a := a.(type) {
	case train.JoinLane:
		if li := laneIndex(a.Lane); li >= 0 && li < len(r.lanes) {
			l := r.lanes[li]
			if a.Add.Priority != train.PriorityNormal {
				add := a.Add
				r.ops = append(r.ops, func() { r.observe(l, add) })
			} else {
				l.held = append(l.held, int(a.Add.MR-1))
			}
		}
	case train.LeaveLane:
		if li := laneIndex(a.Lane); li >= 0 && li < len(r.lanes) {
			l, mr := r.lanes[li], a.MR
			r.ops = append(r.ops, func() { r.takeOut(l, mr) })
		}
	case train.BuildCar:
		return []train.Observation{r.world.Build(a)}
	case train.StartPipeline:
		if r.s.LaneConflict > 0 && !r.drawn[a.Commit] {
			r.drawn[a.Commit] = true
			// Never between two MRs that a pipeline of this train, passed
			// or running, tested together: the world did not fail it,
			// and one that passes may carry both onto the target. (The
			// line tests one commit at a time, and draws before its test.)
			if len(r.crossPairs(a.MRs, nil)) > 0 && r.pairRNG.Float64() < r.s.LaneConflict {
				r.drawInteraction(r.crossPairs(a.MRs, func(x, y int64) bool { return !r.testedTogether(x, y) }))
			}
		}
		p, reused := r.start(a, integOwner)
		r.mainPipelines = append(r.mainPipelines, p.ID)
		if !reused {
			r.res.IntegrationPipelines++
		}
		return started(a, p)
	case train.CancelPipeline:
		r.release(a.Pipeline, integOwner)
	case train.FastForwardTarget:
		ff := r.world.FastForward(a)
		if !ff.Rejected {
			r.res.Integrations++
		}
		return []train.Observation{ff}
	case train.Record:
		c := a.Car
		r.stats.record(c, r.now, r.pop.mrs[c.MR-1].at, r.world.Broken[c.MR])
		switch c.State {
		case train.StateMerged:
			r.onTarget[c.MR] = true
		case train.StateEvicted:
			// Off every lane: one where it passed has it on its branch.
			r.gone[c.MR] = true
			for _, li := range r.lanesOf(c.MR) {
				l, mr := r.lanes[li], c.MR
				r.ops = append(r.ops, func() { r.takeOut(l, mr) })
			}
		}
	}
	return nil
}

// testedTogether reports whether a pipeline of the target's train that
// passed or still runs tests a commit carrying both a and b.
func (r *laneRun) testedTogether(a, b int64) bool {
	for _, id := range r.mainPipelines {
		p := r.world.Pipeline(id)
		if p == nil || p.Status != train.PipelineRunning && p.Status != train.PipelineSuccess {
			continue
		}
		if c := r.world.commits[p.SHA]; c != nil && r.world.carries(c, a) && r.world.carries(c, b) {
			return true
		}
	}
	return false
}

// laneRecordMain tells the target's train that a car left lane l: merged
// onto its branch, it passed there; otherwise it left unmerged, and the
// target's train takes it off its other lanes.
func (r *laneRun) laneRecordMain(l *lane, c train.Car) {
	name := laneName(l.idx)
	switch c.State {
	case train.StateMerged:
		r.observeMain(train.LanePassed{MR: c.MR, HeadSHA: c.HeadSHA, Lane: name})
	case train.StateEvicted:
		if r.gone[c.MR] {
			return // taken off for its eviction elsewhere
		}
		var why train.Reason
		if c.Reason != nil {
			why = *c.Reason
		}
		r.observeMain(train.LaneLeft{MR: c.MR, HeadSHA: c.HeadSHA, Lane: name, Reason: why})
	}
}
