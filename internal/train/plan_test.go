package train

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	key = Key{Forge: "gitlab", Project: "group/app", Branch: "main"}
)

// mk builds a train on target head "T" from car specs.
func mk(cars ...Car) Train {
	tr := New(key, Settings{MaxParallel: 3, MinWindow: 3})
	tr.TargetHead = "T"
	tr.Cars = cars
	return tr
}

// queued is a car waiting to be built.
func queued(mr int64) Car {
	return Car{MR: mr, HeadSHA: head(mr), State: StateQueued, AddedAt: t0, Priority: PriorityNormal}
}

// at is a car in state s built on base with commit "C<mr>" and pipeline
// 100+mr (when running or done).
func at(mr int64, s State, base string) Car {
	c := queued(mr)
	c.State, c.Base, c.Builds = s, base, 1
	if s != StateBuilding {
		c.Commit = commit(mr)
	}
	if s == StateRunning || s == StatePassed || s == StateFailed {
		c.Pipeline, c.Attempts, c.PipelineStartedAt = pipe(mr), 1, t0
	}
	if s == StateFailed {
		c.Reason = &Reason{Code: ReasonPipelineFailed, Pipeline: pipe(mr), Commit: commit(mr), Detail: Join(PipelineRef(pipe(mr)), " failed")}
	}
	return c
}

// suspect marks a car as being bisected after failed pipeline id.
func suspect(c Car, id int64) Car {
	c.Suspect = id
	return c
}

// witnessed gives car c the witness pipeline id, on commit "W<id>".
func witnessed(c Car, id int64) Car {
	c.Witness = &Witness{Pipeline: id, SHA: fmt.Sprintf("W%d", id), Others: 1}
	return c
}

func head(mr int64) string   { return fmt.Sprintf("H%d", mr) }
func commit(mr int64) string { return fmt.Sprintf("C%d", mr) }
func pipe(mr int64) int64    { return 100 + mr }

func only[A Action](actions []Action) []A {
	var out []A
	for _, a := range actions {
		if x, ok := a.(A); ok {
			out = append(out, x)
		}
	}
	return out
}

func states(tr Train) string {
	var b strings.Builder
	for i, c := range tr.Cars {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d:%s", c.MR, c.State)
		if c.Base != "" {
			fmt.Fprintf(&b, "@%s", c.Base)
		}
	}
	return b.String()
}

func mrsOf[A any](as []A, mr func(A) int64) []int64 {
	var out []int64
	for _, a := range as {
		out = append(out, mr(a))
	}
	return out
}

func builds(actions []Action) []string {
	var out []string
	for _, b := range only[BuildCar](actions) {
		out = append(out, fmt.Sprintf("%d@%s", b.MR, b.Base))
	}
	return out
}

func cancels(actions []Action) []int64 {
	return mrsOf(only[CancelPipeline](actions), func(c CancelPipeline) int64 { return c.Pipeline })
}

func evicted(actions []Action) map[int64]ReasonCode {
	out := map[int64]ReasonCode{}
	for _, r := range only[Record](actions) {
		if r.Car.State == StateEvicted {
			out[r.Car.MR] = r.Car.Reason.Code
		}
	}
	return out
}

func TestBuildChain(t *testing.T) {
	tests := []struct {
		name       string
		train      Train
		obs        Observation
		wantBuilds []string
		wantStates string
	}{
		{
			name:       "first car is built on the target head",
			train:      mk(queued(1), queued(2)),
			obs:        Tick{},
			wantBuilds: []string{"1@T"},
			wantStates: "1:building@T 2:queued",
		},
		{
			name:       "car k is built on car k-1's commit once it exists",
			train:      mk(at(1, StateBuilding, "T"), queued(2)),
			obs:        Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1"},
			wantBuilds: []string{"2@C1"},
			wantStates: "1:starting@T 2:building@C1",
		},
		{
			name:       "nothing is built before the target head is known",
			train:      func() Train { tr := mk(queued(1)); tr.TargetHead = ""; return tr }(),
			obs:        Tick{},
			wantStates: "1:queued",
		},
		{
			name:       "a failed car is tested again on its own and the cars behind are built without it",
			train:      mk(at(1, StateRunning, "T"), at(2, StateFailed, "C1"), queued(3)),
			obs:        Tick{},
			wantBuilds: []string{"3@C1"},
			wantStates: "1:running@T 2:starting@C1 3:building@C1",
		},
		{
			name:       "cars behind a suspect are built on the nearest car that is not one",
			train:      mk(at(1, StateRunning, "T"), suspect(at(2, StateRunning, "C1"), 9), queued(3)),
			obs:        Tick{},
			wantBuilds: []string{"3@C1"},
			wantStates: "1:running@T 2:running@C1 3:building@C1",
		},
		{
			name:       "only the first max_parallel cars are built",
			train:      mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateStarting, "C2"), queued(4)),
			obs:        Tick{},
			wantStates: "1:running@T 2:running@C1 3:starting@C2 4:queued",
		},
		{
			name: "a paused train builds nothing",
			train: func() Train {
				tr := mk(queued(1))
				tr.Paused = true
				return tr
			}(),
			obs:        Tick{},
			wantStates: "1:queued",
		},
		{
			name: "a paused train starts no pipeline for a built car",
			train: func() Train {
				tr := mk(at(1, StateBuilding, "T"))
				tr.Paused = true
				return tr
			}(),
			obs:        Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1"},
			wantStates: "1:built@T",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := Plan(tt.train, tt.obs, t0)
			if b := builds(actions); !slices.Equal(b, tt.wantBuilds) {
				t.Errorf("builds = %v, want %v", b, tt.wantBuilds)
			}
			if s := states(got); s != tt.wantStates {
				t.Errorf("states = %q, want %q", s, tt.wantStates)
			}
			if tt.train.Paused && len(only[StartPipeline](actions))+len(only[FastForwardTarget](actions)) > 0 {
				t.Errorf("paused train acted: %#v", actions)
			}
		})
	}
}

func TestBuiltStartsPipelineWithChain(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateBuilding, "C1"))
	_, actions := Plan(tr, Built{MR: 2, Base: "C1", HeadSHA: head(2), Commit: "C2"}, t0)
	want := []StartPipeline{{MR: 2, Commit: "C2", MRs: []int64{1, 2}}}
	if got := only[StartPipeline](actions); !reflect.DeepEqual(got, want) {
		t.Fatalf("start = %#v, want %#v", got, want)
	}
}

func TestResumeStartsWhatPauseHeldBack(t *testing.T) {
	tr := mk(at(1, StateBuilt, "T"), queued(2))
	tr.Paused = true
	got, actions := Plan(tr, Resumed{By: "ops"}, t0)
	if got.Paused {
		t.Fatal("still paused")
	}
	if s := only[StartPipeline](actions); len(s) != 1 || s[0].MR != 1 {
		t.Fatalf("start = %#v, want one for !1", s)
	}
	if b := builds(actions); !slices.Equal(b, []string{"2@C1"}) {
		t.Fatalf("builds = %v", b)
	}
	if n := only[Notify](actions); len(n) != 1 || n[0].Kind != NotifyResumed {
		t.Fatalf("notify = %#v", n)
	}
}

func TestPausedTrainMergesNothing(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"))
	tr.Paused = true
	got, actions := Plan(tr, PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineSuccess}, t0)
	if got.Pending != nil || len(only[FastForwardTarget](actions)) != 0 {
		t.Fatalf("paused train fast-forwarded: %#v", actions)
	}
	if got.Cars[0].State != StatePassed {
		t.Fatalf("state = %s, want passed", got.Cars[0].State)
	}
}

