package github

import (
	"context"
	"strconv"
	"strings"
	"testing"

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
	runs, err := f.CheckRuns(project, sha)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, f)
	all, _, err := raw.Checks.ListCheckRunsForRef(context.Background(), "acme", "widgets", sha, nil)
	if err != nil || len(runs) == 0 {
		t.Fatal(runs, err)
	}
	var id int64
	for _, r := range all.CheckRuns {
		if r.GetApp().GetSlug() == "buildkite" {
			id = r.GetApp().GetID()
		}
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
	if _, err := f.SetCheckRun(project, sha, "", "ci/test", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err) // Actions' name on a check run of no workflow run
	}
	id := mustID(t, sha, 1)
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
