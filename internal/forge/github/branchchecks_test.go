package github

import (
	"context"
	"reflect"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// onMain is a context for the cars of main's train.
func onMain() context.Context { return forge.ForBranch(context.Background(), "main") }

func pipelineOnMain(t *testing.T, c *Client, id int64, want train.PipelineState, when string) {
	t.Helper()
	p, err := c.Pipeline(onMain(), project, id)
	if err != nil || p.Status != want {
		t.Fatalf("%s: pipeline %+v, %v; want %s", when, p, err, want)
	}
}

// A ruleset requires ext/scan of one app: with nothing configured, a car
// whose Actions runs passed waits for it. Neither another app's run of
// that name nor a trusted user's status counts, only the app the ruleset
// names does, though the configuration trusts Actions alone; and a job
// the branch does not require no longer fails the car.
func TestBranchRulesetRequiresAnAppsCheck(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	scanner := f.AppID("scanner")
	if err := f.SetBranchStatusChecks(project, "main", []fakeforge.RuleStatusCheck{{Context: "ci/test"}, {Context: "ext/scan", IntegrationID: scanner}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.StatusCreators = nil, []string{"jenkins-bot"} })
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	p, err := c.CreatePipeline(onMain(), project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := f.WorkflowRuns(project, sha)
	if err != nil || len(runs) != 1 {
		t.Fatalf("workflow runs: %+v, %v", runs, err)
	}
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineRunning, "Actions passed, ext/scan missing")
	// Without the branch, as before: every check reported, all passed.
	pipelineIs(t, c, p.ID, train.PipelineSuccess, "no branch named")

	if _, err := f.SetCheckRun(project, sha, "evil-ci", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCommitStatus(project, sha, "ext/scan", "success", "jenkins-bot"); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineRunning, "ext/scan from another app and as a status")

	if _, err := f.SetCheckRun(project, sha, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineFailed, "the expected app failed ext/scan")
	if _, err := f.SetCheckRun(project, sha, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, p.ID, train.PipelineSuccess, "the expected app passed ext/scan")

	// ci/lint is reported by Actions but not required: its failure on
	// another car is not the car's.
	other := pushCar(t, f, "trainyard/main/2", map[string]string{"o": "o"})
	runs, err = f.WorkflowRuns(project, other)
	if err != nil || len(runs) != 1 {
		t.Fatalf("workflow runs: %+v, %v", runs, err)
	}
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetCheckRun(project, other, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetCheckRun(project, other, "scanner", "lint/extra", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, mustID(t, other, 1), train.PipelineSuccess, "a check the branch does not require failed")
}

// Classic protection's required contexts add to the configured checks;
// what a branch requires is read once, and not at all when the merge
// rules' query brought it.
func TestBranchProtectionAddsRequiredChecks(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredStatusChecks: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.CheckApps = []string{"ci/lint"}, []string{"buildkite"} })
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/lint", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	calls := counting(f)
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineRunning, "ci/lint passed, ci/test required by the branch")
	if got := calls.since()["POST /api/graphql"]; got != 1 {
		t.Fatalf("%d GraphQL queries for the branch's checks, want 1", got)
	}
	if _, err := f.SetCheckRun(project, sha, "buildkite", "ci/test", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	pipelineOnMain(t, c, mustID(t, sha, 1), train.PipelineSuccess, "both passed")
	if got := calls.since()["POST /api/graphql"]; got != 0 {
		t.Fatalf("%d GraphQL queries the second time, want 0", got)
	}

	// A new client learns main's checks from the merge rules' query.
	fresh := newClient(t, f, func(o *Options) { o.RequiredChecks, o.CheckApps = []string{"ci/lint"}, []string{"buildkite"} })
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	mergeRules(t, fresh, mr.IID)
	calls.since()
	pipelineOnMain(t, fresh, mustID(t, sha, 1), train.PipelineSuccess, "after the merge rules")
	if got := calls.since(); got["POST /api/graphql"] != 0 {
		t.Fatalf("read the branch again after the merge rules: %v", got)
	}
	b, ok := fresh.branches.get(branchKey(project, "main"))
	if !ok || !reflect.DeepEqual(b.checks, []string{"ci/test"}) {
		t.Fatalf("main's checks from the merge rules: %+v, %v", b, ok)
	}
}
