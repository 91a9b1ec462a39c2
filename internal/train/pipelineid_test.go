package train

import (
	"reflect"
	"testing"
)

// On GitHub a pipeline id is a commit and an attempt (see
// internal/forge/github/pipeline.go): a car tested again on the same
// commit can get the id of its last pipeline. The planner must take such
// a pipeline as new, and judge a suspect's own test as its own.

// toStart brings a car to waiting for a new pipeline on commit C1 after
// pipeline pipe(1) on that commit, each way a car goes back to Built.
var toStart = []struct {
	name  string
	train func() Train
	obs   Observation
}{
	{
		name:  "a retry on the line",
		train: func() Train { tr := mk(at(1, StateRunning, "T")); tr.Settings.Retries = 1; return tr },
		obs:   failed(1),
	},
	{
		name:  "a failure tested again on its own",
		train: func() Train { return mk(at(1, StateRunning, "T")) },
		obs:   failed(1),
	},
	{
		name:  "a witness that said nothing",
		train: func() Train { return mk(witnessed(suspect(at(1, StateFailed, "T"), pipe(1)), 900)) },
		obs:   PipelineStatus{Pipeline: 900, SHA: "W900", Status: PipelineCanceled},
	},
}

func TestANewPipelineWithTheLastOnesIDIsTaken(t *testing.T) {
	for _, tt := range toStart {
		t.Run(tt.name, func(t *testing.T) {
			tr, actions := Plan(tt.train(), tt.obs, t0)
			c := tr.Car(1)
			if c == nil || c.State != StateStarting || len(only[StartPipeline](actions)) != 1 {
				t.Fatalf("car %+v, actions %#v: want a new pipeline asked for", c, actions)
			}
			if c.Pipeline != 0 || !c.PipelineStartedAt.IsZero() {
				t.Errorf("waiting for a pipeline, the car still holds its last: %d, started %v", c.Pipeline, c.PipelineStartedAt)
			}
			attempts := c.Attempts
			tr, actions = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: pipe(1)}, t0)
			if c := tr.Car(1); c.State != StateRunning || c.Pipeline != pipe(1) || c.Attempts != attempts+1 || !onlyTesting(actions, 1) {
				t.Fatalf("car %+v, actions %#v: want it running on pipeline %d", c, actions, pipe(1))
			}
			// Resync owes it nothing more: it is not stuck starting.
			if _, actions := Plan(tr, Resync{}, t0); len(only[StartPipeline](actions)) != 0 {
				t.Errorf("resync starts it again: %#v", actions)
			}
		})
	}
}

// A train saved by an earlier version may hold a car waiting for a
// pipeline with its last one's id: the pipeline is taken all the same.
func TestACarStartingWithAStaleIDIsNotStuck(t *testing.T) {
	c := at(1, StateStarting, "T")
	c.Pipeline, c.Attempts = pipe(1), 1
	tr, actions := Plan(mk(c), PipelineCreated{MR: 1, SHA: "C1", Pipeline: pipe(1)}, t0)
	if got := tr.Car(1); got.State != StateRunning || got.Attempts != 2 || !onlyTesting(actions, 1) {
		t.Fatalf("car %+v, actions %#v", got, actions)
	}
	// Once running, the same creation again is a repeat.
	if again, actions := Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: pipe(1)}, t0); again.Car(1).Attempts != 2 || len(actions) != 0 {
		t.Fatalf("repeat: car %+v, actions %#v", again.Car(1), actions)
	}
}

func TestASuspectFailingUnderTheSameIDIsEvicted(t *testing.T) {
	for _, tt := range toStart[1:] { // a retry on the line is no suspect
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := Plan(tt.train(), tt.obs, t0)
			tr, _ = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: pipe(1)}, t0)
			if c := tr.Car(1); c.Suspect != pipe(1) || !c.Retested {
				t.Fatalf("car %+v: want its own test marked, under the id that made it a suspect", c)
			}
			got, actions := Plan(tr, failed(1), t0)
			if e := evicted(actions); e[1] != ReasonPipelineFailed || got.Car(1) != nil {
				t.Fatalf("evicted %v, cars %s: its own test failed on the target, it is the culprit", e, states(got))
			}
		})
	}
}

// Before its own test, a suspect whose failure is the one that made it a
// suspect waits: the mark is what tells the two apart, not the id.
func TestASuspectIsNotEvictedOnTheFailureThatMadeItOne(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"))
	tr, _ = Plan(tr, failed(1), t0)
	c := tr.Car(1)
	if c == nil || c.State != StateFailed || c.Suspect != pipe(1) || c.Retested || c.Witness == nil {
		t.Fatalf("car %+v: want it held failed, waiting for its witness", c)
	}
	if _, actions := Plan(tr, Tick{}, t0); len(evicted(actions)) != 0 {
		t.Fatalf("evicted on one failure: %#v", actions)
	}
}

// onlyTesting reports whether actions are just MR mr's status turning to
// testing, which every pipeline a car takes brings.
func onlyTesting(actions []Action, mr int64) bool {
	return len(actions) == 1 && reflect.DeepEqual(actions[0], Status{MR: mr, HeadSHA: "H1", Phase: PhaseTesting})
}
