package train_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/sim"
	"github.com/trainyard/trainyard/internal/train"
)

// TestPlanProperties drives the planner with random observation sequences
// against a simulated world (results delivered late, twice or never, outside
// pushes, new commits, closes, timeouts, pauses, sweeps) and checks the
// train's promises after every step. A third of the sequences test MRs in
// their lanes' trains first, whose results come back as the edge brings
// them: late, or never once the MR left.
func TestPlanProperties(t *testing.T) {
	sequences := 10000
	if testing.Short() {
		sequences = 1000
	}
	for seed := range int64(sequences) {
		if err := runSequence(seed); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// FuzzPlan explores seeds beyond the fixed ones; its seed corpus runs with
// the ordinary tests.
func FuzzPlan(f *testing.F) {
	for _, s := range []int64{1, 7, 42, 1234, 99991} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		if err := runSequence(seed); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	})
}

// pending is a result not yet delivered to the planner.
type pending struct {
	obs   train.Observation
	start *train.StartPipeline     // created in the world on delivery
	ff    *train.FastForwardTarget // pushed in the world on delivery
}

type harness struct {
	rng    *rand.Rand
	w      *sim.World
	t      train.Train
	now    time.Time
	mrs    int64
	inbox  []pending
	rev    map[int64]int  // MR -> head revision
	closed map[int64]bool // closed on the forge
	added  map[int64]bool // ever added
	left   map[int64]*train.Car
	merges map[int64]int
	// refGone: the push that merged the MR deleted its car branch;
	// refDeletes counts the deletions asked for it apart.
	refGone    map[int64]bool
	refDeletes map[int64]int
	steps      int
	failure    error
	// most holds the largest of each bound the train's settings have had:
	// a train whose settings shrink keeps what it started before.
	most train.Settings
	// resettled: the settings changed mid-run, so pipelines started under
	// one budget may run under another.
	resettled bool
	// lanes are the lanes' trains' MRs not yet reported back.
	lanes []train.JoinLane
}

// harnessLanes are the lanes of the sequences with lane trains.
var harnessLanes = []train.Lane{{Name: "api", Paths: []string{"api/"}}, {Name: "web", Paths: []string{"web/"}}}

func runSequence(seed int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7a11))
	h := &harness{
		rng: rng, w: sim.NewWorld(), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		mrs: 3 + rng.Int64N(10), rev: map[int64]int{}, closed: map[int64]bool{},
		added: map[int64]bool{}, left: map[int64]*train.Car{}, merges: map[int64]int{},
		refGone: map[int64]bool{}, refDeletes: map[int64]int{},
	}
	for mr := int64(1); mr <= h.mrs; mr++ {
		if rng.IntN(6) == 0 {
			h.w.Broken[mr] = true
		}
		for other := mr + 1; other <= h.mrs; other++ {
			if rng.IntN(25) == 0 {
				h.w.Conflicts[[2]int64{mr, other}] = true
			}
		}
	}
	h.t = train.New(train.Key{Forge: "sim", Project: "p", Branch: "main"}, h.randomSettings())
	h.widen(h.t.Settings)
	h.apply(train.TargetHead{SHA: h.w.Target})
	steps := 20 + rng.IntN(60)
	for i := 0; i < steps && h.failure == nil; i++ {
		h.randomStep()
	}
	h.drain()
	for mr, n := range h.merges {
		if n > 0 && !h.refGone[mr] && h.refDeletes[mr] == 0 {
			h.fail("!%d merged, and its car branch was deleted neither by the push nor after", mr)
		}
	}
	return h.failure
}

func (h *harness) randomSettings() train.Settings {
	rng := h.rng
	s := train.Settings{
		MaxParallel: 1 + rng.IntN(4), Retries: rng.IntN(2), PipelineTimeout: time.Hour,
		BatchSize: 1 + rng.IntN(4), EagerEviction: rng.IntN(4) == 0, MinWindow: rng.IntN(3),
		MaxBatchSize: 3 * rng.IntN(3), BisectParallel: rng.IntN(3),
	}
	if rng.IntN(3) == 0 {
		s.LaneTrains, s.Lanes = true, harnessLanes
	}
	return s
}

