package github

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// pipelineIs reads the pipeline of id once and fails unless it is want.
func pipelineIs(t *testing.T, c *Client, id int64, want train.PipelineState, when string) {
	t.Helper()
	p, err := c.Pipeline(context.Background(), project, id)
	if err != nil || p.Status != want {
		t.Fatalf("%s: pipeline %+v, %v; want %s", when, p, err, want)
	}
}

// Any app with checks permission can report a check run of any name on
// any commit: one from an app the repository does not trust neither
// passes nor fails a car, whatever its name.
func TestAnotherAppsChecksDoNotPassACar(t *testing.T) {
	for _, required := range [][]string{{"ci/test", "ci/lint"}, nil} {
		t.Run(strings.Join(required, "+"), func(t *testing.T) {
			f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
			c := newClient(t, f, func(o *Options) { o.RequiredChecks = required })
			ctx := context.Background()
			sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
			p, err := c.CreatePipeline(ctx, project, car, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"ci/test", "ci/lint", "extra"} {
				if _, err := f.SetCheckRun(project, sha, "evil-ci", name, fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
					t.Fatal(err)
				}
			}
			pipelineIs(t, c, p.ID, train.PipelineRunning, "another app passed every check")
			// Before any run of Actions, nothing reported on the commit.
			quiet := pushCar(t, f, "feature", map[string]string{"q": "q"})
			for _, name := range []string{"ci/test", "ci/lint"} {
				if _, err := f.SetCheckRun(project, quiet, "evil-ci", name, fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
					t.Fatal(err)
				}
			}
			if list, err := c.PipelinesFor(ctx, project, "feature", quiet); err != nil || len(list) != 0 {
				t.Fatalf("another app's checks alone: %+v, %v; want no pipeline", list, err)
			}
			pipelineIs(t, c, mustID(t, quiet, 1), train.PipelinePending, "another app's checks alone")
			if _, err := f.SetCheckRun(project, sha, "evil-ci", "ci/test", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
				t.Fatal(err)
			}
			pipelineIs(t, c, p.ID, train.PipelineRunning, "another app failed a check")
			runs, _ := f.WorkflowRuns(project, sha)
			if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionFailure); err != nil {
				t.Fatal(err)
			}
			waitState(t, c, p.ID, train.PipelineFailed)
			// The note names Actions' failures, not the other app's run.
			name, err := c.PipelineName(ctx, project, p.ID, false)
			if err != nil || !strings.Contains(name, "`ci/test`") || !strings.Contains(name, "/actions/runs/") {
				t.Fatalf("pipeline name = %q, %v", name, err)
			}
			if strings.Count(name, "](") != 3 { // the commit, ci/lint and ci/test
				t.Fatalf("pipeline name = %q, want the commit and Actions' two failed checks", name)
			}
		})
	}
}

// A repository may trust other apps, by slug or by id; a trusted app's
// failure fails the car as Actions' would.
func TestTrustedAppsChecksCount(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/test", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	all, _, err := rawClient(t, f).Checks.ListCheckRunsForRef(context.Background(), "acme", "widgets", sha, nil)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, r := range all.CheckRuns {
		if r.GetApp().GetSlug() == "buildkite" {
			id = r.GetApp().GetID()
		}
	}
	if id == 0 {
		t.Fatalf("no check run names buildkite with its id: %v", all.CheckRuns)
	}
	for _, apps := range [][]string{{"Buildkite"}, {strconv.FormatInt(id, 10)}} {
		c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.CheckApps = []string{"ci/test"}, apps })
		p, err := c.PipelinesFor(context.Background(), project, car, sha)
		if err != nil || len(p) != 1 || p[0].Status != train.PipelineSuccess {
			t.Fatalf("trusting %v: %+v, %v", apps, p, err)
		}
	}
	// Trusting only another app, Actions' runs no longer count.
	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.CheckApps = []string{"ci/lint"}, []string{"buildkite"} })
	if p, err := c.PipelinesFor(context.Background(), project, car, sha); err != nil || len(p) != 1 || p[0].Status != train.PipelinePending {
		t.Fatalf("Actions untrusted: %+v, %v", p, err)
	}
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/lint", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	if p, err := c.PipelinesFor(context.Background(), project, car, sha); err != nil || len(p) != 1 || p[0].Status != train.PipelineFailed {
		t.Fatalf("trusted app failed: %+v, %v", p, err)
	}
}

