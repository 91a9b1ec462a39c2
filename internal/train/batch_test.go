package train_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/sim"
	"github.com/trainyard/trainyard/internal/train"
)

// yard drives the planner against a simulated world, carrying out builds,
// starts and fast-forwards at once.
type yard struct {
	t      *testing.T
	w      *sim.World
	tr     train.Train
	now    time.Time
	starts []train.StartPipeline
	ffs    []train.FastForwardTarget
	builds []train.BuildCar
}

func newYard(t *testing.T, s train.Settings) *yard {
	y := &yard{t: t, w: sim.NewWorld(), now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	y.tr = train.New(train.Key{Forge: "sim", Project: "p", Branch: "main"}, s)
	y.apply(train.TargetHead{SHA: y.w.Target})
	return y
}

func (y *yard) apply(obs ...train.Observation) {
	for len(obs) > 0 {
		var actions []train.Action
		y.tr, actions = train.Plan(y.tr, obs[0], y.now)
		obs = obs[1:]
		for _, a := range actions {
			if !y.tr.Wants(a) {
				continue
			}
			switch a := a.(type) {
			case train.BuildCar:
				y.builds = append(y.builds, a)
				obs = append(obs, y.w.Build(a))
			case train.StartPipeline:
				y.starts = append(y.starts, a)
				p, _ := y.w.StartPipeline(a)
				obs = append(obs, train.PipelineCreated{MR: a.MR, SHA: p.SHA, Pipeline: p.ID})
			case train.CancelPipeline:
				y.w.Cancel(a.Pipeline)
			case train.FastForwardTarget:
				y.ffs = append(y.ffs, a)
				obs = append(obs, y.w.FastForward(a))
			}
		}
	}
}

func (y *yard) add(mrs ...int64) {
	for _, mr := range mrs {
		y.apply(train.Added{MR: mr, HeadSHA: sim.HeadOf(mr, 0), By: "u", Event: fmt.Sprint("add-", mr)})
	}
}

// finish ends the running pipeline of mr's car.
func (y *yard) finish(mr int64) {
	y.t.Helper()
	c := y.tr.Car(mr)
	if c == nil || c.State != train.StateRunning {
		y.t.Fatalf("!%d has no running pipeline: %+v", mr, c)
	}
	y.now = y.now.Add(30 * time.Minute)
	y.apply(y.w.Finish(c.Pipeline, false))
}

// tested lists, per pipeline started since the last call, the MRs it tests.
func (y *yard) tested() [][]int64 {
	var out [][]int64
	for _, s := range y.starts {
		out = append(out, s.MRs)
	}
	y.starts = nil
	return out
}

func TestShortQueueGetsAPipelinePerCar(t *testing.T) {
	y := newYard(t, train.Settings{MaxParallel: 4, BatchSize: 4})
	y.add(1, 2, 3)
	if got, want := y.tested(), [][]int64{{1}, {1, 2}, {1, 2, 3}}; !equal(got, want) {
		t.Fatalf("pipelines test %v, want %v", got, want)
	}
}

func TestLongQueueIsTestedInBatches(t *testing.T) {
	y := newYard(t, train.Settings{MaxParallel: 2, BatchSize: 4})
	y.add(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	// The first two had free pipelines; the rest wait for them.
	if got, want := y.tested(), [][]int64{{1}, {1, 2}}; !equal(got, want) {
		t.Fatalf("pipelines test %v, want %v", got, want)
	}
	// Each pass frees one pipeline for ten, then six, waiting cars: a batch
	// of four each time (the most allowed). The first batch sits on !2,
	// still running, so its pipeline tests !2 too.
	y.finish(1)
	y.finish(2)
	if got, want := y.tested(), [][]int64{{2, 3, 4, 5, 6}, {3, 4, 5, 6, 7, 8, 9, 10}}; !equal(got, want) {
		t.Fatalf("pipelines test %v, want %v", got, want)
	}
	if got := y.tr.RidesWith(y.tr.Index(4)); got != 6 {
		t.Errorf("!4 rides with !%d, want !6", got)
	}
	if got := y.tr.RidesWith(y.tr.Index(6)); got != 0 {
		t.Errorf("!6 rides with !%d, want its own pipeline", got)
	}
	// The batch's pass merges all of it with one move of the target.
	y.finish(6)
	last := y.ffs[len(y.ffs)-1]
	if !slices.Equal(last.MRs, []int64{3, 4, 5, 6}) || y.w.Target != last.To {
		t.Fatalf("last fast-forward %v to %.8s, target %.8s", last.MRs, last.To, y.w.Target)
	}
	if got := y.w.Content(y.w.Target); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("target carries %v", got)
	}
}

// A car's push may start its pipeline (GitLab's push options), so a build
// says whether the car's pipeline starts once it is built: the last car
// of a batch, not the cars it carries.
func TestOnlyABatchsLastCarIsBuiltToStart(t *testing.T) {
	y := newYard(t, train.Settings{MaxParallel: 2, BatchSize: 4})
	y.add(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	y.finish(1)
	y.finish(2)
	var toStart []int64
	for _, b := range y.builds {
		if b.Start {
			toStart = append(toStart, b.MR)
		}
		if b.Start && !slices.Equal(b.MRs, y.chainOf(b.MR)) {
			t.Errorf("build of !%d names %v, its pipeline %v", b.MR, b.MRs, y.chainOf(b.MR))
		}
	}
	var started []int64
	for _, s := range y.starts {
		started = append(started, s.MR)
	}
	if !slices.Equal(toStart, started) || !slices.Equal(started, []int64{1, 2, 6, 10}) {
		t.Fatalf("built to start %v, started %v; want both [1 2 6 10]", toStart, started)
	}
}

// chainOf is what the StartPipeline of mr named, if it started.
func (y *yard) chainOf(mr int64) []int64 {
	for _, s := range y.starts {
		if s.MR == mr {
			return s.MRs
		}
	}
	return nil
}

func TestFailedBatchIsBisectedAndOnlyTheCulpritLeaves(t *testing.T) {
	y := newYard(t, train.Settings{MaxParallel: 1, BatchSize: 4})
	y.w.Broken[4] = true
	y.add(1, 2, 3, 4, 5)
	y.finish(1)
	if got, want := y.tested(), [][]int64{{1}, {2, 3, 4, 5}}; !equal(got, want) {
		t.Fatalf("pipelines test %v, want %v", got, want)
	}
	y.finish(5)
	// Off the main line, each suspect is tested on its own prefix; one
	// pipeline may run, so front first.
	y.finish(2)
	y.finish(3)
	y.finish(4) // !4 fails on top of !2 and !3, which passed: the culprit
	var evicted []int64
	for y.tr.Car(5) != nil && y.tr.Car(5).State == train.StateRunning {
		y.finish(5)
	}
	for _, c := range []int64{1, 2, 3, 4, 5} {
		if y.tr.Car(c) == nil && !slices.Contains(y.w.Content(y.w.Target), c) {
			evicted = append(evicted, c)
		}
	}
	if !slices.Equal(evicted, []int64{4}) {
		t.Fatalf("evicted %v, want [4]", evicted)
	}
	for len(y.tr.Cars) > 0 {
		y.finish(y.tr.Cars[len(y.tr.Cars)-1].MR)
	}
	if got := y.w.Content(y.w.Target); !slices.Equal(got, []int64{1, 2, 3, 5}) {
		t.Fatalf("target carries %v, want [1 2 3 5]", got)
	}
}

func TestAdaptiveWindowHalvesOnFailureAndGrowsOnMerges(t *testing.T) {
	y := newYard(t, train.Settings{MaxParallel: 8, MinWindow: 2, BatchSize: 1})
	y.w.Broken[1] = true
	y.add(1, 2, 3, 4, 5, 6, 7, 8)
	y.tested()
	y.finish(1) // the batch of one fails: the window halves to 4
	if y.tr.Window != 4 {
		t.Fatalf("window %d after a failure, want 4", y.tr.Window)
	}
	running := 0
	for _, c := range y.tr.Cars {
		if c.Suspect == 0 && c.State == train.StateRunning {
			running++
		}
	}
	if running != 4 {
		t.Fatalf("%d main-line pipelines run, want 4: %+v", running, y.tr.Cars)
	}
	y.finish(y.tr.Cars[y.tr.Index(2)].MR)
	if y.tr.Window != 5 {
		t.Fatalf("window %d after one merge, want 5", y.tr.Window)
	}
}

// The planner wires the adaptive limit to what it observes: merges raise
// the observed run between failures and with it the size, a failed batch
// lowers it, and without MaxBatchSize the same train batches exactly as
// before.
func TestAdaptiveBatchFollowsMergesAndFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		want   [][]int64 // pipelines started, in order
		failed []int     // Train.BatchFailed after each finish
		merged int       // Train.BatchMerged at the end
	}{
		// One pipeline at a time, so the limit is the mean run over 3.
		// 9 merged lift batches to 3, 12 to the most allowed, 4. The
		// batch carrying broken !16 fails: 12 merged over two runs allow
		// 2 again. The cars its bisection merges lift it to 3, and the
		// batch carrying broken !21 fails too: 2 again.
		{name: "adaptive", max: 4,
			want: [][]int64{{1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11, 12}, {13, 14, 15, 16},
				{13}, {13, 14}, {13, 14, 15}, {13, 14, 15, 16}, {17, 18}, {19, 20}, {21, 22, 23},
				{21}, {22}, {22, 23}, {24, 25}, {26, 27}, {28, 29}, {30}},
			failed: []int{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2},
			merged: 28},
		// Without MaxBatchSize: batches of BatchSize whatever happens, and
		// nothing counted.
		{name: "fixed", max: 0,
			want: [][]int64{{1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}, {16, 17},
				{16}, {17}, {18, 19}, {20, 21}, {20}, {20, 21}, {22, 23}, {24, 25}, {26, 27}, {28, 29}, {30}},
			failed: make([]int, 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := newYard(t, train.Settings{MaxParallel: 1, MinWindow: 1, BatchSize: 2, MaxBatchSize: tc.max})
			y.w.Broken[16] = true
			y.w.Broken[21] = true
			for mr := int64(1); mr <= 30; mr++ {
				y.add(mr)
			}
			var got [][]int64
			var failed []int
			for len(y.tr.Cars) > 0 {
				got = append(got, y.tested()...)
				for _, c := range y.tr.Cars {
					if c.State == train.StateRunning {
						y.finish(c.MR)
						break
					}
				}
				failed = append(failed, y.tr.BatchFailed)
			}
			if !equal(got, tc.want) {
				t.Errorf("pipelines test\n%v\nwant\n%v", got, tc.want)
			}
			if !slices.Equal(failed, tc.failed) || y.tr.BatchMerged != tc.merged {
				t.Errorf("failed batches counted after each finish %v, merged %d; want %v, %d",
					failed, y.tr.BatchMerged, tc.failed, tc.merged)
			}
		})
	}
}

