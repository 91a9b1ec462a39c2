package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/pkg/api"
)

// carLanes reads each car's lanes from serve's API.
func (r *rig) carLanes(addr string) map[int64][]string {
	r.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/api/v1/trains/%s/group%%2Fapp/main", addr, r.forge))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil // no train until the first add is handled
	}
	var tr api.Train
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("train: %d %v", resp.StatusCode, err)
	}
	out := map[int64][]string{}
	for _, c := range tr.Cars {
		out[c.MR] = c.Lanes
	}
	return out
}

// laneMRs opens three MRs: one in the api lane, one in both lanes, one
// outside every lane (which therefore touches them all).
func (r *rig) laneMRs() (api, both, outside int64) {
	return r.openMRWith(11, map[string]string{"services/api/handler.go": "package api\n"}),
		r.openMRWith(12, map[string]string{"services/api/x.go": "package api\n", "web/app.js": "1;\n"}),
		r.openMRWith(13, map[string]string{"docs/readme.md": "# docs\n"})
}

// checkLanes waits for the API to show each MR's lanes, then asks for
// the status of the one in a single lane.
func (r *rig) checkLanes(addr string, one, both, outside int64) {
	r.t.Helper()
	want := map[int64][]string{one: {"api"}, both: {"api", "web"}, outside: {"api", "web"}}
	var got map[int64][]string
	r.waitFor("the cars' lanes", 30*time.Second, func() bool {
		got = r.carLanes(addr)
		for mr, w := range want {
			if !slices.Equal(got[mr], w) {
				return false
			}
		}
		return true
	})
	r.note(one, "alice", "/train status")
	r.waitFor("the status reply to name the lane", 30*time.Second, func() bool {
		return r.hasNote(one, ", touching lanes `api`")
	})
	r.note(both, "alice", "/train status")
	r.waitFor("the status reply to name both lanes", 30*time.Second, func() bool {
		return r.hasNote(both, ", touching lanes `api`, `web`")
	})
}

// Lanes configured for the project: each car shows the lanes its
// changes touch, in the API and in /train status.
func TestServeShowsTheLanesAnMRTouches(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	// The freeze keeps the cars on the train while they are looked at.
	r.withProject(`freezes: ["2000-01-01 2100-01-01 UTC hold"]`, `lanes: ["api services/api/**", "web web/ *.js"]`)
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	one, both, outside := r.laneMRs()
	for _, mr := range []int64{one, both, outside} {
		r.note(mr, "alice", "/train add")
	}
	r.checkLanes(addr, one, both, outside)
}

// On GitHub the lanes come from the repository's .trainyard.yml.
func TestGitHubServeReadsLanesFromTheRepositoryFile(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	addr := r.serveGitHub()
	file := r.openMRWith(1, map[string]string{".trainyard.yml": "lanes: ['api services/api/**', 'web web/']\nfreezes: ['2000-01-01 2100-01-01 UTC hold']\n"})
	r.addInOrder(file)
	r.waitFor("the file to merge", time.Minute, func() bool { return r.settled([]int64{file}, nil) })
	one, both, outside := r.laneMRs()
	r.addInOrder(one, both, outside)
	r.checkLanes(addr, one, both, outside)
}

// windowOf reads a train's window from serve's API.
func (r *rig) windowOf(addr, branch string) int {
	r.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/api/v1/trains/%s/group%%2Fapp/%s", addr, r.forge, url.PathEscape(branch)))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr api.Train
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("train %s: %d %v", branch, resp.StatusCode, err)
	}
	return tr.MaxParallel
}

// laneTrainMRs opens the MRs of a project whose lanes are tested in
// trains of their own: a broken one and a good one in the api lane, one
// in the web lane, one in both.
func (r *rig) laneTrainMRs() (broken, api, web, both int64) {
	return r.openMRWith(21, map[string]string{"services/api/BROKEN": "fails\n"}),
		r.openMRWith(22, map[string]string{"services/api/ok.go": "package api\n"}),
		r.openMRWith(23, map[string]string{"web/app.js": "1;\n"}),
		r.openMRWith(24, map[string]string{"services/api/both.go": "package api\n", "web/both.js": "2;\n"})
}