func TestStaleCars(t *testing.T) {
	tests := []struct {
		name        string
		train       Train
		obs         Observation
		wantCancels []int64
		wantBuilds  []string
		wantStates  string
	}{
		{
			name:        "target moved outside the train: every car is rebuilt from the new head",
			train:       mk(at(1, StateRunning, "T"), at(2, StatePassed, "C1"), at(3, StateStarting, "C2")),
			obs:         TargetHead{SHA: "T2"},
			wantCancels: []int64{pipe(1)},
			wantBuilds:  []string{"1@T2"},
			wantStates:  "1:building@T2 2:queued 3:queued",
		},
		{
			name: "a rejected fast-forward is the same as an outside push",
			train: func() Train {
				tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"))
				tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
				return tr
			}(),
			obs:         FastForwarded{To: "C1", Rejected: true, Head: "X"},
			wantCancels: []int64{pipe(2)},
			wantBuilds:  []string{"1@X"},
			wantStates:  "1:building@X 2:queued",
		},
		{
			name:        "a car whose recorded base is not the commit ahead is cancelled and rebuilt",
			train:       mk(at(1, StateRunning, "T"), at(2, StateRunning, "OLD")),
			obs:         Tick{},
			wantCancels: []int64{pipe(2)},
			wantBuilds:  []string{"2@C1"},
			wantStates:  "1:running@T 2:building@C1",
		},
		{
			name:       "a failure behind a bisected failure is rebuilt without it",
			train:      mk(at(1, StateRunning, "T"), at(2, StateFailed, "C1"), at(3, StateFailed, "C2")),
			obs:        PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineSuccess},
			wantBuilds: []string{"3@C1"},
			wantStates: "1:passed@T 2:starting@C1 3:building@C1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.train.Settings.MaxParallel = 10
			got, actions := Plan(tt.train, tt.obs, t0)
			if c := cancels(actions); !slices.Equal(c, tt.wantCancels) {
				t.Errorf("cancels = %v, want %v", c, tt.wantCancels)
			}
			if b := builds(actions); !slices.Equal(b, tt.wantBuilds) {
				t.Errorf("builds = %v, want %v", b, tt.wantBuilds)
			}
			if s := states(got); !strings.HasPrefix(s, tt.wantStates) {
				t.Errorf("states = %q, want %q", s, tt.wantStates)
			}
		})
	}
}

func TestFastForward(t *testing.T) {
	tests := []struct {
		name    string
		train   Train
		obs     Observation
		wantFF  *FastForwardTarget
		wantMRs []int64 // still on the train afterwards
	}{
		{
			name:    "a passed first car moves the target to its commit",
			train:   mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1")),
			obs:     PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineSuccess},
			wantFF:  &FastForwardTarget{To: "C1", Expected: "T", MRs: []int64{1}},
			wantMRs: []int64{1, 2},
		},
		{
			name:    "a passed car merges every car ahead of it, even while they still run",
			train:   mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2")),
			obs:     PipelineStatus{Pipeline: pipe(3), SHA: "C3", Status: PipelineSuccess},
			wantFF:  &FastForwardTarget{To: "C3", Expected: "T", MRs: []int64{1, 2, 3}},
			wantMRs: []int64{1, 2, 3},
		},
		{
			name:    "no fast-forward past a failed car",
			train:   mk(at(1, StateRunning, "T"), at(2, StateFailed, "C1"), at(3, StateRunning, "C1")),
			obs:     PipelineStatus{Pipeline: pipe(3), SHA: "C3", Status: PipelineSuccess},
			wantMRs: []int64{1, 2, 3},
		},
		{
			name: "one fast-forward at a time",
			train: func() Train {
				tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"))
				tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
				return tr
			}(),
			obs:     PipelineStatus{Pipeline: pipe(2), SHA: "C2", Status: PipelineSuccess},
			wantMRs: []int64{1, 2},
		},
		{
			name: "a completed fast-forward merges the cars it carried",
			train: func() Train {
				tr := mk(at(1, StateRunning, "T"), at(2, StatePassed, "C1"), at(3, StateRunning, "C2"))
				tr.Pending = &FastForward{To: "C2", Expected: "T", MRs: []int64{1, 2}}
				return tr
			}(),
			obs:     FastForwarded{To: "C2", Head: "C2"},
			wantMRs: []int64{3},
		},
		{
			name: "seeing the target at the pushed commit completes the fast-forward",
			train: func() Train {
				tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"))
				tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
				return tr
			}(),
			obs:     TargetHead{SHA: "C1"},
			wantMRs: []int64{2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := Plan(tt.train, tt.obs, t0)
			ffs := only[FastForwardTarget](actions)
			switch {
			case tt.wantFF == nil && len(ffs) > 0:
				t.Errorf("unexpected fast-forward %#v", ffs)
			case tt.wantFF != nil && (len(ffs) != 1 || !reflect.DeepEqual(ffs[0], *tt.wantFF)):
				t.Errorf("fast-forward = %#v, want %#v", ffs, *tt.wantFF)
			}
			if m := mrsOf(got.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, tt.wantMRs) {
				t.Errorf("cars = %v, want %v", m, tt.wantMRs)
			}
		})
	}
}

// A push that took the car branches with the target owes no deletion of
// them; a car it merged whose branch it did not take still gets one.
func TestMergeByAPushThatDeletedTheCarBranches(t *testing.T) {
	for _, tc := range []struct {
		name    string
		result  FastForwarded
		deletes []int64
	}{
		{"deleted with the move", FastForwarded{To: "C2", Head: "C2", Deleted: []int64{1, 2}}, nil},
		{"one of them not", FastForwarded{To: "C2", Head: "C2", Deleted: []int64{2}}, []int64{1}},
		{"moved alone", FastForwarded{To: "C2", Head: "C2"}, []int64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mk(at(1, StateRunning, "T"), at(2, StatePassed, "C1"), at(3, StateRunning, "C2"))
			tr.Pending = &FastForward{To: "C2", Expected: "T", MRs: []int64{1, 2}}
			got, actions := Plan(tr, tc.result, t0.Add(time.Minute))
			if got.TargetHead != "C2" || len(only[Record](actions)) != 2 {
				t.Fatalf("head = %q, records %v: want !1 and !2 merged at C2", got.TargetHead, only[Record](actions))
			}
			if d := mrsOf(only[DeleteCarRef](actions), func(d DeleteCarRef) int64 { return d.MR }); !slices.Equal(d, tc.deletes) {
				t.Errorf("deleted refs = %v, want %v", d, tc.deletes)
			}
		})
	}
}

func TestMergeEffects(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StatePassed, "C1"), at(3, StateRunning, "C2"))
	tr.Pending = &FastForward{To: "C2", Expected: "T", MRs: []int64{1, 2}}
	got, actions := Plan(tr, FastForwarded{To: "C2", Head: "C2"}, t0.Add(time.Minute))
	if got.TargetHead != "C2" || got.Pending != nil {
		t.Fatalf("head = %q pending = %v", got.TargetHead, got.Pending)
	}
	if c := cancels(actions); !slices.Equal(c, []int64{pipe(1)}) {
		t.Errorf("cancels = %v, want the still-running pipeline of !1 only", c)
	}
	var merged []int64
	for _, r := range only[Record](actions) {
		if r.Car.State != StateMerged || r.Car.Reason.Commit != "C2" || r.Car.Reason.Pipeline != pipe(2) {
			t.Errorf("record = %+v", r.Car)
		}
		merged = append(merged, r.Car.MR)
	}
	if !slices.Equal(merged, []int64{1, 2}) {
		t.Errorf("merged = %v", merged)
	}
	// The merge is told in each MR's status comment, not in a note.
	if c := only[Comment](actions); len(c) != 0 {
		t.Errorf("comments = %#v, want none", c)
	}
	statuses := only[Status](actions)
	want := "Merged into `main` with C2, tested by pipeline #102."
	if len(statuses) != 2 || statuses[0].Outcome.String() != want || statuses[0].Phase != PhaseMerged || statuses[1].MR != 2 || statuses[1].HeadSHA != "H2" {
		t.Errorf("statuses = %#v, want %q on !1 and !2", statuses, want)
	}
	if d := mrsOf(only[DeleteCarRef](actions), func(d DeleteCarRef) int64 { return d.MR }); !slices.Equal(d, []int64{1, 2}) {
		t.Errorf("deleted refs = %v", d)
	}
	if n := only[Notify](actions); len(n) != 1 || n[0].Kind != NotifyMerged || len(n[0].Cars) != 2 {
		t.Errorf("notify = %#v", n)
	}
	// The car behind sat on C2, now the target head: it goes on untouched.
	if s := states(got); s != "3:running@C2" {
		t.Errorf("states = %q", s)
	}
}

