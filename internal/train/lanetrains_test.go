package train

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// laneTrain is a train whose MRs are tested in their lanes' trains first.
func laneTrain(cars ...Car) Train {
	tr := mk(cars...)
	tr.Settings.LaneTrains = true
	tr.Settings.Lanes = []Lane{{Name: "api", Paths: []string{"api/"}}, {Name: "web", Paths: []string{"web/"}}}
	return tr
}

func laneAdd(mr int64, lanes ...string) Added {
	return Added{MR: mr, HeadSHA: head(mr), Title: "t", Source: "s", By: "alice", Priority: PriorityNormal, Event: "note-1", Lanes: lanes}
}

// An MR whose lanes are known goes to their trains first: asked once per
// lane, answered once, and not a car yet.
func TestAnMRGoesToItsLanesFirst(t *testing.T) {
	got, actions := Plan(laneTrain(at(1, StateRunning, "T")), laneAdd(2, "web", "api", "web"), t0)
	if got.Car(2) != nil || len(got.Cars) != 1 {
		t.Fatalf("cars %s: !2 joined the train before its lanes", states(got))
	}
	if len(got.InLanes) != 1 || !slices.Equal(got.InLanes[0].Lanes, []string{"api", "web"}) || !got.InLanes[0].Since.Equal(t0) {
		t.Fatalf("in lanes %+v, want !2 in api and web since t0", got.InLanes)
	}
	joins := only[JoinLane](actions)
	if len(joins) != 2 || joins[0].Lane != "api" || joins[1].Lane != "web" || joins[0].Add.MR != 2 || joins[0].Add.Event != "lane:join:api:note-1" {
		t.Fatalf("joins %+v, want !2 asked of api then web, each under its own event", joins)
	}
	st := only[Status](actions)
	if len(st) != 1 || st[0].Phase != PhaseQueued ||
		st[0].Added.String() != "Added to the merge train for `main`. It is tested in its lanes first (`api`, `web`), and joins the train once it passed in each." {
		t.Fatalf("statuses %+v", st)
	}
	if got.Idle() {
		t.Fatal("a train with an MR in its lanes is idle")
	}
	_, actions = Plan(got, Added{MR: 2, HeadSHA: head(2), Event: "note-2", Lanes: []string{"api"}}, t0)
	if cs := only[Comment](actions); len(cs) != 1 || !strings.Contains(cs[0].Body.String(), "already on the merge train for `main`, being tested in its lanes (`api`, `web`)") || len(only[JoinLane](actions)) != 0 {
		t.Fatalf("a second add: %#v", actions)
	}
}

// Only what lanes can test goes to them; the rest joins the train at once.
func TestWhatSkipsTheLanes(t *testing.T) {
	off := laneTrain()
	off.Settings.LaneTrains = false
	for _, tt := range []struct {
		name string
		tr   Train
		add  Added
	}{
		{"lane trains off", off, laneAdd(2, "api")},
		{"lanes not known", laneTrain(), laneAdd(2)},
		{"a lane the train does not have", laneTrain(), laneAdd(2, "api", "docs")},
		{"urgent", laneTrain(), func() Added { a := laneAdd(2, "api"); a.Priority = PriorityUrgent; return a }()},
		{"stacked", laneTrain(), func() Added { a := laneAdd(2, "api"); a.Stacked = "feature"; return a }()},
		{"depends on another MR", laneTrain(queued(1)), func() Added { a := laneAdd(2, "api"); a.DependsOn = []Dep{{MR: 1, Label: "!1"}}; return a }()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, actions := Plan(tt.tr, tt.add, t0)
			if got.Car(2) == nil || len(got.InLanes) != 0 || len(only[JoinLane](actions)) != 0 {
				t.Fatalf("cars %s, in lanes %+v, actions %#v: want !2 a car at once", states(got), got.InLanes, actions)
			}
		})
	}
}

