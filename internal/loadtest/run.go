package loadtest

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// TrainResult is what one run of every train to its end measured.
type TrainResult struct {
	MRs, Merged, Evicted int
	// Unexpected Counts MRs that ended otherwise than their kind says:
	// a good one evicted, or a broken one merged.
	Unexpected int
	// Elapsed runs from the first /train add to the last target push.
	Elapsed time.Duration
	// Latencies are, per target push, the time from the success of the
	// pipeline of the pushed commit, as the forge finished it, to the
	// push; HookLatencies the time from the first webhook telling that
	// success reaching a replica to the push (see latencies).
	Latencies, HookLatencies []time.Duration
	Unmatched                int
	Pushes                   int
	// Pipelines Counts the pipelines (GitHub: workflow run attempts) that
	// finished during the run.
	Pipelines int
	Requests  Requests
	// Redis is the commands the replicas sent, by name.
	Redis Counts
	// Routes is the forge's own count of REST calls, by route.
	Routes map[string]int
	// HooksLost Counts webhook deliveries dropped or not answered 2xx.
	HooksLost int
}

// RunTrains puts every MR on its train, all at once (first the first MR
// of every train, then the second, ...), and waits until each has merged
// or been evicted and the service has gone quiet.
func (r *Rig) RunTrains(ctx context.Context) (TrainResult, error) {
	if err := r.quiet(ctx); err != nil {
		return TrainResult{}, err
	}
	reqs0, redis0, routes0, pipes0, hooks0 := r.proxy.snapshot(), r.redisCounts(), r.ff.Calls(), len(r.ff.PipelineLog()), lastDelivery(r.ff.Deliveries())
	t0 := time.Now()
	if err := r.addAll(ctx); err != nil {
		return TrainResult{}, err
	}
	res, err := r.waitSettled(ctx)
	if err != nil {
		return res, err
	}
	if err := r.quiet(ctx); err != nil {
		return res, err
	}
	log := r.ff.PipelineLog()
	moves := r.moves.targetSince(t0)
	res.Pushes, res.Pipelines = len(moves), len(log)-pipes0
	res.Latencies, res.Unmatched = latencies(moves, passedAt(log))
	res.HookLatencies, _ = latencies(moves, r.fwd.successes.of)
	for _, m := range moves {
		res.Elapsed = max(res.Elapsed, m.At.Sub(t0))
	}
	res.Requests = r.proxy.snapshot().Sub(reqs0)
	res.Redis = r.redisCounts().sub(redis0)
	res.Routes = subRoutes(r.ff.Calls(), routes0)
	res.HooksLost = lostHooks(r.ff.Deliveries(), hooks0)
	return res, nil
}

// addAll comments /train add on every MR, in rounds across the trains.
func (r *Rig) addAll(ctx context.Context) error {
	for j := range r.o.MRs {
		for _, t := range r.trains {
			if _, err := r.ff.AddNote(ctx, t.key.Project, t.mrs[j].iid, dev, "/train add"); err != nil {
				return fmt.Errorf("add %s!%d: %w", t.key.Project, t.mrs[j].iid, err)
			}
		}
	}
	return nil
}

// waitSettled polls until every MR has merged (as the forge says) or been
// evicted (as the train's history says). History is read only for trains
// whose good MRs have all merged, and for every train every few seconds,
// so that polling adds little load.
func (r *Rig) waitSettled(ctx context.Context) (TrainResult, error) {
	res := TrainResult{MRs: r.o.Trains * r.o.MRs}
	done := make([]bool, len(r.trains))
	left := len(r.trains)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	full := time.Now()
	for left > 0 {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("wait for %d of %d trains: %w", left, len(r.trains), ctx.Err())
		case <-tick.C:
		}
		sweep := time.Since(full) > 5*time.Second
		if sweep {
			full = time.Now()
		}
		for i, t := range r.trains {
			if done[i] {
				continue
			}
			o, err := r.outcome(ctx, t, sweep)
			if err != nil {
				return res, err
			}
			if o.left == len(t.mrs) {
				done[i] = true
				left--
				res.Merged += o.merged
				res.Evicted += o.evicted
				res.Unexpected += o.unexpected
			}
		}
	}
	return res, nil
}

