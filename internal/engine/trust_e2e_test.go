package engine_test

import (
	"fmt"
	"testing"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge/github"
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
	runs, err := e.ff.WorkflowRuns(project, car.Commit)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs of the car: %v, %v", runs, err)
	}
	if err := e.ff.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	e.waitRun(car.Commit, fakeforge.CheckCompleted)
	if _, err := e.ff.SetCheckRun(project, car.Commit, "evil-ci", "ext/ci", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if err := e.ff.SetCommitStatus(project, car.Commit, "ext/ci", "success", "mallory"); err != nil {
		t.Fatal(err)
	}
	checked := func(id string) {
		t.Helper()
		ev := event.Event{ID: id, Forge: "github", Project: project, Kind: event.KindPipeline,
			SHA: car.Commit, Ref: "trainyard/main/1", Pipeline: runs[0].ID, Status: train.PipelineSuccess}
		if err := e.eng.Dispatch(e.ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.Sweep(e.ctx, e.key); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		checked(fmt.Sprintf("forged-%d", i))
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
	checked("trusted")
	e.run()
	e.requireIdle()
	if head := e.head(); head != car.Commit {
		t.Fatalf("main is at %.12s, want the car's commit %.12s", head, car.Commit)
	}
	e.requireMerged(pr)
}