func TestFailures(t *testing.T) {
	status := func(mr int64, st PipelineState) Observation {
		return PipelineStatus{Pipeline: pipe(mr), SHA: commit(mr), Status: st}
	}
	fail := func(mr int64) Observation { return status(mr, PipelineFailed) }
	pass := func(mr int64) Observation { return status(mr, PipelineSuccess) }
	tests := []struct {
		name        string
		train       Train
		retries     int
		eager       bool
		obs         Observation
		wantEvicted map[int64]ReasonCode
		wantStarts  []int64
		wantCancels []int64
		wantFF      []int64
		wantStates  string
	}{
		{
			name:       "a pass behind a failure contradicts it: the train merges through it",
			train:      mk(at(1, StateFailed, "T"), at(2, StateRunning, "C1")),
			obs:        pass(2),
			wantFF:     []int64{1, 2},
			wantStates: "1:failed@T 2:passed@C1",
		},
		{
			name:       "a failure keeps the pipeline behind it that carries it as a witness, and the cars behind go on without it",
			train:      mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1")),
			obs:        fail(1),
			wantStates: "1:failed@T 2:building@T",
		},
		{
			name:       "a failure with no pipeline behind it is tested again on its own",
			train:      mk(at(1, StateRunning, "T"), queued(2)),
			obs:        fail(1),
			wantStarts: []int64{1},
			wantStates: "1:starting@T 2:building@T",
		},
		{
			name:       "a failure behind a running car is judged on top of it",
			train:      mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2")),
			obs:        fail(2),
			wantStates: "1:running@T 2:failed@C1 3:building@C1",
		},
		{
			name:       "a witness that carries more than one MR behind the failure confirms nothing: the car is tested again",
			train:      mk(at(1, StateRunning, "T"), at(2, StateBuilt, "C1"), at(3, StateRunning, "C2")),
			obs:        fail(1),
			wantStarts: []int64{1},
			wantStates: "1:starting@T 2:building@T 3:queued",
		},
		{
			name:        "a batch bisected on top of a car that fails goes back to the line",
			train:       mk(at(1, StateRunning, "T"), suspect(at(2, StateRunning, "C1"), 9), at(3, StateRunning, "C1")),
			obs:         fail(1),
			wantCancels: []int64{pipe(2)},
			wantStates:  "1:failed@T 2:building@T 3:queued",
		},
		{
			name:       "a witness that passes clears the car, which goes back to the line",
			train:      mk(witnessed(suspect(at(1, StateFailed, "T"), pipe(1)), 900), at(2, StateRunning, "T")),
			obs:        PipelineStatus{Pipeline: 900, SHA: "W900", Status: PipelineSuccess},
			wantStates: "2:running@T 1:building@C2",
		},
		{
			name:        "a witness that fails too evicts the car",
			train:       mk(witnessed(suspect(at(1, StateFailed, "T"), pipe(1)), 900), at(2, StateRunning, "T")),
			obs:         PipelineStatus{Pipeline: 900, SHA: "W900", Status: PipelineFailed},
			wantEvicted: map[int64]ReasonCode{1: ReasonPipelineFailed},
			wantStates:  "2:running@T",
		},
		{
			name:       "a witness that fails is not enough while the car ahead is unresolved",
			train:      mk(at(1, StateRunning, "T"), witnessed(suspect(at(2, StateFailed, "C1"), pipe(2)), 900)),
			obs:        PipelineStatus{Pipeline: 900, SHA: "W900", Status: PipelineFailed},
			wantStates: "1:running@T 2:failed@C1",
		},
		{
			name:       "a witness cancelled by someone else says nothing: the car is tested again",
			train:      mk(witnessed(suspect(at(1, StateFailed, "T"), pipe(1)), 900)),
			obs:        PipelineStatus{Pipeline: 900, SHA: "W900", Status: PipelineCanceled},
			wantStarts: []int64{1},
			wantStates: "1:starting@T",
		},
		{
			name: "a witness that passes clears a batch being bisected",
			train: mk(suspect(at(1, StateRunning, "T"), 9), witnessed(suspect(at(2, StateRunning, "C1"), 9), 900),
				at(3, StateRunning, "T")),
			obs:         PipelineStatus{Pipeline: 900, SHA: "W900", Status: PipelineSuccess},
			wantCancels: []int64{pipe(1), pipe(2)},
			wantStates:  "3:running@T 1:building@C3 2:queued",
		},
		{
			name:       "a held failure is tested again on its own once every car ahead passed",
			train:      mk(at(1, StateRunning, "T"), at(2, StateFailed, "C1")),
			obs:        pass(1),
			wantStarts: []int64{2},
			wantFF:     []int64{1},
			wantStates: "1:passed@T 2:starting@C1",
		},
		{
			name:       "a failed car is retried on the line while it has retries left",
			train:      mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1")),
			retries:    1,
			obs:        fail(1),
			wantStarts: []int64{1},
			wantStates: "1:starting@T 2:running@C1",
		},
		{
			name:        "a suspect that fails again on the target is evicted",
			train:       mk(suspect(at(1, StateRunning, "T"), 7), at(2, StateRunning, "T")),
			retries:     1,
			obs:         fail(1),
			wantEvicted: map[int64]ReasonCode{1: ReasonPipelineFailed},
			wantStates:  "2:running@T",
		},
		{
			name:        "a canceled pipeline counts as a failure",
			train:       mk(suspect(at(1, StateRunning, "T"), 7)),
			obs:         status(1, PipelineCanceled),
			wantEvicted: map[int64]ReasonCode{1: ReasonPipelineFailed},
		},
		{
			name:       "a suspect that passes merges at once when nothing on the line runs",
			train:      mk(suspect(at(1, StateRunning, "T"), 7), queued(2)),
			obs:        pass(1),
			wantFF:     []int64{1},
			wantStates: "1:passed@T 2:queued",
		},
		{
			name:       "a suspect that passes while the line runs goes back to it behind the running cars",
			train:      mk(suspect(at(1, StateRunning, "T"), 7), at(2, StateRunning, "T"), queued(3)),
			obs:        pass(1),
			wantStates: "2:running@T 1:building@C2 3:queued",
		},
		{
			name:       "a failed batch leaves the line and each of its cars is tested on its own prefix",
			train:      mk(at(1, StateBuilt, "T"), at(2, StateBuilt, "C1"), at(3, StateRunning, "C2"), queued(4)),
			obs:        fail(3),
			wantStarts: []int64{1, 2, 3},
			wantStates: "1:starting@T 2:starting@C1 3:starting@C2 4:queued",
		},
		{
			name:        "the first suspect to fail while the ones ahead of it passed is the culprit",
			train:       mk(suspect(at(1, StatePassed, "T"), 9), suspect(at(2, StateRunning, "C1"), 9), suspect(at(3, StateRunning, "C2"), 9)),
			obs:         fail(2),
			wantEvicted: map[int64]ReasonCode{2: ReasonPipelineFailed},
			wantCancels: []int64{pipe(3)},
			wantFF:      []int64{1},
			wantStates:  "1:passed@T 3:building@C1",
		},
		{
			name:       "a suspect that fails while one ahead of it runs is held",
			train:      mk(suspect(at(1, StateRunning, "T"), 9), suspect(at(2, StateRunning, "C1"), 9)),
			obs:        fail(2),
			wantStates: "1:running@T 2:failed@C1",
		},
		{
			name:        "with eager eviction a failed car is evicted while a car ahead is unresolved",
			train:       mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2")),
			eager:       true,
			obs:         fail(2),
			wantEvicted: map[int64]ReasonCode{2: ReasonPipelineFailed},
			wantCancels: []int64{pipe(3)},
			wantStates:  "1:running@T 3:building@C1",
		},
		{
			name:        "with eager eviction a failure behind a failed car is not its own: it is rebuilt",
			train:       mk(at(1, StateRunning, "T"), at(2, StateFailed, "C1"), at(3, StateRunning, "C2")),
			eager:       true,
			obs:         fail(3),
			wantEvicted: map[int64]ReasonCode{2: ReasonPipelineFailed},
			wantStates:  "1:running@T 3:building@C1",
		},
		{
			name:       "with eager eviction a failed batch is still bisected",
			train:      mk(at(1, StateBuilt, "T"), at(2, StateRunning, "C1")),
			eager:      true,
			obs:        fail(2),
			wantStarts: []int64{1, 2},
			wantStates: "1:starting@T 2:starting@C1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.train.Settings.Retries = tt.retries
			tt.train.Settings.EagerEviction = tt.eager
			got, actions := Plan(tt.train, tt.obs, t0)
			if e := evicted(actions); len(e)+len(tt.wantEvicted) > 0 && !reflect.DeepEqual(e, tt.wantEvicted) {
				t.Errorf("evicted = %v, want %v", e, tt.wantEvicted)
			}
			starts := mrsOf(only[StartPipeline](actions), func(s StartPipeline) int64 { return s.MR })
			if !slices.Equal(starts, tt.wantStarts) {
				t.Errorf("starts = %v, want %v", starts, tt.wantStarts)
			}
			if c := cancels(actions); !slices.Equal(c, tt.wantCancels) {
				t.Errorf("cancels = %v, want %v", c, tt.wantCancels)
			}
			var ff []int64
			if f := only[FastForwardTarget](actions); len(f) == 1 {
				ff = f[0].MRs
			}
			if !slices.Equal(ff, tt.wantFF) {
				t.Errorf("fast-forward carries %v, want %v", ff, tt.wantFF)
			}
			if s := states(got); s != tt.wantStates {
				t.Errorf("states = %q, want %q", s, tt.wantStates)
			}
		})
	}
}

