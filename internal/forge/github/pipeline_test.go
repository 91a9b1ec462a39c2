package github

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

func TestPipelineID(t *testing.T) {
	sha := "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
	for _, attempt := range []int{1, 2, maxAttempt} {
		id, err := pipelineID(sha, attempt)
		if err != nil || id <= 0 {
			t.Fatalf("pipelineID(%d) = %d, %v", attempt, id, err)
		}
		prefix, got, err := splitPipelineID(id)
		if err != nil || prefix != sha[:prefixLen] || got != attempt {
			t.Fatalf("split(%d) = %q, %d, %v", id, prefix, got, err)
		}
	}
	if a, _ := pipelineID(sha, 1); a == mustID(t, sha, 2) {
		t.Fatal("two attempts share an id")
	}
	if _, err := pipelineID("abc", 1); err == nil {
		t.Fatal("short commit id accepted")
	}
	for _, bad := range []int64{0, -5, 1 << attemptBits} {
		if _, _, err := splitPipelineID(bad); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("split(%d): %v", bad, err)
		}
	}
}

func mustID(t *testing.T, sha string, attempt int) int64 {
	t.Helper()
	id, err := pipelineID(sha, attempt)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func run(name, status, conclusion string) *gh.CheckRun {
	r := &gh.CheckRun{Name: gh.Ptr(name), Status: gh.Ptr(status)}
	if conclusion != "" {
		r.Conclusion = gh.Ptr(conclusion)
	}
	return r
}

func status(context, state string) *gh.RepoStatus {
	return &gh.RepoStatus{Context: gh.Ptr(context), State: gh.Ptr(state)}
}

func TestVerdict(t *testing.T) {
	req := []string{"ci/test", "ext/lint"}
	for _, tc := range []struct {
		name     string
		required []string
		runs     []*gh.CheckRun
		statuses []*gh.RepoStatus
		want     train.PipelineState
	}{
		{"nothing yet", req, nil, nil, train.PipelinePending},
		{"queued", req, []*gh.CheckRun{run("ci/test", "queued", "")}, nil, train.PipelinePending},
		{"one running", req, []*gh.CheckRun{run("ci/test", "in_progress", "")}, nil, train.PipelineRunning},
		{"one passed, one missing", req, []*gh.CheckRun{run("ci/test", "completed", "success")}, nil, train.PipelineRunning},
		{"all passed", req, []*gh.CheckRun{run("ci/test", "completed", "success")}, []*gh.RepoStatus{status("ext/lint", "success")}, train.PipelineSuccess},
		{"neutral and skipped pass", req, []*gh.CheckRun{run("ci/test", "completed", "neutral"), run("ext/lint", "completed", "skipped")}, nil, train.PipelineSuccess},
		{"fails as soon as one fails", req, []*gh.CheckRun{run("ci/test", "completed", "failure")}, []*gh.RepoStatus{status("ext/lint", "pending")}, train.PipelineFailed},
		{"an errored status fails", req, []*gh.CheckRun{run("ci/test", "in_progress", "")}, []*gh.RepoStatus{status("ext/lint", "error")}, train.PipelineFailed},
		{"timed out fails", req, []*gh.CheckRun{run("ci/test", "completed", "timed_out")}, nil, train.PipelineFailed},
		{"an unknown conclusion fails", req, []*gh.CheckRun{run("ci/test", "completed", "surprise")}, nil, train.PipelineFailed},
		{"cancelled", req, []*gh.CheckRun{run("ci/test", "completed", "cancelled"), run("ext/lint", "completed", "success")}, nil, train.PipelineCanceled},
		{"failure outweighs cancel", req, []*gh.CheckRun{run("ci/test", "completed", "cancelled"), run("ext/lint", "completed", "failure")}, nil, train.PipelineFailed},
		{"a failing duplicate name fails", req, []*gh.CheckRun{run("ci/test", "completed", "success"), run("ext/lint", "completed", "success")}, []*gh.RepoStatus{status("ci/test", "failure")}, train.PipelineFailed},
		{"a pending duplicate waits", req, []*gh.CheckRun{run("ci/test", "completed", "success"), run("ext/lint", "completed", "success")}, []*gh.RepoStatus{status("ci/test", "pending")}, train.PipelineRunning},
		{"checks not required do not count", req, []*gh.CheckRun{run("ci/test", "completed", "success"), run("ext/lint", "completed", "success"), run("docs", "completed", "failure")}, nil, train.PipelineSuccess},
		{"without required checks, all count", nil, []*gh.CheckRun{run("ci/test", "completed", "success"), run("docs", "completed", "failure")}, nil, train.PipelineFailed},
		{"without required checks, all must pass", nil, []*gh.CheckRun{run("ci/test", "completed", "success")}, []*gh.RepoStatus{status("ext", "success")}, train.PipelineSuccess},
		{"without required checks, none is pending", nil, nil, nil, train.PipelinePending},
	} {
		cs := checks{}
		cs.addRuns(tc.runs)
		cs.addStatuses(tc.statuses)
		if got := verdict(tc.required, len(tc.required) == 0, cs); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func waitState(t *testing.T, c *Client, id int64, want train.PipelineState) forge.Pipeline {
	t.Helper()
	var p forge.Pipeline
	waitFor(t, "pipeline "+string(want), func() bool {
		var err error
		if p, err = c.Pipeline(context.Background(), project, id); err != nil {
			t.Fatal(err)
		}
		return p.Status == want
	})
	return p
}

func TestPipelineFollowsTheChecks(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	good := pushCar(t, f, car, map[string]string{"ok": "ok"})
	bad := pushCar(t, f, "trainyard/main/2", map[string]string{"x/BROKEN": "x"})

	p, err := c.CreatePipeline(ctx, project, car, map[string]string{"TRAINYARD": "true"})
	if err != nil || p.SHA != good || p.Ref != car || p.ID != mustID(t, good, 1) {
		t.Fatalf("CreatePipeline = %+v, %v", p, err)
	}
	done := waitState(t, c, p.ID, train.PipelineSuccess)
	if done.SHA != good || done.ID != p.ID || done.WebURL != f.URL()+"/acme/widgets/commit/"+good+"/checks" {
		t.Fatalf("passed pipeline = %+v", done)
	}
	// Another replica, with nothing cached, answers the same from the id.
	if other, err := newClient(t, f, nil).Pipeline(ctx, project, p.ID); err != nil || other.Status != train.PipelineSuccess || other.SHA != good {
		t.Fatalf("another client: %+v, %v", other, err)
	}
	list, err := c.PipelinesFor(ctx, project, car, good)
	if err != nil || len(list) != 1 || list[0].ID != p.ID || list[0].Status != train.PipelineSuccess {
		t.Fatalf("PipelinesFor = %+v, %v", list, err)
	}

	pb, err := c.CreatePipeline(ctx, project, "trainyard/main/2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if failed := waitState(t, c, pb.ID, train.PipelineFailed); failed.SHA != bad {
		t.Fatalf("failed pipeline = %+v", failed)
	}
	if runs, _ := f.WorkflowRuns(project, ""); len(runs) != 2 {
		t.Fatalf("%d workflow runs, want the 2 the pushes started", len(runs))
	}
}

func TestPipelinesForACommitWithoutChecks(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, func(o *Options) { o.StatusCreators = []string{"carol"} })
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"}) // no workflow runs on it
	if list, err := c.PipelinesFor(context.Background(), project, "feature", sha); err != nil || len(list) != 0 {
		t.Fatalf("PipelinesFor = %+v, %v; want none", list, err)
	}
	f.SetCommitStatus(project, sha, "ext/ci", "pending", "carol")
	list, err := c.PipelinesFor(context.Background(), project, "feature", sha)
	if err != nil || len(list) != 1 || list[0].Status != train.PipelinePending {
		t.Fatalf("with a status: %+v, %v", list, err)
	}
}

func TestRetryReRunsTheFailedJobs(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	first, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, first.ID, train.PipelineRunning)
	run := func() fakeforge.WorkflowRun {
		runs, err := f.WorkflowRuns(project, sha)
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs: %+v, %v", runs, err)
		}
		return runs[0]
	}
	if err := f.FinishWorkflowRun(project, run().ID, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, first.ID, train.PipelineFailed)

	// The engine starts the next attempt: a re-run, with its own id.
	second, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil || second.ID != mustID(t, sha, 2) || second.Status != train.PipelinePending {
		t.Fatalf("retry = %+v, %v", second, err)
	}
	if got := run(); got.Attempt != 2 {
		t.Fatalf("run after retry: %+v", got)
	}
	waitState(t, c, second.ID, train.PipelineRunning)
	if err := f.FinishWorkflowRun(project, run().ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, second.ID, train.PipelineSuccess)
	// An attempt GitHub does not show yet is pending, not the result
	// before it.
	third := mustID(t, sha, 3)
	if p, err := c.Pipeline(ctx, project, third); err != nil || p.Status != train.PipelinePending || p.ID != third {
		t.Fatalf("attempt 3: %+v, %v", p, err)
	}
	// The first attempt's checks passed on the re-run, on this very
	// commit, as a GitLab pipeline whose failed job was retried passes:
	// a train that missed the failure takes the pass, without reading
	// the workflow runs.
	calls := counting(f)
	if p, err := c.Pipeline(ctx, project, first.ID); err != nil || p.Status != train.PipelineSuccess || p.ID != first.ID {
		t.Fatalf("attempt 1: %+v, %v", p, err)
	}
	if got := calls.since(); len(got) != 1 || got["GET /repos/{owner}/{repo}/commits/{ref}/check-runs"] != 1 {
		t.Fatalf("reading a first attempt that passed cost %v, want the check runs only", got)
	}
}

