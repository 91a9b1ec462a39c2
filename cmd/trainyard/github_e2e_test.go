package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// These tests run `trainyard serve` against the fake forge's GitHub side:
// the real GitHub client, signed GitHub webhooks, and simulated Actions
// whose ci/test check is every car's pipeline.

const ghSecret = "serve-github-hook-secret"

// ghRigOptions shape a GitHub rig.
type ghRigOptions struct {
	ci     fakeforge.CI
	faults fakeforge.Faults
	// app: authenticate as a GitHub App installation, not with a token.
	app bool
	// project is more keys of e2eProject's projects entry ("method:
	// squash"); more are more projects entries.
	project string
	more    string
}

// newGitHubRig is newRig on GitHub: e2eProject is a repository whose
// Actions run ci/test on car branches, and serve runs its trains.
func newGitHubRig(t *testing.T, o ghRigOptions) *rig {
	t.Helper()
	opts := fakeforge.Options{CI: o.ci, Faults: o.faults,
		GitHub: fakeforge.GitHub{Actions: fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{"ci/test"}}}}
	var keyFile string
	if o.app {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		keyFile = filepath.Join(t.TempDir(), "app.pem")
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
			t.Fatal(err)
		}
		opts.GitHub.App = fakeforge.App{ID: 4242, InstallationID: 77, PublicKey: &key.PublicKey}
	}
	r := newForgeRig(t, opts)
	r.forge = "github"
	auth := "token_file: ''"
	r.env = []string{"TRAINYARD_GITHUB_WEBHOOK_SECRET=" + ghSecret}
	if o.app {
		auth = fmt.Sprintf("app_id: 4242, installation_id: 77, private_key_file: %q", keyFile)
	} else {
		r.env = append(r.env, "TRAINYARD_GITHUB_TOKEN="+e2eToken)
	}
	r.forges = fmt.Sprintf("github: {url: %q, %s, required_checks: [ci/test]}\nprojects:\n  - {forge: github, path: %s, branches: [main], %s}\n%s",
		r.ff.URL()+"/api/v3", auth, e2eProject, o.project, o.more)
	return r
}

// hookGitHubTo points the forge's GitHub webhook at a serve process.
func (r *rig) hookGitHubTo(addr string) {
	r.ff.SetGitHubWebhook(fakeforge.Webhook{URL: "http://" + addr + "/webhooks/github", Secret: ghSecret})
}

// serveGitHub starts serve with the forge's GitHub webhook pointed at it.
func (r *rig) serveGitHub() string {
	r.t.Helper()
	addr := freeAddr(r.t)
	r.hookGitHubTo(addr)
	r.serve(addr)
	return addr
}

// checkRuns checks the one rule against the workflow runs: every commit
// on main's new first-parent history passed its checks as that exact
// commit, or was merged with a later one that did, and main's head
// passed.
func (r *rig) checkRuns(project string) {
	r.t.Helper()
	var runs []fakeforge.WorkflowRun
	r.waitFor("workflow runs to finish", time.Minute, func() bool {
		var err error
		if runs, err = r.ff.WorkflowRuns(project, ""); err != nil {
			r.t.Fatal(err)
		}
		return !slices.ContainsFunc(runs, func(w fakeforge.WorkflowRun) bool { return w.Status != fakeforge.CheckCompleted })
	})
	passed := map[string]bool{}
	for _, w := range runs {
		if w.Conclusion == fakeforge.ConclusionSuccess {
			passed[w.SHA] = true
		}
	}
	history := strings.Fields(r.gitIn(project, "rev-list", "--first-parent", "--reverse", r.base+"..main"))
	for i, c := range history {
		if !passed[c] && !slices.ContainsFunc(history[i+1:], func(d string) bool { return passed[d] }) {
			r.t.Errorf("commit %.12s on main passed no checks, nor did a commit after it", c)
		}
	}
	if len(history) == 0 || !passed[history[len(history)-1]] {
		r.t.Errorf("main's head passed no checks as that exact commit: %v", history)
	}
}

// passRuns finishes every workflow run still going, successfully.
func (r *rig) passRuns(project string) {
	r.t.Helper()
	runs, err := r.ff.WorkflowRuns(project, "")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, w := range runs {
		if w.Status != fakeforge.CheckCompleted {
			// A run cancelled meanwhile cannot be finished: nothing to do.
			_ = r.ff.FinishWorkflowRun(project, w.ID, fakeforge.ConclusionSuccess)
		}
	}
}