// Anyone with write access can set a commit status of any context: only
// the newest status of each context set by a trusted user counts, and
// with no user trusted, statuses are not even read.
func TestForgedStatusesDoNotPassACar(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"}) // no workflow runs on it
	id := mustID(t, sha, 1)

	untrusting := newClient(t, f, func(o *Options) { o.RequiredChecks = []string{"ext/ci"} })
	f.SetCommitStatus(project, sha, "ext/ci", "success", "carol")
	calls := counting(f)
	pipelineIs(t, untrusting, id, train.PipelinePending, "no status creator trusted")
	if got := calls.since(); got["GET /repos/{owner}/{repo}/commits/{ref}/statuses"] != 0 || got["GET /repos/{owner}/{repo}/commits/{ref}/status"] != 0 {
		t.Fatalf("read statuses though none can count: %v", got)
	}

	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.StatusCreators = []string{"ext/ci"}, []string{"jenkins-bot"} })
	pipelineIs(t, c, id, train.PipelinePending, "a success set by someone else")
	f.SetCommitStatus(project, sha, "ext/ci", "pending", "jenkins-bot")
	f.SetCommitStatus(project, sha, "ext/ci", "success", "mallory")
	pipelineIs(t, c, id, train.PipelineRunning, "the trusted pending status under a newer forged success")
	f.SetCommitStatus(project, sha, "ext/ci", "success", "jenkins-bot")
	pipelineIs(t, c, id, train.PipelineSuccess, "the trusted success")
	f.SetCommitStatus(project, sha, "ext/ci", "failure", "mallory")
	pipelineIs(t, c, id, train.PipelineSuccess, "a forged failure after it")
	f.SetCommitStatus(project, sha, "ext/ci", "failure", "jenkins-bot")
	pipelineIs(t, c, id, train.PipelineFailed, "the trusted failure")
}