func TestCancellingASupersededAttemptSparesTheReRun(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	first, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := f.WorkflowRuns(project, sha)
	f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionFailure)
	waitState(t, c, first.ID, train.PipelineFailed)
	second, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stopped, err := c.CancelPipeline(ctx, project, first.ID); err != nil || stopped {
		t.Fatalf("cancel a superseded attempt: stopped %v, %v", stopped, err)
	}
	waitState(t, c, second.ID, train.PipelineRunning)
	if runs, _ := f.WorkflowRuns(project, sha); runs[0].Status == fakeforge.CheckCompleted {
		t.Fatalf("the re-run was cancelled: %+v", runs[0])
	}
	if stopped, err := c.CancelPipeline(ctx, project, second.ID); err != nil || !stopped {
		t.Fatalf("cancel the re-run: stopped %v, %v", stopped, err)
	}
	waitState(t, c, second.ID, train.PipelineCanceled)
}

// A car branch pushed away from a commit and back starts a new workflow
// run at attempt 1, so the new checks get the id the old ones had. The
// id cannot hold a run's id beside the commit's prefix (see pipeline.go);
// the planner takes a pipeline created for a car that waits for one
// whatever its id, and tells a suspect's own test by a mark.
func TestChecksOfACommitPushedAgainRepeatTheirID(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	first, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := f.WorkflowRuns(project, sha)
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, first.ID, train.PipelineFailed)

	pushCar(t, f, car, map[string]string{"other": "x"})
	if _, _, err := rawClient(t, f).Git.UpdateRef(ctx, "acme", "widgets", "heads/"+car, gh.UpdateRef{SHA: sha, Force: gh.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a second run of the commit", func() bool {
		runs, _ := f.WorkflowRuns(project, sha)
		return len(runs) == 2
	})
	again, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil || again.SHA != sha {
		t.Fatalf("CreatePipeline = %+v, %v", again, err)
	}
	if again.ID != first.ID {
		t.Fatalf("new checks got id %d, the old ones %d: ids no longer repeat, update the planner's notes and this test", again.ID, first.ID)
	}
	waitState(t, c, again.ID, train.PipelineRunning) // the new run's, not the old failure
}