func (r *rig) gitIn(project string, args ...string) string {
	r.t.Helper()
	dir := filepath.Join(r.ffDir, "repos", project+".git")
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v in %s: %v\n%s", args, project, err, out)
	}
	return strings.TrimSpace(string(out))
}

// treeOfMain lists the files on main.
func (r *rig) treeOfMain(project string) []string {
	return strings.Fields(r.gitIn(project, "ls-tree", "--name-only", "main"))
}

// addAll comments /train add on each PR as alice.
func (r *rig) addAll(prs ...int64) {
	for _, pr := range prs {
		r.note(pr, "alice", "/train add")
	}
}

// addInOrder adds each PR once the one before it is on the train, so
// their order on it is the order given: two workers may take comments
// out of order.
func (r *rig) addInOrder(prs ...int64) {
	r.t.Helper()
	for _, pr := range prs {
		r.note(pr, "alice", "/train add")
		r.waitFor(fmt.Sprintf("#%d to be added", pr), time.Minute, func() bool { return r.hasNote(pr, "Added to the merge train") })
	}
}

// forgeRequests sums trainyard_forge_requests_total over the series
// whose labels contain labels, whatever their status.
func forgeRequests(t *testing.T, addr, labels string) int {
	t.Helper()
	total := 0
	for line := range strings.SplitSeq(httpGet(t, "http://"+addr+"/metrics"), "\n") {
		if !strings.HasPrefix(line, "trainyard_forge_requests_total{") || !strings.Contains(line, labels) {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		total += n
	}
	return total
}

// redeliverFailed replays each delivery that failed or was dropped and
// is not in done yet, and adds it there.
func (r *rig) redeliverFailed(done map[int64]bool) {
	r.t.Helper()
	for _, d := range r.ff.Deliveries() {
		if done[d.ID] || (d.Err == "" && !d.Dropped) {
			continue
		}
		done[d.ID] = true
		r.t.Logf("redelivering %s delivery %d: %s", d.Event, d.ID, d.Err)
		if _, err := r.ff.Replay(d.ID); err != nil {
			r.t.Errorf("replay delivery %d: %v", d.ID, err)
		}
	}
}

// metric returns the line of /metrics that starts with prefix.
func metric(t *testing.T, addr, prefix string) string {
	t.Helper()
	for line := range strings.SplitSeq(httpGet(t, "http://"+addr+"/metrics"), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

func TestGitHubServeMergesEveryGoodPullRequest(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{app: true})
	r.sweep = "1h" // the webhooks alone drive the train
	addr := r.serveGitHub()
	var prs []int64
	for i := 1; i <= 4; i++ {
		prs = append(prs, r.openMR(i, false))
	}
	r.addAll(prs...)
	r.waitFor("every pull request to merge", 2*time.Minute, func() bool { return r.settled(prs, nil) })
	for _, pr := range prs {
		if n := r.countNotes(pr, "Added to the merge train for `main`"); n != 1 {
			t.Errorf("#%d got %d 'added' notes, want 1", pr, n)
		}
		if !r.hasNote(pr, "tested by the checks on [`") {
			t.Errorf("#%d's merge note does not link the checks that passed it", pr)
		}
	}
	want := []string{"README.md", "mr-1.txt", "mr-2.txt", "mr-3.txt", "mr-4.txt"}
	if got := r.treeOfMain(e2eProject); !slices.Equal(got, want) {
		t.Errorf("main holds %v, want %v", got, want)
	}
	r.checkRuns(e2eProject)
	// The app's installation tokens pushed the cars and merged them.
	if r.ff.InstallationTokens() == 0 {
		t.Error("no installation token was issued: the app was not used")
	}
	if line := metric(t, addr, `trainyard_merged_total{train="github:group/app:main"}`); !strings.HasSuffix(line, " 4") {
		t.Errorf("merged metric %q, want 4", line)
	}
}

func TestGitHubServeEvictsTheBrokenAndTheConflicting(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	r.serveGitHub()
	good1 := r.openMR(1, false)
	broken := r.openMR(2, true)
	clash := func(n int, line string) int64 {
		m, err := r.ff.CreateMR(r.ctx, e2eProject, fakeforge.MRSpec{Source: fmt.Sprintf("clash-%d", n), Title: "Clash", Author: "alice",
			Commits: []fakeforge.Commit{{Message: "clash", Files: map[string]string{"README.md": line}}}})
		if err != nil {
			t.Fatal(err)
		}
		return m.IID
	}
	first := clash(3, "# app, says 3\n")
	conflicting := clash(4, "# app, says 4\n")
	r.addInOrder(good1, broken, first, conflicting)
	r.waitFor("the train to finish", 2*time.Minute, func() bool {
		return r.settled([]int64{good1, first}, []int64{broken, conflicting})
	})
	for _, pr := range []int64{broken, conflicting} {
		if s := r.state(pr); s != fakeforge.StateOpened {
			t.Errorf("#%d is %s, want open", pr, s)
		}
	}
	// Onto main alone, or onto main and the cars ahead, as the clash's
	// first half has merged already or not.
	if !r.hasNote(conflicting, "Removed from the merge train for `main`: it does not merge cleanly onto `main`") ||
		!r.hasNote(conflicting, "; conflicting paths: `README.md`.") {
		t.Errorf("#%d's note does not name the conflict", conflicting)
	}
	// The broken PR's note links a check run that failed on its car.
	link := regexp.MustCompile("Removed from the merge train for `main`: check \\[`ci/test`\\]\\(([^)]+)\\) on ")
	var url string
	notes, _ := r.ff.Notes(e2eProject, broken)
	for _, n := range notes {
		if m := link.FindStringSubmatch(n.Body); m != nil {
			url = m[1]
		}
	}
	if !r.failedCheckURLs(fmt.Sprintf("trainyard/main/%d", broken))[url] {
		t.Errorf("the eviction note of #%d links %q, not one of its failed checks; notes: %+v", broken, url, notes)
	}
	want := []string{"README.md", "mr-1.txt"}
	if got := r.treeOfMain(e2eProject); !slices.Equal(got, want) || r.gitIn(e2eProject, "show", "main:README.md") != "# app, says 3" {
		t.Errorf("main holds %v (README %q), want %v with #%d's README", got, r.gitIn(e2eProject, "show", "main:README.md"), want, first)
	}
	r.checkRuns(e2eProject)
}

// failedCheckURLs are the pages of the check runs that failed on a
// branch's commits.
func (r *rig) failedCheckURLs(branch string) map[string]bool {
	r.t.Helper()
	runs, err := r.ff.WorkflowRuns(e2eProject, "")
	if err != nil {
		r.t.Fatal(err)
	}
	urls := map[string]bool{}
	for _, w := range runs {
		if w.Branch != branch {
			continue
		}
		checks, err := r.ff.CheckRuns(e2eProject, w.SHA)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, c := range checks {
			if c.Conclusion == fakeforge.ConclusionFailure {
				urls[c.URL] = true
			}
		}
	}
	return urls
}

// An outside push to main and new commits on a pull request on the train,
// while its checks run.
func TestGitHubServeFollowsTheWorldMoving(t *testing.T) {
	t.Parallel()
	// Checks finish only when the test says, after the world has moved:
	// on a busy machine timed ones could all pass before the outside push.
	r := newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Manual: true}})
	r.sweep = "1h" // the webhooks alone drive the train
	r.serveGitHub()
	prs := []int64{r.openMR(1, false), r.openMR(2, false), r.openMR(3, false)}
	r.addAll(prs...)
	// Once the second pull request's car runs, it is on the train.
	r.waitFor("the cars' checks to run", time.Minute, func() bool {
		runs, err := r.ff.WorkflowRuns(e2eProject, "")
		return err == nil && slices.ContainsFunc(runs, func(w fakeforge.WorkflowRun) bool {
			return w.Branch == fmt.Sprintf("trainyard/main/%d", prs[1])
		})
	})
	outside, err := r.ff.PushBranch(r.ctx, e2eProject, "main", "alice", fakeforge.Commit{Message: "Hotfix", Files: map[string]string{"hotfix.txt": "urgent\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ff.PushToMR(r.ctx, e2eProject, prs[1], fakeforge.Commit{Message: "more", Files: map[string]string{"more.txt": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	// No check has finished yet, so nothing can merge before the train has
	// heard of both pushes: the new commits take #2 off.
	r.waitFor("#2 to leave for its new commits", time.Minute, func() bool {
		return r.hasNote(prs[1], "Removed from the merge train for `main`: new commits were pushed")
	})
	merged := []int64{prs[0], prs[2]}
	replayed := map[int64]bool{}
	r.waitFor("the train to finish", 2*time.Minute, func() bool {
		r.passRuns(e2eProject)
		// With the sweep an hour away, a delivery lost to a loaded
		// machine (a timeout, a refused connection) is redelivered, as
		// an operator does on GitHub; otherwise nothing would tell the
		// train that checks finished.
		r.redeliverFailed(replayed)
		return r.settled(merged, []int64{prs[1]})
	})
	if s := r.state(prs[1]); s != fakeforge.StateOpened {
		t.Errorf("#%d is %s, want open", prs[1], s)
	}
	if out := r.gitIn(e2eProject, "merge-base", "--is-ancestor", outside, "main"); out != "" {
		t.Errorf("merge-base: %s", out)
	}
	want := []string{"README.md", "hotfix.txt", "mr-1.txt", "mr-3.txt"}
	if got := r.treeOfMain(e2eProject); !slices.Equal(got, want) {
		t.Errorf("main holds %v, want %v", got, want)
	}
	r.checkRuns(e2eProject)
}

// A check that fails once passes on the retry, which re-runs the failed
// job of the same commit.
func TestGitHubServeRetriesAFlakyCheck(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Manual: true}, project: "retries: 1"})
	r.serveGitHub()
	prs := []int64{r.openMR(1, false), r.openMR(2, false)}
	r.addAll(prs...)
	flaked := false
	finished := map[string]bool{}
	r.waitFor("every pull request to merge", 2*time.Minute, func() bool {
		runs, err := r.ff.WorkflowRuns(e2eProject, "")
		if err != nil {
			t.Fatal(err)
		}
		flaky := fmt.Sprintf("trainyard/main/%d", prs[0])
		// The cars behind pass only once the flaky car's job was re-run:
		// a car behind that passed first would merge the flaky car with
		// it, tested within its own commit, and nothing would be re-run.
		rerun := slices.ContainsFunc(runs, func(w fakeforge.WorkflowRun) bool { return w.Branch == flaky && w.Attempt >= 2 })
		for _, w := range runs {
			attempt := fmt.Sprintf("%d/%d", w.ID, w.Attempt)
			if w.Status == fakeforge.CheckCompleted || finished[attempt] || w.Branch != flaky && !rerun {
				continue
			}
			verdict := fakeforge.ConclusionSuccess
			if w.Branch == flaky && !flaked {
				flaked, verdict = true, fakeforge.ConclusionFailure
			}
			if r.ff.FinishWorkflowRun(e2eProject, w.ID, verdict) == nil {
				finished[attempt] = true
			}
		}
		return r.settled(prs, nil)
	})
	if !flaked {
		t.Fatal("no check flaked: the test tested nothing")
	}
	runs, _ := r.ff.WorkflowRuns(e2eProject, "")
	if !slices.ContainsFunc(runs, func(w fakeforge.WorkflowRun) bool {
		return w.Branch == fmt.Sprintf("trainyard/main/%d", prs[0]) && w.Attempt >= 2 && w.Conclusion == fakeforge.ConclusionSuccess
	}) {
		t.Errorf("the flaky car's failed job was not re-run to success: %+v", runs)
	}
	r.checkRuns(e2eProject)
}