// checkLaneTrains waits for the lane MRs to settle, and checks what
// landed where: the broken MR evicted by its lane, named in its note,
// the rest merged into main, and each lane's branch holding what
// passed there.
func (r *rig) checkLaneTrains(project string, broken, api, web, both int64) {
	r.t.Helper()
	r.waitFor("the lane MRs to settle", 2*time.Minute, func() bool {
		return r.settled([]int64{api, web, both}, []int64{broken})
	})
	if !r.hasNote(broken, "Removed from the merge train for `main`: in lane `api`: ") {
		notes, _ := r.ff.Notes(e2eProject, broken)
		r.t.Errorf("the broken MR's notes do not name its lane: %+v", notes)
	}
	if r.state(broken) != fakeforge.StateOpened {
		r.t.Errorf("the broken MR is %s", r.state(broken))
	}
	tree := r.gitIn(project, "ls-tree", "-r", "--name-only", "main")
	for _, f := range []string{"services/api/ok.go", "web/app.js", "services/api/both.go", "web/both.js"} {
		if !strings.Contains(tree, f) {
			r.t.Errorf("main lacks %s", f)
		}
	}
	if strings.Contains(tree, "BROKEN") {
		r.t.Error("main holds the broken MR's change")
	}
	apiLane := r.gitIn(project, "ls-tree", "-r", "--name-only", "trainyard-lanes/main/api")
	webLane := r.gitIn(project, "ls-tree", "-r", "--name-only", "trainyard-lanes/main/web")
	if strings.Contains(apiLane, "BROKEN") || strings.Contains(webLane, "BROKEN") {
		r.t.Error("a lane's branch holds the broken MR's change")
	}
	if strings.Contains(webLane, "services/api/ok.go") {
		r.t.Error("the web lane's branch holds an MR of the api lane alone")
	}
	// Where each MR was tested: its car branches on each train.
	tested := map[string]bool{}
	if r.forge == "github" {
		runs, err := r.ff.WorkflowRuns(project, "")
		if err != nil {
			r.t.Fatal(err)
		}
		for _, run := range runs {
			tested[run.Branch] = true
		}
	} else {
		ps, err := r.ff.Pipelines(project)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, p := range ps {
			tested[p.Ref] = true
		}
	}
	car := func(train string, mr int64) string { return fmt.Sprintf("trainyard/%s/%d", train, mr) }
	// Cars that pass together may share one pipeline, on the last one's
	// branch; the broken MR's own car is how it was found out.
	if !tested[car("trainyard-lanes/main/api", broken)] || !tested[car("trainyard-lanes/main/web", web)] && !tested[car("trainyard-lanes/main/web", both)] {
		r.t.Errorf("the lanes' cars were not tested; tested: %v", tested)
	}
	for _, never := range []string{car("main", broken), car("trainyard-lanes/main/web", broken), car("trainyard-lanes/main/web", api), car("trainyard-lanes/main/api", web)} {
		if tested[never] {
			r.t.Errorf("%s was tested", never)
		}
	}
}

// Lane trains on GitLab: each MR is tested behind only its lanes' MRs,
// on a lane branch Trainyard keeps, then once more on main; one lane's
// broken MR is evicted there, with the lane named, and holds up no
// other lane. A quarter of the webhooks are lost: the sweeps of the
// lanes' trains and the target's finish what they left open.
func TestServeTestsEachLaneInATrainOfItsOwn(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Duration: 300 * time.Millisecond})
	r.sweep = "300ms"
	r.withProject(`lanes: ["api services/api/**", "web web/**"]`, `lane_trains: true`)
	addr := freeAddr(t)
	r.hookTo(addr, 0.25)
	r.serve(addr)
	broken, api, web, both := r.laneTrainMRs()
	for _, mr := range []int64{broken, api, web, both} {
		r.note(mr, "alice", "/train add")
	}
	r.waitFor("the add to say the MR goes to its lanes", 30*time.Second, func() bool {
		return r.hasNote(both, "It is tested in its lanes first (`api`, `web`)")
	})
	r.checkLaneTrains(e2eProject, broken, api, web, both)
	r.requireDropped()
	r.checkPipelines()
	// The lanes share the window of 20; the target's train keeps one
	// pipeline to integrate them.
	for branch, want := range map[string]int{"main": 1, "trainyard-lanes/main/api": 10, "trainyard-lanes/main/web": 9} {
		if got := r.windowOf(addr, branch); got != want {
			t.Errorf("window of %s = %d, want %d", branch, got, want)
		}
	}
}

// Lane trains on GitHub: the same, with the checks of workflow runs,
// and a quarter of the webhooks lost from the first command on (a lost
// command comes back through the catch-up).
func TestGitHubServeTestsEachLaneInATrainOfItsOwn(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Duration: 300 * time.Millisecond},
		project: `lanes: ["api services/api/**", "web web/**"], lane_trains: true`})
	r.sweep = "300ms"
	addr := r.serveGitHub()
	r.ff.SetGitHubWebhook(fakeforge.Webhook{URL: "http://" + addr + "/webhooks/github", Secret: ghSecret, DropRate: 0.25, DropFirst: 1})
	broken, api, web, both := r.laneTrainMRs()
	r.addInOrder(broken, api, web, both)
	r.checkLaneTrains(e2eProject, broken, api, web, both)
	r.requireDropped()
	r.checkRuns(e2eProject)
}

// An add through the API sends the MR to its lane's train at once, not
// at the next sweep, which here is a minute away.
func TestServeSendsAnAPIAddToItsLanesAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	r.sweep = "1m"
	r.withProject(`lanes: ["api services/api/**", "web web/**"]`, `lane_trains: true`)
	r.forges += fmt.Sprintf("\napi:\n  tokens: [{name: ops, role: write, token: %s}]", e2eAPIToken)
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	web := r.openMRWith(31, map[string]string{"web/app.js": "1;\n"})
	if code, body := r.apiPost(addr, fmt.Sprintf("/api/v1/merge_requests/gitlab/group%%2Fapp/%d/add", web)); code != http.StatusOK {
		t.Fatalf("add: %d %s", code, body)
	}
	r.waitFor("the MR to pass its lane and merge", 30*time.Second, func() bool { return r.settled([]int64{web}, nil) })
}
