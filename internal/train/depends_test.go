package train

import (
	"slices"
	"testing"
)

func dep(mr int64) Dep { return Dep{MR: mr, Label: "!" + string(rune('0'+mr))} }

func TestDependentNeedsItsDependenciesOnTheTrain(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"))
	_, actions := Plan(tr, Added{MR: 3, HeadSHA: head(3), By: "a", Event: "e3", DependsOn: []Dep{dep(1), dep(2)}}, t0)
	cs := only[Comment](actions)
	want := "This merge request depends on !2, which must be on the merge train for `main` first (or merged): add it, then add this one again."
	if len(cs) != 1 || cs[0].Body.String() != want {
		t.Fatalf("comments = %+v, want %q", cs, want)
	}
	// Urgent, it still goes behind what it depends on.
	tr = mk(at(1, StateRunning, "T"), queued(2))
	tr, _ = Plan(tr, Added{MR: 3, HeadSHA: head(3), By: "a", Priority: PriorityHigh, DependsOn: []Dep{dep(2)}}, t0)
	if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, []int64{1, 2, 3}) {
		t.Fatalf("order = %v, want the dependent behind its dependency", m)
	}
}

func TestDependentsLeaveWithTheirDependency(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2"), at(4, StateRunning, "C3"))
	tr.Cars[2].DependsOn = []Dep{dep(1)}
	tr.Cars[3].DependsOn = []Dep{dep(3)}
	tr, actions := Plan(tr, Removed{MR: 1, By: "alice", Event: "r1"}, t0)
	if got := evicted(actions); len(got) != 3 || got[1] != ReasonRemoved || got[3] != ReasonDependency || got[4] != ReasonDependency {
		t.Fatalf("evicted = %v, want 1 removed and 3, 4 for their dependencies", got)
	}
	if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, []int64{2}) {
		t.Fatalf("left on the train: %v", m)
	}
	for _, r := range only[Record](actions) {
		if r.Car.MR == 3 && r.Car.Reason.Detail.String() != "it depends on !1, which left the train: it was removed from the train by @alice" {
			t.Fatalf("!3's reason = %q", r.Car.Reason.Detail.String())
		}
		if r.Car.MR == 4 && r.Car.Reason.Detail.String() != "it depends on !3, which left the train: it depends on !1, which left the train: it was removed from the train by @alice" {
			t.Fatalf("!4's reason = %q", r.Car.Reason.Detail.String())
		}
	}
}

func TestDependentNeverMergesWithoutItsDependency(t *testing.T) {
	// Car 1 is being bisected off the main line; car 2 depends on it and
	// passed on the main line, which lacks it.
	tr := mk(suspect(at(1, StateRunning, "T"), 900), at(2, StatePassed, "T"))
	tr.Cars[1].DependsOn = []Dep{dep(1)}
	_, actions := Plan(tr, Tick{}, t0)
	if ffs := only[FastForwardTarget](actions); len(ffs) != 0 {
		t.Fatalf("fast-forwards = %+v: the dependent would merge without its dependency", ffs)
	}
	tr.Cars[1].DependsOn = nil
	if _, actions := Plan(tr, Tick{}, t0); len(only[FastForwardTarget](actions)) != 1 {
		t.Fatal("without the dependency the passed car merges: the test tests nothing")
	}
}