// GitHub's secondary rate limits answer some calls 403 with Retry-After:
// the client waits them out and the train slows, but loses nothing.
func TestGitHubServeRidesOutSecondaryRateLimits(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	r.serveGitHub()
	prs := []int64{r.openMR(1, false), r.openMR(2, true), r.openMR(3, false)}
	r.ff.SetFaults(fakeforge.Faults{SecondaryRateLimitRate: 0.05, RateLimitRate: 0.02, RetryAfter: 1})
	r.addAll(prs...)
	r.waitFor("the train to finish", 3*time.Minute, func() bool { return r.settled([]int64{prs[0], prs[2]}, []int64{prs[1]}) })
	faults := r.ff.FaultCounts()
	if faults[fakeforge.FaultSecondaryRateLimit]+faults[fakeforge.FaultRateLimited] == 0 {
		t.Fatalf("no rate limit was injected: %v", faults)
	}
	// A status comment held back by a rate limit may still be in the
	// outbox once the train has settled: it is written, once.
	r.waitFor("every status comment", time.Minute, func() bool {
		return !slices.ContainsFunc(prs, func(pr int64) bool { return r.countNotes(pr, "Added to the merge train for `main`") == 0 })
	})
	for _, pr := range prs {
		if n := r.countNotes(pr, "Added to the merge train for `main`"); n != 1 {
			t.Errorf("#%d got %d 'added' notes, want exactly 1", pr, n)
		}
	}
	if n := r.evictionNotes(prs[1]); n != 1 {
		t.Errorf("#%d was told %d times that it left", prs[1], n)
	}
	if got, want := r.treeOfMain(e2eProject), []string{"README.md", "mr-1.txt", "mr-3.txt"}; !slices.Equal(got, want) {
		t.Errorf("main holds %v, want %v", got, want)
	}
	r.checkRuns(e2eProject)
}