type outcome struct{ left, merged, evicted, unexpected int }

// outcome is how many of a train's MRs have left it; history is read
// only when every good MR merged, or when always is set.
func (r *Rig) outcome(ctx context.Context, t *trainSpec, always bool) (outcome, error) {
	mrs, err := r.ff.MRs(t.key.Project)
	if err != nil {
		return outcome{}, err
	}
	merged := map[int64]bool{}
	for _, m := range mrs {
		merged[m.IID] = m.State == fakeforge.StateMerged
	}
	var o outcome
	goodOpen := false
	for _, m := range t.mrs {
		if merged[m.iid] {
			o.merged++
			if m.broken {
				o.unexpected++
			}
		} else if !m.broken {
			goodOpen = true
		}
	}
	if o.merged == len(t.mrs) || (goodOpen && !always) {
		o.left = o.merged
		return o, nil
	}
	hist, err := r.st.History(ctx, t.key, int64(len(t.mrs))*8)
	if err != nil {
		return outcome{}, err
	}
	evicted := map[int64]bool{}
	for _, c := range hist {
		evicted[c.MR] = evicted[c.MR] || c.State == train.StateEvicted
	}
	for _, m := range t.mrs {
		if !merged[m.iid] && evicted[m.iid] {
			o.evicted++
			if !m.broken {
				o.unexpected++
			}
		}
	}
	o.left = o.merged + o.evicted
	return o, nil
}

// quiet waits until the forge has had no write or git request from the
// replicas for a second (sweeps, which only read, may go on) and every
// webhook queued so far was delivered.
func (r *Rig) quiet(ctx context.Context) error {
	// GitHub's comments may wait a minute or two for the write budget.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		if err := r.ff.FlushWebhooks(ctx); err != nil {
			return err
		}
		if r.proxy.stillFor(time.Second) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the service to go quiet: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *Rig) redisCounts() Counts {
	sum := Counts{}
	for _, rep := range r.replicas {
		for k, v := range rep.redis.snapshot() {
			sum[k] += v
		}
	}
	return sum
}

func subRoutes(now, before map[string]int) map[string]int {
	out := maps.Clone(now)
	for k, v := range before {
		if out[k] -= v; out[k] == 0 {
			delete(out, k)
		}
	}
	return out
}

// lastDelivery is the id of the newest delivery.
func lastDelivery(ds []fakeforge.Delivery) int64 {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)-1].ID
}

// lostHooks Counts the deliveries after id after that were dropped or
// not answered 2xx.
func lostHooks(ds []fakeforge.Delivery, after int64) int {
	n := 0
	for _, d := range ds {
		if d.ID > after && (d.Dropped || d.Status < 200 || d.Status >= 300) {
			n++
		}
	}
	return n
}

// Add folds another run into r, for benchmarks that run more than once.
func (r *TrainResult) Add(o TrainResult) {
	r.MRs += o.MRs
	r.Merged += o.Merged
	r.Evicted += o.Evicted
	r.Unexpected += o.Unexpected
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.HookLatencies = append(r.HookLatencies, o.HookLatencies...)
	r.Unmatched += o.Unmatched
	r.Pushes += o.Pushes
	r.Pipelines += o.Pipelines
	r.Requests = r.Requests.Add(o.Requests)
	if r.Redis == nil {
		r.Redis = Counts{}
	}
	for k, v := range o.Redis {
		r.Redis[k] += v
	}
	if r.Routes == nil {
		r.Routes = map[string]int{}
	}
	for k, v := range o.Routes {
		r.Routes[k] += v
	}
	r.HooksLost += o.HooksLost
}
