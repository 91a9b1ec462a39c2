package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// openMRSpec opens an MR by alice with one commit adding mr-N.txt (and a
// failing marker when broken), into target ("" for main), described by
// description.
func (r *rig) openMRSpec(n int, target, description string, broken bool) int64 {
	r.t.Helper()
	files := map[string]string{fmt.Sprintf("mr-%d.txt", n): fmt.Sprintf("change %d\n", n)}
	if broken {
		files[fmt.Sprintf("mr-%d/BROKEN", n)] = "fails\n"
	}
	m, err := r.ff.CreateMR(r.ctx, e2eProject, fakeforge.MRSpec{Source: fmt.Sprintf("feature-%d", n), Target: target,
		Title: fmt.Sprintf("Change %d", n), Description: description, Author: "alice",
		Commits: []fakeforge.Commit{{Message: "change", Files: files}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return m.IID
}

// Dependent and stacked MRs on GitLab: an MR whose dependency is not on
// the train is refused; one stacked on another MR joins that MR's train
// and merges after it; a cycle is refused with its path; a dependent
// leaves with a dependency that is evicted.
func TestServeMergesDependentAndStackedMRs(t *testing.T) {
	t.Parallel()
	// Pipelines long enough that the first MR is still on the train when
	// the one stacked on it is added.
	r := newRig(t, fakeforge.CI{Duration: 2 * time.Second})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)

	base := r.openMRSpec(1, "", "", false)
	dependent := r.openMRSpec(2, "", "Needs the first.\n\nDepends-On: !1", false)
	stacked := r.openMRSpec(3, "feature-1", "", false)
	r.note(dependent, "alice", "/train add")
	r.waitFor("the dependent MR to be refused", 30*time.Second, func() bool {
		return r.hasNote(dependent, "This merge request depends on !1, which must be on the merge train for `main` first (or merged)")
	})
	r.note(base, "alice", "/train add")
	r.waitFor("!1 to be added", 30*time.Second, func() bool { return r.hasNote(base, "Added to the merge train") })
	r.note(dependent, "alice", "/train add")
	r.note(stacked, "alice", "/train add")
	r.waitFor("the three to land", time.Minute, func() bool {
		return r.settled([]int64{base, dependent}, nil) && r.state(stacked) == fakeforge.StateClosed && r.hasNote(stacked, "Merged into `main`")
	})
	for _, f := range []string{"mr-1.txt", "mr-2.txt", "mr-3.txt"} {
		if !slices.Contains(r.treeOfMain(e2eProject), f) {
			t.Errorf("main lacks %s", f)
		}
	}
	// The stacked MR's status comment was not lost to its other target.
	if r.hasNote(stacked, "its target branch changed") {
		t.Error("the stacked MR was evicted as retargeted")
	}

	// A cycle is refused, naming it.
	four := r.openMRSpec(4, "", "Depends-On: !5", false)
	five := r.openMRSpec(5, "", "Depends-On: !4", false)
	r.note(four, "alice", "/train add")
	r.waitFor("the cycle to be refused", 30*time.Second, func() bool {
		return r.hasNote(four, "This merge request's dependencies make a cycle, which can never merge: !4 → !5 → !4.")
	})
	// A dependency on another project, or a malformed one, is refused too.
	six := r.openMRSpec(6, "", "Depends-On: other/lib!3", false)
	r.note(six, "alice", "/train add")
	r.waitFor("the other project's dependency to be refused", 30*time.Second, func() bool {
		return r.hasNote(six, "Cannot read the dependencies of this merge request: `other/lib!3` is in another project")
	})

	// A broken dependency takes its dependent off with it.
	broken := r.openMRSpec(7, "", "", true)
	after := r.openMRSpec(8, "", "Depends-On: !7", false)
	r.note(broken, "alice", "/train add")
	r.waitFor("!7 to be added", 30*time.Second, func() bool { return r.hasNote(broken, "Added to the merge train") })
	r.note(after, "alice", "/train add")
	r.waitFor("both to be evicted", time.Minute, func() bool {
		return r.evictionNotes(broken) == 1 && r.evictionNotes(after) == 1
	})
	if !r.hasNote(after, "it depends on !7, which left the train") {
		t.Error("the dependent's eviction does not say it followed its dependency")
	}
	for _, mr := range []int64{four, five, six, broken, after} {
		if s := r.state(mr); s != "opened" {
			t.Errorf("!%d is %s, want opened", mr, s)
		}
	}
	r.checkPipelines()
}

// Stacked pull requests and Depends-On on GitHub.
func TestGitHubServeMergesStackedPullRequests(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Duration: 2 * time.Second}})
	r.serveGitHub()
	base := r.openMRSpec(1, "", "", false)
	stacked := r.openMRSpec(2, "feature-1", "", false)
	dependent := r.openMRSpec(3, "", "Depends-On: group/app#2", false)
	r.addInOrder(base, stacked, dependent)
	r.waitFor("the three to land", time.Minute, func() bool {
		return r.settled([]int64{base, dependent}, nil) && r.hasNote(stacked, "Merged into `main`")
	})
	if s := r.state(stacked); s != fakeforge.StateClosed {
		t.Errorf("stacked #%d is %s, want closed by the train", stacked, s)
	}
	got := strings.Join(r.treeOfMain(e2eProject), " ")
	if got != "README.md mr-1.txt mr-2.txt mr-3.txt" {
		t.Errorf("main holds %s", got)
	}
	r.checkRuns(e2eProject)
}

// A stacked MR's webhooks name its parent's branch; they still reach its
// train at once: new commits take it off without waiting for a sweep.
func TestServeHearsAStackedMRsWebhooks(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Manual: true})
	r.sweep = "1h" // the webhooks alone
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	base := r.openMRSpec(1, "", "", false)
	stacked := r.openMRSpec(2, "feature-1", "", false)
	r.note(base, "alice", "/train add")
	r.waitFor("!1 to be added", 30*time.Second, func() bool { return r.hasNote(base, "Added to the merge train") })
	r.note(stacked, "alice", "/train add")
	r.waitFor("!2 to be added", 30*time.Second, func() bool { return r.hasNote(stacked, "Added to the merge train") })
	// Its commands find the stack's train too.
	r.note(stacked, "alice", "/train status")
	r.waitFor("the status reply", 30*time.Second, func() bool {
		return r.hasNote(stacked, "Position 2 of 2 on the merge train for `main`")
	})
	if _, err := r.ff.PushToMR(r.ctx, e2eProject, stacked, fakeforge.Commit{Message: "more", Files: map[string]string{"more.txt": "more\n"}}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the stacked MR to leave for its new commits", 30*time.Second, func() bool {
		return r.hasNote(stacked, "new commits were pushed")
	})
	if r.evictionNotes(base) != 0 {
		t.Error("the parent left with its stacked MR")
	}
}