func equal(a, b [][]int64) bool {
	return slices.EqualFunc(a, b, func(x, y []int64) bool { return slices.Equal(x, y) })
}

// A high car bisected out of a failed batch goes back to the front once
// shown good, as when it was added: ahead of the normal cars that got
// pipelines meanwhile, which are rebuilt on top of it.
func TestHighCarShownGoodRejoinsAtTheFront(t *testing.T) {
	y := newYard(t, train.Settings{MaxParallel: 4, MinWindow: 2, BatchSize: 2})
	y.w.Broken[1] = true
	y.add(1, 2, 3, 4)
	y.apply(train.Added{MR: 9, HeadSHA: sim.HeadOf(9, 0), By: "u", Priority: train.PriorityHigh, Event: "add-9"})
	if got, want := y.tested()[4:], [][]int64{{9, 1}, {9, 1, 2}, {9, 1, 2, 3}, {9, 1, 2, 3, 4}}; !equal(got, want) {
		t.Fatalf("after the high car, pipelines test %v, want %v", got, want)
	}
	// Broken !1 fails the batch it rides in with !9: both are bisected,
	// while the main line goes on without them.
	y.finish(1)
	if got, want := y.tested(), [][]int64{{9}, {9, 1}, {2, 3}}; !equal(got, want) {
		t.Fatalf("after the failure, pipelines test %v, want %v", got, want)
	}
	y.add(5, 6)
	y.finish(1) // !1's own test fails; it is to blame once !9 passes
	if got, want := y.tested(), [][]int64{{2, 3, 4, 5}}; !equal(got, want) {
		t.Fatalf("pipelines test %v, want %v", got, want)
	}
	ran := []int64{y.tr.Car(3).Pipeline, y.tr.Car(5).Pipeline}
	y.finish(9)
	if got, want := mrs(y.tr.Cars), []int64{9, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("after !9 passed, the train is %v, want %v", got, want)
	}
	for _, id := range ran {
		if s := y.w.Pipeline(id).Status; s != train.PipelineCanceled {
			t.Errorf("pipeline %d, on the main line behind !9, is %s, want canceled", id, s)
		}
	}
	if got, want := y.tested(), [][]int64{{9, 2}, {9, 2, 3, 4}}; !equal(got, want) {
		t.Fatalf("after the rejoin, pipelines test %v, want %v", got, want)
	}
}

