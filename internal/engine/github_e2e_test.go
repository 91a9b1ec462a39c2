package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// newGitHubEnv is newEnv on the fake forge's GitHub side: the engine
// reaches it through the GitHub client, and a car's pipeline is the
// ci/test check that the simulated Actions run on every car push.
func newGitHubEnv(t *testing.T, settings train.Settings) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ffDir := t.TempDir()
	ff, err := fakeforge.New(fakeforge.Options{
		Dir: ffDir, Tokens: map[string]string{botToken: "trainyard-bot"}, Seed: 7,
		CI:     fakeforge.CI{Duration: 40 * time.Millisecond},
		GitHub: fakeforge.GitHub{Actions: fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{"ci/test"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ff.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ff.Close() })
	if _, err := ff.CreateProject(ctx, project, map[string]string{"README.md": "# app\n"}); err != nil {
		t.Fatal(err)
	}
	users := map[string]fakeforge.User{"alice": ff.AddUser("alice")}
	if err := ff.SetAccess(project, "alice", fakeforge.Developer); err != nil {
		t.Fatal(err)
	}
	client, err := github.New(github.Options{BaseURL: ff.URL(), Token: botToken, RequiredChecks: []string{"ci/test"},
		BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	repos := &engine.GitRepos{Dir: t.TempDir(), Token: botToken, CloneURL: client.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@example.com"}}
	eng := engine.New(engine.Config{
		Owner: "test", Settings: settings,
		MRRef:      func(n int64) string { return fmt.Sprintf("refs/pull/%d/head", n) },
		MRRefLabel: func(n int64) string { return fmt.Sprintf("#%d", n) },
	}, st, client, repos)
	e := &env{t: t, ctx: ctx, ff: ff, dir: ffDir, eng: eng, st: st, users: users,
		key: train.Key{Forge: "github", Project: project, Branch: "main"}}
	e.base = e.head()
	return e
}

// checkedHistory checks the one rule against the workflow runs: every
// commit on main's new first-parent history passed its checks as that
// exact commit, or was merged with a later one that did.
func (e *env) checkedHistory() []string {
	e.t.Helper()
	runs, err := e.ff.WorkflowRuns(project, "")
	if err != nil {
		e.t.Fatal(err)
	}
	passed := map[string]bool{}
	for _, r := range runs {
		if !strings.HasPrefix(r.Branch, "trainyard/main/") {
			e.t.Errorf("workflow run %d ran on %s, not a car branch", r.ID, r.Branch)
		}
		if r.Conclusion == fakeforge.ConclusionSuccess {
			passed[r.SHA] = true
		}
	}
	history := e.firstParents()
	for i, c := range history {
		if !passed[c] && !slices.ContainsFunc(history[i+1:], func(d string) bool { return passed[d] }) {
			e.t.Errorf("commit %.12s on main passed no checks, nor did a commit after it", c)
		}
	}
	if len(history) == 0 || !passed[history[len(history)-1]] {
		e.t.Errorf("main's head has no passed checks: %v", history)
	}
	return history
}

func TestGitHubTrainMergesOnlyWhatPassedItsChecks(t *testing.T) {
	t.Parallel()
	e := newGitHubEnv(t, train.Settings{})
	var prs []int64
	for i := 1; i <= 5; i++ {
		var extra map[string]string
		if i == 3 {
			extra = map[string]string{"mr-3/BROKEN": "tests fail\n"}
		}
		prs = append(prs, e.mr(i, extra))
	}
	e.addAll(prs...)
	e.run()
	e.requireIdle()
	good := slices.DeleteFunc(slices.Clone(prs), func(n int64) bool { return n == 3 })
	e.requireMerged(good...)
	if s := e.mrState(3).State; s != fakeforge.StateOpened {
		t.Fatalf("#3 is %s, want open", s)
	}
	e.requireNote(3, "Removed from the merge train for `main`")
	for _, c := range e.checkedHistory() {
		if tree := e.git("ls-tree", "-r", "--name-only", c); strings.Contains(tree, "mr-3") {
			t.Errorf("commit %.12s on main carries #3's change", c)
		}
	}
	for _, n := range good {
		e.requireNote(n, "Merged into `main`")
	}
}

func TestGitHubRetryReRunsTheFailedJobs(t *testing.T) {
	t.Parallel()
	e := newGitHubEnv(t, train.Settings{Retries: 1})
	broken := e.mr(1, map[string]string{"BROKEN": "x\n"})
	fine := e.mr(2, nil)
	e.addAll(broken, fine)
	e.run()
	e.requireIdle()
	e.requireMerged(fine)
	// The planner's second attempt is a re-run of the failed job on the
	// same commit. (A run the push started may have failed before the
	// train first asked, and is re-run then, as GitLab would start a new
	// pipeline: the planner counts attempts from its own start. A re-run
	// started twice is cancelled as nobody's.)
	e.requireNote(broken, "failed (attempt 2)")
	runs, err := e.ff.WorkflowRuns(project, "")
	if err != nil {
		t.Fatal(err)
	}
	retried := slices.ContainsFunc(runs, func(r fakeforge.WorkflowRun) bool {
		return r.Branch == "trainyard/main/1" && r.Attempt >= 2
	})
	if !retried {
		t.Fatalf("the broken car's checks were not re-run: %+v", runs)
	}
	e.checkedHistory()
}