func TestRetryWaitsForRunningJobs(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, func(o *Options) {
		o.RequiredChecks, o.StatusCreators = []string{"ci/test", "ext/ci"}, []string{"carol"}
	})
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	first, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.SetCommitStatus(project, sha, "ext/ci", "failure", "carol")
	waitState(t, c, first.ID, train.PipelineFailed) // at once, while ci/test runs
	_, err = c.CreatePipeline(ctx, project, car, nil)
	if !errors.Is(err, errRunning) || errors.Is(err, forge.ErrRejected) {
		t.Fatalf("retry while the run goes on: %v, want to be tried again later", err)
	}
	runs, _ := f.WorkflowRuns(project, sha)
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to finish", func() bool {
		runs, _ := f.WorkflowRuns(project, sha)
		return runs[0].Status == fakeforge.CheckCompleted
	})
	if p, err := c.CreatePipeline(ctx, project, car, nil); err != nil || p.ID != mustID(t, sha, 2) {
		t.Fatalf("retry once it finished: %+v, %v", p, err)
	}
}

func TestRetryWithNothingToReRunIsRefused(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, func(o *Options) { o.RequiredChecks, o.StatusCreators = []string{"ext/ci"}, []string{"Carol"} })
	ctx := context.Background()
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"})
	f.SetCommitStatus(project, sha, "ext/ci", "failure", "carol")
	_, err := c.CreatePipeline(ctx, project, "feature", nil)
	if !errors.Is(err, forge.ErrRejected) || !strings.Contains(err.Error(), "re-run") {
		t.Fatalf("retry of an external failure: %v", err)
	}
}

