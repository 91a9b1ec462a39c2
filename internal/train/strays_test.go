package train

import (
	"slices"
	"testing"
	"time"
)

// pushed is a car whose push at t0 starts its pipeline, not seen yet.
func pushed(mr int64, s State, base string) Car {
	c := at(mr, s, base)
	c.PushedAt = t0
	return c
}

// A car that leaves its commit before the pipeline its push started is
// seen leaves a stray: the pipeline is cancelled when found, whether the
// car is still on the train or not, and nothing else is done with it.
func TestAStrayPushPipelineIsCancelled(t *testing.T) {
	tests := []struct {
		name  string
		train Train
		leave Observation // makes car 1 leave its commit C1
		gone  bool        // car 1 is off the train after it
	}{
		{"rebuilt: the target moved", mk(pushed(1, StateStarting, "T")), TargetHead{SHA: "T2"}, false},
		{"rebuilt: waiting for a free pipeline", mk(pushed(1, StateBuilt, "T")), TargetHead{SHA: "T2"}, false},
		{"a new push to the MR", mk(pushed(1, StateStarting, "T")), HeadChanged{MR: 1, HeadSHA: "H1b"}, true},
		{"removed", mk(pushed(1, StateStarting, "T")), Removed{MR: 1, By: "alice"}, true},
		{"closed", mk(pushed(1, StateStarting, "T")), Closed{MR: 1}, true},
		// Car 2's commit carries car 1's: its pass merges both, and car
		// 1's own pipeline tests nothing anyone needs.
		{"merged by the car behind", mk(pushed(1, StateStarting, "T"), at(2, StateRunning, "C1")),
			PipelineStatus{Pipeline: pipe(2), SHA: "C2", Status: PipelineSuccess}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := Plan(tt.train, tt.leave, t0)
			if tr.Pending != nil {
				tr, _ = Plan(tr, FastForwarded{To: tr.Pending.To, Expected: tr.Pending.Expected}, t0)
			}
			if want := []Stray{{MR: 1, Commit: "C1", Pushed: t0}}; !slices.Equal(tr.Strays, want) {
				t.Fatalf("strays %+v, want %+v", tr.Strays, want)
			}
			if gone := tr.Car(1) == nil; gone != tt.gone {
				t.Fatalf("car 1 off the train: %v, want %v", gone, tt.gone)
			}
			before := tr.Clone()
			got, actions := Plan(tr, PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineRunning}, t0.Add(time.Second))
			if cs := only[CancelPipeline](actions); len(cs) != 1 || cs[0].Pipeline != 500 || cs[0].MR != 1 {
				t.Fatalf("actions %#v: want pipeline 500 of !1 cancelled", actions)
			}
			if len(got.Strays) != 0 {
				t.Fatalf("strays %+v after the pipeline was found", got.Strays)
			}
			if c, was := got.Car(1), before.Car(1); (c == nil) != (was == nil) || c != nil && (c.Pipeline != 0 || c.State != was.State) {
				t.Fatalf("car 1 %+v took the stray (was %+v)", c, was)
			}
			// Found again (the sweep's look and the webhook both), it is
			// nobody's any more, as before strays were kept.
			_, actions = Plan(got, PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, Status: PipelineRunning}, t0.Add(time.Second))
			if cs := only[CancelPipeline](actions); tt.gone && len(cs) != 0 {
				t.Fatalf("actions %#v: a pipeline of an MR off the train cancelled without a stray", actions)
			}
		})
	}
}

// A stray found finished costs no cancel; one a car waits for again (the
// same commit, built once more) is the car's.
func TestAStrayFoundFinishedOrWantedAgain(t *testing.T) {
	tr := mk(pushed(1, StateStarting, "T"))
	tr, _ = Plan(tr, Removed{MR: 1, By: "alice"}, t0)
	got, actions := Plan(tr, PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, Status: PipelineSuccess}, t0)
	if len(only[CancelPipeline](actions)) != 0 || len(got.Strays) != 0 {
		t.Fatalf("actions %#v, strays %+v: want no cancel and the stray dropped", actions, got.Strays)
	}

	tr = mk(pushed(1, StateStarting, "T"))
	tr.Strays = []Stray{{MR: 1, Commit: "C1", Pushed: t0}}
	got, actions = Plan(tr, PipelineFound{MR: 1, SHA: "C1", Pipeline: 500, MRs: []int64{1}, Status: PipelineRunning}, t0)
	if c := got.Car(1); c.State != StateRunning || c.Pipeline != 500 || len(got.Strays) != 0 || len(only[CancelPipeline](actions)) != 0 {
		t.Fatalf("car %+v, strays %+v, actions %#v: want the car to take 500 and the stray dropped", c, got.Strays, actions)
	}
}

// Only a push that starts a pipeline leaves a stray, and only while that
// pipeline is unseen: a car with its pipeline known cancels it itself.
func TestNoStrayWithoutAnUnseenPushPipeline(t *testing.T) {
	for _, tt := range []struct {
		name string
		car  Car
	}{
		{"a push that starts nothing", at(1, StateStarting, "T")},
		{"the pipeline seen", func() Car { c := pushed(1, StateRunning, "T"); return c }()},
		{"not built yet", func() Car { c := at(1, StateBuilding, "T"); c.PushedAt = t0; return c }()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Plan(mk(tt.car), TargetHead{SHA: "T2"}, t0)
			if len(got.Strays) != 0 {
				t.Fatalf("strays %+v, want none", got.Strays)
			}
		})
	}
}

// Strays are looked for StrayWindow after their push, and a train keeps
// at most MaxStrays, dropping the oldest.
func TestStraysExpireAndAreBounded(t *testing.T) {
	tr := mk()
	tr.Strays = []Stray{{MR: 1, Commit: "C1", Pushed: t0}, {MR: 2, Commit: "C2", Pushed: t0.Add(time.Minute)}}
	got, _ := Plan(tr, Tick{}, t0.Add(StrayWindow))
	if len(got.Strays) != 2 {
		t.Fatalf("strays %+v at the window's end, want both", got.Strays)
	}
	got, _ = Plan(tr, Tick{}, t0.Add(StrayWindow+time.Second))
	if want := tr.Strays[1:]; !slices.Equal(got.Strays, want) {
		t.Fatalf("strays %+v, want %+v", got.Strays, want)
	}

	var cars []Car
	for mr := int64(1); mr <= MaxStrays+2; mr++ {
		cars = append(cars, pushed(mr, StateBuilt, "T"))
	}
	tr = mk(cars...)
	tr.Settings.MaxParallel = 1
	got, _ = Plan(tr, TargetHead{SHA: "T2"}, t0)
	if len(got.Strays) != MaxStrays || got.Strays[0].MR != 3 || got.Strays[MaxStrays-1].MR != MaxStrays+2 {
		t.Fatalf("%d strays from !%d to !%d, want %d from !3 to !%d", len(got.Strays), got.Strays[0].MR, got.Strays[len(got.Strays)-1].MR, MaxStrays, MaxStrays+2)
	}
}
