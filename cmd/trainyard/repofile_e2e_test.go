package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// openMRWith opens an MR by alice whose one commit writes files.
func (r *rig) openMRWith(n int, files map[string]string) int64 {
	r.t.Helper()
	m, err := r.ff.CreateMR(r.ctx, e2eProject, fakeforge.MRSpec{Source: fmt.Sprintf("settings-%d", n),
		Title: fmt.Sprintf("Settings %d", n), Author: "alice", Commits: []fakeforge.Commit{{Message: "settings", Files: files}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return m.IID
}

// The repository's .trainyard.yml is read where the target moves: a bad
// one is refused on the MR that brought it and in /train status, and
// the train keeps its settings; a good one takes effect for the next
// cars.
func TestServeReadsTheRepositoryFile(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)

	bad := r.openMRWith(1, map[string]string{".trainyard.yml": "method: octopus\nmin_access: guest\n"})
	r.note(bad, "alice", "/train add")
	const refused = "The `.trainyard.yml` this merge request brought to `main`"
	r.waitFor("the bad file to merge and be refused on its MR", time.Minute, func() bool {
		return r.state(bad) == "merged" && r.hasNote(bad, refused)
	})
	for _, want := range []string{"line 2: unknown field \"min_access\"", "method (line 1): must be merge, squash or rebase, got \"octopus\""} {
		if !r.hasNote(bad, want) {
			t.Errorf("the refusal does not say %q", want)
		}
	}
	// The train still runs on the service's settings, and says why.
	good := r.openMRWith(2, map[string]string{".trainyard.yml": "freezes: ['2000-01-01 2100-01-01 UTC Repository freeze']\n"})
	r.note(good, "alice", "/train status")
	r.waitFor("the status reply", 30*time.Second, func() bool {
		return r.hasNote(good, "The repository's `.trainyard.yml` at ") && r.hasNote(good, "is not valid, so the train keeps its last good settings")
	})
	r.note(good, "alice", "/train add")
	r.waitFor("the good file to merge", time.Minute, func() bool { return r.settled([]int64{good}, nil) })
	if n := r.countNotes(bad, refused); n != 1 {
		t.Errorf("the bad file's MR was told %d times, want once", n)
	}
	if r.hasNote(good, refused) {
		t.Error("the MR that fixed the file was told it is bad")
	}

	// The file's freeze holds the next car.
	held := r.head()
	next := r.openMR(3, false)
	r.note(next, "alice", "/train add")
	r.waitFor("the next car to pass and be held", time.Minute, func() bool {
		return r.passedCars() >= 3 && r.hasNote(next, "nothing merges while the target branch is in a freeze period until 2100-01-01 00:00 UTC: `Repository freeze`")
	})
	r.stays("the repository's freeze", time.Second, func() bool { return r.head() == held && r.state(next) == "opened" })
}

// On GitHub, a .trainyard.yml that sets the method changes how the next
// pull requests land.
func TestGitHubServeReadsTheRepositoryFile(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	r.serveGitHub()
	settings := r.openMRWith(1, map[string]string{".trainyard.yml": "method: squash\nrequired_checks: [ci/test]\n"})
	r.addInOrder(settings)
	r.waitFor("the file to merge", time.Minute, func() bool { return r.settled([]int64{settings}, nil) })
	before := r.head()
	m, err := r.ff.CreateMR(r.ctx, e2eProject, fakeforge.MRSpec{Source: "two-commits", Title: "Two commits", Author: "alice",
		Commits: []fakeforge.Commit{{Message: "one", Files: map[string]string{"x.txt": "1\n"}}, {Message: "two", Files: map[string]string{"x.txt": "2\n"}}}})
	if err != nil {
		t.Fatal(err)
	}
	r.addInOrder(m.IID)
	r.waitFor("the pull request to land", time.Minute, func() bool {
		return r.hasNote(m.IID, "Merged into `main`")
	})
	log := strings.Fields(r.gitIn(e2eProject, "rev-list", before+"..main"))
	if len(log) != 1 {
		t.Fatalf("%d commits landed, want one squashed commit", len(log))
	}
	if subject := r.gitIn(e2eProject, "log", "-1", "--format=%s", "main"); !strings.HasPrefix(subject, "Two commits") {
		t.Errorf("squashed commit subject %q, want the pull request's title", subject)
	}
	r.checkRuns(e2eProject)
}