// widen widens the bounds the checks allow by settings s, before the
// train takes them.
func (h *harness) widen(s train.Settings) {
	s, m := s.WithDefaults(), &h.most
	m.MaxParallel = max(m.MaxParallel, s.MaxParallel)
	m.BisectParallel = max(m.BisectParallel, s.BisectParallel)
	m.BatchSize = max(m.BatchSize, s.BatchSize, s.MaxBatchSize)
}

func (h *harness) fail(format string, args ...any) {
	if h.failure == nil {
		h.failure = fmt.Errorf("step %d: %s\ntrain: %s", h.steps, fmt.Sprintf(format, args...), describe(h.t))
	}
}

// describe renders the cars as mr:state[@suspect], for failure messages.
func describe(t train.Train) string {
	var b strings.Builder
	for _, c := range t.Cars {
		fmt.Fprintf(&b, " %d:%s", c.MR, c.State)
		if c.Suspect != 0 {
			fmt.Fprintf(&b, "@%d", c.Suspect)
		}
	}
	fmt.Fprintf(&b, " (window %d, pending %v, paused %v)", t.Window, t.Pending != nil, t.Paused)
	return b.String()
}

func (h *harness) randomMR() int64 { return 1 + h.rng.Int64N(h.mrs) }

func (h *harness) randomStep() {
	switch n := h.rng.IntN(100); {
	case n < 18:
		mr := h.randomMR()
		if h.merges[mr] == 0 && !h.closed[mr] {
			prio := train.PriorityNormal
			switch h.rng.IntN(16) {
			case 0, 1:
				prio = train.PriorityHigh
			case 2:
				prio = train.PriorityUrgent
			}
			h.add(mr, prio)
		}
	case n < 45:
		h.deliver(h.rng.IntN(10) == 0, h.rng.IntN(20) == 0)
	case n < 65:
		if running := h.w.Running(); len(running) > 0 {
			p := running[h.rng.IntN(len(running))]
			h.inbox = append(h.inbox, pending{obs: h.w.Finish(p.ID, h.rng.IntN(10) == 0)})
		}
	case n < 68:
		h.inbox = append(h.inbox, pending{obs: train.TargetHead{SHA: h.w.PushOutside(fmt.Sprint(h.steps))}})
	case n < 71:
		mr := h.randomMR()
		h.rev[mr]++
		h.inbox = append(h.inbox, pending{obs: train.HeadChanged{MR: mr, HeadSHA: sim.HeadOf(mr, h.rev[mr])}})
	case n < 73:
		mr := h.randomMR()
		if h.merges[mr] == 0 {
			h.closed[mr] = true
			h.inbox = append(h.inbox, pending{obs: train.Closed{MR: mr}})
		}
	case n < 76:
		h.apply(train.Removed{MR: h.randomMR(), By: "u", Event: fmt.Sprint("rm", h.steps)})
	case n < 79:
		mr := h.randomMR()
		if h.merges[mr] == 0 && !h.closed[mr] {
			h.added[mr] = true
			h.apply(train.Retried{Added: h.addition(mr, train.PriorityNormal)})
		}
	case n < 85:
		h.now = h.now.Add(time.Duration(h.rng.IntN(40)) * time.Minute)
		h.apply(train.Tick{})
	case n < 87:
		if h.t.Paused {
			h.apply(train.Resumed{By: "ops"})
		} else {
			h.apply(train.Paused{By: "ops"})
		}
	case n < 89:
		// The repository's settings file changes them mid-run.
		s := h.randomSettings()
		h.resettled = true
		h.widen(s)
		h.apply(train.RepoFileRead{Name: ".trainyard.yml", Settings: s, Config: train.RepoConfig{Commit: fmt.Sprint("cfg", h.steps)}})
	case n < 91:
		if h.t.Frozen != nil {
			h.apply(train.Unfroze{By: "ops"})
		} else {
			h.apply(train.Froze{By: "ops", Reason: "release"})
		}
	case n < 92:
		if mr := h.randomMR(); h.merges[mr] == 0 {
			h.inbox = append(h.inbox, pending{obs: train.Retargeted{MR: mr, Branch: "develop"}})
		}
	case n < 93:
		h.inbox = append(h.inbox, pending{obs: train.RulesUnmet{MR: h.randomMR(), Message: "it needs 1 more approval"}})
	case n < 97:
		h.laneResult()
	default:
		h.sweep()
	}
}

