package fakeforge

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
)

func TestBranchPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, branch string
		want            bool
	}{
		{"trainyard/**", "trainyard/main/12", true},
		{"trainyard/**", "trainyard/release/1.x/3", true},
		{"trainyard/*", "trainyard/main/12", false},
		{"trainyard/*/*", "trainyard/main/12", true},
		{"trainyard/**", "feature", false},
		{"main", "main", true},
		{"ma.n", "main", false},
	} {
		if got := branchPattern(tc.pattern).MatchString(tc.branch); got != tc.want {
			t.Errorf("%q matches %q: %v, want %v", tc.pattern, tc.branch, got, tc.want)
		}
	}
}

func checkRuns(t *testing.T, c *github.Client, ref string, filter string) map[string]*github.CheckRun {
	t.Helper()
	res, _, err := c.Checks.ListCheckRunsForRef(context.Background(), "acme", "widgets", ref, &github.ListCheckRunsOptions{Filter: github.Ptr(filter)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*github.CheckRun{}
	for _, cr := range res.CheckRuns {
		out[cr.GetName()+"#"+itoa(cr.GetID())] = cr
		if _, ok := out[cr.GetName()]; !ok {
			out[cr.GetName()] = cr
		}
	}
	if res.GetTotal() != len(res.CheckRuns) {
		t.Fatalf("total_count %d for %d check runs", res.GetTotal(), len(res.CheckRuns))
	}
	return out
}

func TestActionsRunOnCarPushes(t *testing.T) {
	f := ghForge(t, func(o *Options) { o.CI.Duration = 5 * time.Millisecond })
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	good := pushCar(t, f, "trainyard/main/1", map[string]string{"ok": "ok"})
	bad := pushCar(t, f, "trainyard/main/2", map[string]string{"x/BROKEN": "x"})
	pushCar(t, f, "feature", map[string]string{"f": "f"})

	for sha, want := range map[string]string{good: ConclusionSuccess, bad: ConclusionFailure} {
		runs := waitRun(t, f, sha, CheckCompleted)
		if len(runs) != 1 || runs[0].Conclusion != want || runs[0].Event != "push" || runs[0].Attempt != 1 {
			t.Fatalf("runs on %.7s: %+v, want one %s", sha, runs, want)
		}
		got := checkRuns(t, c, sha, "latest")
		for _, name := range []string{"ci/test", "ci/lint"} {
			cr := got[name]
			if cr == nil || cr.GetStatus() != CheckCompleted || cr.GetConclusion() != want || cr.GetHeadSHA() != sha ||
				cr.GetApp().GetName() != "GitHub Actions" || cr.StartedAt == nil || cr.CompletedAt == nil {
				t.Fatalf("check run %s on %.7s: %v", name, sha, cr)
			}
		}
	}
	all, _ := f.WorkflowRuns(project1, "")
	if len(all) != 2 {
		t.Fatalf("%d workflow runs, want 2: a push to feature runs nothing", len(all))
	}
	list, _, err := c.Actions.ListRepositoryWorkflowRuns(context.Background(), "acme", "widgets", &github.ListWorkflowRunsOptions{HeadSHA: bad})
	if err != nil || list.GetTotalCount() != 1 || list.WorkflowRuns[0].GetConclusion() != ConclusionFailure ||
		list.WorkflowRuns[0].GetHeadBranch() != "trainyard/main/2" || list.WorkflowRuns[0].GetName() != DefaultWorkflow {
		t.Fatalf("list runs for %.7s: %v, %v", bad, list, err)
	}
}

func TestActionsQueueRunAndFinishByHand(t *testing.T) {
	f := ghForge(t, func(o *Options) { o.CI.Manual = true })
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	sha := pushCar(t, f, "trainyard/main/1", map[string]string{"ok": "ok"})
	run := waitRun(t, f, sha, CheckInProgress)[0]
	if cr := checkRuns(t, c, sha, "latest")["ci/test"]; cr.GetStatus() != CheckInProgress || cr.Conclusion != nil {
		t.Fatalf("running check: %v", cr)
	}
	if err := f.FinishWorkflowRun(project1, run.ID, ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	run = waitRun(t, f, sha, CheckCompleted)[0]
	first := run.Checks["ci/test"]
	if run.Conclusion != ConclusionFailure {
		t.Fatalf("run: %+v", run)
	}
	if err := f.FinishWorkflowRun(project1, run.ID, ConclusionSuccess); err == nil {
		t.Fatal("finished a finished run")
	}

	// A re-run is a new attempt with new check runs for the failed jobs.
	ctx := context.Background()
	if _, err := c.Actions.RerunFailedJobsByID(ctx, "acme", "widgets", run.ID); err != nil {
		t.Fatal(err)
	}
	run = waitRun(t, f, sha, CheckInProgress)[0]
	if run.Attempt != 2 || run.Checks["ci/test"] == first {
		t.Fatalf("re-run: %+v", run)
	}
	if err := f.FinishWorkflowRun(project1, run.ID, ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	run = waitRun(t, f, sha, CheckCompleted)[0]
	latest := checkRuns(t, c, sha, "latest")
	if run.Conclusion != ConclusionSuccess || latest["ci/test"].GetConclusion() != ConclusionSuccess || latest["ci/test"].GetID() != run.Checks["ci/test"] {
		t.Fatalf("after re-run: %+v, latest %v", run, latest["ci/test"])
	}
	if all := checkRuns(t, c, sha, "all"); all["ci/test#"+itoa(first)].GetConclusion() != ConclusionFailure {
		t.Fatalf("filter=all lost the first attempt: %v", all)
	}
	wr, _, err := c.Actions.GetWorkflowRunByID(ctx, "acme", "widgets", run.ID)
	if err != nil || wr.GetRunAttempt() != 2 || wr.PreviousAttemptURL == nil {
		t.Fatalf("workflow run: %v, %v", wr, err)
	}
	if _, err := c.Actions.RerunFailedJobsByID(ctx, "acme", "widgets", run.ID); err == nil {
		t.Fatal("re-ran a run that passed")
	}
}

func TestActionsCancel(t *testing.T) {
	f := ghForge(t, func(o *Options) { o.CI.Manual = true })
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	sha := pushCar(t, f, "trainyard/main/1", map[string]string{"ok": "ok"})
	run := waitRun(t, f, sha, CheckInProgress)[0]
	_, err := c.Actions.CancelWorkflowRunByID(ctx, "acme", "widgets", run.ID)
	var accepted *github.AcceptedError
	if !errors.As(err, &accepted) {
		t.Fatalf("cancel: %v, want GitHub's 202", err)
	}
	run = waitRun(t, f, sha, CheckCompleted)[0]
	if run.Conclusion != ConclusionCancelled || checkRuns(t, c, sha, "latest")["ci/lint"].GetConclusion() != ConclusionCancelled {
		t.Fatalf("cancelled run: %+v", run)
	}
	resp, err := c.Actions.CancelWorkflowRunByID(ctx, "acme", "widgets", run.ID)
	if err == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("cancelling a finished run: %v", err)
	}
	if resp, err := c.Actions.CancelWorkflowRunByID(ctx, "acme", "widgets", 999); err == nil || resp.StatusCode != 404 {
		t.Fatalf("cancelling a missing run: %v", err)
	}
}

func TestActionsDispatch(t *testing.T) {
	f := ghForge(t, func(o *Options) { o.CI.Duration = time.Millisecond })
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	sha := pushCar(t, f, "other", map[string]string{"o": "o"})
	if _, err := c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "widgets", "ci.yml", github.CreateWorkflowDispatchEventRequest{Ref: "other"}); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, f, sha, CheckCompleted)[0]
	if run.Event != "workflow_dispatch" || run.Branch != "other" || run.Conclusion != ConclusionSuccess {
		t.Fatalf("dispatched run: %+v", run)
	}
	if _, err := c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "widgets", "deploy.yml", github.CreateWorkflowDispatchEventRequest{Ref: "other"}); err == nil {
		t.Fatal("dispatched an unknown workflow")
	}
	_, err := c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "widgets", "ci.yml", github.CreateWorkflowDispatchEventRequest{Ref: "none"})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("dispatch on a missing ref: %v", err)
	}
}