// Every check run of GitHub Actions belongs to a workflow run: only
// those of the car's own runs count (on a car branch of the repository,
// started by a push or a dispatch). A run of the same commit on another
// branch, such as a pull request's, passes no car, and the car's runs
// are looked up once, not on every read.
func TestOnlyTheCarsWorkflowRunsCount(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) {
		o.CI.Manual = true
		o.GitHub.Actions.Branches = []string{"trainyard/**", "feature"}
	})
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"}) // runs on feature: not a car's
	runs, _ := f.WorkflowRuns(project, sha)
	if len(runs) != 1 {
		t.Fatalf("runs = %+v", runs)
	}
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	id := mustID(t, sha, 1)
	// A check run of Actions that no workflow run accounts for, as a
	// workflow step can make through the API on any commit.
	quiet := pushCar(t, f, "quiet", map[string]string{"q": "q"})
	if _, err := f.SetCheckRun(project, quiet, "", "ci/test", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineIs(t, c, mustID(t, quiet, 1), train.PipelinePending, "a check run of no workflow run")
	pipelineIs(t, c, id, train.PipelinePending, "passed on another branch")
	if list, err := c.PipelinesFor(ctx, project, "feature", sha); err != nil || len(list) != 0 {
		t.Fatalf("PipelinesFor = %+v, %v; want none", list, err)
	}

	// The same commit as a car: its own run counts.
	pushCar(t, f, car, map[string]string{"other": "x"})
	if _, _, err := rawClient(t, f).Git.UpdateRef(ctx, "acme", "widgets", "heads/"+car, gh.UpdateRef{SHA: sha, Force: gh.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the car's run", func() bool {
		runs, _ := f.WorkflowRuns(project, sha)
		return len(runs) == 2
	})
	pipelineIs(t, c, id, train.PipelineRunning, "the car's run started")
	calls := counting(f)
	pipelineIs(t, c, id, train.PipelineRunning, "read again")
	if got := calls.since(); got["GET /repos/{owner}/{repo}/actions/runs"] != 0 {
		t.Fatalf("reading again listed the workflow runs: %v", got)
	}
	runs, _ = f.WorkflowRuns(project, sha)
	for _, r := range runs {
		if r.Branch == car {
			if err := f.FinishWorkflowRun(project, r.ID, fakeforge.ConclusionFailure); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitState(t, c, id, train.PipelineFailed)
}

// A suite that a listing found to be a car's is never, even for a
// moment, remembered as not a car's: another read of the same commit
// (a second worker, a status reply) would drop its check runs.
func TestCarSuiteNeverReadAsNotACar(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	r, err := c.repoOf(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.workflowRuns(ctx, r, sha)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %v, %v", runs, err)
	}
	key, _ := suiteKey(r, runs[0].GetCheckSuiteID())
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := c.workflowRuns(ctx, r, sha); err != nil {
				done <- err
				return
			}
		}
	}()
	var seen int
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); seen++ {
		if cs, known := c.carSuites.get(key); !known || !cs.car {
			close(stop)
			<-done
			t.Fatalf("after %d looks, the car's suite was remembered as %+v (known %v) while the runs were listed again", seen, cs, known)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// pageLinks rewrites Actions' check run links to the check run's own
// page (.../runs/JOB), as GitHub gives them where details_url is not the
// Actions job page: the suite, not the link, ties a check run to its
// workflow run.
type pageLinks struct {
	base http.RoundTripper
	job  *regexp.Regexp
}

func (p pageLinks) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.base.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/check-runs") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = p.job.ReplaceAll(body, []byte("/runs/$1"))
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestCarPassesWhateverItsCheckRunsLinkTo(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, func(o *Options) {
		o.Transport = pageLinks{http.DefaultTransport, regexp.MustCompile(`/actions/runs/[0-9]+/job/([0-9]+)`)}
	})
	pushCar(t, f, car, map[string]string{"ok": "ok"})
	p, err := c.CreatePipeline(context.Background(), project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, p.ID, train.PipelineSuccess)
}

// Of the car's check runs, a newer one replaces an older one of the same
// name only from the same app and, for Actions, the same workflow: a
// job of another workflow that has the same name keeps its result.
func TestNewestKeepsEachWorkflowsJobs(t *testing.T) {
	run := func(id int64, conclusion string) *gh.CheckRun {
		return &gh.CheckRun{ID: gh.Ptr(id), Name: gh.Ptr("test"), Status: gh.Ptr("completed"), Conclusion: gh.Ptr(conclusion)}
	}
	ci, integration := checkGroup{app: 15368, workflow: 1, name: "test"}, checkGroup{app: 15368, workflow: 2, name: "test"}
	other := checkGroup{app: 900001, name: "test"}
	for _, tc := range []struct {
		name string
		runs []grouped
		want []int64
	}{
		{"a re-run replaces the attempt before", []grouped{{run(1, "failure"), ci}, {run(2, "success"), ci}}, []int64{2}},
		{"another workflow's job stands beside it", []grouped{{run(1, "failure"), ci}, {run(2, "success"), integration}}, []int64{1, 2}},
		{"another app's run stands beside it", []grouped{{run(3, "failure"), other}, {run(2, "success"), ci}}, []int64{3, 2}},
		{"the newest by id, whatever the order", []grouped{{run(5, "success"), ci}, {run(4, "failure"), ci}}, []int64{5}},
	} {
		var got []int64
		for _, r := range newest(tc.runs) {
			got = append(got, r.GetID())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
		}
	}
	cs := checks{}
	cs.addRuns(newest([]grouped{{run(1, "failure"), ci}, {run(2, "success"), integration}}))
	if got := verdict(nil, true, cs); got != train.PipelineFailed {
		t.Errorf("one workflow's test failed, another's passed: %s, want failed", got)
	}
}

// Someone with write access can dispatch a workflow on a car branch,
// with inputs of their choosing: that run is not the car's. Trainyard
// dispatches its own, which counts.
func TestAnothersDispatchPassesNoCar(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.GitHub.Actions.Branches = nil }) // nothing runs on push
	c := newClient(t, f, func(o *Options) { o.Workflows = []string{"ci.yml"} })
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	const malloryToken = "ghp_mallory0000000000000000000000000000"
	f.AddToken("mallory", malloryToken)
	if err := f.SetAccess(project, "mallory", fakeforge.Developer); err != nil {
		t.Fatal(err)
	}
	mallory, err := gh.NewClient(nil).WithAuthToken(malloryToken).WithEnterpriseURLs(f.URL()+"/api/v3/", f.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mallory.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "widgets", "ci.yml", gh.CreateWorkflowDispatchEventRequest{Ref: car}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mallory's run to pass", func() bool {
		runs, _ := f.WorkflowRuns(project, sha)
		return len(runs) == 1 && runs[0].Conclusion == fakeforge.ConclusionSuccess
	})
	id := mustID(t, sha, 1)
	pipelineIs(t, c, id, train.PipelinePending, "only someone else's dispatch passed")
	p, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil || p.ID != id {
		t.Fatalf("CreatePipeline = %+v, %v", p, err)
	}
	waitState(t, c, id, train.PipelineSuccess)
	runs, _ := f.WorkflowRuns(project, sha)
	if len(runs) != 2 {
		t.Fatalf("runs = %+v, want mallory's and Trainyard's own dispatch", runs)
	}
}
