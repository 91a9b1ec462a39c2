package engine_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/store"
)

// onlyBranch allows trains on one branch of the project alone.
type onlyBranch struct {
	engine.StaticPolicy
	branch string
}

func (p onlyBranch) BranchAllowed(_, branch string) bool { return branch == p.branch }

// An API caller may name any MR the forge token can see: a remove on a
// branch that may have no train makes none (it would be swept forever)
// and is answered "not found"; on a branch that may, the train is made
// and the MR told it is not on it.
func TestRemoveMakesNoTrainWhereNoneIsAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{config: func(c *engine.Config) {
		c.Policy = onlyBranch{StaticPolicy: engine.StaticPolicy{TrainSettings: c.Settings, Access: c.MinAccess}, branch: "release"}
	}})
	mr := e.mr(1, nil)
	u := e.users["alice"]
	err := e.eng.Remove(e.ctx, engine.Request{Forge: e.key.Forge, Project: project, MR: mr, UserID: u.ID, Username: u.Username, Event: "api:remove-1", Via: "api", Trusted: true})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove on a branch without trains: %v, want not found", err)
	}
	keys, err := e.eng.Trains(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(keys, e.key) {
		t.Fatalf("trains after the remove: %v, want no %s", keys, e.key)
	}
	if notes := e.notesOf(mr); len(notes) != 0 {
		t.Fatalf("notes on !%d: %q, want none", mr, notes)
	}
	// A /train remove comment there is answered, as an add would be.
	if err := e.comment("note-9", mr, "alice", "/train remove"); err != nil {
		t.Fatalf("a remove comment on a branch without trains: %v", err)
	}
	e.requireNote(mr, "Merge trains are not enabled for `main` in "+project+".")
	if ok, _ := e.st.Exists(e.ctx, e.key); ok {
		t.Fatal("the remove comment made a train")
	}

	allowed := newEnv(t, envOptions{})
	mr = allowed.mr(1, nil)
	u = allowed.users["alice"]
	if err := allowed.eng.Remove(allowed.ctx, engine.Request{Forge: allowed.key.Forge, Project: project, MR: mr, UserID: u.ID, Username: u.Username, Event: "api:remove-2"}); err != nil {
		t.Fatalf("remove on main: %v", err)
	}
	if _, err := allowed.eng.Train(allowed.ctx, allowed.key); err != nil {
		t.Fatalf("main's train after the remove: %v", err)
	}
}

// An MR whose branch shares no history with the target cannot be merged
// onto it however often its build is tried: it is evicted with a reason
// and the train goes on, rather than retrying the build on every pass
// with every car behind it waiting.
func TestUnrelatedHistoryIsEvicted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	orphan := e.git("commit-tree", "main^{tree}", "-m", "a history of its own")
	e.git("update-ref", "refs/heads/orphan", orphan)
	m, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{Source: "orphan", Title: "Unrelated", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	good := e.mr(2, nil)
	e.addAll(m.IID, good)
	e.run()
	e.requireIdle()
	e.requireMerged(good)
	if s := e.mrState(m.IID).State; s != fakeforge.StateOpened {
		t.Fatalf("!%d is %s, want open", m.IID, s)
	}
	e.requireNote(m.IID, "its commits share no history with `main`, so they cannot be merged onto it; rebase the branch onto `main` and add it again")
}