func TestCommitStatuses(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"})
	combined := func() *github.CombinedStatus {
		t.Helper()
		s, _, err := c.Repositories.GetCombinedStatus(ctx, "acme", "widgets", sha, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := combined(); s.GetState() != "pending" || s.GetTotalCount() != 0 || s.GetSHA() != sha {
		t.Fatalf("no statuses: %v", s)
	}
	if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "widgets", sha, github.RepoStatus{State: github.Ptr("pending"), Context: github.Ptr("ext/ci")}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCommitStatus(project1, sha, "ext/lint", "success", "carol"); err != nil {
		t.Fatal(err)
	}
	if s := combined(); s.GetState() != "pending" || s.GetTotalCount() != 2 {
		t.Fatalf("one pending: %v", s)
	}
	if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "widgets", "feature", github.RepoStatus{State: github.Ptr("success"), Context: github.Ptr("ext/ci")}); err != nil {
		t.Fatal(err)
	}
	if s := combined(); s.GetState() != "success" || s.GetTotalCount() != 2 {
		t.Fatalf("all passed: %v", s)
	}
	f.SetCommitStatus(project1, sha, "ext/ci", "error", "carol")
	if s := combined(); s.GetState() != "failure" {
		t.Fatalf("one errored: %v", s)
	}
	if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "widgets", sha, github.RepoStatus{State: github.Ptr("bogus")}); err == nil {
		t.Fatal("accepted a bogus state")
	}
}