func mrs(cars []train.Car) []int64 {
	out := make([]int64, len(cars))
	for i, c := range cars {
		out[i] = c.MR
	}
	return out
}

// With a bisection budget of its own, a failed batch's suspects no longer
// take the main line's pipelines: the cars behind are tested while it is
// bisected, and no more pipelines run than the two budgets allow.
func TestBisectionBudgetKeepsTheLineMoving(t *testing.T) {
	for _, tc := range []struct {
		budget int
		want   [][]int64 // tested once !5's batch failed
	}{
		{0, [][]int64{{2}}},               // one pipeline, the first suspect's
		{1, [][]int64{{2}, {6, 7, 8, 9}}}, // and the line goes on without the batch
		{3, [][]int64{{2}, {2, 3}, {2, 3, 4}, {6, 7, 8, 9}}},
	} {
		t.Run(fmt.Sprint("bisect_parallel=", tc.budget), func(t *testing.T) {
			y := newYard(t, train.Settings{MaxParallel: 1, BatchSize: 4, BisectParallel: tc.budget})
			y.w.Broken[4] = true
			y.add(1, 2, 3, 4, 5, 6, 7, 8, 9)
			y.finish(1)
			if got, want := y.tested(), [][]int64{{1}, {2, 3, 4, 5}}; !equal(got, want) {
				t.Fatalf("pipelines test %v, want %v", got, want)
			}
			y.finish(5)
			if got := y.tested(); !equal(got, tc.want) {
				t.Fatalf("after the batch failed, pipelines test %v, want %v", got, tc.want)
			}
			for len(y.tr.Cars) > 0 {
				running := 0
				var next int64
				for _, c := range y.tr.Cars {
					if c.State == train.StateRunning {
						running++
						next = c.MR
					}
				}
				if limit := 1 + tc.budget; running > limit || running == 0 {
					t.Fatalf("%d pipelines run, want 1 to %d: %+v", running, limit, y.tr.Cars)
				}
				y.finish(next)
			}
			got := slices.Sorted(slices.Values(y.w.Content(y.w.Target)))
			if !slices.Equal(got, []int64{1, 2, 3, 5, 6, 7, 8, 9}) {
				t.Fatalf("target carries %v, want every MR but !4", got)
			}
		})
	}
}