func (h *harness) addition(mr int64, prio train.Priority) train.Added {
	a := train.Added{MR: mr, HeadSHA: sim.HeadOf(mr, h.rev[mr]), By: "u", Priority: prio, Event: fmt.Sprint("add", h.steps)}
	if h.t.Settings.LaneTrains {
		// The lanes its paths touch; now and then one the train does
		// not have, or none read.
		switch h.rng.IntN(8) {
		case 0:
		case 1:
			a.Lanes = []string{"api", "docs"}
		default:
			for _, l := range harnessLanes {
				if h.rng.IntN(2) == 0 {
					a.Lanes = append(a.Lanes, l.Name)
				}
			}
			if len(a.Lanes) == 0 {
				a.Lanes = []string{"web"}
			}
		}
	}
	return a
}

// onTrain reports whether mr is on the train: a car, or in its lanes.
func (h *harness) onTrain(mr int64) bool {
	return h.t.Index(mr) >= 0 || h.t.InLanesIndex(mr) >= 0
}

func (h *harness) add(mr int64, prio train.Priority) {
	before := h.onTrain(mr)
	h.added[mr] = true
	h.apply(h.addition(mr, prio))
	if !before && !h.onTrain(mr) && !h.t.Draining {
		h.fail("!%d was not added", mr)
	}
}

// laneResult has a lane's train report on one of its MRs: a broken MR is
// mostly evicted there, and now and then passes (an interaction the lane
// did not see), which the train must still catch.
func (h *harness) laneResult() {
	if len(h.lanes) == 0 {
		return
	}
	i := h.rng.IntN(len(h.lanes))
	j := h.lanes[i]
	h.lanes = slices.Delete(h.lanes, i, i+1)
	if h.w.Broken[j.Add.MR] && h.rng.IntN(4) != 0 {
		h.apply(train.LaneLeft{MR: j.Add.MR, HeadSHA: j.Add.HeadSHA, Lane: j.Lane,
			Reason: train.Reason{Code: train.ReasonPipelineFailed, Detail: train.Words("its pipeline failed")}})
		return
	}
	h.apply(train.LanePassed{MR: j.Add.MR, HeadSHA: j.Add.HeadSHA, Lane: j.Lane})
}

// deliver hands one waiting result to the planner, possibly keeping it to
// deliver again (dup) or losing it (drop).
func (h *harness) deliver(dup, drop bool) {
	if len(h.inbox) == 0 {
		return
	}
	i := h.rng.IntN(len(h.inbox))
	p := h.inbox[i]
	h.inbox = slices.Delete(h.inbox, i, i+1)
	if drop {
		return
	}
	switch {
	case p.start != nil:
		pl, reused := h.w.StartPipeline(*p.start)
		p = pending{obs: train.PipelineCreated{MR: p.start.MR, SHA: p.start.Commit, Pipeline: pl.ID}}
		if reused && pl.Status.Done() {
			h.inbox = append(h.inbox, pending{obs: train.PipelineStatus{Pipeline: pl.ID, SHA: pl.SHA, Status: pl.Status}})
		}
	case p.ff != nil:
		o := h.w.FastForward(*p.ff)
		// Half the moves take the car branches with them, as a push
		// with the deletions does (chosen by the commit, so that the
		// sequences drawn stay as they were).
		if !o.Rejected && p.ff.To[len(p.ff.To)-1]%2 == 0 {
			o.Deleted = slices.Clone(p.ff.MRs)
			for _, mr := range p.ff.MRs {
				h.refGone[mr] = true
			}
		}
		p = pending{obs: o}
	}
	if dup {
		h.inbox = append(h.inbox, p)
	}
	h.apply(p.obs)
}

// sweep re-reads the world as the engine's periodic sweep does.
func (h *harness) sweep() {
	h.apply(train.TargetHead{SHA: h.w.Target})
	for _, c := range slices.Clone(h.t.Cars) {
		if h.closed[c.MR] {
			h.apply(train.Closed{MR: c.MR})
		} else if head := sim.HeadOf(c.MR, h.rev[c.MR]); head != c.HeadSHA {
			h.apply(train.HeadChanged{MR: c.MR, HeadSHA: head})
		}
		for _, id := range []int64{c.Pipeline, witnessOf(c)} {
			if p := h.w.Pipeline(id); id != 0 && p != nil && p.Status.Done() {
				h.apply(train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status})
			}
		}
	}
	h.apply(train.Resync{})
}

