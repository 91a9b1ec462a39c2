package train

import (
	"slices"
	"testing"
)

func TestUrgentCarCancelsNothing(t *testing.T) {
	// A full window (3) of running cars, one built but not started, one
	// queued.
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2"), at(4, StateBuilt, "C3"), queued(5))
	tr, actions := Plan(tr, Added{MR: 9, HeadSHA: head(9), By: "a", Priority: PriorityUrgent, Event: "e9"}, t0)
	if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, []int64{1, 2, 3, 9, 4, 5}) {
		t.Fatalf("order = %v, want the urgent car behind the cars under test", m)
	}
	if s := only[Status](actions); len(s) != 1 || s[0].Added.String() != "Added to the merge train for `main` at position 4." {
		t.Fatalf("statuses = %#v", s)
	}
	if c := cancels(actions); len(c) != 0 {
		t.Fatalf("cancels = %v, want none", c)
	}
	// It is built at once on the last car under test, over the window;
	// the built car behind it goes back to the queue.
	if b := builds(actions); !slices.Equal(b, []string{"9@C3"}) {
		t.Fatalf("builds = %v, want [9@C3]", b)
	}
	if got := states(tr); got != "1:running@T 2:running@C1 3:running@C2 9:building@C3 4:queued 5:queued" {
		t.Fatalf("states = %s", got)
	}
	tr, actions = Plan(tr, Built{MR: 9, Base: "C3", HeadSHA: head(9), Commit: commit(9)}, t0)
	if s := only[StartPipeline](actions); len(s) != 1 || s[0].MR != 9 {
		t.Fatalf("pipeline starts = %+v, want the urgent car's, over the window", s)
	}
	// Another urgent car queues behind the first.
	tr, _ = Plan(tr, Added{MR: 10, HeadSHA: head(10), By: "a", Priority: PriorityUrgent, Event: "e10"}, t0)
	if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, []int64{1, 2, 3, 9, 10, 4, 5}) {
		t.Fatalf("order = %v", m)
	}
	// Its pipeline tests the cars ahead too, which kept theirs: its pass
	// merges them all in one move.
	tr, _ = Plan(tr, PipelineCreated{MR: 9, SHA: commit(9), Pipeline: pipe(9)}, t0)
	_, actions = Plan(tr, PipelineStatus{Pipeline: pipe(9), SHA: commit(9), Status: PipelineSuccess}, t0)
	if ffs := only[FastForwardTarget](actions); len(ffs) != 1 || ffs[0].To != commit(9) || !slices.Equal(ffs[0].MRs, []int64{1, 2, 3, 9}) {
		t.Fatalf("fast-forwards = %+v, want one to the urgent car's commit", ffs)
	}
}

func TestUrgentCarOnAnIdleTrainGoesFirst(t *testing.T) {
	tr := mk(queued(1), queued(2))
	tr, _ = Plan(tr, Added{MR: 9, HeadSHA: head(9), By: "a", Priority: PriorityUrgent}, t0)
	if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, []int64{9, 1, 2}) {
		t.Fatalf("order = %v", m)
	}
}