func TestRetryThenEvictNamesThePipelines(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"))
	tr.Settings.Retries = 1
	failed := func(id int64) {
		t.Helper()
		var actions []Action
		tr, actions = Plan(tr, PipelineStatus{Pipeline: id, SHA: "C1", Status: PipelineFailed}, t0)
		if s := only[StartPipeline](actions); len(s) != 1 || s[0].MR != 1 {
			t.Fatalf("after pipeline #%d failed: starts %#v", id, s)
		}
	}
	failed(pipe(1))
	tr, _ = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: 200}, t0)
	if c := tr.Cars[0]; c.State != StateRunning || c.Attempts != 2 || c.Pipeline != 200 || c.Suspect != 0 {
		t.Fatalf("after the retry started: %+v", c)
	}
	// Out of retries: tested once more on its own, as a suspect.
	failed(200)
	tr, _ = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: 300}, t0)
	if c := tr.Cars[0]; c.State != StateRunning || c.Suspect != 200 {
		t.Fatalf("after the test on its own started: %+v", c)
	}
	_, actions := Plan(tr, PipelineStatus{Pipeline: 300, SHA: "C1", Status: PipelineFailed}, t0)
	comments := only[Comment](actions)
	want := "Removed from the merge train for `main`: pipeline #300 failed; it tested this merge request again, without the ones behind it, after pipeline #200 failed."
	if len(comments) != 1 || comments[0].Body.String() != want || comments[0].MR != 1 {
		t.Fatalf("comments = %#v, want %q", comments, want)
	}
	if p := comments[0].Body.Pipelines(); !slices.Equal(p, []int64{300, 200}) {
		t.Fatalf("pipelines referred to = %v, want [300 200] as references, not words", p)
	}
	if r := only[Record](actions); len(r) != 1 || r[0].Car.Reason.Message.String() != want || r[0].Car.Reason.Pipeline != 300 {
		t.Fatalf("records = %+v, want the sentence posted and pipeline 300", r)
	}
	if d := only[DeleteCarRef](actions); len(d) != 1 || d[0].MR != 1 {
		t.Fatalf("deleted refs = %#v", d)
	}
}

func TestEvictions(t *testing.T) {
	tests := []struct {
		name        string
		obs         Observation
		now         time.Time
		wantCode    ReasonCode
		wantComment string
		wantCancel  bool
	}{
		{
			name:        "new commits on the MR",
			obs:         HeadChanged{MR: 2, HeadSHA: "NEWHEAD"},
			wantCode:    ReasonNewCommits,
			wantComment: "Removed from the merge train for `main`: new commits were pushed (head moved from H2 to NEWHEAD); add it again to test the new head.",
			wantCancel:  true,
		},
		{
			name:        "MR closed",
			obs:         Closed{MR: 2},
			wantCode:    ReasonClosed,
			wantComment: "Removed from the merge train for `main`: the merge request was closed.",
			wantCancel:  true,
		},
		{
			name:        "MR merged outside the train",
			obs:         Closed{MR: 2, Merged: true},
			wantCode:    ReasonMergedOutside,
			wantComment: "Removed from the merge train for `main`: the merge request was merged outside the train.",
			wantCancel:  true,
		},
		{
			name:        "removed by a user",
			obs:         Removed{MR: 2, By: "alice", Event: "e1"},
			wantCode:    ReasonRemoved,
			wantComment: "Removed from the merge train for `main`: it was removed from the train by @alice.",
			wantCancel:  true,
		},
		{
			name:        "pipeline over its timeout",
			obs:         Tick{},
			now:         t0.Add(DefaultPipelineTimeout + time.Second),
			wantCode:    ReasonTimeout,
			wantComment: "Removed from the merge train for `main`: pipeline #102 did not finish within 2h.",
			wantCancel:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2"))
			tr.Cars[0].PipelineStartedAt = t0.Add(DefaultPipelineTimeout) // only !2 times out
			tr.Cars[2].PipelineStartedAt = t0.Add(DefaultPipelineTimeout)
			tr.Paused = true // keep the fast-forward of !1 out of the picture
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			got, actions := Plan(tr, tt.obs, now)
			if e := evicted(actions); !reflect.DeepEqual(e, map[int64]ReasonCode{2: tt.wantCode}) {
				t.Fatalf("evicted = %v, want !2 for %s", e, tt.wantCode)
			}
			var bodies []string
			for _, c := range only[Comment](actions) {
				if c.MR == 2 {
					bodies = append(bodies, c.Body.String())
				}
			}
			if len(bodies) != 1 || bodies[0] != tt.wantComment {
				t.Errorf("comments on !2 = %q, want %q", bodies, tt.wantComment)
			}
			wantCancels := []int64{pipe(2), pipe(3)} // !3 sat on !2's commit
			if c := cancels(actions); tt.wantCancel && !slices.Equal(c, wantCancels) {
				t.Errorf("cancels = %v, want %v", c, wantCancels)
			}
			if s := states(got); s != "1:passed@T 3:queued" {
				t.Errorf("states = %q: only the cars behind the evicted one are reset", s)
			}
		})
	}
}

// Conflicting paths are the MR author's text: each is shown as code, and
// a long list is cut.
func TestConflictPathsAreQuotedAndBounded(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("f%02d", i)
	}
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"@all [x](https://evil.example) <img src=x>.go"}, "conflicting paths: `@all [x](https://evil.example) <img src=x>.go`"},
		{[]string{"a`b.go"}, "conflicting paths: ``a`b.go``"},
		{many, "conflicting paths: `f00`, `f01`, `f02`, `f03`, `f04`, `f05`, `f06`, `f07`, `f08`, `f09`, `f10`, `f11`, `f12`, `f13`, `f14`, `f15`, `f16`, `f17`, `f18`, `f19` and 5 more"},
	} {
		got := msgConflict("main", true, tc.paths)
		if want := "it does not merge cleanly onto `main`; " + tc.want; got != want {
			t.Errorf("msgConflict(%q) =\n%s\nwant\n%s", tc.paths, got, want)
		}
	}
}

func TestConflictEvictsWithPaths(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateBuilding, "C1"), queued(3))
	got, actions := Plan(tr, Built{MR: 2, Base: "C1", HeadSHA: head(2), Conflict: []string{"b.go", "a.go", "b.go"}}, t0)
	recs := only[Record](actions)
	if len(recs) != 1 || recs[0].Car.Reason.Code != ReasonConflict || !slices.Equal(recs[0].Car.Reason.Paths, []string{"a.go", "b.go"}) {
		t.Fatalf("records = %#v", recs)
	}
	want := "Removed from the merge train for `main`: it does not merge cleanly onto `main` and the merge requests ahead of it; conflicting paths: `a.go`, `b.go`."
	if c := only[Comment](actions); len(c) != 1 || c[0].Body.String() != want {
		t.Fatalf("comments = %#v, want %q", c, want)
	}
	// The record says what the MR was told, and names no commit of
	// another MR as its own: it was never built.
	if r := recs[0].Car.Reason; r.Message.String() != want || r.Commit != "" || r.Base != "C1" || r.Pipeline != 0 {
		t.Fatalf("recorded reason = %+v, want the sentence, no commit, base C1", r)
	}
	if b := builds(actions); !slices.Equal(b, []string{"3@C1"}) {
		t.Fatalf("builds = %v: !3 should now sit on !1", b)
	}
	if s := states(got); s != "1:running@T 3:building@C1" {
		t.Fatalf("states = %q", s)
	}
}

func TestIgnoredObservations(t *testing.T) {
	base := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"))
	tests := []struct {
		name string
		obs  Observation
	}{
		{"status of a superseded pipeline", PipelineStatus{Pipeline: 55, SHA: "C1", Status: PipelineFailed}},
		{"status for the wrong sha", PipelineStatus{Pipeline: pipe(1), SHA: "C9", Status: PipelineFailed}},
		{"status still running", PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineRunning}},
		{"head changed for a car not on the train", HeadChanged{MR: 9, HeadSHA: "X"}},
		{"head unchanged", HeadChanged{MR: 1, HeadSHA: head(1)}},
		{"closed MR not on the train", Closed{MR: 9}},
		{"build result for an old base", Built{MR: 2, Base: "OLD", HeadSHA: head(2), Commit: "Z"}},
		{"build result for a car already built", Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "Z"}},
		{"target head unchanged", TargetHead{SHA: "T"}},
		{"fast-forward result with none pending", FastForwarded{To: "C1"}},
		{"pipeline created again", PipelineCreated{MR: 1, SHA: "C1", Pipeline: pipe(1)}},
		{"tick", Tick{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := Plan(base, tt.obs, t0)
			if !reflect.DeepEqual(got, base) {
				t.Errorf("train changed:\n got %+v\nwant %+v", got, base)
			}
			if len(actions) != 0 {
				t.Errorf("actions = %#v", actions)
			}
		})
	}
}

