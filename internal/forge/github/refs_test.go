package github

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/train"
)

func TestFastForwardThroughTheRefsAPI(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	base, err := f.BranchHead(ctx, project, "main")
	if err != nil {
		t.Fatal(err)
	}
	// A car branch made of main plus one commit: a fast-forward of main.
	next := pushCar(t, f, car, map[string]string{"next": "1"})
	res, err := c.FastForward(ctx, project, "main", base, next)
	if err != nil || res != (gitops.FFResult{Head: next}) {
		t.Fatalf("fast-forward = %+v, %v; want head %s", res, err, next)
	}
	if head, _ := f.BranchHead(ctx, project, "main"); head != next {
		t.Fatalf("main is at %s, want %s", head, next)
	}
	if res, err := c.FastForward(ctx, project, "main", base, next); err != nil || res != (gitops.FFResult{Head: next, Done: true}) {
		t.Fatalf("repeated fast-forward = %+v, %v; want done", res, err)
	}

	// Someone pushes to main first: the car's commit is no fast-forward
	// any more, and GitHub refuses it.
	stale := pushCar(t, f, "trainyard/main/2", map[string]string{"stale": "1"})
	outside, err := f.PushBranch(ctx, project, "main", "alice", fakeforge.Commit{Files: map[string]string{"hotfix": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.FastForward(ctx, project, "main", next, stale)
	if err != nil || res != (gitops.FFResult{Head: outside, Rejected: true}) {
		t.Fatalf("fast-forward after an outside push = %+v, %v; want rejected at %s", res, err, outside)
	}
	if head, _ := f.BranchHead(ctx, project, "main"); head != outside {
		t.Fatalf("main moved to %s after a refused update, want %s", head, outside)
	}
	if calls := f.Calls()["PATCH /repos/{owner}/{repo}/git/refs/{ref...}"]; calls != 2 {
		t.Errorf("%d ref updates, want 2 (the repeat is answered from the read)", calls)
	}
}

func TestPipelineNameLinksTheFailedCheck(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"x/BROKEN": "x"})
	p, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, p.ID, train.PipelineFailed)
	runs, err := f.WorkflowRuns(project, sha)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	name, err := c.PipelineName(ctx, project, p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	checks := f.URL() + "/" + project + "/commit/" + sha + "/checks"
	for _, want := range []string{
		"checks [`ci/lint`](" + f.URL() + "/" + project + "/actions/runs/",
		", [`ci/test`](",
		"on [`" + sha[:12] + "`](" + checks + ")",
	} {
		if !strings.Contains(name, want) {
			t.Errorf("name %q lacks %q", name, want)
		}
	}
	links := Profile(f.URL()).Links
	if got, want := links.Pipeline(project, p.ID), f.URL()+"/"+project+"/commit/"+sha[:prefixLen]+"/checks"; got != want {
		t.Errorf("pipeline link = %q, want %q", got, want)
	}
	if got := links.Pipeline(project, 1<<attemptBits); got != "" {
		t.Errorf("pipeline link of no check set = %q", got)
	}
}

// A check's name is the tested tree's workflows' text, anyone's: it
// shows as code, not as a mention or a link.
func TestPipelineNameQuotesCheckNames(t *testing.T) {
	const hostile = "@all [x](https://evil.example) <b>"
	f := newForge(t, func(o *fakeforge.Options) { o.GitHub.Actions.Checks = []string{hostile} })
	c := newClient(t, f, func(o *Options) { o.RequiredChecks = nil })
	ctx := context.Background()
	pushCar(t, f, car, map[string]string{"x/BROKEN": "x"})
	p, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, p.ID, train.PipelineFailed)
	name, err := c.PipelineName(ctx, project, p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "check [`" + hostile + "`](" + f.URL() + "/" + project + "/actions/runs/"; !strings.HasPrefix(name, want) {
		t.Errorf("name %q, want it to start with %q", name, want)
	}
}

// A pipeline that passed names the commit's checks, even when an earlier
// attempt failed.
func TestPipelineNameOfAPassedPipeline(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	sha := pushCar(t, f, car, map[string]string{"ok": "ok"})
	waitFor(t, "the run", func() bool { runs, _ := f.WorkflowRuns(project, sha); return len(runs) == 1 })
	runs, _ := f.WorkflowRuns(project, sha)
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure", func() bool { r, _ := f.WorkflowRuns(project, sha); return r[0].Status == fakeforge.CheckCompleted })
	p, err := c.CreatePipeline(ctx, project, car, nil) // re-runs the failed jobs: attempt 2
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the re-run", func() bool {
		r, _ := f.WorkflowRuns(project, sha)
		return r[0].Attempt == 2 && r[0].Status != fakeforge.CheckCompleted
	})
	if err := f.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, p.ID, train.PipelineSuccess)
	want := "the checks on [`" + sha[:12] + "`](" + f.URL() + "/" + project + "/commit/" + sha + "/checks) (attempt 2)"
	if name, err := c.PipelineName(ctx, project, p.ID, false); err != nil || name != want {
		t.Fatalf("name = %q, %v; want %q", name, err, want)
	}
	// Named as passed, as in a merged note, it is not read again: the
	// commit of an id this client made is known.
	calls := counting(f)
	if name, err := c.PipelineName(ctx, project, p.ID, true); err != nil || name != want {
		t.Fatalf("name as passed = %q, %v; want %q", name, err, want)
	}
	if got := calls.since(); len(got) != 0 {
		t.Fatalf("naming a passed pipeline cost %v, want no request", got)
	}
}

