package train

import (
	"strings"
	"testing"
	"time"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	return loc
}

func TestHeldTargetTestsButDoesNotMove(t *testing.T) {
	freeze := Schedule{Freezes: []FreezePeriod{{From: t0.Add(-time.Hour), Until: t0.Add(time.Hour), Reason: "release cut"}}}
	// Mon-Fri 09:00-17:00 UTC; t0 is Sunday 2026-03-01 10:00 UTC.
	weekdays := Schedule{Windows: []MergeWindow{{Days: 0b0111110, From: 9 * time.Hour, Until: 17 * time.Hour, Spec: "Mon-Fri 09:00-17:00 UTC"}}}
	tests := []struct {
		name     string
		frozen   *Hold
		schedule Schedule
		wantHold HoldKind // "": the target moves
	}{
		{name: "no hold", wantHold: ""},
		{name: "frozen by command", frozen: &Hold{Kind: HoldFrozen, Reason: "incident", By: "alice"}, wantHold: HoldFrozen},
		{name: "in a freeze period", schedule: freeze, wantHold: HoldFreeze},
		{name: "outside every merge window", schedule: weekdays, wantHold: HoldWindow},
		{name: "a freeze period that ended", schedule: Schedule{Freezes: []FreezePeriod{{From: t0.Add(-2 * time.Hour), Until: t0}}}, wantHold: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mk(at(1, StatePassed, "T"), at(2, StateRunning, "C1"), queued(3))
			tr.Frozen = tt.frozen
			tr.Settings.Schedule = tt.schedule
			got, actions := Plan(tr, PipelineStatus{Pipeline: pipe(2), SHA: "C2", Status: PipelineSuccess}, t0)
			ffs := only[FastForwardTarget](actions)
			if tt.wantHold == "" {
				if len(ffs) != 1 || ffs[0].To != "C2" {
					t.Fatalf("fast-forwards = %+v, want one to C2", ffs)
				}
				return
			}
			if len(ffs) != 0 || got.Pending != nil {
				t.Fatalf("held train moved its target: %+v", ffs)
			}
			// Testing goes on: car 3 is built on car 2.
			if b := builds(actions); len(b) != 1 || b[0] != "3@C2" {
				t.Fatalf("builds = %v, want [3@C2]", b)
			}
			for _, mr := range []int{0, 1} {
				trail := got.Cars[mr].Trail
				if len(trail) == 0 || trail[len(trail)-1].Kind != MarkHeld || trail[len(trail)-1].Hold != tt.wantHold {
					t.Fatalf("car %d trail = %+v, want a held mark of %s", mr+1, trail, tt.wantHold)
				}
			}
			// A second pass under the same hold marks nothing more.
			again, _ := Plan(got, Tick{}, t0.Add(time.Minute))
			if n, m := len(got.Cars[0].Trail), len(again.Cars[0].Trail); n != m {
				t.Fatalf("trail grew from %d to %d marks under one hold", n, m)
			}
		})
	}
}

func TestUnfreezeMergesWhatPassed(t *testing.T) {
	tr := mk(at(1, StatePassed, "T"), at(2, StatePassed, "C1"))
	got, actions := Plan(tr, Froze{By: "alice", Reason: "incident 42"}, t0)
	if got.Frozen == nil || got.Frozen.Reason != "incident 42" || got.Frozen.By != "alice" {
		t.Fatalf("frozen = %+v", got.Frozen)
	}
	if n := only[Notify](actions); len(n) != 1 || n[0].Kind != NotifyFrozen || n[0].Reason != "incident 42" || n[0].By != "alice" {
		t.Fatalf("notifications = %+v, want one frozen by alice", n)
	}
	if len(only[FastForwardTarget](actions)) != 0 {
		t.Fatal("frozen train moved its target")
	}
	// Freezing again with the same reason says nothing more.
	if _, again := Plan(got, Froze{By: "alice", Reason: "incident 42"}, t0); len(only[Notify](again)) != 0 {
		t.Fatalf("a repeated freeze notified again: %+v", again)
	}
	got, actions = Plan(got, Unfroze{By: "bob"}, t0.Add(time.Minute))
	if got.Frozen != nil {
		t.Fatal("still frozen after unfreeze")
	}
	ffs := only[FastForwardTarget](actions)
	if len(ffs) != 1 || ffs[0].To != "C2" || len(ffs[0].MRs) != 2 {
		t.Fatalf("fast-forwards = %+v, want one to C2 with both cars", ffs)
	}
	if n := only[Notify](actions); len(n) != 1 || n[0].Kind != NotifyUnfrozen || n[0].By != "bob" {
		t.Fatalf("notifications = %+v, want one unfrozen by bob", n)
	}
}