func TestOrphanPipelineIsCancelled(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"))
	_, actions := Plan(tr, PipelineCreated{MR: 1, SHA: "C-old", Pipeline: 77}, t0)
	if c := cancels(actions); !slices.Equal(c, []int64{77}) {
		t.Fatalf("cancels = %v, want [77]", c)
	}
}

// Every observation applied twice leaves the same train as applied once,
// and the second application asks for nothing new.
func TestObservationsAreIdempotent(t *testing.T) {
	pending := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"))
	pending.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
	tests := []struct {
		name  string
		train Train
		obs   Observation
	}{
		{"added", mk(), Added{MR: 5, HeadSHA: "H5", By: "bob", Event: "ev"}},
		{"removed", mk(at(1, StateRunning, "T")), Removed{MR: 1, By: "bob", Event: "ev"}},
		{"head changed", mk(at(1, StateRunning, "T")), HeadChanged{MR: 1, HeadSHA: "N"}},
		{"closed", mk(at(1, StateRunning, "T")), Closed{MR: 1}},
		{"retargeted", mk(at(1, StateRunning, "T")), Retargeted{MR: 1, Branch: "dev"}},
		{"built", mk(at(1, StateBuilding, "T")), Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1"}},
		{"conflict", mk(at(1, StateBuilding, "T")), Built{MR: 1, Base: "T", HeadSHA: head(1), Conflict: []string{"x"}}},
		{"created", mk(at(1, StateStarting, "T")), PipelineCreated{MR: 1, SHA: "C1", Pipeline: 9}},
		{"passed", mk(at(1, StateRunning, "T")), PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineSuccess}},
		{"failed", mk(at(1, StateRunning, "T")), PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineFailed}},
		{"target moved", mk(at(1, StateRunning, "T")), TargetHead{SHA: "T2"}},
		{"fast-forwarded", pending, FastForwarded{To: "C1", Head: "C1"}},
		{"paused", mk(at(1, StateRunning, "T")), Paused{By: "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			once, first := Plan(tt.train, tt.obs, t0)
			if len(first) == 0 && reflect.DeepEqual(once, tt.train) {
				t.Fatal("first application did nothing: the case tests nothing")
			}
			twice, second := Plan(once, tt.obs, t0)
			if !reflect.DeepEqual(once, twice) {
				t.Errorf("second application changed the train:\n once %+v\ntwice %+v", once, twice)
			}
			// A repeated command may repeat its reply, under the same key,
			// so the executor posts it once.
			for _, a := range second {
				c, ok := a.(Comment)
				if !ok || c.Key != "reply:ev" {
					t.Errorf("second application asked for %#v", a)
				}
			}
		})
	}
}

func TestAddAndPriority(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"))
	tr, actions := Plan(tr, Added{MR: 3, HeadSHA: "H3", By: "a", Event: "e3"}, t0)
	if s := only[Status](actions); len(s) != 1 || s[0].Added.String() != "Added to the merge train for `main` at position 3." || s[0].Phase != PhaseQueued || s[0].MR != 3 || s[0].HeadSHA != "H3" {
		t.Fatalf("statuses = %#v", s)
	}
	if c := only[Comment](actions); len(c) != 0 {
		t.Fatalf("comments = %#v: the status comment is the answer", c)
	}
	tr, actions = Plan(tr, Added{MR: 4, HeadSHA: "H4", By: "a", Priority: PriorityHigh, Event: "e4"}, t0)
	if s := only[Status](actions); len(s) != 1 || s[0].Added.String() != "Added to the merge train for `main` at position 1." {
		t.Fatalf("statuses = %#v", s)
	}
	if c := cancels(actions); !slices.Equal(c, []int64{pipe(1), pipe(2)}) {
		t.Fatalf("cancels = %v: the cars behind an urgent car are rebuilt", c)
	}
	tr, _ = Plan(tr, Added{MR: 5, HeadSHA: "H5", By: "a", Priority: PriorityHigh}, t0)
	if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, []int64{4, 5, 1, 2, 3}) {
		t.Fatalf("order = %v", m)
	}
	_, actions = Plan(tr, Added{MR: 1, HeadSHA: "H1", By: "a", Event: "e9"}, t0)
	if c := only[Comment](actions); len(c) != 1 || c[0].Body.String() != "This merge request is already on the merge train for `main`, at position 3." {
		t.Fatalf("comments = %#v", c)
	}
}

// Suspects shown good go back behind every suspect and every car
// merging; normal ones behind the cars under test, high ones (and the
// cars of their batch) at the front, behind the other high cars and what
// they depend on.
func TestRejoinPlace(t *testing.T) {
	high := func(c Car) Car { c.Priority = PriorityHigh; return c }
	good := func(mr int64, base string) Car { return suspect(at(mr, StatePassed, base), 900) }
	for _, tc := range []struct {
		name string
		cars []Car
		want []int64
	}{
		{"normal behind the cars under test",
			[]Car{good(1, "T"), at(4, StateRunning, "T"), at(5, StateRunning, "C4"), queued(6)},
			[]int64{4, 5, 1, 6}},
		{"high ahead of them",
			[]Car{high(good(1, "T")), at(4, StateRunning, "T"), at(5, StateRunning, "C4"), queued(6)},
			[]int64{1, 4, 5, 6}},
		{"high behind the other high cars",
			[]Car{high(good(1, "T")), high(at(3, StateRunning, "T")), at(4, StateRunning, "C3"), queued(6)},
			[]int64{3, 1, 4, 6}},
		{"high behind another suspect",
			[]Car{high(good(1, "T")), at(4, StateRunning, "T"), suspect(at(7, StateRunning, "C4"), 800), at(5, StateRunning, "C4")},
			[]int64{4, 7, 1, 5}},
		{"high behind what it depends on",
			[]Car{at(4, StateRunning, "T"), at(5, StateRunning, "C4"),
				func() Car { c := high(good(1, "C5")); c.DependsOn = []Dep{dep(5)}; return c }(), at(6, StateRunning, "C5")},
			[]int64{4, 5, 1, 6}},
		{"a batch with a high car goes with it",
			[]Car{good(1, "T"), high(good(2, "C1")), good(3, "C2"), at(4, StateRunning, "T"), at(5, StateRunning, "C4")},
			[]int64{1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := Plan(mk(tc.cars...), Tick{}, t0)
			if m := mrsOf(tr.Cars, func(c Car) int64 { return c.MR }); !slices.Equal(m, tc.want) {
				t.Fatalf("order = %v, want %v", m, tc.want)
			}
		})
	}
}

func TestFrozenCarsWaitForTheirFastForward(t *testing.T) {
	tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"))
	tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
	for _, obs := range []Observation{HeadChanged{MR: 1, HeadSHA: "N"}, Closed{MR: 1, Merged: true}, TargetHead{SHA: "X"}} {
		got, actions := Plan(tr, obs, t0)
		if got.Car(1) == nil || got.Car(1).State != StatePassed || len(evicted(actions)) != 0 {
			t.Errorf("%T touched the car being merged: %+v %#v", obs, got.Cars, actions)
		}
	}
	_, actions := Plan(tr, Removed{MR: 1, By: "a", Event: "e"}, t0)
	if c := only[Comment](actions); len(c) != 1 || !strings.Contains(c[0].Body.String(), "being merged") {
		t.Errorf("comments = %#v", c)
	}
}

func TestResyncRepeatsWhatIsInFlight(t *testing.T) {
	tr := mk(at(1, StatePassed, "T"), at(2, StateStarting, "C1"), at(3, StateBuilding, "C2"))
	tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
	got, actions := Plan(tr, Resync{}, t0)
	if !reflect.DeepEqual(got, tr) {
		t.Fatalf("resync changed the train")
	}
	want := []Action{
		FastForwardTarget{To: "C1", Expected: "T", MRs: []int64{1}},
		StartPipeline{MR: 2, Commit: "C2", MRs: []int64{1, 2}},
		BuildCar{MR: 3, Base: "C2", HeadSHA: head(3), Method: MethodMerge, Build: 1, At: t0, MRs: []int64{1, 2, 3}},
	}
	if !reflect.DeepEqual(actions, want) {
		t.Fatalf("actions = %#v\nwant %#v", actions, want)
	}
}