func witnessOf(c train.Car) int64 {
	if c.Witness == nil {
		return 0
	}
	return c.Witness.Pipeline
}

func (h *harness) apply(obs train.Observation) {
	h.steps++
	before := h.t.Clone()
	var actions []train.Action
	h.t, actions = train.Plan(h.t, obs, h.now)
	if h.t.Version != before.Version {
		h.fail("planner changed the version")
	}
	for _, a := range actions {
		h.do(a)
	}
	h.check(obs)
}

func (h *harness) do(a train.Action) {
	switch a := a.(type) {
	case train.BuildCar:
		h.inbox = append(h.inbox, pending{obs: h.w.Build(a)})
	case train.StartPipeline:
		h.inbox = append(h.inbox, pending{start: &a})
	case train.CancelPipeline:
		h.w.Cancel(a.Pipeline)
	case train.JoinLane:
		if !slices.ContainsFunc(harnessLanes, func(l train.Lane) bool { return l.Name == a.Lane }) {
			h.fail("!%d sent to lane %q, which the train does not have", a.Add.MR, a.Lane)
		}
		if slices.ContainsFunc(h.lanes, func(j train.JoinLane) bool { return j.Lane == a.Lane && j.Add.MR == a.Add.MR }) {
			h.fail("!%d sent to lane %s twice", a.Add.MR, a.Lane)
		}
		h.lanes = append(h.lanes, a)
	case train.LeaveLane:
		h.lanes = slices.DeleteFunc(h.lanes, func(j train.JoinLane) bool { return j.Lane == a.Lane && j.Add.MR == a.MR })
	case train.FastForwardTarget:
		if !h.w.Passed(a.To) {
			h.fail("fast-forward to %.8s, which has no successful pipeline", a.To)
		}
		if h.w.CarriesBroken(a.To) {
			h.fail("fast-forward to %.8s, which carries a broken MR", a.To)
		}
		h.inbox = append(h.inbox, pending{ff: &a})
	case train.DeleteCarRef:
		h.refDeletes[a.MR]++
		if h.refGone[a.MR] {
			h.fail("!%d's car branch went with the push that merged it, and is deleted again", a.MR)
		}
	case train.Record:
		c := a.Car
		if c.Reason == nil || len(c.Reason.Message) == 0 {
			h.fail("!%d left without a reason", c.MR)
		}
		if c.State == train.StateMerged {
			h.merges[c.MR]++
			if h.merges[c.MR] > 1 {
				h.fail("!%d merged twice", c.MR)
			}
		}
		h.left[c.MR] = &c
	}
}

