package main

import (
	"testing"
	"time"
)

// On GitHub, the required checks a branch's .trainyard.yml names hold
// for that branch's cars when the engine reads them: a check the file
// adds, which nothing reports, keeps the next pull request from landing.
func TestGitHubServeWaitsForTheFilesRequiredChecks(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	r.serveGitHub()
	settings := r.openMRWith(1, map[string]string{".trainyard.yml": "required_checks: [ci/test, ext/never]\n"})
	r.addInOrder(settings)
	r.waitFor("the file to merge", time.Minute, func() bool { return r.settled([]int64{settings}, nil) })
	held := r.head()
	next := r.openMR(2, false)
	r.addInOrder(next)
	r.stays("the file's ext/never check, never reported", 5*time.Second, func() bool {
		return r.head() == held && r.state(next) == "opened"
	})
}
