package train

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// onePass plans observations as one pass of the engine does: all at one
// instant, their actions gathered in the outbox. It returns the train and
// what the executor then carries out: the actions the train still wants.
func onePass(tr Train, now time.Time, obs ...Observation) (Train, []Action) {
	var outbox []Action
	for _, o := range obs {
		var actions []Action
		tr, actions = Plan(tr, o, now)
		outbox = append(outbox, actions...)
	}
	var out []Action
	for _, a := range outbox {
		if tr.Wants(a) {
			out = append(out, a)
		}
	}
	return tr, out
}

// four is a train of four cars, each running on the one ahead.
func four() Train {
	tr := mk(at(1, StateRunning, "T"), at(2, StateRunning, "C1"), at(3, StateRunning, "C2"), at(4, StateRunning, "C3"))
	tr.Settings.MaxParallel, tr.Settings.MinWindow = 4, 4
	return tr
}

func passed(mr int64) Observation {
	return PipelineStatus{Pipeline: pipe(mr), SHA: commit(mr), Status: PipelineSuccess}
}

func failed(mr int64) Observation {
	return PipelineStatus{Pipeline: pipe(mr), SHA: commit(mr), Status: PipelineFailed}
}

func TestFastForwardJumpsToTheFurthestPassedCar(t *testing.T) {
	later := t0.Add(time.Minute)
	c3 := &FastForwardTarget{To: "C3", Expected: "T", MRs: []int64{1, 2, 3}}
	c4 := &FastForwardTarget{To: "C4", Expected: "T", MRs: []int64{1, 2, 3, 4}}
	tests := []struct {
		name  string
		train Train
		pass  []Observation // planned at one instant, later
		// The move carried out after the pass (nil: none), and the one
		// pending then ("": none).
		wantFF      *FastForwardTarget
		wantPending string
	}{
		{
			name:        "car 3 passes while the cars ahead run: one move to it",
			train:       four(),
			pass:        []Observation{passed(3)},
			wantFF:      c3,
			wantPending: "C3",
		},
		{
			name:        "cars 2 and 4 pass in one pass: one move, to car 4",
			train:       four(),
			pass:        []Observation{passed(2), passed(4)},
			wantFF:      c4,
			wantPending: "C4",
		},
		{
			name:        "cars 4 and 2 pass in one pass: one move, to car 4",
			train:       four(),
			pass:        []Observation{passed(4), passed(2)},
			wantFF:      c4,
			wantPending: "C4",
		},
		{
			name:        "three cars pass in one pass: one move, to the furthest",
			train:       four(),
			pass:        []Observation{passed(1), passed(2), passed(3)},
			wantFF:      c3,
			wantPending: "C3",
		},
		{
			name: "a move planned in an earlier pass may have been tried: the car behind waits for its result",
			train: func() Train {
				tr, _ := Plan(four(), passed(2), t0)
				return tr
			}(),
			pass:        []Observation{passed(4)},
			wantPending: "C2",
		},
		{
			name:  "car 1 failed: it leaves the line as a suspect, and nothing moves past it",
			train: four(),
			pass:  []Observation{failed(1), passed(3), passed(4)},
		},
		{
			name: "car 1 is a suspect: the line merges without it",
			train: func() Train {
				tr, _ := onePass(four(), t0, failed(1))
				tr, _ = onePass(tr, t0, Built{MR: 2, Base: "T", HeadSHA: head(2), Commit: "D2"})
				tr, _ = onePass(tr, t0, PipelineCreated{MR: 2, SHA: "D2", Pipeline: 202})
				return tr
			}(),
			pass:        []Observation{PipelineStatus{Pipeline: 202, SHA: "D2", Status: PipelineSuccess}},
			wantFF:      &FastForwardTarget{To: "D2", Expected: "T", MRs: []int64{2}},
			wantPending: "D2",
		},
		{
			name:        "car 1 fails after car 3 passed: the pass that carries it merges it",
			train:       four(),
			pass:        []Observation{passed(3), failed(1)},
			wantFF:      c3,
			wantPending: "C3",
		},
		{
			name: "news of a car in the move holds the move as it is",
			train: func() Train {
				tr, _ := Plan(four(), passed(2), later)
				tr, _ = Plan(tr, HeadChanged{MR: 1, HeadSHA: "N1"}, later)
				return tr
			}(),
			pass:        []Observation{passed(4)},
			wantPending: "C2",
		},
		{
			name: "the target moved under the move: it is not taken over",
			train: func() Train {
				tr, _ := Plan(four(), passed(2), later)
				tr, _ = Plan(tr, TargetHead{SHA: "X"}, later)
				return tr
			}(),
			pass:        []Observation{passed(4)},
			wantPending: "C2",
		},
		{
			name: "a paused train moves nothing",
			train: func() Train {
				tr := four()
				tr.Paused = true
				return tr
			}(),
			pass: []Observation{passed(2), passed(4)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := onePass(tt.train, later, tt.pass...)
			ffs := only[FastForwardTarget](actions)
			switch {
			case tt.wantFF == nil && len(ffs) > 0:
				t.Errorf("moves %#v, want none", ffs)
			case tt.wantFF != nil && (len(ffs) != 1 || !reflect.DeepEqual(ffs[0], *tt.wantFF)):
				t.Errorf("moves %#v, want one: %#v", ffs, *tt.wantFF)
			}
			pending := ""
			if got.Pending != nil {
				pending = got.Pending.To
			}
			if pending != tt.wantPending {
				t.Errorf("pending move to %q, want %q", pending, tt.wantPending)
			}
		})
	}
}