// check verifies the promises that hold after every step.
func (h *harness) check(obs train.Observation) {
	// Cars up to the last main car with a result take no pipeline: the
	// reach of the window counts from the one behind it.
	resolved := -1
	for i, c := range h.t.Cars {
		frozen := h.t.Pending != nil && slices.Contains(h.t.Pending.MRs, c.MR)
		if c.Suspect == 0 && (c.State == train.StatePassed || c.State == train.StateFailed || frozen) {
			resolved = i
		}
	}
	active, suspects, urgent, line := 0, 0, 0, 0
	// An adaptive batch may hold up to MaxBatchSize cars.
	most := h.most.BatchSize
	reach := h.most.MaxParallel * most
	for i, c := range h.t.Cars {
		if c.Suspect == 0 && i > resolved {
			if c.Priority == train.PriorityUrgent {
				reach++ // tested alone, whatever the window
			}
			line++
			// The window bounds what is built under one set of settings;
			// cars built under earlier ones may stand beyond it.
			if c.State != train.StateQueued && line > reach && !h.resettled {
				h.fail("car !%d at position %d of the main line is %s, beyond %d pipelines of %d cars", c.MR, line, c.State, h.t.Settings.MaxParallel, most)
			}
		}
		if c.State == train.StateStarting || c.State == train.StateRunning {
			active++
			if c.Suspect != 0 {
				suspects++
			}
			if c.Priority == train.PriorityUrgent {
				urgent++
			}
		}
		if l := h.left[c.MR]; l != nil && !c.AddedAt.After(l.LeftAt) && c.AddedAt != l.LeftAt {
			h.fail("!%d is on the train and recorded as left", c.MR)
		}
	}
	// With a bisection budget the suspects run from it, the rest from
	// MaxParallel; without, all share MaxParallel.
	// Urgent cars are tested at once, whatever the window.
	limit, bisect := h.most.MaxParallel+urgent, h.most.BisectParallel
	if !h.resettled && bisect > 0 && (suspects > bisect || active-suspects > limit) {
		h.fail("%d pipelines active, %d of them suspects', max %d and %d", active, suspects, limit, bisect)
	}
	if active > limit+bisect {
		h.fail("%d pipelines active, max %d", active, limit+bisect)
	}
	if n := len(h.w.Running()); n > limit+bisect {
		h.fail("%d pipelines running in the world, max %d (after %T)", n, limit+bisect, obs)
	}
	for mr := range h.added {
		if !h.onTrain(mr) && h.left[mr] == nil {
			h.fail("!%d was added and is neither on the train nor recorded as left", mr)
		}
	}
	for i, lc := range h.t.InLanes {
		if h.t.Index(lc.Add.MR) >= 0 {
			h.fail("!%d is a car and in its lanes", lc.Add.MR)
		}
		if slices.ContainsFunc(h.t.InLanes[i+1:], func(o train.LaneCar) bool { return o.Add.MR == lc.Add.MR }) {
			h.fail("!%d is in its lanes twice", lc.Add.MR)
		}
		for _, l := range lc.Lanes {
			if !slices.Contains(lc.Passed, l) && !slices.ContainsFunc(h.lanes, func(j train.JoinLane) bool { return j.Lane == l && j.Add.MR == lc.Add.MR }) {
				h.fail("!%d waits for lane %s, which does not test it", lc.Add.MR, l)
			}
		}
	}
	var allowed []int64
	for mr, n := range h.merges {
		if n > 0 {
			allowed = append(allowed, mr)
		}
	}
	if h.t.Pending != nil {
		allowed = append(allowed, h.t.Pending.MRs...)
		// Its cars are frozen: they leave only with it, or with a move it
		// took over that landed.
		for _, mr := range h.t.Pending.MRs {
			if h.t.Index(mr) < 0 {
				h.fail("the pending move carries !%d, which is not on the train", mr)
			}
		}
	}
	for _, mr := range h.w.Content(h.w.Target) {
		if !slices.Contains(allowed, mr) {
			h.fail("target carries !%d, which the train did not merge", mr)
		}
	}
}

// drain lets everything finish without new trouble and checks that the
// train empties: every MR ends merged or evicted.
func (h *harness) drain() {
	if h.t.Paused {
		h.apply(train.Resumed{By: "ops"})
	}
	if h.t.Frozen != nil {
		h.apply(train.Unfroze{By: "ops"})
	}
	for round := 0; round < 500 && h.failure == nil; round++ {
		for len(h.inbox) > 0 {
			h.deliver(false, false)
		}
		for len(h.lanes) > 0 {
			h.laneResult()
		}
		for _, p := range h.w.Running() {
			h.inbox = append(h.inbox, pending{obs: h.w.Finish(p.ID, false)})
		}
		if len(h.inbox) == 0 {
			h.sweep()
		}
		if h.t.Idle() && len(h.inbox) == 0 {
			break
		}
	}
	if h.failure != nil {
		return
	}
	if !h.t.Idle() {
		h.fail("train did not empty: %+v", h.t.Cars)
		return
	}
	var merged []int64
	for mr, n := range h.merges {
		if n > 0 {
			merged = append(merged, mr)
		}
	}
	slices.Sort(merged)
	if got := h.w.Content(h.w.Target); !slices.Equal(got, merged) {
		h.fail("target carries %v, train merged %v", got, merged)
	}
	for mr := range h.added {
		if h.w.Broken[mr] && h.merges[mr] > 0 {
			h.fail("broken !%d merged", mr)
		}
	}
}
