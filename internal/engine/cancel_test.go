package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/metrics"
	"github.com/trainyard/trainyard/internal/train"
)

// A train cancels the pipelines it last saw running. One that finished
// meanwhile (its result not yet seen) is not stopped by the cancel, and
// is not reported as cancelled: the trace, and the pipelines cancelled
// and wasted behind it, count the pipelines the forge actually stopped.
func TestCancelOfAFinishedPipelineIsNotReported(t *testing.T) {
	t.Parallel()
	var cancelled []int64
	trace := engine.Trace{Acted: func(_ train.Key, a train.Action) {
		if c, ok := a.(train.CancelPipeline); ok {
			cancelled = append(cancelled, c.Pipeline)
		}
	}}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true},
		options: []engine.Option{engine.WithTrace(trace), engine.WithTrace(m.Trace())}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a, b)
	pa := e.carPipeline(2, fmt.Sprintf("trainyard/main/%d", a))
	pb := e.carPipeline(2, fmt.Sprintf("trainyard/main/%d", b))

	// !1's pipeline fails; the train has not looked since.
	if err := e.ff.FinishPipeline(e.ctx, pa.ID, fakeforge.PipelineFailed); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(pa.ID, fakeforge.PipelineFailed)
	// New commits evict !1, and !2, built on it, is built again: both
	// pipelines are cancelled, and only !2's still ran.
	head, err := e.ff.PushToMR(e.ctx, project, a, fakeforge.Commit{Message: "More", Files: map[string]string{"more.txt": "more\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Handle(e.ctx, e.key, train.HeadChanged{MR: a, HeadSHA: head}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(pb.ID, fakeforge.PipelineCanceled)
	if got := e.pipelineStatus(pa.ID); got != fakeforge.PipelineFailed {
		t.Fatalf("!1's pipeline is %s after the cancel, want failed", got)
	}
	if len(cancelled) != 1 || cancelled[0] != pb.ID {
		t.Fatalf("cancellations traced: %v, want only !2's pipeline %d", cancelled, pb.ID)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"trainyard_pipelines_cancelled_total": 1, "trainyard_pipelines_wasted_total": 1} {
		got := -1.0
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, s := range mf.GetMetric() {
					got = s.GetCounter().GetValue()
				}
			}
		}
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func (e *env) pipelineStatus(id int64) string {
	e.t.Helper()
	ps, err := e.ff.Pipelines(project)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID == id {
			return p.Status
		}
	}
	e.t.Fatalf("no pipeline %d", id)
	return ""
}

// waitStatus waits until pipeline id has status at the forge.
func (e *env) waitStatus(id int64, status string) {
	e.t.Helper()
	for e.pipelineStatus(id) != status {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("pipeline %d never became %s", id, status)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
