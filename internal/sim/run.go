package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// ErrStuck reports a train that still holds cars when nothing more can
// happen: the planner waits for something the simulation never delivers.
var ErrStuck = errors.New("train stuck")

// epoch is virtual time zero; only differences from it matter.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type eventKind int

const (
	evArrival eventKind = iota
	evFinish
)

type event struct {
	at   time.Duration
	seq  uint64 // ties broken by scheduling order, for determinism
	kind eventKind
	idx  int   // arrival: index into the population
	id   int64 // finish: pipeline id
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// endingWith pops the other pipelines that end at the instant of finish
// e and returns the ids of all. Pipelines started together on fixed CI
// end together and report together, and the engine plans the results
// that wait for a train in one pass.
func (q *eventQueue) endingWith(e event) []int64 {
	ids := []int64{e.id}
	for q.Len() > 0 && (*q)[0].at == e.at && (*q)[0].kind == evFinish {
		ids = append(ids, heap.Pop(q).(event).id)
	}
	return ids
}

// run is one strategy's simulation.
type run struct {
	s   Scenario
	pop population
	// held are MRs that arrived but that the planner cannot reach yet (see
	// feed), oldest first.
	held   []int
	broken map[int64]bool
	ci     *ciSampler
	world  *World
	t      train.Train
	now    time.Duration
	queue  eventQueue
	seq    uint64
	stats  *tally
}

// Simulate runs one strategy through a scenario with the production planner.
func Simulate(s Scenario, st Strategy) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	return simulate(s, newPopulation(s), st)
}

func simulate(s Scenario, pop population, st Strategy) (Result, error) {
	if st.line != nil {
		return simulateLine(s, pop, st.Name, *st.line)
	}
	if st.lanes > 1 {
		return simulateLanes(s, pop, st)
	}
	r := newRun(s, pop, st)
	if err := r.loop(); err != nil {
		return Result{}, fmt.Errorf("simulate %s: %w", st.Name, err)
	}
	return r.stats.result(st.Name, r.world), nil
}

// newRun sets up a planner strategy's run, its first MR's arrival due.
func newRun(s Scenario, pop population, st Strategy) *run {
	r := &run{s: s, pop: pop, ci: newCISampler(s), world: NewWorld(), stats: newTally()}
	r.broken = r.world.Broken
	for _, m := range pop.mrs {
		if m.broken {
			r.world.Broken[m.id] = true
		}
	}
	r.world.Conflicts = pop.conflicts
	if s.UrgentFraction > 0 {
		// The planner's strategies add urgent MRs with the priority; a
		// scenario with urgent MRs reports them apart even when the
		// fraction rounded to none.
		r.stats.urgent, r.stats.urgentAs = map[int64]bool{}, string(s.urgentPriority())
		for _, m := range pop.mrs {
			if m.urgent {
				r.stats.urgent[m.id] = true
			}
		}
	}
	r.t = train.New(train.Key{Forge: "sim", Project: "sim", Branch: "main"}, st.Settings)
	r.observe(train.TargetHead{SHA: r.world.Target})
	if len(pop.mrs) > 0 {
		r.schedule(event{at: pop.mrs[0].at, kind: evArrival})
	}
	return r
}

func (r *run) schedule(e event) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.queue, e)
}

func (r *run) loop() error {
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
			r.finish(r.queue.endingWith(e)...)
		}
	}
	if !r.t.Idle() || len(r.held) > 0 {
		return fmt.Errorf("%w at %v with %d cars and %d MRs held back", ErrStuck, r.now, len(r.t.Cars), len(r.held))
	}
	return nil
}

// feed hands held MRs to the planner while fewer than twice a window of
// batches wait untested on the train. The planner cuts batches from at most
// MaxParallel×BatchSize waiting cars (MaxBatchSize when that is set and
// larger) and looks at none behind them, and one observation starts at
// most MaxParallel batches, so holding the rest of a long backlog back
// changes no decision; it spares the planner walking thousands of cars it
// cannot reach on every observation.
func (r *run) feed() {
	limit := 2 * r.t.Settings.MaxParallel * max(r.t.Settings.BatchSize, r.t.Settings.MaxBatchSize)
	waiting := 0
	for i := range r.t.Cars {
		if c := &r.t.Cars[i]; c.State == train.StateQueued && c.Suspect == 0 {
			waiting++
		}
	}
	for ; len(r.held) > 0 && waiting < limit; waiting++ {
		r.handOver()
	}
	// Cars evicted as they were added (a conflict at their build) leave
	// the count above too high: with nothing running, no event would
	// ever feed the train again.
	for len(r.held) > 0 && !r.busy() {
		r.handOver()
	}
}

// handOver adds the first held MR to the train.
func (r *run) handOver() {
	m := r.pop.mrs[r.held[0]]
	r.held = r.held[1:]
	r.observe(train.Added{MR: m.id, HeadSHA: HeadOf(m.id, 0), By: "sim"})
}