func TestRepositoriesHaveTheirOwnRequiredChecks(t *testing.T) {
	f := newForge(t, nil)
	// The default asks for a check the forge never runs; acme/widgets
	// asks for ci/test only.
	c := newClient(t, f, func(o *Options) {
		o.RequiredChecks = []string{"never/reported"}
		o.Repositories = map[string]Repository{"Acme/Widgets": {RequiredChecks: []string{"ci/test"}}}
	})
	ctx := context.Background()
	pushCar(t, f, car, map[string]string{"ok": "ok"})
	p, err := c.CreatePipeline(ctx, project, car, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, p.ID, train.PipelineSuccess)
}

// Checks a repository's own settings file requires replace the
// configured ones for the cars of its branch alone, until they are
// cleared: another branch's file, read later, changes nothing for them.
func TestRequiredChecksSetAtRunTime(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, func(o *Options) { o.RequiredChecks = []string{"ci/test"} })
	main := forge.ForBranch(context.Background(), "main")
	other := forge.ForBranch(context.Background(), "release")
	required := func(ctx context.Context) []string { return c.repository(ctx, project).RequiredChecks }
	c.SetRequiredChecks("ACME/widgets", "main", []string{"never/reported", "ci/test"})
	c.SetRequiredChecks(project, "release", []string{"ci/lint"})
	if got := required(main); !slices.Equal(got, []string{"never/reported", "ci/test"}) {
		t.Fatalf("main's required checks = %v, want its file's", got)
	}
	if got := required(other); !slices.Equal(got, []string{"ci/lint"}) {
		t.Fatalf("release's required checks = %v, want its file's", got)
	}
	if got := required(context.Background()); !slices.Equal(got, []string{"ci/test"}) {
		t.Fatalf("required checks of no train = %v, want the configured ones", got)
	}
	c.SetRequiredChecks(project, "main", nil)
	if got := required(main); !slices.Equal(got, []string{"ci/test"}) {
		t.Fatalf("main's required checks after clearing = %v, want the configured ones", got)
	}
	if got := required(other); !slices.Equal(got, []string{"ci/lint"}) {
		t.Fatalf("release's required checks after clearing main's = %v", got)
	}
}