// Passed in every lane, the MR joins the train as it was added, at its
// back; a pass for another head, a lane it is not in, or twice, counts
// for nothing.
func TestAnMRJoinsOncePassedInEveryLane(t *testing.T) {
	tr, _ := Plan(laneTrain(at(1, StateRunning, "T")), laneAdd(2, "api", "web"), t0)
	for _, o := range []LanePassed{
		{MR: 2, HeadSHA: head(2), Lane: "api"},
		{MR: 2, HeadSHA: head(2), Lane: "api"},
		{MR: 2, HeadSHA: "H2-old", Lane: "web"},
		{MR: 2, HeadSHA: head(2), Lane: "docs"},
		{MR: 3, HeadSHA: head(3), Lane: "web"},
	} {
		var actions []Action
		tr, actions = Plan(tr, o, t0)
		if tr.Car(2) != nil || len(tr.InLanes) != 1 || len(actions) != 0 && len(only[BuildCar](actions)) != len(actions) {
			t.Fatalf("after %+v: cars %s, in lanes %+v, actions %#v", o, states(tr), tr.InLanes, actions)
		}
	}
	if !slices.Equal(tr.InLanes[0].Passed, []string{"api"}) {
		t.Fatalf("passed %v, want api", tr.InLanes[0].Passed)
	}
	got, actions := Plan(tr, LanePassed{MR: 2, HeadSHA: head(2), Lane: "web"}, t0)
	c := got.Car(2)
	if c == nil || got.Index(2) != 1 || len(got.InLanes) != 0 || c.AddedBy != "alice" || c.HeadSHA != head(2) {
		t.Fatalf("cars %s (!2 %+v), in lanes %+v: want !2 second on the train", states(got), c, got.InLanes)
	}
	if len(only[Comment](actions)) != 0 {
		t.Fatalf("actions %#v: the command was answered already", actions)
	}
	if st := only[Status](actions); len(st) != 1 || !strings.HasPrefix(st[0].Added.String(), "Added to the merge train for `main` at position 2.") {
		t.Fatalf("statuses %+v", st)
	}
	if !slices.Equal(c.Lanes, []string{"api", "web"}) || c.LanesOf != LanesDigest(got.Settings.Lanes) {
		t.Fatalf("car lanes %v of %q: want api and web, read with the train's lanes", c.Lanes, c.LanesOf)
	}
}

// What happens to an MR in its lanes takes it off them and the train
// at once, as it would take a car off: no lane waits to find out.
func TestNewsOfAnMRInItsLanes(t *testing.T) {
	for _, tt := range []struct {
		name string
		obs  Observation
		want string
	}{
		{"new commits", HeadChanged{MR: 2, HeadSHA: "H2-new"}, "Removed from the merge train for `main`: new commits were pushed"},
		{"closed", Closed{MR: 2}, "Removed from the merge train for `main`: the merge request was closed."},
		{"merged outside", Closed{MR: 2, Merged: true}, "Removed from the merge train for `main`: the merge request was merged outside the train."},
		{"retargeted", Retargeted{MR: 2, Branch: "next"}, "Removed from the merge train for `main`: its target branch changed to `next`."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := Plan(laneTrain(), laneAdd(2, "api", "web"), t0)
			got, actions := Plan(tr, tt.obs, t0)
			if len(got.InLanes) != 0 {
				t.Fatalf("in lanes %+v: want !2 gone", got.InLanes)
			}
			if ls := only[LeaveLane](actions); len(ls) != 2 || ls[0].Lane != "api" || ls[1].Lane != "web" {
				t.Fatalf("leaves %+v, want api and web", ls)
			}
			if cs := only[Comment](actions); len(cs) != 1 || !strings.HasPrefix(cs[0].Body.String(), tt.want) {
				t.Fatalf("comments %+v, want %q", cs, tt.want)
			}
		})
	}
	// The head it was added at, or its own branch, is no news.
	tr, _ := Plan(laneTrain(), laneAdd(2, "api"), t0)
	for _, o := range []Observation{HeadChanged{MR: 2, HeadSHA: head(2)}, Retargeted{MR: 2, Branch: "main"}, Closed{MR: 3}} {
		if got, actions := Plan(tr, o, t0); len(got.InLanes) != 1 || len(actions) != 0 {
			t.Fatalf("%+v: in lanes %+v, actions %#v", o, got.InLanes, actions)
		}
	}
}

