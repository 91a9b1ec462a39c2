package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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