func TestCancelPipelineCancelsCarRunsOnly(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	// The same commit on a pull request's branch runs there too.
	if _, err := f.PushBranch(ctx, project, "feature", "alice"); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, f)
	if _, _, err := raw.Git.UpdateRef(ctx, "acme", "widgets", "heads/feature", gh.UpdateRef{SHA: sha}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "widgets", "ci.yml", gh.CreateWorkflowDispatchEventRequest{Ref: "feature"}); err != nil {
		t.Fatal(err)
	}
	p, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} { // cancelling twice is harmless
		if stopped, err := c.CancelPipeline(ctx, project, p.ID); err != nil || stopped != want {
			t.Fatalf("cancel #%d: stopped %v, %v; want %v", i+1, stopped, err, want)
		}
	}
	runs, _ := f.WorkflowRuns(project, sha)
	byBranch := map[string]fakeforge.WorkflowRun{}
	for _, r := range runs {
		byBranch[r.Branch] = r
	}
	if byBranch[car].Conclusion != fakeforge.ConclusionCancelled || byBranch["feature"].Status == fakeforge.CheckCompleted {
		t.Fatalf("runs after cancel: %+v", byBranch)
	}
	// The other branch's run goes on, but its checks are not the car's:
	// the car's pipeline was cancelled, and stays so when that run
	// passes.
	waitState(t, c, p.ID, train.PipelineCanceled)
	if err := f.FinishWorkflowRun(project, byBranch["feature"].ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Pipeline(ctx, project, p.ID); err != nil || got.Status != train.PipelineCanceled {
		t.Fatalf("after the other branch's run passed: %+v, %v; want canceled", got, err)
	}
}

func TestDispatchConfiguredWorkflows(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.GitHub.Actions.Branches = nil }) // nothing runs on push
	c := newClient(t, f, func(o *Options) { o.Workflows = []string{"ci.yml"} })
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	p, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, p.ID, train.PipelineSuccess)
	// A repeated start (after a crash, say) finds the run and dispatches
	// nothing more.
	if _, err := c.CreatePipeline(ctx, project, car, nil); err != nil {
		t.Fatal(err)
	}
	runs, _ := f.WorkflowRuns(project, sha)
	if len(runs) != 1 || runs[0].Event != "workflow_dispatch" || runs[0].Branch != car {
		t.Fatalf("runs: %+v", runs)
	}
}