func TestAJumpMergesTheCarsItCarries(t *testing.T) {
	tests := []struct {
		name        string
		passes      []Observation
		to          string
		wantMerged  []int64
		wantCancels []int64 // the merged cars' own pipelines, still running
		wantLeft    string
	}{
		{
			name:        "car 3",
			passes:      []Observation{passed(3)},
			to:          "C3",
			wantMerged:  []int64{1, 2, 3},
			wantCancels: []int64{pipe(1), pipe(2)},
			wantLeft:    "4:running@C3",
		},
		{
			name:        "cars 2 and 4",
			passes:      []Observation{passed(2), passed(4)},
			to:          "C4",
			wantMerged:  []int64{1, 2, 3, 4},
			wantCancels: []int64{pipe(1), pipe(3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := onePass(four(), t0, tt.passes...)
			got, actions := onePass(tr, t0.Add(time.Second), FastForwarded{To: tt.to, Head: tt.to})
			if got.TargetHead != tt.to || got.Pending != nil {
				t.Fatalf("head %q, pending %+v", got.TargetHead, got.Pending)
			}
			carrier := pipe(tt.wantMerged[len(tt.wantMerged)-1])
			var merged []int64
			for _, r := range only[Record](actions) {
				c := r.Car
				if c.State != StateMerged || c.Reason.Commit != tt.to || c.Reason.Pipeline != carrier {
					t.Errorf("!%d recorded %s with %+v, want merged with %s, tested by pipeline %d", c.MR, c.State, c.Reason, tt.to, carrier)
				}
				merged = append(merged, c.MR)
			}
			if !slices.Equal(merged, tt.wantMerged) {
				t.Errorf("merged %v, want %v", merged, tt.wantMerged)
			}
			if c := cancels(actions); !slices.Equal(c, tt.wantCancels) {
				t.Errorf("cancels %v, want %v", c, tt.wantCancels)
			}
			if s := states(got); s != tt.wantLeft {
				t.Errorf("states %q, want %q", s, tt.wantLeft)
			}
		})
	}
}

// A move taken over may still land, if its push was tried before (the
// simulator and a crash-free world never do this with the engine, but a
// planner must not care): the cars up to it merge then, once, and the
// rest wait for the move that took over.
func TestATakenOverMoveThatLanded(t *testing.T) {
	taken, _ := onePass(four(), t0, passed(2), passed(4))
	if p := taken.Pending; p == nil || p.To != "C4" || !slices.Equal(p.Via, []string{"C2"}) {
		t.Fatalf("pending %+v, want the move to C4, via C2", taken.Pending)
	}
	later := t0.Add(time.Second)
	mergedBy := func(actions []Action) map[int64]string {
		out := map[int64]string{}
		for _, r := range only[Record](actions) {
			if r.Car.State == StateMerged {
				out[r.Car.MR] = r.Car.Reason.Commit
			}
		}
		return out
	}
	tests := []struct {
		name       string
		obs        []Observation
		wantMerged map[int64]string
		wantHead   string
		wantFF     *FastForwardTarget
	}{
		{
			name:       "its result, then the move that took over lands",
			obs:        []Observation{FastForwarded{To: "C2", Head: "C2"}, FastForwarded{To: "C4", Head: "C4"}},
			wantMerged: map[int64]string{1: "C2", 2: "C2", 3: "C4", 4: "C4"},
			wantHead:   "C4",
		},
		{
			name:       "the target seen there, then the move that took over lands",
			obs:        []Observation{TargetHead{SHA: "C2"}, FastForwarded{To: "C4", Head: "C4"}},
			wantMerged: map[int64]string{1: "C2", 2: "C2", 3: "C4", 4: "C4"},
			wantHead:   "C4",
		},
		{
			name:       "the move that took over is refused at it: the rest move again from there",
			obs:        []Observation{FastForwarded{To: "C4", Rejected: true, Head: "C2"}},
			wantMerged: map[int64]string{1: "C2", 2: "C2"},
			wantHead:   "C2",
			wantFF:     &FastForwardTarget{To: "C4", Expected: "C2", MRs: []int64{3, 4}},
		},
		{
			name:       "both results, in any order, merge each car once",
			obs:        []Observation{FastForwarded{To: "C4", Rejected: true, Head: "C2"}, FastForwarded{To: "C2", Head: "C2"}, FastForwarded{To: "C4", Head: "C4"}},
			wantMerged: map[int64]string{1: "C2", 2: "C2", 3: "C4", 4: "C4"},
			wantHead:   "C4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := taken
			merged := map[int64]string{}
			var ffs []FastForwardTarget
			for i, o := range tt.obs {
				var actions []Action
				tr, actions = Plan(tr, o, later.Add(time.Duration(i)*time.Second))
				for mr, to := range mergedBy(actions) {
					if _, twice := merged[mr]; twice {
						t.Errorf("!%d merged twice", mr)
					}
					merged[mr] = to
				}
				ffs = append(ffs, only[FastForwardTarget](actions)...)
			}
			if !reflect.DeepEqual(merged, tt.wantMerged) {
				t.Errorf("merged %v, want %v", merged, tt.wantMerged)
			}
			if tr.TargetHead != tt.wantHead {
				t.Errorf("head %q, want %q", tr.TargetHead, tt.wantHead)
			}
			if tt.wantFF != nil && (len(ffs) == 0 || !reflect.DeepEqual(ffs[0], *tt.wantFF)) {
				t.Errorf("moves %#v, want %#v", ffs, *tt.wantFF)
			}
		})
	}
}