// A retry tests the car's commit again where it still sits right: only its
// own pipeline restarts, and the cars behind keep theirs.
func TestRetryRestartsOnlyWhatChanges(t *testing.T) {
	tests := []struct {
		name        string
		train       Train
		wantStates  string
		wantCancels []int64
		wantStarts  []int64
		wantBuilds  []int64
		wantReply   string
	}{
		{
			name:       "running front car: a new pipeline on the same commit",
			train:      mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2")),
			wantStates: "1:starting@T 2:running@C1 3:running@C2", wantCancels: []int64{pipe(1)}, wantStarts: []int64{1},
			wantReply: "Retrying: a new pipeline tests this merge request again on the merge train for `main`, on the same commit.",
		},
		{
			name:       "failed car within the window",
			train:      mk(at(1, StateFailed, "T"), at(2, StateRunning, "C1")),
			wantStates: "1:starting@T 2:running@C1", wantStarts: []int64{1},
			wantReply: "Retrying: a new pipeline tests this merge request again on the merge train for `main`, on the same commit.",
		},
		{
			name:       "a suspect goes back to the main line: rebuilt, and the cars behind with it",
			train:      mk(suspect(at(1, StateFailed, "T"), 900), at(2, StateRunning, "T")),
			wantStates: "1:building@T 2:queued", wantCancels: []int64{pipe(2)}, wantBuilds: []int64{1},
			wantReply: "Retrying: this merge request will be rebuilt and tested again on the merge train for `main`.",
		},
		{
			name:       "a car that rode in a batch has no pipeline of its own to repeat: rebuilt",
			train:      mk(at(1, StateBuilt, "T"), at(2, StateRunning, "C1")),
			wantStates: "1:building@T 2:queued", wantCancels: []int64{pipe(2)}, wantBuilds: []int64{1},
			wantReply: "Retrying: this merge request will be rebuilt and tested again on the merge train for `main`.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := Plan(tt.train, Retried{Added{MR: 1, Event: "r"}}, t0)
			if s := states(got); s != tt.wantStates {
				t.Fatalf("states = %q, want %q", s, tt.wantStates)
			}
			if c := cancels(actions); !slices.Equal(c, tt.wantCancels) {
				t.Fatalf("cancels = %v, want %v", c, tt.wantCancels)
			}
			var starts, builds []int64
			for _, a := range only[StartPipeline](actions) {
				starts = append(starts, a.MR)
			}
			for _, a := range only[BuildCar](actions) {
				builds = append(builds, a.MR)
			}
			if !slices.Equal(starts, tt.wantStarts) || !slices.Equal(builds, tt.wantBuilds) {
				t.Fatalf("starts %v, builds %v; want %v, %v", starts, builds, tt.wantStarts, tt.wantBuilds)
			}
			if r := only[Comment](actions); len(r) != 1 || r[0].Body.String() != tt.wantReply {
				t.Fatalf("replies = %#v, want %q", r, tt.wantReply)
			}
			if c := got.Cars[0]; c.Commit != "" && c.Commit != commit(1) {
				t.Fatalf("car 1 commit %q", c.Commit)
			}
		})
	}
}

func TestPlanDoesNotModifyInput(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateFailed, "C1"))
	tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
	snapshot := tr.Clone()
	Plan(tr, FastForwarded{To: "C1", Head: "C1"}, t0)
	if !reflect.DeepEqual(tr, snapshot) {
		t.Fatal("Plan modified its input")
	}
}

func TestOutboxSurvivesJSON(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"))
	tr.Outbox = Actions{
		BuildCar{MR: 1, Base: "T", HeadSHA: "H1", Method: MethodSquash, Build: 2, At: t0},
		StartPipeline{MR: 1, Commit: "C1", MRs: []int64{1}},
		CancelPipeline{MR: 1, Pipeline: 4},
		FastForwardTarget{To: "C1", Expected: "T", MRs: []int64{1}},
		DeleteCarRef{MR: 1},
		Comment{MR: 1, Key: "k", Body: Words("b")},
		CloseMR{MR: 1, Commit: "C1"},
		Notify{Kind: NotifyMerged, Key: "k", Cars: []Car{at(1, StatePassed, "T")}, Commit: "C1"},
		Record{Car: at(1, StatePassed, "T")},
	}
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Train
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tr) {
		t.Fatalf("round trip changed the train:\n got %+v\nwant %+v", back, tr)
	}
	if err := json.Unmarshal([]byte(`{"outbox":[{"kind":"launch_rocket","data":{}}]}`), &back); err == nil || !strings.Contains(err.Error(), "launch_rocket") {
		t.Fatalf("unknown kind: err = %v", err)
	}
}

func TestAddedReplyEstimates(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2"))
	tests := []struct {
		estimate time.Duration
		want     string
	}{
		{0, "Added to the merge train for `main` at position 4."},
		// Position 4 with a window of 3: the second window, two pipelines away.
		{25 * time.Minute, "Added to the merge train for `main` at position 4. Expected to merge in about 50m, judging by recent pipelines."},
		{40 * time.Minute, "Added to the merge train for `main` at position 4. Expected to merge in about 1h20m, judging by recent pipelines."},
		{45 * time.Second, "Added to the merge train for `main` at position 4. Expected to merge in about 1m30s, judging by recent pipelines."},
		// Too short to say anything useful ("about 0s").
		{time.Second, "Added to the merge train for `main` at position 4."},
	}
	for _, tt := range tests {
		_, actions := Plan(tr, Added{MR: 4, HeadSHA: "H4", By: "a", Event: "e", Estimate: tt.estimate}, t0)
		if s := only[Status](actions); len(s) != 1 || s[0].Added.String() != tt.want {
			t.Errorf("estimate %s: statuses = %#v, want %q", tt.estimate, s, tt.want)
		}
	}
}

func TestRetargetedEvicts(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"))
	got, actions := Plan(tr, Retargeted{MR: 1, Branch: "develop"}, t0)
	if e := evicted(actions); !reflect.DeepEqual(e, map[int64]ReasonCode{1: ReasonRetargeted}) {
		t.Fatalf("evicted = %v", e)
	}
	want := "Removed from the merge train for `main`: its target branch changed to `develop`."
	if c := only[Comment](actions); len(c) != 1 || c[0].Body.String() != want {
		t.Fatalf("comments = %#v, want %q", c, want)
	}
	if s := states(got); s != "2:building@T" {
		t.Fatalf("states = %q", s)
	}
	if _, actions := Plan(tr, Retargeted{MR: 1, Branch: "main"}, t0); len(actions) != 0 {
		t.Fatalf("retargeted to its own branch: %#v", actions)
	}
}

func TestWants(t *testing.T) {
	tr := mk(at(1, StateStarting, "T"), at(2, StateBuilding, "C1"))
	tr.Pending = &FastForward{To: "C0", Expected: "T", MRs: []int64{9}}
	tr.InLanes = []LaneCar{{Add: Added{MR: 5, HeadSHA: head(5)}, Lanes: []string{"api", "web"}, Passed: []string{"web"}}}
	tests := []struct {
		a    Action
		want bool
	}{
		{BuildCar{MR: 2, Base: "C1", HeadSHA: head(2)}, true},
		{BuildCar{MR: 2, Base: "OLD", HeadSHA: head(2)}, false},
		{BuildCar{MR: 1, Base: "T", HeadSHA: head(1)}, false},
		{BuildCar{MR: 7, Base: "T", HeadSHA: head(7)}, false},
		{StartPipeline{MR: 1, Commit: "C1"}, true},
		{StartPipeline{MR: 1, Commit: "C9"}, false},
		{StartPipeline{MR: 2, Commit: "C2"}, false},
		{FastForwardTarget{To: "C0", Expected: "T"}, true},
		{FastForwardTarget{To: "C1", Expected: "T"}, false},
		{Comment{MR: 7, Key: "k", Body: Words("b")}, true},
		{CancelPipeline{MR: 7, Pipeline: 1}, true},
		// A join is wanted while the MR waits for that lane, at that head.
		{JoinLane{Lane: "api", Add: Added{MR: 5, HeadSHA: head(5)}}, true},
		{JoinLane{Lane: "web", Add: Added{MR: 5, HeadSHA: head(5)}}, false},
		{JoinLane{Lane: "docs", Add: Added{MR: 5, HeadSHA: head(5)}}, false},
		{JoinLane{Lane: "api", Add: Added{MR: 5, HeadSHA: "H5-old"}}, false},
		{JoinLane{Lane: "api", Add: Added{MR: 6, HeadSHA: head(6)}}, false},
		{LeaveLane{Lane: "api", MR: 6}, true},
	}
	for _, tt := range tests {
		if got := tr.Wants(tt.a); got != tt.want {
			t.Errorf("Wants(%#v) = %v, want %v", tt.a, got, tt.want)
		}
	}
}

