package loadtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// ManualResult is what a run on Manual CI measured: what the sweeps cost
// while no webhook comes, with cars waiting on pipelines that do not
// finish (Waiting) and once every car has merged (Empty), each over
// Intervals sweep intervals; the heap the waiting trains took; and the
// delay from a pipeline's success to the target push when pipelines pass
// one at a time.
type ManualResult struct {
	Trains    int
	Interval  time.Duration
	Intervals int
	Waiting   Requests
	Empty     Requests
	// WaitingRedis and EmptyRedis are the Redis commands the replicas sent
	// in the same windows.
	WaitingRedis, EmptyRedis int64
	// HeapPerTrain is the live heap the trains with cars added to the
	// process (the replicas, and the forge's own records), in bytes per
	// train; HookBodiesPerTrain the part of it the forge keeps as the
	// bodies of the webhooks it sent, which the service does not hold.
	HeapPerTrain, HookBodiesPerTrain float64
	// Latencies and HookLatencies are as in TrainResult, for the pushes of
	// the paced phase.
	Latencies, HookLatencies []time.Duration
	Unmatched                int
}

// Plan says what RunManual does.
type Plan struct {
	// Intervals is the length of each measured window, in sweep intervals.
	Intervals int
	// Rounds of passing pipelines one at a time: each round passes the
	// oldest running pipeline of every train, in turn, one every Pace.
	// 0: rounds until every MR has merged.
	Rounds int
	Pace   time.Duration
	// Rest is how long the forge must have had no write before the paced
	// phase starts: on GitHub, a minute lets the service's budget of
	// writes a minute fill up again after the comments of the adds.
	Rest time.Duration
}

// RunManual needs a rig with Manual CI. It puts every MR on its train,
// waits until every train's cars wait on their pipelines, measures a
// window, passes pipelines one at a time, then all that remain until every
// MR merged, and measures another window.
func (r *Rig) RunManual(ctx context.Context, p Plan) (ManualResult, error) {
	if !r.o.Manual {
		return ManualResult{}, fmt.Errorf("RunManual needs Manual CI")
	}
	res := ManualResult{Trains: r.o.Trains, Interval: r.o.SweepInterval, Intervals: p.Intervals}
	if err := r.quiet(ctx); err != nil {
		return res, err
	}
	heap0, hooks0 := liveHeap(), hookBytes(r.ff.Deliveries())
	if err := r.addAll(ctx); err != nil {
		return res, err
	}
	if err := r.waitWaiting(ctx); err != nil {
		return res, err
	}
	if err := sleep(ctx, r.o.SweepInterval); err != nil {
		return res, err
	}
	res.HeapPerTrain = float64(int64(liveHeap())-int64(heap0)) / float64(r.o.Trains)
	res.HookBodiesPerTrain = float64(hookBytes(r.ff.Deliveries())-hooks0) / float64(r.o.Trains)
	var err error
	if res.Waiting, res.WaitingRedis, err = r.window(ctx, p.Intervals); err != nil {
		return res, err
	}
	for !r.proxy.stillFor(p.Rest) {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return res, err
		}
	}
	t0 := time.Now()
	if err := r.pace(ctx, p); err != nil {
		return res, err
	}
	if err := r.waitPushed(ctx); err != nil {
		return res, err
	}
	moves := r.moves.targetSince(t0)
	res.Latencies, res.Unmatched = latencies(moves, passedAt(r.ff.PipelineLog()))
	res.HookLatencies, _ = latencies(moves, r.fwd.successes.of)
	if err := r.passAll(ctx); err != nil {
		return res, err
	}
	if err := r.quiet(ctx); err != nil {
		return res, err
	}
	if err := sleep(ctx, r.o.SweepInterval); err != nil {
		return res, err
	}
	res.Empty, res.EmptyRedis, err = r.window(ctx, p.Intervals)
	return res, err
}