// An MR that leaves one lane unmerged leaves the others and the train,
// and its author is told which lane and why.
func TestAnMRLeavingALaneLeavesTheTrain(t *testing.T) {
	tr, _ := Plan(laneTrain(), laneAdd(2, "api", "web"), t0)
	if got, _ := Plan(tr, LaneLeft{MR: 2, HeadSHA: "H2-old", Lane: "api"}, t0); len(got.InLanes) != 1 {
		t.Fatalf("a lane's news of another head took !2 off: %+v", got.InLanes)
	}
	got, actions := Plan(tr, LaneLeft{MR: 2, HeadSHA: head(2), Lane: "api",
		Reason: Reason{Code: ReasonPipelineFailed, Pipeline: 900, Detail: Words("pipeline #900 failed")}}, t0)
	if len(got.InLanes) != 0 || got.Car(2) != nil {
		t.Fatalf("in lanes %+v, cars %s: want !2 gone", got.InLanes, states(got))
	}
	if ls := only[LeaveLane](actions); len(ls) != 1 || ls[0].Lane != "web" || ls[0].MR != 2 {
		t.Fatalf("leaves %+v, want web alone asked to drop !2", ls)
	}
	want := "Removed from the merge train for `main`: in lane `api`: pipeline #900 failed."
	cs, st, recs := only[Comment](actions), only[Status](actions), only[Record](actions)
	if len(cs) != 1 || cs[0].Body.String() != want || len(st) != 1 || st[0].Phase != PhaseEvicted || st[0].Outcome.String() != want {
		t.Fatalf("comments %+v, statuses %+v: want %q", cs, st, want)
	}
	if len(recs) != 1 || recs[0].Car.State != StateEvicted || recs[0].Car.Reason.Code != ReasonPipelineFailed || recs[0].Car.Reason.Pipeline != 900 {
		t.Fatalf("records %+v", recs)
	}
	if !got.Idle() {
		t.Fatal("the train is not idle once its only MR left")
	}
}

// Removed by a user while in its lanes, the MR leaves every lane.
func TestAnMRRemovedWhileInItsLanes(t *testing.T) {
	tr, _ := Plan(laneTrain(), laneAdd(2, "api", "web"), t0)
	got, actions := Plan(tr, Removed{MR: 2, By: "bob", Event: "note-9"}, t0)
	if len(got.InLanes) != 0 {
		t.Fatalf("in lanes %+v", got.InLanes)
	}
	ls := only[LeaveLane](actions)
	if len(ls) != 2 || ls[0].Lane != "api" || ls[1].Lane != "web" || ls[0].Event == ls[1].Event {
		t.Fatalf("leaves %+v, want api and web, each its own event", ls)
	}
	if st := only[Status](actions); len(st) != 1 || st[0].Phase != PhaseRemoved {
		t.Fatalf("statuses %+v, want removed", st)
	}
	if cs := only[Comment](actions); len(cs) != 1 || cs[0].Key != "reply:note-9" || !strings.Contains(cs[0].Body.String(), "bob") {
		t.Fatalf("comments %+v, want the reply to note-9 naming bob", cs)
	}
}

// A drain lets the MRs in their lanes finish: one that passes them then
// joins the train, as the cars on it finish.
func TestADrainLetsAnMRInItsLanesFinish(t *testing.T) {
	tr, _ := Plan(laneTrain(), laneAdd(2, "api"), t0)
	tr, _ = Plan(tr, Drain{On: true, By: "bob"}, t0)
	got, actions := Plan(tr, LanePassed{MR: 2, HeadSHA: head(2), Lane: "api"}, t0)
	if got.Car(2) == nil || len(got.InLanes) != 0 || len(only[Comment](actions)) != 0 {
		t.Fatalf("cars %s, in lanes %+v, actions %#v: want !2 on the train, no refusal", states(got), got.InLanes, actions)
	}
}

