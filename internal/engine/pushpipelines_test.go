package engine_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// carPipelines lists the pipelines run on car branches.
func (e *env) carPipelines() []fakeforge.Pipeline {
	e.t.Helper()
	all, err := e.ff.Pipelines(project)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []fakeforge.Pipeline
	for _, p := range all {
		if strings.HasPrefix(p.Ref, "trainyard/") {
			out = append(out, p)
		}
	}
	return out
}

// On GitLab a car's push starts its pipeline, with the variables the
// project's CI rules look for: no pipeline is created through the API.
// No webhook reaches the engine here, so each car finds its pipeline by
// a sweep after the wait, as when the pipeline's webhook is lost.
func TestACarsPushStartsItsPipeline(t *testing.T) {
	t.Parallel()
	var starts []train.StartPipeline
	e := newEnv(t, envOptions{pushPipelines: true, settings: train.Settings{MaxParallel: 2, BatchSize: 1},
		config: func(c *engine.Config) { c.PushPipelineWait = 50 * time.Millisecond },
		options: []engine.Option{engine.WithTrace(engine.Trace{Acted: func(_ train.Key, a train.Action) {
			if s, ok := a.(train.StartPipeline); ok {
				starts = append(starts, s)
			}
		}})}})
	var mrs []int64
	for i := 1; i <= 3; i++ {
		mrs = append(mrs, e.mr(i, nil))
	}
	e.addAll(mrs...)
	e.run()
	e.requireIdle()
	e.requireMerged(mrs...)

	if got := e.ff.Calls()["POST /projects/{id}/pipeline"]; got != 0 {
		t.Errorf("pipelines created through the API: %d, want 0", got)
	}
	pls := e.carPipelines()
	if len(pls) != len(mrs) {
		t.Fatalf("car pipelines %+v, want one per MR", pls)
	}
	for _, p := range pls {
		mr, err := strconv.ParseInt(p.Ref[strings.LastIndexByte(p.Ref, '/')+1:], 10, 64)
		if err != nil {
			t.Fatalf("pipeline %d on %q: %v", p.ID, p.Ref, err)
		}
		var chain []string
		for _, m := range mrs {
			if m <= mr {
				chain = append(chain, strconv.FormatInt(m, 10))
			}
		}
		want := map[string]string{"TRAINYARD": "true", "TRAINYARD_TARGET_BRANCH": "main", "TRAINYARD_MRS": strings.Join(chain, ",")}
		if p.Source != "push" || p.Status != fakeforge.PipelineSuccess || fmt.Sprint(p.Variables) != fmt.Sprint(want) {
			t.Errorf("pipeline %d on %s: source %s, status %s, variables %v; want push, success, %v", p.ID, p.Ref, p.Source, p.Status, p.Variables, want)
		}
	}
	if len(starts) == 0 || slices.ContainsFunc(starts, func(s train.StartPipeline) bool { return s.Again }) {
		t.Errorf("starts %+v: want first starts only", starts)
	}
}

// A project whose CI rules run API pipelines only starts nothing on a
// car's push: after the wait the car's pipeline is created through the
// API, and the next cars' are too, without waiting again.
func TestAProjectWhoseCIIgnoresPushesGetsAPIPipelines(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	e := newEnv(t, envOptions{pushPipelines: true, ci: fakeforge.CI{APIOnly: true, Duration: 40 * time.Millisecond},
		settings: train.Settings{MaxParallel: 2, BatchSize: 1},
		config:   func(c *engine.Config) { c.PushPipelineWait = 100 * time.Millisecond },
		options:  []engine.Option{engine.WithLogger(zap.New(core))}})
	fallbacks := func() int { return logs.FilterMessageSnippet("started no pipeline").Len() }
	first := e.mr(1, nil)
	e.addAll(first)
	e.run()
	e.requireMerged(first)
	if n := fallbacks(); n != 1 {
		t.Fatalf("fallbacks to the API: %d, want 1", n)
	}
	mrs := []int64{e.mr(2, nil), e.mr(3, nil)}
	e.addAll(mrs...)
	e.run()
	e.requireIdle()
	e.requireMerged(mrs...)
	if n := fallbacks(); n != 1 {
		t.Errorf("fallbacks to the API: %d, want still 1: the project's next cars went to the API at once", n)
	}
	pls := e.carPipelines()
	if len(pls) != 3 {
		t.Fatalf("car pipelines %+v, want one per MR", pls)
	}
	for _, p := range pls {
		if p.Source != "api" || p.Status != fakeforge.PipelineSuccess || p.Variables["TRAINYARD"] != "true" {
			t.Errorf("pipeline %d on %s: source %s, status %s, variables %v; want api, success, TRAINYARD set", p.ID, p.Ref, p.Source, p.Status, p.Variables)
		}
	}
}

