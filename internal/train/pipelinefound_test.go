package train

import (
	"reflect"
	"slices"
	"testing"
)

// A pipeline a push started is found, not asked for: the car waiting for
// one on that commit takes it; anything the train does not know that
// still runs is cancelled; what it knows is read as a status.
func TestAPipelineAPushStartedIsFound(t *testing.T) {
	starting := func() Car { return at(1, StateStarting, "T") }
	retried := func() Car {
		// A car whose first pipeline, 101, failed and that waits for its
		// retry on the same commit.
		c := starting()
		c.Attempts = 1
		c.Trail = []Mark{{Kind: MarkPipeline, Pipeline: 101, Commit: "C1", Status: PipelineFailed}}
		return c
	}
	tests := []struct {
		name       string
		car        Car
		found      PipelineFound
		state      State
		pipeline   int64
		attempts   int
		cancelled  []int64
		wantStatus bool // a testing status is emitted for the MR
		marked     PipelineState
	}{
		{"a pending pipeline on the commit is taken", starting(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelinePending}, StateRunning, 500, 1, nil, true, ""},
		{"one first seen passed is taken and passes", starting(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineSuccess}, StatePassed, 500, 1, nil, true, PipelineSuccess},
		// A lone car that failed is tested again on its own at once.
		{"one first seen failed is taken and fails", starting(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineFailed}, StateStarting, 0, 0, nil, true, PipelineFailed},
		{"a car built to start and waiting for a free pipeline takes it", at(1, StateBuilt, "T"),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineRunning}, StateRunning, 500, 1, nil, true, ""},
		{"one told of MRs ahead that merged since is taken", starting(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{7, 1}, Status: PipelineRunning}, StateRunning, 500, 1, nil, true, ""},
		{"one told it tests other MRs is not taken", starting(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1, 2}, Status: PipelineRunning}, StateStarting, 0, 0, []int64{500}, false, ""},
		{"the running car's own pipeline is known without its trail", at(1, StateRunning, "T"),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 101, MRs: []int64{1}, Status: PipelineRunning}, StateRunning, 101, 1, nil, false, ""},
		{"a cancelled one is not taken", starting(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineCanceled}, StateStarting, 0, 0, nil, false, ""},
		{"a late report of the failed attempt is not taken again", retried(),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 101, Status: PipelineFailed}, StateStarting, 0, 1, nil, false, ""},
		{"one for a commit the car left is cancelled", starting(),
			PipelineFound{MR: 1, SHA: "C0", Pipeline: 500, Status: PipelineRunning}, StateStarting, 0, 0, []int64{500}, false, ""},
		{"a second pipeline for a running car's commit is cancelled", at(1, StateRunning, "T"),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelinePending}, StateRunning, 101, 1, []int64{500}, false, ""},
		{"the running car's own pipeline passing is its result", at(1, StateRunning, "T"),
			PipelineFound{MR: 1, SHA: "C1", Pipeline: 101, Status: PipelineSuccess}, StatePassed, 101, 1, nil, false, ""},
		{"an MR not on the train: a late report of a running pipeline is left alone", starting(),
			PipelineFound{MR: 9, SHA: "C9", Pipeline: 500, Status: PipelineRunning}, StateStarting, 0, 0, nil, false, ""},
		{"an MR not on the train: a finished one is left alone", starting(),
			PipelineFound{MR: 9, SHA: "C9", Pipeline: 500, Status: PipelineFailed}, StateStarting, 0, 0, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mk(tt.car)
			tr.Settings.Retries = 0
			got, actions := Plan(tr, tt.found, t0)
			c := got.Car(1)
			if c == nil {
				t.Fatalf("car 1 left the train: actions %#v", actions)
			}
			if c.State != tt.state || c.Pipeline != tt.pipeline || c.Attempts != tt.attempts {
				t.Errorf("car state %s, pipeline %d, attempts %d; want %s, %d, %d", c.State, c.Pipeline, c.Attempts, tt.state, tt.pipeline, tt.attempts)
			}
			if tt.marked != "" && !slices.ContainsFunc(c.Trail, func(m Mark) bool {
				return m.Kind == MarkPipeline && m.Pipeline == tt.found.Pipeline && m.Status == tt.marked
			}) {
				t.Errorf("trail %+v: want pipeline %d marked %s", c.Trail, tt.found.Pipeline, tt.marked)
			}
			var cancelled []int64
			for _, a := range only[CancelPipeline](actions) {
				cancelled = append(cancelled, a.Pipeline)
			}
			if !slices.Equal(cancelled, tt.cancelled) {
				t.Errorf("cancelled %v, want %v", cancelled, tt.cancelled)
			}
			testing := slices.ContainsFunc(only[Status](actions), func(s Status) bool { return s.MR == 1 && s.Phase == PhaseTesting })
			if testing != tt.wantStatus {
				t.Errorf("testing status emitted: %v, want %v (actions %#v)", testing, tt.wantStatus, actions)
			}
		})
	}
}