// Two repositories of one process: one squashes, one rebases, and the
// second merges through the refs API.
func TestGitHubServeSquashesAndRebases(t *testing.T) {
	t.Parallel()
	const other = "group/lib"
	r := newGitHubRig(t, ghRigOptions{project: "method: squash",
		more: fmt.Sprintf("  - {forge: github, path: %s, branches: [main], method: rebase, fast_forward: api}", other)})
	if _, err := r.ff.CreateProject(r.ctx, other, map[string]string{"README.md": "# lib\n"}); err != nil {
		t.Fatal(err)
	}
	if err := r.ff.SetAccess(other, "alice", fakeforge.Developer); err != nil {
		t.Fatal(err)
	}
	libBase, err := r.ff.BranchHead(r.ctx, other, "main")
	if err != nil {
		t.Fatal(err)
	}
	addr := r.serveGitHub()
	squashed := []int64{r.openMR(1, false), r.openMR(2, false)}
	var rebased []int64
	for i := 1; i <= 2; i++ {
		m, err := r.ff.CreateMR(r.ctx, other, fakeforge.MRSpec{Source: fmt.Sprintf("lib-%d", i), Title: fmt.Sprintf("Lib %d", i), Author: "alice",
			Commits: []fakeforge.Commit{{Message: "one", Files: map[string]string{fmt.Sprintf("lib-%d.txt", i): "1\n"}},
				{Message: "two", Files: map[string]string{fmt.Sprintf("lib-%d.txt", i): "2\n"}}}})
		if err != nil {
			t.Fatal(err)
		}
		rebased = append(rebased, m.IID)
	}
	r.addAll(squashed...)
	for _, pr := range rebased {
		if _, err := r.ff.AddNote(r.ctx, other, pr, "alice", "/train add"); err != nil {
			t.Fatal(err)
		}
	}
	told := func(project string, pr int64) bool {
		notes, err := r.ff.Notes(project, pr)
		return err == nil && slices.ContainsFunc(notes, func(n fakeforge.Note) bool { return strings.Contains(n.Body, "Merged into `main`") })
	}
	r.waitFor("both trains to finish", 2*time.Minute, func() bool {
		for _, pr := range squashed {
			if !told(e2eProject, pr) {
				return false
			}
		}
		for _, pr := range rebased {
			if !told(other, pr) {
				return false
			}
		}
		return true
	})
	if merges := r.gitIn(e2eProject, "rev-list", "--merges", r.base+"..main"); merges != "" {
		t.Errorf("merge commits on a squashed main: %s", merges)
	}
	if n := len(strings.Fields(r.gitIn(e2eProject, "rev-list", r.base+"..main"))); n != 2 {
		t.Errorf("squash left %d commits on main, want one per pull request", n)
	}
	if merges := r.gitIn(other, "rev-list", "--merges", libBase+"..main"); merges != "" {
		t.Errorf("merge commits on a rebased main: %s", merges)
	}
	if n := len(strings.Fields(r.gitIn(other, "rev-list", libBase+"..main"))); n != 4 {
		t.Errorf("rebase left %d commits on %s's main, want both commits of both pull requests", n, other)
	}
	n := r.ff.Calls()["PATCH /repos/{owner}/{repo}/git/refs/{ref...}"]
	if n == 0 {
		t.Errorf("%s's main moved without the refs API", other)
	}
	// Every request to the forge is counted, the refs API's included.
	if got := forgeRequests(t, addr, `forge="github",op="PATCH /repos/:owner/:repo/git/refs/heads/:branch"`); got != n {
		t.Errorf("/metrics counts %d refs API requests, the forge saw %d", got, n)
	}
	for _, pr := range squashed {
		if s := r.state(pr); s != fakeforge.StateClosed {
			t.Errorf("squashed #%d is %s, want closed: its commits are not on main", pr, s)
		}
	}
	r.checkRuns(e2eProject)
}