func TestRedeliveredCommandActsOnce(t *testing.T) {
	tr := mk()
	add := Added{MR: 1, HeadSHA: head(1), By: "a", Event: "add-1"}
	tr, _ = Plan(tr, add, t0)
	tr, _ = Plan(tr, Closed{MR: 1}, t0)
	if len(tr.Cars) != 0 {
		t.Fatalf("cars = %+v after close", tr.Cars)
	}
	got, actions := Plan(tr, add, t0)
	if len(got.Cars) != 0 || len(actions) != 0 {
		t.Fatalf("the redelivered add acted again: cars %+v actions %#v", got.Cars, actions)
	}
	// A new command for the same MR is a new request.
	got, _ = Plan(tr, Added{MR: 1, HeadSHA: head(1), By: "a", Event: "add-2"}, t0)
	if len(got.Cars) != 1 {
		t.Fatalf("a new add was ignored")
	}
	for i := range maxHandled + 10 {
		got, _ = Plan(got, Removed{MR: 99, By: "a", Event: fmt.Sprint("e", i)}, t0)
	}
	if len(got.Handled) != maxHandled || got.Handled[len(got.Handled)-1] != fmt.Sprint("e", maxHandled+9) {
		t.Fatalf("handled holds %d ids, last %q", len(got.Handled), got.Handled[len(got.Handled)-1])
	}
}

func TestSquashedAndRebasedMRsAreClosed(t *testing.T) {
	for _, tt := range []struct {
		method Method
		close  bool
	}{{MethodMerge, false}, {MethodSquash, true}, {MethodRebase, true}} {
		tr := mk(at(1, StatePassed, "T"))
		tr.Settings.Method = tt.method
		tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
		_, actions := Plan(tr, FastForwarded{To: "C1", Head: "C1"}, t0)
		got := only[CloseMR](actions)
		if tt.close && (len(got) != 1 || got[0] != (CloseMR{MR: 1, Commit: "C1"})) {
			t.Errorf("%s: close = %#v, want !1 closed at C1", tt.method, got)
		}
		if !tt.close && len(got) != 0 {
			t.Errorf("%s: close = %#v, want none: the forge sees the merge", tt.method, got)
		}
	}
}

func TestRefusedPipelineEvicts(t *testing.T) {
	tr := mk(at(1, StateStarting, "T"), at(2, StateStarting, "C1"))
	if got, actions := Plan(tr, PipelineRefused{MR: 1, SHA: "OLD", Reason: "x"}, t0); len(actions) != 0 || !reflect.DeepEqual(got, tr) {
		t.Fatalf("a refusal for another commit acted: %#v", actions)
	}
	got, actions := Plan(tr, PipelineRefused{MR: 1, SHA: "C1", Reason: "Pipeline filtered out by workflow rules."}, t0)
	if e := evicted(actions); !reflect.DeepEqual(e, map[int64]ReasonCode{1: ReasonPipelineRefused}) {
		t.Fatalf("evicted = %v", e)
	}
	want := "Removed from the merge train for `main`: the forge refused to start its pipeline (do the CI rules run pipelines on car branches?): `Pipeline filtered out by workflow rules.`."
	if c := only[Comment](actions); len(c) != 1 || c[0].Body.String() != want {
		t.Fatalf("comments = %#v, want %q", c, want)
	}
	if s := states(got); s != "2:building@T" {
		t.Fatalf("states = %q", s)
	}
	// A forge that said nothing readable: the sentence alone.
	_, actions = Plan(tr, PipelineRefused{MR: 1, SHA: "C1"}, t0)
	if c := only[Comment](actions); len(c) != 1 || !strings.HasSuffix(c[0].Body.String(), "car branches?).") {
		t.Fatalf("comments = %#v", c)
	}
}

func TestPipelineDuration(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	merged := func(d time.Duration) Car {
		return Car{State: StateMerged, PipelineStartedAt: t0, LeftAt: t0.Add(d)}
	}
	hist := []Car{
		merged(3 * time.Minute),
		{State: StateEvicted, PipelineStartedAt: t0, LeftAt: t0.Add(time.Hour)},
		{State: StateMerged, LeftAt: t0}, // merged without a pipeline of its own
		merged(9 * time.Minute), merged(5 * time.Minute),
	}
	if got := PipelineDuration(hist); got != 5*time.Minute {
		t.Fatalf("median = %v, want 5m", got)
	}
	if got := PipelineDuration(hist[1:3]); got != 0 {
		t.Fatalf("median without merges = %v, want 0", got)
	}
	var many []Car
	for i := range 30 {
		many = append(many, merged(time.Duration(i+1)*time.Minute))
	}
	// Only the newest 20 count: 1m..20m, whose upper median is 11m.
	if got := PipelineDuration(many); got != 11*time.Minute {
		t.Fatalf("median of the newest 20 = %v, want 11m", got)
	}
}

func TestSuspectKeepsItsTestWhenItsBaseLands(t *testing.T) {
	tr := mk(suspect(at(1, StateRunning, "T"), 9), at(2, StateRunning, "T"))
	tr, actions := Plan(tr, PipelineStatus{Pipeline: pipe(2), SHA: "C2", Status: PipelineSuccess}, t0)
	if ff := only[FastForwardTarget](actions); len(ff) != 1 || ff[0].To != "C2" {
		t.Fatalf("fast-forwards %#v, want one to C2", ff)
	}
	tr, actions = Plan(tr, FastForwarded{To: "C2", Head: "C2"}, t0)
	if c := tr.Car(1); c == nil || !c.Detached || c.State != StateRunning || len(cancels(actions)) != 0 {
		t.Fatalf("after !2 landed: !1 %+v, cancels %v; want it detached and still running", c, cancels(actions))
	}
	_, actions = Plan(tr, PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineFailed}, t0)
	if e := evicted(actions); !reflect.DeepEqual(e, map[int64]ReasonCode{1: ReasonPipelineFailed}) {
		t.Fatalf("evicted %v, want !1 for its failed pipeline", e)
	}
}

func TestWitnessOverItsTimeoutIsGivenUp(t *testing.T) {
	c := witnessed(suspect(at(1, StateFailed, "T"), pipe(1)), 900)
	c.Witness.Started = t0
	tr := mk(c)
	tr.Settings.PipelineTimeout = time.Hour
	_, actions := Plan(tr, Tick{}, t0.Add(59*time.Minute))
	if len(actions) != 0 {
		t.Fatalf("within the timeout: %#v", actions)
	}
	got, actions := Plan(tr, Tick{}, t0.Add(61*time.Minute))
	if c := cancels(actions); !slices.Equal(c, []int64{900}) {
		t.Errorf("cancels = %v, want the witness 900", c)
	}
	if s := mrsOf(only[StartPipeline](actions), func(s StartPipeline) int64 { return s.MR }); !slices.Equal(s, []int64{1}) || got.Cars[0].Witness != nil {
		t.Errorf("starts %v, witness %+v; want !1 tested again and the witness gone", s, got.Cars[0].Witness)
	}
}

func TestWindowCountsBatches(t *testing.T) {
	s := Settings{MaxParallel: 2, BatchSize: 3}
	for i, want := range []int{0, 0, 1, 1, 1, 1, 1, 1, 2} {
		if got := s.Window(i); got != want {
			t.Errorf("position %d: window %d, want %d", i, got, want)
		}
	}
}