func TestDrainingRefusesNewCars(t *testing.T) {
	tr := mk(at(1, StateRunning, "T"))
	tr, actions := Plan(tr, Drain{On: true, By: "ops"}, t0)
	if !tr.Draining || len(only[Notify](actions)) != 1 {
		t.Fatalf("draining = %v, actions %+v", tr.Draining, actions)
	}
	tr, actions = Plan(tr, Added{MR: 2, HeadSHA: head(2), By: "dev", Event: "e1"}, t0)
	if tr.Index(2) >= 0 {
		t.Fatal("a draining train took a new car")
	}
	cs := only[Comment](actions)
	if len(cs) != 1 || cs[0].MR != 2 || !strings.Contains(cs[0].Body.String(), "is draining") {
		t.Fatalf("comments = %+v, want a reply that the train is draining", cs)
	}
	// The car on it still merges.
	tr, actions = Plan(tr, PipelineStatus{Pipeline: pipe(1), SHA: "C1", Status: PipelineSuccess}, t0)
	if ffs := only[FastForwardTarget](actions); len(ffs) != 1 || ffs[0].To != "C1" {
		t.Fatalf("fast-forwards = %+v, want one to C1", ffs)
	}
	tr, _ = Plan(tr, Drain{On: false, By: "ops"}, t0)
	tr, _ = Plan(tr, Added{MR: 2, HeadSHA: head(2), By: "dev", Event: "e2"}, t0)
	if tr.Index(2) < 0 {
		t.Fatal("the train refused a car after the drain was lifted")
	}
}

func TestScheduleActive(t *testing.T) {
	loc := berlin(t)
	week := Schedule{Windows: []MergeWindow{
		{Days: 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday,
			From: 9 * time.Hour, Until: 17 * time.Hour, Zone: loc, Spec: "Mon-Fri 09:00-17:00 Europe/Berlin"},
		// Saturday night into Sunday morning.
		{Days: 1 << time.Saturday, From: 22 * time.Hour, Until: 2 * time.Hour, Zone: loc, Spec: "Sat 22:00-02:00 Europe/Berlin"},
	}}
	in := func(s string) time.Time {
		at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	tests := []struct {
		at        string
		open      bool
		nextLocal string // when it opens next, if closed
	}{
		{at: "2026-03-02 09:00", open: true}, // Monday
		{at: "2026-03-02 08:59", open: false, nextLocal: "2026-03-02 09:00"},
		{at: "2026-03-02 17:00", open: false, nextLocal: "2026-03-03 09:00"},
		{at: "2026-03-06 17:30", open: false, nextLocal: "2026-03-07 22:00"}, // Friday evening
		{at: "2026-03-07 23:00", open: true},                                 // Saturday night
		{at: "2026-03-08 01:59", open: true},                                 // past midnight
		{at: "2026-03-08 02:00", open: false, nextLocal: "2026-03-09 09:00"},
		// Summer time starts on 2026-03-29: the window keeps its local hours.
		{at: "2026-03-30 09:00", open: true},
		{at: "2026-03-30 08:30", open: false, nextLocal: "2026-03-30 09:00"},
	}
	for _, tt := range tests {
		h, held := week.Active(in(tt.at))
		if held == tt.open {
			t.Errorf("%s: held = %v, want open = %v", tt.at, held, tt.open)
			continue
		}
		if held {
			if h.Kind != HoldWindow || !h.Until.Equal(in(tt.nextLocal)) {
				t.Errorf("%s: hold = %+v, want a window hold until %s", tt.at, h, tt.nextLocal)
			}
			if !strings.Contains(h.Sentence(), "Mon-Fri 09:00-17:00 Europe/Berlin; Sat 22:00-02:00 Europe/Berlin") {
				t.Errorf("%s: sentence %q does not list the windows", tt.at, h.Sentence())
			}
		}
	}
}

func TestFreezePeriodsJoin(t *testing.T) {
	s := Schedule{Freezes: []FreezePeriod{
		{From: t0, Until: t0.Add(time.Hour), Reason: "first"},
		{From: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour), Reason: "second"},
	}}
	h, held := s.Active(t0.Add(30 * time.Minute))
	if !held || h.Kind != HoldFreeze || h.Reason != "first" || !h.Until.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("hold = %+v, %v; want the first freeze, until the end of the second", h, held)
	}
	if _, held := s.Active(t0.Add(3 * time.Hour)); held {
		t.Fatal("held at the end of the last period")
	}
	want := "the target branch is in a freeze period until 2026-03-01 13:00 UTC: first"
	if got := h.Sentence(); got != want {
		t.Fatalf("sentence = %q, want %q", got, want)
	}
}

func TestWeekdaysString(t *testing.T) {
	for days, want := range map[Weekdays]string{
		0b0111110: "Mon-Fri",
		0b1000001: "Sat,Sun",
		0b0101010: "Mon,Wed,Fri",
		0b1111111: "Mon-Sun",
	} {
		if got := days.String(); got != want {
			t.Errorf("%07b = %q, want %q", days, got, want)
		}
	}
}