// pushedCar adds an MR whose car's push started its pipeline, on CI that
// only the test finishes, with a wait for that pipeline longer than any
// test: the car stays starting until the pipeline is found.
func pushedCar(t *testing.T) (*env, int64, fakeforge.Pipeline) {
	t.Helper()
	e := newEnv(t, envOptions{pushPipelines: true, ci: fakeforge.CI{Manual: true},
		config: func(c *engine.Config) { c.PushPipelineWait = time.Hour }})
	mr := e.mr(1, nil)
	e.addAll(mr)
	pls := e.carPipelines()
	if len(pls) != 1 || pls[0].Source != "push" || pls[0].User != "trainyard-bot" {
		t.Fatalf("car pipelines %+v, want the one the bot's push started", pls)
	}
	return e, mr, pls[0]
}

// Only a pipeline the bot's own push of the car branch started, with the
// car's variables, is taken as the car's: anyone who can push may run a
// pipeline on a car branch at the car's commit, with variables of their
// choosing, or have one run as a tag's or a child pipeline.
func TestOnlyTheBotsPushPipelineIsTheCars(t *testing.T) {
	t.Parallel()
	e, mr, p := pushedCar(t)
	genuine := event.Event{Forge: "gitlab", Project: project, Kind: event.KindPipeline, User: event.User{Username: "Trainyard-Bot"},
		Pipeline: p.ID, SHA: p.SHA, Ref: p.Ref, Status: train.PipelineRunning, Source: "push",
		CarVars: event.CarVars{Train: "true", Target: "main", MRs: strconv.FormatInt(mr, 10)}}
	car := func() train.Car {
		t.Helper()
		tr, err := e.st.Load(e.ctx, e.key)
		if err != nil || tr.Car(mr) == nil {
			t.Fatalf("train %+v, %v", tr, err)
		}
		return *tr.Car(mr)
	}
	for i, forged := range []func(*event.Event){
		func(ev *event.Event) { ev.User.Username = "mallory" },
		func(ev *event.Event) { ev.Tag = true },
		func(ev *event.Event) { ev.Parent = p.ID - 1 },
		func(ev *event.Event) { ev.Source = "web" },
		func(ev *event.Event) { ev.CarVars.Train = "" },
		func(ev *event.Event) { ev.CarVars.Target = "release" },
		func(ev *event.Event) { ev.CarVars.MRs = "x" },
	} {
		ev := genuine
		ev.ID = fmt.Sprintf("forged-%d", i)
		forged(&ev)
		if err := e.eng.Dispatch(e.ctx, ev); err != nil {
			t.Fatal(err)
		}
		if c := car(); c.State != train.StateStarting || c.Pipeline != 0 {
			t.Fatalf("forged event %d (%+v): car %s with pipeline %d, want still starting", i, ev, c.State, c.Pipeline)
		}
	}
	if got := e.pipelineStatus(p.ID); got == fakeforge.PipelineCanceled {
		t.Fatalf("the push's pipeline was cancelled by the forged events")
	}
	genuine.ID = "genuine"
	if err := e.eng.Dispatch(e.ctx, genuine); err != nil {
		t.Fatal(err)
	}
	if c := car(); c.State != train.StateRunning || c.Pipeline != p.ID {
		t.Fatalf("car %s with pipeline %d, want running on %d", c.State, c.Pipeline, p.ID)
	}
}

