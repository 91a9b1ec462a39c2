package app

import (
	"context"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/train"
)

// The required checks a branch's .trainyard.yml names hold for that
// branch's cars alone. A train of another branch of the same repository
// (any branch someone with write access pushes, with a file of their
// own) may be read at any moment, by its own pass or a dashboard view:
// main's car, whose external CI failed, must still read as failed.
func TestRepoFileRequiredChecksStayOnTheirBranch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const project, botToken = "acme/app", "bot-token-0000"
	ff, err := fakeforge.New(fakeforge.Options{
		Dir: t.TempDir(), Tokens: map[string]string{botToken: "trainyard-bot"}, Seed: 7,
		CI:     fakeforge.CI{Duration: 10 * time.Millisecond},
		GitHub: fakeforge.GitHub{Actions: fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{"ci/test"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ff.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ff.Close()
	if _, err := ff.CreateProject(ctx, project, map[string]string{"README.md": "# app\n"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`
github: {token: x, webhook_secret: s3cret-hook-value, required_checks: [ci/test, ext/ci], status_creators: [jenkins-bot]}
projects:
  - {forge: github, path: acme/app}
`), func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := github.New(github.Options{BaseURL: ff.URL(), Token: botToken,
		RequiredChecks: cfg.GitHub.RequiredChecks, StatusCreators: cfg.GitHub.StatusCreators,
		BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := newPolicy(cfg, config.ForgeGitHub, client)

	// main's car: Actions' ci/test passes, the external CI's ext/ci fails.
	car, err := ff.PushBranch(ctx, project, "trainyard/main/1", "trainyard-bot",
		fakeforge.Commit{Message: "car", Files: map[string]string{"x.txt": "x\n"}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		runs, err := ff.WorkflowRuns(project, car)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 && runs[0].Status == fakeforge.CheckCompleted {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the car's workflow never finished")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := ff.SetCommitStatus(project, car, "ext/ci", "failure", "jenkins-bot"); err != nil {
		t.Fatal(err)
	}
	id, err := github.PipelineID(car, 1)
	if err != nil {
		t.Fatal(err)
	}
	mainKey := train.Key{Forge: "github", Project: project, Branch: "main"}
	otherKey := train.Key{Forge: "github", Project: project, Branch: "mallory"}
	asMain := forge.ForBranch(ctx, "main")
	read := func(when string) {
		t.Helper()
		got, err := client.Pipeline(asMain, project, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != train.PipelineFailed {
			t.Fatalf("%s: main's car reads as %s, want failed (its ext/ci failed)", when, got.Status)
		}
	}
	if _, err := p.RepoSettings(mainKey, ""); err != nil {
		t.Fatal(err)
	}
	read("with main's own settings")
	if _, err := p.RepoSettings(otherKey, "required_checks: [ci/test]\n"); err != nil {
		t.Fatal(err)
	}
	read("after another branch's train was read")
	// That branch's own cars do go by its file.
	got, err := client.Pipeline(forge.ForBranch(ctx, "mallory"), project, id)
	if err != nil || got.Status != train.PipelineSuccess {
		t.Fatalf("under the other branch's file the same commit reads %+v, %v; want success", got, err)
	}
}