// A witness's pipeline reported by its push is the witness's news, not a
// stranger to cancel: the train goes exactly where the plain status of
// that pipeline takes it.
func TestAFoundWitnessPipelineIsItsResult(t *testing.T) {
	for _, st := range []PipelineState{PipelineRunning, PipelineSuccess} {
		tr := mk(witnessed(suspect(at(1, StateFailed, "T"), pipe(1)), 900))
		got, actions := Plan(tr, PipelineFound{MR: 1, SHA: "W900", Pipeline: 900, Status: st}, t0)
		want, wantActions := Plan(tr, PipelineStatus{SHA: "W900", Pipeline: 900, Status: st}, t0)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(actions, wantActions) {
			t.Fatalf("%s: found gives %s and %#v; its status gives %s and %#v", st, states(got), actions, states(want), wantActions)
		}
		if len(only[CancelPipeline](actions)) != 0 {
			t.Fatalf("%s: the witness was cancelled: %#v", st, actions)
		}
	}
}

// A car's first pipeline on a commit may come from the push that made the
// commit; one asked for after it had a pipeline on that commit cannot.
func TestStartPipelineSaysWhetherTheCommitHadOne(t *testing.T) {
	for _, retries := range []int{0, 1} { // tested again on its own, or retried
		tr := mk(at(1, StateBuilding, "T"))
		tr.Settings.Retries = retries
		tr, actions := Plan(tr, Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1"}, t0)
		first := only[StartPipeline](actions)
		if len(first) != 1 || first[0].Again {
			t.Fatalf("first start: %#v, want one not marked again", first)
		}
		tr, _ = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: pipe(1)}, t0)
		_, actions = Plan(tr, failed(1), t0)
		again := only[StartPipeline](actions)
		if len(again) != 1 || !again[0].Again || again[0].Commit != "C1" {
			t.Fatalf("retries %d: start after a pipeline on the commit: %#v, want it marked again", retries, again)
		}
	}
}

// A push pipeline skipped by the commit's message ([skip ci]) tests
// nothing: the car asks for one at once, which the executor creates
// through the API.
func TestASkippedPushPipelineIsReplacedAtOnce(t *testing.T) {
	tr := mk(at(1, StateStarting, "T"))
	got, actions := Plan(tr, PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineSkipped}, t0)
	starts := only[StartPipeline](actions)
	if len(starts) != 1 || !starts[0].Again || starts[0].Commit != "C1" || got.Car(1).State != StateStarting {
		t.Fatalf("car %+v, actions %#v: want it starting, a pipeline asked for again", got.Car(1), actions)
	}
}

// A built car whose push's pipeline comes when no pipeline is free, or
// when a pipeline behind it already carries it, does not take it: the
// train runs no more than MaxParallel pipelines, and a batch's middle
// car rides on its last car's.
func TestAFoundPipelineBeyondTheLimitIsCancelled(t *testing.T) {
	for _, tt := range []struct {
		name string
		tr   Train
	}{
		{"no pipeline free", func() Train {
			tr := mk(at(1, StateBuilt, "T"), at(2, StateRunning, "C1"))
			tr.Settings.MaxParallel = 1
			return tr
		}()},
		{"carried by the car behind", mk(at(1, StateBuilt, "T"), at(2, StateRunning, "C1"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := Plan(tt.tr, PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineRunning}, t0)
			if c := got.Car(1); c.State != StateBuilt || c.Pipeline != 0 {
				t.Fatalf("car %+v: want it still built, riding", c)
			}
			if cs := only[CancelPipeline](actions); len(cs) != 1 || cs[0].Pipeline != 500 {
				t.Fatalf("actions %#v: want pipeline 500 cancelled", actions)
			}
		})
	}
}

// The car keeps when the push that starts its pipeline was made, for
// whichever replica starts it; a new build forgets it.
func TestACarRemembersAPushThatStartsItsPipeline(t *testing.T) {
	tr, actions := Plan(mk(at(1, StateBuilding, "T")), Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1", OnPush: true}, t0)
	starts := only[StartPipeline](actions)
	if c := tr.Car(1); !c.PushedAt.Equal(t0) || len(starts) != 1 || !starts[0].Pushed.Equal(t0) {
		t.Fatalf("car pushed at %v, starts %#v: want both %v", c.PushedAt, starts, t0)
	}
	_, actions = Plan(mk(at(1, StateBuilding, "T")), Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1"}, t0)
	if starts := only[StartPipeline](actions); len(starts) != 1 || !starts[0].Pushed.IsZero() {
		t.Fatalf("starts %#v: want no push time for a push that starts nothing", starts)
	}
	tr, _ = Plan(tr, TargetHead{SHA: "T2"}, t0) // the base moved: built again
	if c := tr.Car(1); !c.PushedAt.IsZero() {
		t.Fatalf("car %+v: a new build still holds the last push's time", c)
	}
}