// busy reports whether a pipeline runs for the train, which will feed it
// when it ends.
func (r *run) busy() bool {
	for i := range r.t.Cars {
		c := &r.t.Cars[i]
		if c.State == train.StateStarting || c.State == train.StateRunning || (c.Witness != nil && c.Witness.Status == "") {
			return true
		}
	}
	return false
}

func (r *run) arrive(i int) {
	if i+1 < len(r.pop.mrs) {
		r.schedule(event{at: r.pop.mrs[i+1].at, kind: evArrival, idx: i + 1})
	}
	r.stats.arrived++
	if m := r.pop.mrs[i]; m.urgent {
		// An urgent MR is added at once: held back, it would wait behind
		// the normal MRs it is meant to overtake. It goes ahead of every
		// car not yet under test, so adding the held MRs later, at the
		// end of the train, still changes no decision.
		r.stats.urgentArrived++
		r.observe(train.Added{MR: m.id, HeadSHA: HeadOf(m.id, 0), By: "sim", Priority: r.s.urgentPriority()})
	} else {
		r.held = append(r.held, i)
	}
	r.feed()
}

func (r *run) finish(ids ...int64) {
	var results []train.Observation
	for _, id := range ids {
		p := r.world.Pipeline(id)
		if p.Status != train.PipelineRunning {
			continue // cancelled meanwhile
		}
		results = append(results, r.world.Finish(id, r.stats.pipelines[id].flake))
		r.stats.pipelines[id].end = r.now
	}
	if len(results) == 0 {
		return
	}
	r.observe(results...)
	r.feed()
}

// observe plans obs and carries out the actions at once, in rounds,
// feeding their results back until the train has nothing more to say.
func (r *run) observe(obs ...train.Observation) {
	drive(&r.t, obs, epoch.Add(r.now), r.act)
}

// drive plans obs on *t at now and carries out the actions with act, in
// rounds.
func drive(t *train.Train, obs []train.Observation, now time.Time, act func(train.Action) []train.Observation) {
	rounds(obs, func(o train.Observation) []train.Action {
		var actions []train.Action
		*t, actions = train.Apply(*t, o, now)
		return actions
	}, act)
}

// rounds plans obs with plan and carries out the actions with act in
// rounds, as a pass of the engine does (Engine.rounds): every observation
// of a round is planned before any action is carried out, so an action
// the next observation supersedes is dropped (Train.Wants, which act
// checks) rather than done; the outbox runs the target's moves first and
// stops after an action that learnt a pipeline's final result, which is
// planned before the rest; until the train has nothing more to say.
func rounds(obs []train.Observation, plan func(train.Observation) []train.Action, act func(train.Action) []train.Observation) {
	queue := obs
	var outbox train.Actions
	for len(queue) > 0 || len(outbox) > 0 {
		for _, o := range queue {
			outbox = append(outbox, plan(o)...)
		}
		queue = nil
		outbox = train.MovesFirst(train.Coalesce(outbox))
		var left train.Actions
		for i, a := range outbox {
			queue = append(queue, act(a)...)
			if train.Settled(queue) {
				left = outbox[i+1:]
				break
			}
		}
		outbox = left
	}
}

// act carries out one action and returns the observations of its result.
func (r *run) act(a train.Action) []train.Observation {
	if !r.t.Wants(a) {
		return nil
	}
	switch a := a.(type) {
	case train.BuildCar:
		return []train.Observation{r.world.Build(a)}
	case train.StartPipeline:
		return r.start(a)
	case train.CancelPipeline:
		r.cancel(a.Pipeline)
	case train.FastForwardTarget:
		return []train.Observation{r.world.FastForward(a)}
	case train.Record:
		r.stats.record(a.Car, r.now, r.pop.mrs[a.Car.MR-1].at, r.broken[a.Car.MR])
	}
	return nil
}

// start starts a pipeline, or reuses the one that runs or passed for the
// same commit; a reused pipeline that already passed is reported at once,
// as the executor's next look at it would.
func (r *run) start(a train.StartPipeline) []train.Observation {
	p, reused := r.world.StartPipeline(a)
	if !reused {
		d := r.ci.duration()
		r.stats.pipelines[p.ID] = &pipelineRun{start: r.now, end: -1, sha: p.SHA, flake: r.ci.flake()}
		r.schedule(event{at: r.now + d, kind: evFinish, id: p.ID})
	}
	return started(a, p)
}

// started is what starting pipeline p for a tells the planner: the
// pipeline, and at once its result when a reused one had finished.
func started(a train.StartPipeline, p *Pipeline) []train.Observation {
	obs := []train.Observation{train.PipelineCreated{MR: a.MR, SHA: p.SHA, Pipeline: p.ID}}
	if p.Status.Done() {
		obs = append(obs, train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status})
	}
	return obs
}

func (r *run) cancel(id int64) {
	p := r.world.Pipeline(id)
	if p == nil || p.Status != train.PipelineRunning {
		return
	}
	r.world.Cancel(id)
	r.stats.pipelines[id].cancelled = true
	r.stats.pipelines[id].end = r.now
}
