package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// catchUp runs the catch-up once, past the once-per-interval gate, and
// returns the forge requests it made.
func (e *env) catchUp() int {
	e.t.Helper()
	time.Sleep(5 * time.Millisecond) // the gate lasts 9/10 of the 2ms interval
	before := total(e.ff.Calls())
	if err := e.eng.CatchUp(e.ctx); err != nil {
		e.t.Fatalf("catch up: %v", err)
	}
	return total(e.ff.Calls()) - before
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// queued reads the events the catch-up queued since the last call.
func (e *env) queued() []event.Event {
	e.t.Helper()
	if err := e.st.EnsureGroup(e.ctx, "test"); err != nil {
		e.t.Fatal(err)
	}
	evs, err := e.st.ReadEvents(e.ctx, "test", "reader", 100, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]event.Event, 0, len(evs))
	for _, se := range evs {
		ev, err := event.Unmarshal(se.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// catchUpEnv is an engine on forgeName's fake forge with CI the test
// finishes, whose catch-up runs whenever asked.
func catchUpEnv(t *testing.T, forgeName string) *env {
	if forgeName == "gitlab" {
		return newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, sweepEvery: 2 * time.Millisecond})
	}
	return newGitHubEnvWith(t, train.Settings{}, fakeforge.CI{Manual: true}, nil)
}

// TestCatchUpQueuesMissedCommandsOnce: a command no webhook brought is
// queued by the next catch-up, once, and acted on once; a project where
// nothing changed costs one forge request.
func TestCatchUpQueuesMissedCommandsOnce(t *testing.T) {
	t.Parallel()
	for _, forgeName := range []string{"gitlab", "github"} {
		t.Run(forgeName, func(t *testing.T) {
			t.Parallel()
			e := catchUpEnv(t, forgeName)
			a := e.mr(1, nil)
			old, err := e.ff.AddNote(e.ctx, project, a, "alice", "/train status")
			if err != nil {
				t.Fatal(err)
			}
			// GitHub stamps comments to the second: within the same
			// second, a comment and the first catch-up cannot be told apart.
			time.Sleep(1100 * time.Millisecond)
			if n := e.catchUp(); n != 0 {
				t.Fatalf("the first catch-up made %d forge requests, want none: it only sets the cursor", n)
			}
			if evs := e.queued(); len(evs) != 0 {
				t.Fatalf("the first catch-up queued %+v: comments from before it are not commands to it", evs)
			}
			time.Sleep(1100 * time.Millisecond) // into the next second of the forge's clock
			n, err := e.ff.AddNote(e.ctx, project, a, "alice", "Please.\n\n/train add")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.ff.AddNote(e.ctx, project, a, "alice", "    /train remove"); err != nil {
				t.Fatal(err)
			}
			e.catchUp()
			evs := e.queued()
			if len(evs) != 1 || evs[0].CommentID != n.ID || evs[0].ID != fmt.Sprintf("catch-up:%d", n.ID) ||
				evs[0].MR != a || evs[0].User.ID != e.users["alice"].ID || evs[0].Kind != event.KindComment {
				t.Fatalf("queued %+v, want the one command posted since (comment %d on !%d by alice), not %d", evs, n.ID, a, old.ID)
			}
			if err := e.eng.Dispatch(e.ctx, evs[0]); err != nil {
				t.Fatal(err)
			}
			if got := e.cars(); len(got) != 1 || got[0] != a {
				t.Fatalf("cars %v, want [%d]", got, a)
			}
			e.catchUp()
			if evs := e.queued(); len(evs) != 0 {
				t.Fatalf("a command acted on was queued again: %+v", evs)
			}
			time.Sleep(1100 * time.Millisecond)
			e.catchUp() // reads up to the bot's reply
			if n := e.catchUp(); n != 1 {
				t.Fatalf("a catch-up with nothing new made %d forge requests, want 1", n)
			}
		})
	}
}

// A comment without a command, edited into one (by its author or, on
// GitHub, by anyone with write access), is never run: the catch-up
// would run it as its author, who did not write the command.
func TestCatchUpRunsNoEditedComment(t *testing.T) {
	t.Parallel()
	for _, forgeName := range []string{"gitlab", "github"} {
		t.Run(forgeName, func(t *testing.T) {
			t.Parallel()
			e := catchUpEnv(t, forgeName)
			a := e.mr(1, nil)
			time.Sleep(1100 * time.Millisecond)
			e.catchUp() // sets the cursor
			time.Sleep(1100 * time.Millisecond)
			lgtm, err := e.ff.AddNote(e.ctx, project, a, "alice", "LGTM")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // the edit a second later, as GitHub stamps
			if _, err := e.ff.EditNote(e.ctx, project, a, lgtm.ID, "/train add"); err != nil {
				t.Fatal(err)
			}
			e.catchUp()
			if evs := e.queued(); len(evs) != 0 {
				t.Fatalf("the catch-up queued an edited comment: %+v", evs)
			}
			if got := e.cars(); len(got) != 0 {
				t.Fatalf("cars %v after an edited comment, want none", got)
			}
		})
	}
}

// An internal note's command is not run by the catch-up, as its
// Confidential Note Hook is not: its answer, and a freeze's reason, would
// be public.
func TestCatchUpRunsNoInternalNote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, sweepEvery: 2 * time.Millisecond})
	a := e.mr(1, nil)
	e.catchUp() // sets the cursor
	time.Sleep(10 * time.Millisecond)
	if _, err := e.ff.AddInternalNote(e.ctx, project, a, "alice", "/train add"); err != nil {
		t.Fatal(err)
	}
	public, err := e.ff.AddNote(e.ctx, project, a, "alice", "/train status")
	if err != nil {
		t.Fatal(err)
	}
	e.catchUp()
	if evs := e.queued(); len(evs) != 1 || evs[0].CommentID != public.ID {
		t.Fatalf("queued %+v, want the public note %d alone", evs, public.ID)
	}
}