// /train status of an MR in its lanes says where it stands in each.
func TestInLanesText(t *testing.T) {
	lc := LaneCar{Lanes: []string{"api", "docs", "web"}, Passed: []string{"web"}}
	if got, want := InLanesText("main", lc), "On the merge train for `main`, being tested in its lanes first: in `api`, `docs`; it passed in `web`. It joins the train once it passed in each."; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	lc.Passed = nil
	if got, want := InLanesText("main", lc), "On the merge train for `main`, being tested in its lanes first: in `api`, `docs`, `web`. It joins the train once it passed in each."; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// The lanes share the window, one pipeline kept for the integration;
// the integrating train takes that one, in large batches.
func TestLaneAndIntegrationSettings(t *testing.T) {
	for _, tt := range []struct {
		p, k int
		want []int
	}{{20, 2, []int{10, 9}}, {20, 4, []int{5, 5, 5, 4}}, {20, 8, []int{3, 3, 3, 2, 2, 2, 2, 2}}, {3, 4, []int{1, 1, 1, 1}}} {
		if got := LaneWindows(tt.p, tt.k); !slices.Equal(got, tt.want) {
			t.Errorf("LaneWindows(%d, %d) = %v, want %v", tt.p, tt.k, got, tt.want)
		}
	}
	s := Settings{MaxParallel: 20, BatchSize: 8, MaxBatchSize: 32, MinWindow: 15, Retries: 0, LaneTrains: true,
		Lanes: []Lane{{Name: "api"}, {Name: "web"}}, Schedule: Schedule{Freezes: []FreezePeriod{{Spec: "hold"}}}}
	in := s.Integrating()
	if in.MaxParallel != 1 || in.MinWindow != 1 || in.BatchSize != IntegrationBatch || in.MaxBatchSize != 0 || in.Retries != 1 ||
		!in.LaneTrains || len(in.Lanes) != 2 || len(in.Schedule.Freezes) != 1 {
		t.Errorf("integrating: %+v", in)
	}
	off := s
	off.LaneTrains = false
	if got := off.Integrating(); got.MaxParallel != 20 || got.BatchSize != 8 {
		t.Errorf("integrating without lane trains changed the settings: %+v", got)
	}
	web := s.LaneSettings(1, 2)
	if web.MaxParallel != 9 || web.MinWindow != 0 || web.LaneTrains || web.Lanes != nil || len(web.Schedule.Freezes) != 0 || web.BatchSize != 8 {
		t.Errorf("lane settings: %+v", web)
	}
}

// An MR the lanes passed that leaves the train unmerged is on their
// branches: each lane's train is told, and a lane it did not pass is
// only asked to drop it. An MR that never went through lanes tells none.
func TestAnMRTheLanesPassedLeavingTellsThem(t *testing.T) {
	tr, _ := Plan(laneTrain(), laneAdd(2, "api", "web"), t0)
	tr, _ = Plan(tr, LanePassed{MR: 2, HeadSHA: head(2), Lane: "api"}, t0)
	got, actions := Plan(tr, LaneLeft{MR: 2, HeadSHA: head(2), Lane: "web", Reason: Reason{Code: ReasonPipelineFailed}}, t0)
	if rs, ls := only[ResetLane](actions), only[LeaveLane](actions); len(rs) != 1 || rs[0] != (ResetLane{Lane: "api", MR: 2}) || len(ls) != 0 {
		t.Fatalf("resets %+v, leaves %+v: want api told, web asked nothing (it evicted !2)", rs, ls)
	}
	if len(got.InLanes) != 0 {
		t.Fatalf("in lanes %+v", got.InLanes)
	}

	tr, _ = Plan(tr, LanePassed{MR: 2, HeadSHA: head(2), Lane: "web"}, t0)
	if c := tr.Car(2); c == nil || !c.Laned {
		t.Fatalf("car %+v: want !2 on the train, through its lanes", c)
	}
	tr, _ = Plan(tr, Added{MR: 3, HeadSHA: head(3), Title: "t", By: "bob", Priority: PriorityUrgent, Event: "note-3", Lanes: []string{"api"}}, t0)
	for _, tt := range []struct {
		name string
		obs  Observation
		want []ResetLane
	}{
		{"new commits", HeadChanged{MR: 2, HeadSHA: "H2-new"}, []ResetLane{{Lane: "api", MR: 2}, {Lane: "web", MR: 2}}},
		{"removed", Removed{MR: 2, By: "bob", Event: "note-9"}, []ResetLane{{Lane: "api", MR: 2}, {Lane: "web", MR: 2}}},
		{"not through lanes", Removed{MR: 3, By: "bob", Event: "note-10"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, actions := Plan(tr, tt.obs, t0)
			if rs := only[ResetLane](actions); !slices.Equal(rs, tt.want) {
				t.Fatalf("resets %+v, want %+v", rs, tt.want)
			}
		})
	}
}

// A lane's train told that its branch carries an MR the target let go
// sets the branch back once its own move has landed, before it builds
// anything more on it; the new head rebuilds what sat on the old one.
func TestALaneSetsItsBranchBackOnceItsMoveLanded(t *testing.T) {
	tr := mk(at(1, StatePassed, "L0"), at(2, StateRunning, "C1"))
	tr.TargetHead = "L0"
	tr.Pending = &FastForward{To: commit(1), Expected: "L0", MRs: []int64{1}, Planned: t0}
	got, actions := Plan(tr, LaneStale{MR: 7}, t0)
	if !got.ResetDue || len(only[ResetBranch](actions)) != 0 {
		t.Fatalf("reset due %v, actions %#v: want it owed while the move is in flight", got.ResetDue, actions)
	}
	got, actions = Plan(got, FastForwarded{To: commit(1), Expected: "L0"}, t0)
	if got.ResetDue || len(only[ResetBranch](actions)) != 1 || len(only[BuildCar](actions)) != 0 {
		t.Fatalf("reset due %v, actions %#v: want the branch set back, nothing built", got.ResetDue, actions)
	}
	if got.TargetHead != commit(1) || got.Car(2) == nil || got.Car(2).State != StateRunning {
		t.Fatalf("head %s, cars %s", got.TargetHead, states(got))
	}
	got, actions = Plan(got, TargetHead{SHA: "T9"}, t0)
	builds := only[BuildCar](actions)
	if got.TargetHead != "T9" || len(builds) != 1 || builds[0].MR != 2 || builds[0].Base != "T9" {
		t.Fatalf("head %s, builds %+v: want !2 built again on T9", got.TargetHead, builds)
	}
	if cs := only[CancelPipeline](actions); len(cs) != 1 || cs[0].Pipeline != pipe(2) {
		t.Fatalf("cancels %+v: want !2's pipeline on the old branch stopped", cs)
	}
}

// An MR lost on its way to a lane is sent there again, under a request
// of its own; a lane it passed, another head or an MR not in its lanes
// is sent nothing.
func TestAnMRLostToALaneIsSentAgain(t *testing.T) {
	tr, _ := Plan(laneTrain(), laneAdd(2, "api", "web"), t0)
	tr, _ = Plan(tr, LanePassed{MR: 2, HeadSHA: head(2), Lane: "web"}, t0)
	later := t0.Add(time.Hour)
	_, actions := Plan(tr, LaneLost{MR: 2, HeadSHA: head(2), Lane: "api"}, later)
	js := only[JoinLane](actions)
	if len(js) != 1 || js[0].Lane != "api" || js[0].Add.MR != 2 || js[0].Add.HeadSHA != head(2) ||
		js[0].Add.Event != "lane:join:api:note-1:again:"+later.UTC().Format(time.RFC3339Nano) || len(actions) != 1 {
		t.Fatalf("actions %#v: want !2 sent to api again, under a new request", actions)
	}
	for _, o := range []LaneLost{
		{MR: 2, HeadSHA: head(2), Lane: "web"},
		{MR: 2, HeadSHA: "H2-old", Lane: "api"},
		{MR: 2, HeadSHA: head(2), Lane: "docs"},
		{MR: 3, HeadSHA: head(3), Lane: "api"},
	} {
		if _, actions := Plan(tr, o, later); len(actions) != 0 {
			t.Fatalf("%+v: actions %#v", o, actions)
		}
	}
}
