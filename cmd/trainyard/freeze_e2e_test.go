package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

const e2eAPIToken = "serve-api-write-token"

// apiPost calls serve's API with the write token and returns the status.
func (r *rig) apiPost(addr, path string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, "http://"+addr+path, strings.NewReader("{}"))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// passedCars counts the car pipelines that succeeded.
func (r *rig) passedCars() int {
	ps, err := r.ff.Pipelines(e2eProject)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, p := range ps {
		if strings.HasPrefix(p.Ref, "trainyard/") && p.Status == "success" {
			n++
		}
	}
	return n
}

// withProject configures GitLab's e2eProject, on main, with settings
// (YAML lines of its projects entry).
func (r *rig) withProject(settings ...string) {
	r.forges = fmt.Sprintf("gitlab: {url: %q}\nprojects:\n  - forge: gitlab\n    path: %s\n    branches: [main]", r.ff.URL(), e2eProject)
	for _, s := range settings {
		r.forges += "\n    " + s
	}
}

// stays checks for a while that cond keeps holding.
func (r *rig) stays(what string, d time.Duration, cond func() bool) {
	r.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !cond() {
			r.t.Fatalf("%s stopped holding", what)
		}
	}
}

// A freeze period in the configuration holds the target branch: the cars
// are tested but nothing merges, and the MRs say why. A drain through the
// API refuses new cars.
func TestServeHoldsTheTargetInAFreezePeriod(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	r.withProject(`freezes: ["2000-01-01 2100-01-01 UTC Year-end <b>freeze</b>"]`)
	r.forges += fmt.Sprintf("\napi:\n  tokens: [{name: ops, role: write, token: %s}]", e2eAPIToken)
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)

	one, two := r.openMR(1, false), r.openMR(2, false)
	r.note(one, "alice", "/train add")
	r.waitFor("!1 to be added", time.Minute, func() bool { return r.hasNote(one, "Added to the merge train") })
	r.note(two, "alice", "/train add")
	r.waitFor("both cars to pass", time.Minute, func() bool { return r.passedCars() >= 2 })
	const held = "nothing merges while the target branch is in a freeze period until 2100-01-01 00:00 UTC: `Year-end <b>freeze</b>`"
	r.waitFor("the status comments to say the target is held", 30*time.Second, func() bool {
		return r.hasNote(one, held) && r.hasNote(two, held)
	})
	// Sweeps come and go (every 500ms): the target stays.
	r.stays("the freeze", 2*time.Second, func() bool {
		return r.head() == r.base && r.state(one) == "opened" && r.state(two) == "opened"
	})
	r.note(two, "alice", "/train status")
	r.waitFor("the status reply", 30*time.Second, func() bool {
		return r.countNotes(two, "Position 2 of 2 on the merge train for `main` ("+held+"): its pipeline passed") == 1
	})

	// Draining refuses a new car and keeps those on the train.
	const trainPath = "/api/v1/trains/gitlab/group%2Fapp/main"
	if code, body := r.apiPost(addr, trainPath+"/drain"); code != http.StatusOK {
		t.Fatalf("drain: %d %s", code, body)
	}
	three := r.openMR(3, false)
	r.note(three, "alice", "/train add")
	r.waitFor("the add to be refused", 30*time.Second, func() bool {
		return r.hasNote(three, "The merge train for `main` is draining: it finishes the merge requests on it and takes no new one for now.")
	})
	if r.hasNote(three, "Added to the merge train") {
		t.Fatal("a draining train took a new car")
	}
	if code, body := r.apiPost(addr, trainPath+"/undrain"); code != http.StatusOK {
		t.Fatalf("undrain: %d %s", code, body)
	}
	r.note(three, "alice", "/train add")
	r.waitFor("!3 to be added after the drain", 30*time.Second, func() bool { return r.hasNote(three, "Added to the merge train") })
	if r.head() != r.base {
		t.Fatal("the target moved during the freeze period")
	}
}

// /train freeze on GitHub: maintainers only; the cars are tested, nothing
// merges until /train unfreeze, then everything that passed merges.
func TestGitHubServeFreezesByComment(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	r.users["mary"] = r.ff.AddUser("mary")
	if err := r.ff.SetAccess(e2eProject, "mary", 40); err != nil {
		t.Fatal(err)
	}
	r.serveGitHub()
	prs := []int64{r.openMR(1, false), r.openMR(2, false), r.openMR(3, false)}
	r.addInOrder(prs[0])
	r.waitFor("#1 to merge", time.Minute, func() bool { return r.settled(prs[:1], nil) })
	merged := r.head()

	r.note(prs[1], "alice", "/train freeze not for you")
	r.waitFor("the developer's freeze to be refused", 30*time.Second, func() bool {
		return r.hasNote(prs[1], "Freezing or unfreezing the merge train needs")
	})
	r.note(prs[1], "mary", "/train freeze release 2.0 is being cut")
	r.waitFor("the freeze reply", 30*time.Second, func() bool {
		return r.hasNote(prs[1], "Froze the merge train for `main`: `release 2.0 is being cut`. Cars are still built and tested; nothing merges until `/train unfreeze`.")
	})
	r.addInOrder(prs[1:]...)
	r.waitFor("both cars' checks to pass", time.Minute, func() bool {
		runs, err := r.ff.WorkflowRuns(e2eProject, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, w := range runs {
			if strings.HasPrefix(w.Branch, "trainyard/") && w.Conclusion == fakeforge.ConclusionSuccess {
				n++
			}
		}
		return n >= 3
	})
	const held = "nothing merges while the merge train is frozen by mary: `release 2.0 is being cut`"
	r.waitFor("the status comments to say the train is frozen", 30*time.Second, func() bool {
		return r.hasNote(prs[1], held) && r.hasNote(prs[2], held)
	})
	r.stays("the freeze", 2*time.Second, func() bool { return r.head() == merged && r.state(prs[2]) == "opened" })

	r.note(prs[2], "mary", "/train unfreeze")
	r.waitFor("the frozen cars to merge", time.Minute, func() bool { return r.settled(prs, nil) })
	if !r.hasNote(prs[2], "Lifted the freeze of the merge train for `main`") {
		t.Error("no reply to /train unfreeze")
	}
	want := []string{"README.md", "mr-1.txt", "mr-2.txt", "mr-3.txt"}
	if got := r.treeOfMain(e2eProject); !slices.Equal(got, want) {
		t.Errorf("main holds %v, want %v", got, want)
	}
	r.checkRuns(e2eProject)
}
