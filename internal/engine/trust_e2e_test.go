package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/train"
)

// A car needs Actions' ci/test and an external CI's ext/ci, which its
// bot user reports as a commit status. Once ci/test passed, an ext/ci
// check run from another app and an ext/ci status from another user
// both say success: neither moves the target. The bot's own success
// does, to the car's commit.
func TestGitHubForgedChecksPassNoCar(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvOn(t, train.Settings{}, fakeforge.CI{Manual: true}, nil, ghEnvOptions{client: func(o *github.Options) {
		o.RequiredChecks, o.StatusCreators = []string{"ci/test", "ext/ci"}, []string{"jenkins-bot"}
	}})
	pr := e.mr(1, nil)
	e.addAll(pr)
	car := e.runningCar(pr)
	run := e.passRun(car.Commit)
	if _, err := e.ff.SetCheckRun(project, car.Commit, "evil-ci", "ext/ci", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if err := e.ff.SetCommitStatus(project, car.Commit, "ext/ci", "success", "mallory"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.checksSucceeded(fmt.Sprintf("forged-%d", i), car.Commit, run)
	}
	if head := e.head(); head != e.base {
		t.Fatalf("main moved to %.12s on forged checks", head)
	}
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if c := tr.Car(pr); c == nil || c.State != train.StateRunning || c.Commit != car.Commit {
		t.Fatalf("#%d's car after forged checks: %+v, want still running on %.12s", pr, c, car.Commit)
	}
	if s := e.mrState(pr).State; s != fakeforge.StateOpened {
		t.Fatalf("#%d is %s after forged checks, want open", pr, s)
	}

	if err := e.ff.SetCommitStatus(project, car.Commit, "ext/ci", "success", "jenkins-bot"); err != nil {
		t.Fatal(err)
	}
	e.checksSucceeded("trusted", car.Commit, run)
	e.run()
	e.requireIdle()
	if head := e.head(); head != car.Commit {
		t.Fatalf("main is at %.12s, want the car's commit %.12s", head, car.Commit)
	}
	e.requireMerged(pr)
}

// checksSucceeded delivers a pipeline event saying the checks on the
// commit of car branch trainyard/main/1 passed, then sweeps the train:
// the engine reads the checks back from the forge either way.
func (e *env) checksSucceeded(id, commit string, run int64) {
	e.t.Helper()
	ev := event.Event{ID: id, Forge: "github", Project: project, Kind: event.KindPipeline,
		SHA: commit, Ref: "trainyard/main/1", Pipeline: run, Status: train.PipelineSuccess}
	if err := e.eng.Dispatch(e.ctx, ev); err != nil {
		e.t.Fatal(err)
	}
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		e.t.Fatal(err)
	}
}

// A developer whose MR failed on the train runs a pipeline on its car
// branch with variables that skip the tests, and it passes. The retry
// the train then makes starts a pipeline of its own rather than taking
// theirs, and when that fails too, the MR is evicted and the target
// stays where it was.
func TestGitLabAnotherUsersPipelinePassesNoCar(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{settings: train.Settings{Retries: 1}, ci: fakeforge.CI{Manual: true}})
	pr := e.mr(1, nil)
	e.addAll(pr)
	car := e.runningCar(pr)

	const malloryToken = "glpat-mallory-token-0000"
	e.ff.AddToken("mallory", malloryToken)
	if err := e.ff.SetAccess(project, "mallory", fakeforge.Developer); err != nil {
		t.Fatal(err)
	}
	mallory, err := gitlab.New(gitlab.Options{BaseURL: e.ff.URL(), Token: malloryToken})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := mallory.CreatePipeline(e.ctx, project, fmt.Sprintf("trainyard/main/%d", pr), map[string]string{"SKIP_TESTS": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if theirs.SHA != car.Commit {
		t.Fatalf("their pipeline runs %.12s, want the car's %.12s", theirs.SHA, car.Commit)
	}
	if err := e.ff.FinishPipeline(e.ctx, theirs.ID, fakeforge.PipelineSuccess); err != nil {
		t.Fatal(err)
	}
	// Every pipeline of Trainyard's fails, until the train gives up.
	for {
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Idle() && len(tr.Outbox) == 0 {
			break
		}
		pipelines, err := e.ff.Pipelines(project)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pipelines {
			if p.ID != theirs.ID && p.FinishedAt.IsZero() {
				if err := e.ff.FinishPipeline(e.ctx, p.ID, fakeforge.PipelineFailed); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := e.eng.Sweep(e.ctx, e.key); err != nil {
			t.Fatal(err)
		}
		select {
		case <-e.ctx.Done():
			t.Fatalf("the train never gave up on !%d: %+v", pr, tr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if head := e.head(); head != e.base {
		t.Fatalf("main moved to %.12s, want it at %.12s", head, e.base)
	}
	if s := e.mrState(pr).State; s != fakeforge.StateOpened {
		t.Fatalf("!%d is %s, want open", pr, s)
	}
	pipelines, err := e.ff.Pipelines(project)
	if err != nil {
		t.Fatal(err)
	}
	ours := 0
	for _, p := range pipelines {
		if p.User == "trainyard-bot" && p.SHA == car.Commit {
			ours++
		}
	}
	if ours < 2 {
		t.Fatalf("Trainyard ran %d pipelines on the car's commit, want the first and a retry of its own: %+v", ours, pipelines)
	}
	e.requireNote(pr, "Removed from the merge train for `main`")
}

// main's ruleset requires ext/scan of the scanner app, which the
// configuration does not name. Actions' checks pass: main stays where
// it was until the scanner's ext/scan passes, whatever another app says
// under that name, then moves to the car's commit.
func TestGitHubBranchRulesetHoldsTheTarget(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvOn(t, train.Settings{}, fakeforge.CI{Manual: true}, nil, ghEnvOptions{client: func(o *github.Options) {
		o.RequiredChecks = nil
	}})
	scanner := e.ff.AppID("scanner")
	if err := e.ff.SetBranchStatusChecks(project, "main", []fakeforge.RuleStatusCheck{{Context: "ext/scan", IntegrationID: scanner}}); err != nil {
		t.Fatal(err)
	}
	pr := e.mr(1, nil)
	e.addAll(pr)
	car := e.runningCar(pr)
	run := e.passRun(car.Commit)
	if _, err := e.ff.SetCheckRun(project, car.Commit, "evil-ci", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		e.checksSucceeded(fmt.Sprintf("unscanned-%d", i), car.Commit, run)
	}
	if head := e.head(); head != e.base {
		t.Fatalf("main moved to %.12s before the scanner passed the car", head)
	}
	if s := e.mrState(pr).State; s != fakeforge.StateOpened {
		t.Fatalf("#%d is %s before the scan, want open", pr, s)
	}
	if _, err := e.ff.SetCheckRun(project, car.Commit, "scanner", "ext/scan", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	e.checksSucceeded("scanned", car.Commit, run)
	e.run()
	e.requireIdle()
	if head := e.head(); head != car.Commit {
		t.Fatalf("main is at %.12s, want the car's commit %.12s", head, car.Commit)
	}
	e.requireMerged(pr)
}