func TestNewsOfAFrozenCarIsActedOnAfterItsFastForward(t *testing.T) {
	frozen := func() Train {
		tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"))
		tr.Pending = &FastForward{To: "C1", Expected: "T", MRs: []int64{1}}
		return tr
	}
	tests := []struct {
		name        string
		news        Observation
		result      FastForwarded
		wantEvicted map[int64]ReasonCode
		wantMerged  string // the merge note of !1, if it merges
	}{
		{"new commits, and the push is refused: evicted for them",
			HeadChanged{MR: 1, HeadSHA: "N"}, FastForwarded{To: "C1", Rejected: true, Head: "X"},
			map[int64]ReasonCode{1: ReasonNewCommits}, ""},
		{"closed, and the push is refused: evicted as closed",
			Closed{MR: 1}, FastForwarded{To: "C1", Rejected: true, Head: "X"},
			map[int64]ReasonCode{1: ReasonClosed}, ""},
		{"retargeted, and the push is refused: evicted as retargeted",
			Retargeted{MR: 1, Branch: "develop"}, FastForwarded{To: "C1", Rejected: true, Head: "X"},
			map[int64]ReasonCode{1: ReasonRetargeted}, ""},
		{"merge rules unmet, and the push is refused: evicted for the rules",
			RulesUnmet{MR: 1, Message: "it needs 1 more approval"}, FastForwarded{To: "C1", Rejected: true, Head: "T"},
			map[int64]ReasonCode{1: ReasonMergeRules}, ""},
		{"new commits, and the push lands: merged as tested, the note says what is left out",
			HeadChanged{MR: 1, HeadSHA: "N0123456789abc"}, FastForwarded{To: "C1", Head: "C1"},
			map[int64]ReasonCode{},
			"Merged into `main` with C1, tested by pipeline #101. The commits pushed while it was being merged (head now N0123456789a) are not in it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, actions := Plan(frozen(), tt.news, t0)
			if len(evicted(actions)) != 0 || tr.Car(1) == nil {
				t.Fatalf("the news acted at once: %#v", actions)
			}
			_, actions = Plan(tr, tt.result, t0)
			if e := evicted(actions); !reflect.DeepEqual(e, tt.wantEvicted) {
				t.Errorf("evicted = %v, want %v", e, tt.wantEvicted)
			}
			var merged string
			for _, s := range only[Status](actions) {
				if s.MR == 1 && s.Phase == PhaseMerged {
					merged = s.Outcome.String()
				}
			}
			if merged != tt.wantMerged {
				t.Errorf("merge note %q, want %q", merged, tt.wantMerged)
			}
		})
	}
}

func TestRulesUnmetEvictsWithTheForgesReason(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"))
	got, actions := Plan(tr, RulesUnmet{MR: 1, Message: "@bob requested changes."}, t0)
	if e := evicted(actions); !reflect.DeepEqual(e, map[int64]ReasonCode{1: ReasonMergeRules}) {
		t.Fatalf("evicted = %v, want !1 for the merge rules", e)
	}
	var note string
	for _, c := range only[Comment](actions) {
		if c.MR == 1 {
			note = c.Body.String()
		}
	}
	if want := "Removed from the merge train for `main`: the merge rules no longer allow it to merge: @bob requested changes."; note != want {
		t.Errorf("note %q, want %q", note, want)
	}
	if got.Car(1) != nil || got.Car(2) == nil || got.Car(2).State != StateBuilding || got.Car(2).Base != "T" {
		t.Errorf("cars after: %+v; want !1 gone and !2 rebuilt on the target", got.Cars)
	}
	if _, actions := Plan(got, RulesUnmet{MR: 1, Message: "again"}, t0); len(actions) != 0 {
		t.Errorf("news of a car no longer on the train acted: %#v", actions)
	}
}

// The trail keeps every build and pipeline of a ride, with how each
// pipeline ended, for the MR's journey; a requeue keeps it.
func TestTrailRecordsEveryBuildAndPipeline(t *testing.T) {
	tr := mk(at(1, StateBuilding, "T"))
	tr.Settings.Retries = 1
	t1, t2, t3, t4 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute), t0.Add(4*time.Minute)
	tr, _ = Plan(tr, Built{MR: 1, Base: "T", HeadSHA: head(1), Commit: "C1"}, t0)
	tr, _ = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: 101}, t1)
	tr, _ = Plan(tr, PipelineStatus{Pipeline: 101, SHA: "C1", Status: PipelineFailed}, t2)
	tr, _ = Plan(tr, PipelineCreated{MR: 1, SHA: "C1", Pipeline: 102}, t3)
	tr, _ = Plan(tr, PipelineStatus{Pipeline: 102, SHA: "C1", Status: PipelineSuccess}, t4)
	want := []Mark{
		{At: t0, Kind: MarkBuilt, Commit: "C1", Base: "T"},
		{At: t1, Kind: MarkPipeline, Pipeline: 101, Commit: "C1", Status: PipelineFailed},
		{At: t3, Kind: MarkPipeline, Pipeline: 102, Commit: "C1", Status: PipelineSuccess},
	}
	if got := tr.Cars[0].Trail; !reflect.DeepEqual(got, want) {
		t.Fatalf("trail\n got %+v\nwant %+v", got, want)
	}

	// A car ahead goes: this one is rebuilt; its running pipeline is
	// cancelled, and the trail says so.
	tr = mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"))
	tr.Cars[1].Trail = []Mark{{At: t0, Kind: MarkBuilt, Commit: "C2", Base: "C1"}, {At: t0, Kind: MarkPipeline, Pipeline: pipe(2), Commit: "C2"}}
	tr, _ = Plan(tr, Closed{MR: 1}, t1)
	if got := tr.Cars[0].Trail; len(got) != 2 || got[1].Status != PipelineCanceled || got[1].Pipeline != pipe(2) {
		t.Fatalf("after the car ahead left: trail %+v, want pipeline %d cancelled", got, pipe(2))
	}

	// Past MaxTrail the oldest marks go.
	c := queued(3)
	p := &planner{now: t0}
	for i := range MaxTrail + 3 {
		p.mark(&c, Mark{Kind: MarkPipeline, Pipeline: int64(i)})
	}
	if len(c.Trail) != MaxTrail || c.Trail[0].Pipeline != 3 || c.Trail[MaxTrail-1].Pipeline != MaxTrail+2 {
		t.Fatalf("trail of %d marks from %d to %d, want %d from 3", len(c.Trail), c.Trail[0].Pipeline, c.Trail[len(c.Trail)-1].Pipeline, MaxTrail)
	}
}

// A train records when it became idle, and forgets it once a car joins:
// what the sweep retires a long-idle train by.
func TestIdleSince(t *testing.T) {
	tr, _ := Plan(mk(), TargetHead{SHA: "T"}, t0)
	if !tr.IdleSince.Equal(t0) {
		t.Fatalf("an empty train planned at %v: idle since %v", t0, tr.IdleSince)
	}
	tr, _ = Plan(tr, TargetHead{SHA: "T"}, t0.Add(time.Hour))
	if !tr.IdleSince.Equal(t0) {
		t.Fatalf("idle since moved to %v on a later plan", tr.IdleSince)
	}
	tr, _ = Plan(tr, Added{MR: 1, HeadSHA: "H1", By: "a"}, t0.Add(2*time.Hour))
	if !tr.IdleSince.IsZero() {
		t.Fatalf("a train with a car is idle since %v", tr.IdleSince)
	}
	if tr.Retirable(t0.Add(RetireAfter * 2)) {
		t.Fatal("a train with a car is retirable")
	}
	empty := mk()
	empty.IdleSince = t0
	if empty.Retirable(t0.Add(RetireAfter-time.Second)) || !empty.Retirable(t0.Add(RetireAfter)) {
		t.Fatal("retirable before RetireAfter, or not after it")
	}
	empty.Frozen = &Hold{Reason: "release"}
	if empty.Retirable(t0.Add(RetireAfter)) {
		t.Fatal("a frozen train is retirable")
	}
}

// A retry that would test a passed car again on its commit counts every
// car under test since the last settled one, those ahead of it included:
// here !1 and !3 fill the window of 2, so !2 is rebuilt (and !3 behind
// it) rather than kept on its commit, owed a third pipeline.
func TestRetryInPlaceKeepsTheWindow(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"), at(2, StatePassed, "C1"), at(3, StateRunning, "C2"))
	tr.Settings.MaxParallel, tr.Settings.MinWindow, tr.Settings.BatchSize = 2, 2, 1
	tr.Frozen = &Hold{Kind: HoldFrozen, By: "ops"} // so !2 waits, passed
	got, actions := Plan(tr, Retried{Added{MR: 2, Event: "r"}}, t0)
	flying := 0
	for _, c := range got.Cars {
		if c.State == StateStarting || c.State == StateRunning {
			flying++
		}
	}
	if flying > 2 {
		t.Fatalf("%d pipelines under test after the retry, window 2: %s", flying, states(got))
	}
	for _, s := range only[StartPipeline](actions) {
		if s.MR == 2 {
			t.Fatalf("!2 started again on its commit beside !1 and !3: %s", states(got))
		}
	}
	if s := states(got); s != "1:running@T 2:building@C1 3:queued" {
		t.Errorf("states = %q, want !2 rebuilt on !1 and !3 waiting", s)
	}
}