// Every status set on a commit is listed, newest first, with its
// creator: what the combined status does not say.
func TestListedStatusesNameTheirCreator(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"})
	if err := f.SetCommitStatus(project1, sha, "ext/ci", "pending", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCommitStatus(project1, sha, "ext/ci", "success", "alice"); err != nil {
		t.Fatal(err)
	}
	list, _, err := c.Repositories.ListStatuses(ctx, "acme", "widgets", sha, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].GetState() != "success" || list[0].GetCreator().GetLogin() != "alice" ||
		list[1].GetState() != "pending" || list[1].GetCreator().GetLogin() != "carol" || list[1].GetContext() != "ext/ci" {
		t.Fatalf("statuses = %v", list)
	}
}

// A check run says which app reported it, and another app's run of the
// same name hides none of Actions' from the newest ones.
func TestCheckRunsNameTheirApp(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	sha := pushCar(t, f, "feature", map[string]string{"f": "f"})
	actions, err := f.SetCheckRun(project1, sha, "", "ci/test", CheckCompleted, ConclusionFailure)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.SetCheckRun(project1, sha, "evil-ci", "ci/test", CheckCompleted, ConclusionSuccess)
	if err != nil {
		t.Fatal(err)
	}
	latest := checkRuns(t, c, sha, "latest")
	a, o := latest["ci/test#"+itoa(actions)], latest["ci/test#"+itoa(other)]
	if a == nil || o == nil {
		t.Fatalf("latest = %v, want both apps' runs", latest)
	}
	if a.GetApp().GetSlug() != ActionsApp || a.GetApp().GetID() != 15368 {
		t.Errorf("Actions' run is by %v", a.GetApp())
	}
	if o.GetApp().GetSlug() != "evil-ci" || o.GetApp().GetID() == 15368 || o.GetApp().GetID() == 0 {
		t.Errorf("the other app's run is by %v", o.GetApp())
	}
	again, _ := f.SetCheckRun(project1, sha, "evil-ci", "ci/test", CheckCompleted, ConclusionFailure)
	if got := checkRuns(t, c, sha, "latest"); got["ci/test#"+itoa(again)].GetApp().GetID() != o.GetApp().GetID() || got["ci/test#"+itoa(other)] != nil {
		t.Errorf("the app's id changed or its older run is still among the latest: %v", got)
	}
}