func TestUnknownPipelines(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	id := mustID(t, "0123456789abcdef0123456789abcdef01234567", 1)
	if _, err := c.Pipeline(ctx, project, id); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "0123456789abc") {
		t.Fatalf("pipeline of an unknown commit: %v", err)
	}
	if _, err := c.CancelPipeline(ctx, project, id); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("cancel of an unknown commit: %v", err)
	}
	if _, err := c.Pipeline(ctx, project, 12); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("a GitLab-style id: %v", err)
	}
	if _, err := c.CreatePipeline(ctx, project, "no-such-branch", nil); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("pipeline for a missing branch: %v", err)
	}
}

// rawClient is go-github itself on the forge, for acting as people do.
func rawClient(t *testing.T, f *fakeforge.Forge) *gh.Client {
	t.Helper()
	c, err := gh.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(f.URL()+"/api/v3/", f.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The car's workflow runs are those on car branches of the repository
// itself, started by a push, or by a dispatch Trainyard made: a pull
// request's own runs on the same commit are not, even from a fork branch
// named like a car's, nor a dispatch by someone else.
// With no required check named, a pass waits for every one of them to
// complete.
func TestRunsOnCars(t *testing.T) {
	c := &Client{cars: "trainyard/"}
	r := repoRef{project: "acme/widgets"}
	run := func(branch, status, repo, event string) *gh.WorkflowRun {
		return &gh.WorkflowRun{HeadBranch: gh.Ptr(branch), Status: gh.Ptr(status), Event: gh.Ptr(event),
			HeadRepository: &gh.Repository{FullName: gh.Ptr(repo)}, Actor: &gh.User{Login: gh.Ptr("trainbot")}}
	}
	by := func(run *gh.WorkflowRun, login string) *gh.WorkflowRun { run.Actor.Login = gh.Ptr(login); return run }
	wr := func(branch, status string) *gh.WorkflowRun { return run(branch, status, "acme/widgets", "push") }
	for _, tc := range []struct {
		runs []*gh.WorkflowRun
		cars int  // runs kept
		open bool // one of those has not completed
	}{
		{nil, 0, false},
		{[]*gh.WorkflowRun{wr("trainyard/main/1", "completed")}, 1, false},
		{[]*gh.WorkflowRun{wr("trainyard/main/1", "completed"), wr("trainyard/main/1", "in_progress")}, 2, true},
		{[]*gh.WorkflowRun{wr("trainyard/main/1", "queued")}, 1, true},
		{[]*gh.WorkflowRun{wr("feature/x", "in_progress"), wr("trainyard/main/1", "completed")}, 1, false},
		{[]*gh.WorkflowRun{wr("feature/x", "completed"), wr("trainyard-old/1", "in_progress")}, 0, false},
		{[]*gh.WorkflowRun{run("trainyard/main/1", "completed", "ACME/Widgets", "workflow_dispatch")}, 1, false},
		{[]*gh.WorkflowRun{by(run("trainyard/main/1", "in_progress", "acme/widgets", "workflow_dispatch"), "TrainBot")}, 1, true},
		{[]*gh.WorkflowRun{by(run("trainyard/main/1", "in_progress", "acme/widgets", "workflow_dispatch"), "mallory"), wr("trainyard/main/1", "completed")}, 1, false},
		{[]*gh.WorkflowRun{by(run("trainyard/main/1", "in_progress", "acme/widgets", "push"), "mallory")}, 1, true},
		{[]*gh.WorkflowRun{run("trainyard/main/1", "in_progress", "mallory/widgets", "pull_request"), wr("trainyard/main/1", "completed")}, 1, false},
		{[]*gh.WorkflowRun{run("trainyard/main/1", "in_progress", "acme/widgets", "pull_request")}, 0, false},
		{[]*gh.WorkflowRun{run("trainyard/main/1", "in_progress", "mallory/widgets", "push")}, 0, false},
	} {
		kept := slices.DeleteFunc(tc.runs, func(run *gh.WorkflowRun) bool { return !c.isCar(r, run, "trainbot") })
		if len(kept) != tc.cars || runsOpen(kept) != tc.open {
			t.Errorf("%d runs: kept %d (open %v), want %d (open %v)", len(tc.runs), len(kept), runsOpen(kept), tc.cars, tc.open)
		}
	}
}