// pace passes the oldest running pipeline of each train in turn, one
// every p.Pace, for p.Rounds rounds or until every MR merged.
func (r *Rig) pace(ctx context.Context, p Plan) error {
	for round := 0; p.Rounds == 0 || round < p.Rounds; round++ {
		merged, err := r.merged(ctx)
		if err != nil {
			return err
		}
		if merged == r.o.Trains*r.o.MRs {
			return nil
		}
		for _, t := range r.trains {
			id, ok, err := r.oldestRunning(t.key.Project)
			if err != nil {
				return err
			}
			if ok {
				r.pass(ctx, t.key.Project, id)
			}
			if err := sleep(ctx, p.Pace); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitWaiting waits until every MR is on its train, no train owes an
// action or has a car being built or started, and so for two seconds.
func (r *Rig) waitWaiting(ctx context.Context) error {
	var since time.Time
	for {
		ok, err := r.waiting(ctx)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= 2*time.Second:
			return nil
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return fmt.Errorf("wait for the cars to wait on their pipelines: %w", err)
		}
	}
}

func (r *Rig) waiting(ctx context.Context) (bool, error) {
	for _, t := range r.trains {
		tr, err := r.st.Load(ctx, t.key)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if len(tr.Cars) < len(t.mrs) || len(tr.Outbox) > 0 || tr.Pending != nil {
			return false, nil
		}
		for _, c := range tr.Cars {
			switch c.State {
			case train.StateBuilding, train.StateBuilt, train.StateStarting:
				return false, nil
			}
		}
	}
	return true, nil
}

// waitPushed waits until no train has a car that passed and waits for
// its push, or a push whose result it has not seen.
func (r *Rig) waitPushed(ctx context.Context) error {
	for {
		owed := 0
		for _, t := range r.trains {
			tr, err := r.st.Load(ctx, t.key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if tr.Pending != nil {
				owed++
				continue
			}
			for _, c := range tr.Cars {
				if c.State == train.StatePassed {
					owed++
					break
				}
			}
		}
		if owed == 0 {
			return r.quiet(ctx)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("wait for %d trains to push: %w", owed, err)
		}
	}
}

// window counts the requests and Redis commands of the replicas over
// intervals sweep intervals. It starts, when it can, once the forge has
// had no request for a fifth of an interval, right after a sweep's reads,
// so that a window holds as many sweeps as intervals.
func (r *Rig) window(ctx context.Context, intervals int) (Requests, int64, error) {
	for deadline := time.Now().Add(r.o.SweepInterval); !r.proxy.idleFor(r.o.SweepInterval/5) && time.Now().Before(deadline); {
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return Requests{}, 0, err
		}
	}
	reqs0, redis0 := r.proxy.snapshot(), r.redisCounts()
	if err := sleep(ctx, time.Duration(intervals)*r.o.SweepInterval); err != nil {
		return Requests{}, 0, err
	}
	return r.proxy.snapshot().Sub(reqs0), r.redisCounts().sub(redis0).Total(), nil
}

// passAll passes every pipeline that runs, again and again, until every MR
// has merged.
func (r *Rig) passAll(ctx context.Context) error {
	for {
		if err := r.eachRunning(func(project string, id int64) { r.pass(ctx, project, id) }); err != nil {
			return err
		}
		merged, err := r.merged(ctx)
		if err != nil {
			return err
		}
		if merged == r.o.Trains*r.o.MRs {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("wait for every MR to merge (%d merged): %w", merged, err)
		}
	}
}

// pass makes a pipeline (GitHub: a workflow run) succeed. One that
// finished since it was listed is left as it is.
func (r *Rig) pass(ctx context.Context, project string, id int64) {
	if r.o.Forge == fakeforge.HookGitHub {
		_ = r.ff.FinishWorkflowRun(project, id, fakeforge.ConclusionSuccess)
		return
	}
	_ = r.ff.FinishPipeline(ctx, id, fakeforge.PipelineSuccess)
}

// merged counts the MRs the forge has merged.
func (r *Rig) merged(ctx context.Context) (int, error) {
	n := 0
	for _, t := range r.trains {
		o, err := r.outcome(ctx, t, false)
		if err != nil {
			return 0, err
		}
		n += o.merged
	}
	return n, nil
}

// oldestRunning is the project's running pipeline with the lowest id.
func (r *Rig) oldestRunning(project string) (int64, bool, error) {
	var oldest int64
	err := r.eachRunningOf(project, func(_ string, id int64) {
		if oldest == 0 || id < oldest {
			oldest = id
		}
	})
	return oldest, oldest != 0, err
}

// eachRunning calls f with every pipeline (GitHub: workflow run) that has
// not finished.
func (r *Rig) eachRunning(f func(project string, id int64)) error {
	for _, t := range r.trains {
		if err := r.eachRunningOf(t.key.Project, f); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rig) eachRunningOf(p string, f func(project string, id int64)) error {
	if r.o.Forge == fakeforge.HookGitHub {
		runs, err := r.ff.WorkflowRuns(p, "")
		if err != nil {
			return err
		}
		for _, run := range runs {
			if run.Status != fakeforge.CheckCompleted {
				f(p, run.ID)
			}
		}
		return nil
	}
	pls, err := r.ff.Pipelines(p)
	if err != nil {
		return err
	}
	for _, pl := range pls {
		if pl.Status == fakeforge.PipelinePending || pl.Status == fakeforge.PipelineRunning {
			f(p, pl.ID)
		}
	}
	return nil
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func hookBytes(ds []fakeforge.Delivery) int {
	n := 0
	for _, d := range ds {
		n += len(d.Body)
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Add folds another run into r, for benchmarks that run more than once.
func (r *ManualResult) Add(o ManualResult) {
	r.Trains += o.Trains
	r.Interval = o.Interval
	r.Intervals += o.Intervals
	r.Waiting = r.Waiting.Add(o.Waiting)
	r.Empty = r.Empty.Add(o.Empty)
	r.WaitingRedis += o.WaitingRedis
	r.EmptyRedis += o.EmptyRedis
	r.HeapPerTrain += o.HeapPerTrain
	r.HookBodiesPerTrain += o.HookBodiesPerTrain
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.HookLatencies = append(r.HookLatencies, o.HookLatencies...)
	r.Unmatched += o.Unmatched
}