// A refusal of an earlier attempt at a move, delivered again after the
// move was tried anew from the head it reported, says nothing about the
// new attempt, which may still land: the move stays pending, and news
// about its cars waits for the new attempt's own result.
func TestAReplayedRefusalOfAnEarlierAttempt(t *testing.T) {
	tr, _ := onePass(four(), t0, passed(2), passed(4))
	refusal := FastForwarded{To: "C4", Expected: "T", Rejected: true, Head: "C2"}
	later := t0.Add(time.Second)
	tr, actions := onePass(tr, later, refusal)
	want := FastForwardTarget{To: "C4", Expected: "C2", MRs: []int64{3, 4}}
	if ffs := only[FastForwardTarget](actions); len(ffs) != 1 || !reflect.DeepEqual(ffs[0], want) {
		t.Fatalf("after the refusal at C2, moves %#v, want %#v", ffs, want)
	}
	// New commits on !3 while its move is pending wait for the move.
	tr, _ = onePass(tr, later, HeadChanged{MR: 3, HeadSHA: "N3"})

	tr, actions = onePass(tr, later.Add(time.Second), refusal)
	if p := tr.Pending; p == nil || p.To != "C4" || p.Expected != "C2" || len(only[Record](actions)) != 0 {
		t.Fatalf("after the first attempt's refusal again: pending %+v, records %+v; want the move from C2 still pending and nothing recorded", tr.Pending, only[Record](actions))
	}

	// The new attempt's own refusal (made over the news) drops the move,
	// and !3 leaves for its new commits.
	tr, actions = onePass(tr, later.Add(2*time.Second), FastForwarded{To: "C4", Expected: "C2", Rejected: true, Head: "C2"})
	var left []int64
	for _, r := range only[Record](actions) {
		left = append(left, r.Car.MR)
		if r.Car.State != StateEvicted || r.Car.Reason.Code != ReasonNewCommits {
			t.Errorf("!%d recorded %s (%+v), want evicted for new commits", r.Car.MR, r.Car.State, r.Car.Reason)
		}
	}
	if !slices.Equal(left, []int64{3}) || tr.Pending != nil && tr.Pending.To == "C4" {
		t.Fatalf("after the new attempt's refusal: left %v, pending %+v; want !3 evicted and the move to C4 dropped", left, tr.Pending)
	}
}

// A refusal of an earlier attempt that found the target at the move's own
// commit says the move landed, whichever attempt made it.
func TestAnEarlierAttemptsRefusalAtTheMovesCommit(t *testing.T) {
	tr, _ := onePass(four(), t0, passed(2), passed(4))
	tr, _ = onePass(tr, t0.Add(time.Second), FastForwarded{To: "C4", Expected: "T", Rejected: true, Head: "C2"})
	tr, actions := onePass(tr, t0.Add(2*time.Second), FastForwarded{To: "C4", Expected: "T", Rejected: true, Head: "C4"})
	var merged []int64
	for _, r := range only[Record](actions) {
		if r.Car.State == StateMerged {
			merged = append(merged, r.Car.MR)
		}
	}
	if !slices.Equal(merged, []int64{3, 4}) || tr.Pending != nil || tr.TargetHead != "C4" {
		t.Fatalf("merged %v, pending %+v, head %q; want !3 and !4 merged at C4", merged, tr.Pending, tr.TargetHead)
	}
}