// One process runs a GitLab project and a GitHub repository side by
// side. Each forge's webhooks also tell of the other's project, which
// its endpoint counts and ignores.
func TestServeRunsGitLabAndGitHubTogether(t *testing.T) {
	t.Parallel()
	const repo = "octo/widgets"
	r := newGitHubRig(t, ghRigOptions{})
	r.forges = fmt.Sprintf("gitlab: {url: %q}\ngithub: {url: %q, required_checks: [ci/test]}\nprojects:\n"+
		"  - {forge: gitlab, path: %s, branches: [main]}\n  - {forge: github, path: %s, branches: [main]}",
		r.ff.URL(), r.ff.URL()+"/api/v3", e2eProject, repo)
	r.env = append(r.env, "TRAINYARD_GITLAB_TOKEN="+e2eToken, "TRAINYARD_GITLAB_WEBHOOK_SECRET="+e2eSecret)
	r.forge = "gitlab"
	if _, err := r.ff.CreateProject(r.ctx, repo, map[string]string{"README.md": "# widgets\n"}); err != nil {
		t.Fatal(err)
	}
	if err := r.ff.SetAccess(repo, "alice", fakeforge.Developer); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.hookGitHubTo(addr)
	r.serve(addr)
	mrs := []int64{r.openMR(1, false), r.openMR(2, false)}
	var prs []int64
	for i := 1; i <= 2; i++ {
		m, err := r.ff.CreateMR(r.ctx, repo, fakeforge.MRSpec{Source: fmt.Sprintf("pr-%d", i), Title: fmt.Sprintf("PR %d", i), Author: "alice",
			Commits: []fakeforge.Commit{{Message: "pr", Files: map[string]string{fmt.Sprintf("pr-%d.txt", i): "x\n"}}}})
		if err != nil {
			t.Fatal(err)
		}
		prs = append(prs, m.IID)
	}
	r.addAll(mrs...)
	for _, pr := range prs {
		if _, err := r.ff.AddNote(r.ctx, repo, pr, "alice", "/train add"); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor("both trains to finish", 2*time.Minute, func() bool {
		if !r.settled(mrs, nil) {
			return false
		}
		for _, pr := range prs {
			m, err := r.ff.MR(repo, pr)
			if err != nil || m.State != fakeforge.StateMerged {
				return false
			}
		}
		return true
	})
	// The GitLab train ran GitLab pipelines, the GitHub one Actions.
	if ps, _ := r.ff.Pipelines(e2eProject); len(ps) == 0 {
		t.Error("the GitLab project ran no pipeline")
	}
	if runs, _ := r.ff.WorkflowRuns(repo, ""); len(runs) == 0 {
		t.Error("the GitHub repository ran no workflow")
	}
	if got, want := strings.Fields(r.gitIn(repo, "ls-tree", "--name-only", "main")), []string{"README.md", "pr-1.txt", "pr-2.txt"}; !slices.Equal(got, want) {
		t.Errorf("%s's main holds %v, want %v", repo, got, want)
	}
	for _, m := range []string{`forge="gitlab",outcome="unknown_project"`, `forge="github",outcome="unknown_project"`} {
		if !strings.Contains(httpGet(t, "http://"+addr+"/metrics"), m) {
			t.Errorf("/metrics counts no %s", m)
		}
	}
	trains := httpGet(t, "http://"+addr+"/api/v1/trains")
	for _, want := range []string{`"forge":"gitlab"`, `"forge":"github"`} {
		if !strings.Contains(trains, want) {
			t.Errorf("/api/v1/trains lacks %s: %s", want, trains)
		}
	}
}

// Bad input loses nothing and gets a clear answer: a bad signature 401,
// a repository Trainyard does not run 202 and a count, a user without
// write access a reply, and a fork's head that cannot be fetched an
// eviction that says so.
func TestGitHubServeAnswersBadInput(t *testing.T) {
	t.Parallel()
	r := newGitHubRig(t, ghRigOptions{})
	addr := r.serveGitHub()
	body := []byte(`{"action":"created","repository":{"full_name":"group/app"}}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", "bad-signature-1")
	req.Header.Set("X-Hub-Signature-256", "sha256=0000000000000000000000000000000000000000000000000000000000000000")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bad signature got %d, want 401", resp.StatusCode)
	}

	if _, err := r.ff.CreateProject(r.ctx, "mallory/app", nil); err != nil {
		t.Fatal(err)
	}
	r.users["mallory"] = r.ff.AddUser("mallory")
	fork, err := r.ff.CreateMR(r.ctx, e2eProject, fakeforge.MRSpec{Source: "feature", Fork: "mallory/app", Title: "From a fork", Author: "mallory",
		Commits: []fakeforge.Commit{{Message: "fork", Files: map[string]string{"fork.txt": "x\n"}}}})
	if err != nil {
		t.Fatal(err)
	}
	good := r.openMR(1, false)
	r.note(good, "rita", "/train add")
	r.addAll(fork.IID, good)
	r.waitFor("the answers", 2*time.Minute, func() bool {
		return r.hasNote(good, "Using the merge train needs write access or higher to group/app.") &&
			r.settled([]int64{good}, []int64{fork.IID})
	})
	if !r.hasNote(fork.IID, "cannot be fetched from refs/pull/1/head (is it on a fork the bot cannot read?); push the branch to this project and open the merge request from there.") {
		notes, _ := r.ff.Notes(e2eProject, fork.IID)
		t.Errorf("the fork's pull request was not told why it left: %+v", notes)
	}
	if n := r.countNotes(good, "Added to the merge train"); n != 1 {
		t.Errorf("#%d added %d times", good, n)
	}
	// The fork's own pushes are a repository Trainyard does not run.
	if line := metric(t, addr, `trainyard_webhook_deliveries_total{event="push",forge="github",outcome="unknown_project"}`); line == "" {
		t.Error("no delivery for an unknown repository was counted")
	}
	if line := metric(t, addr, `trainyard_webhook_deliveries_total{event="unknown",forge="github",outcome="unauthorized"} 1`); line == "" {
		t.Error("the bad signature was not counted")
	}
	if s := r.servers[0].stderr.String(); strings.Count(s, "not in the configuration") != 1 || !strings.Contains(s, `"project":"mallory/app"`) {
		t.Errorf("the unknown repository was not logged exactly once:\n%s", tail(s, 3000))
	}
}

// TestGitHubServeFinishesWhenWebhooksAreLost: with one GitHub delivery in
// four lost once the commands are in (check runs, workflow runs, pushes,
// pull request events), the sweep finishes what the lost deliveries left
// open: every good pull request merges, the broken one is evicted, and
// every target move was tested.
func TestGitHubServeFinishesWhenWebhooksAreLost(t *testing.T) {
	t.Parallel()
	// Pipelines long enough that the train is still under way, its
	// results still to come, when deliveries start to be lost, even on a
	// busy machine where adding six pull requests takes seconds.
	r := newGitHubRig(t, ghRigOptions{ci: fakeforge.CI{Duration: time.Second}})
	r.sweep = "300ms"
	addr := r.serveGitHub()
	var prs []int64
	for i := 1; i <= 6; i++ {
		prs = append(prs, r.openMR(i, i == 4))
	}
	// Lossy from the first command on: a hook made lossy only once the
	// pull requests were added lost nothing when the train had finished
	// by then (a busy machine, slow adds). A lost command comes back
	// through the catch-up.
	r.ff.SetGitHubWebhook(fakeforge.Webhook{URL: "http://" + addr + "/webhooks/github", Secret: ghSecret, DropRate: 0.25, DropFirst: 1})
	r.addInOrder(prs...)
	good := slices.DeleteFunc(slices.Clone(prs), func(p int64) bool { return p == prs[3] })
	r.waitFor("the train to finish through the sweep", 2*time.Minute, func() bool { return r.settled(good, []int64{prs[3]}) })
	r.requireDropped()
	if !r.hasNote(prs[3], "Removed from the merge train for `main`") {
		t.Errorf("#%d has no eviction note", prs[3])
	}
	r.checkRuns(e2eProject)
}