// A replica that did not make the push (or one restarted since) knows
// from the car when the push that starts its pipeline was made: it waits
// for that pipeline instead of creating another through the API, and a
// sweep finds it.
func TestAnotherReplicaWaitsForThePushsPipeline(t *testing.T) {
	t.Parallel()
	e, mr, p := pushedCar(t)
	other := e.replica("other", train.Settings{})
	for i, want := range []train.State{train.StateStarting, train.StateRunning} {
		if err := other.Sweep(e.ctx, e.key); err != nil {
			t.Fatal(err)
		}
		tr, err := e.st.Load(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		if c := tr.Car(mr); c == nil || c.State != want {
			t.Fatalf("sweep %d: car %+v, want %s", i+1, c, want)
		}
		if n := e.ff.Calls()["POST /projects/{id}/pipeline"]; n != 0 {
			t.Fatalf("sweep %d: %d pipelines created through the API, want none", i+1, n)
		}
	}
	if tr, _ := e.st.Load(e.ctx, e.key); tr.Car(mr).Pipeline != p.ID {
		t.Fatalf("car runs pipeline %d, want the push's %d", tr.Car(mr).Pipeline, p.ID)
	}
}

// A car that leaves its commit before the pipeline its push started is
// seen leaves that pipeline to nobody: its webhook, or the next sweep if
// the webhook is lost, finds and cancels it, whether the car left the
// train or was rebuilt.
func TestAPushPipelineNobodyWaitsForIsCancelled(t *testing.T) {
	t.Parallel()
	removed := func(e *env, mr int64) {
		if err := e.eng.Handle(e.ctx, e.key, train.Removed{MR: mr, By: "alice"}); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name    string
		leave   func(e *env, mr int64)
		webhook bool
	}{
		{"removed, its webhook comes", removed, true},
		{"removed", removed, false},
		{"rebuilt on a target that moved", func(e *env, mr int64) {
			if _, err := e.ff.PushBranch(e.ctx, project, "main", "alice",
				fakeforge.Commit{Message: "Elsewhere", Files: map[string]string{"other.txt": "x\n"}}); err != nil {
				e.t.Fatal(err)
			}
			if err := e.eng.Handle(e.ctx, e.key, train.TargetHead{SHA: e.head()}); err != nil {
				e.t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, mr, p := pushedCar(t)
			tt.leave(e, mr)
			tr, err := e.st.Load(e.ctx, e.key)
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Strays) != 1 || tr.Strays[0].Commit != p.SHA {
				t.Fatalf("strays %+v, want the commit %s of pipeline %d", tr.Strays, p.SHA, p.ID)
			}
			if got := e.pipelineStatus(p.ID); got != fakeforge.PipelineRunning && got != fakeforge.PipelinePending {
				t.Fatalf("pipeline %d %s before the sweep, want still running", p.ID, got)
			}
			if tt.webhook {
				err = e.eng.Dispatch(e.ctx, event.Event{ID: "late", Forge: "gitlab", Project: project, Kind: event.KindPipeline,
					User: event.User{Username: "trainyard-bot"}, Pipeline: p.ID, SHA: p.SHA, Ref: p.Ref, Status: train.PipelineRunning,
					Source: "push", CarVars: event.CarVars{Train: "true", Target: "main", MRs: strconv.FormatInt(mr, 10)}})
			} else {
				err = e.eng.Sweep(e.ctx, e.key)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.pipelineStatus(p.ID); got != fakeforge.PipelineCanceled {
				t.Fatalf("pipeline %d %s once found, want canceled", p.ID, got)
			}
			if tr, err = e.st.Load(e.ctx, e.key); err != nil || len(tr.Strays) != 0 {
				t.Fatalf("strays %+v (%v) once found, want none", tr.Strays, err)
			}
			for _, other := range e.carPipelines() {
				if other.ID != p.ID && other.Status == fakeforge.PipelineCanceled {
					t.Errorf("pipeline %d of the rebuilt car cancelled too", other.ID)
				}
			}
		})
	}
}
