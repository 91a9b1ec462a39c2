package engine_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
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
	return newGitHubEnvWith(t, settings, fakeforge.CI{Duration: 40 * time.Millisecond}, nil)
}

// newGitHubEnvWith is newGitHubEnv with its CI, and the engine's
// configuration adjusted by mutate, which also gets the client.
func newGitHubEnvWith(t *testing.T, settings train.Settings, ci fakeforge.CI, mutate func(*engine.Config, *github.Client)) *env {
	t.Helper()
	return newGitHubEnvOn(t, settings, ci, mutate, ghEnvOptions{})
}

// ghEnvOptions adjust the forge of newGitHubEnvOn, and what stands
// between the engine and its client.
type ghEnvOptions struct {
	forge func(*fakeforge.Options)
	wrap  func(*fakeforge.Forge, engine.Forge) engine.Forge
	// app signs the client in as a GitHub App installation, which the
	// forge then knows, instead of with a token.
	app bool
	// client adjusts the client's options.
	client func(*github.Options)
}

// newGitHubEnvOn is newGitHubEnvWith with o.
func newGitHubEnvOn(t *testing.T, settings train.Settings, ci fakeforge.CI, mutate func(*engine.Config, *github.Client), o ghEnvOptions) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ffDir := t.TempDir()
	opts := fakeforge.Options{
		Dir: ffDir, Tokens: map[string]string{botToken: "trainyard-bot"}, Seed: 7,
		CI:     ci,
		GitHub: fakeforge.GitHub{Actions: fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{"ci/test"}}},
	}
	if o.forge != nil {
		o.forge(&opts)
	}
	var app *github.App
	if o.app {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		opts.GitHub.App = fakeforge.App{ID: 77, PublicKey: &key.PublicKey}
		app = &github.App{ID: 77, InstallationID: fakeforge.DefaultInstallationID,
			PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})}
	}
	ff, err := fakeforge.New(opts)
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
	users := map[string]fakeforge.User{}
	for name, level := range map[string]int{"alice": fakeforge.Developer, "bob": fakeforge.Developer} {
		users[name] = ff.AddUser(name)
		if err := ff.SetAccess(project, name, level); err != nil {
			t.Fatal(err)
		}
	}
	copts := github.Options{BaseURL: ff.URL(), Token: botToken, RequiredChecks: []string{"ci/test"},
		BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond}
	if app != nil {
		copts.Token, copts.App = "", app
	}
	if o.client != nil {
		o.client(&copts)
	}
	client, err := github.New(copts)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	repos := &engine.GitRepos{Dir: t.TempDir(), Token: botToken, CloneURL: client.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@example.com"}}
	cfg := engine.Config{Profile: github.Profile(ff.URL()), Owner: "test", Settings: settings, Projects: []string{project},
		SweepEvery: 2 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg, client)
	}
	var f engine.Forge = client
	if o.wrap != nil {
		f = o.wrap(ff, client)
	}
	eng := engine.New(cfg, st, f, repos, engine.WithRules(client), engine.WithComments(client))
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
	// The note links a check run that failed on #3's car, not a packed
	// pipeline id.
	link := regexp.MustCompile(`^Removed from the merge train for ` + "`main`" + `: check \[` + "`ci/test`" + `\]\(([^)]+)\) on \[` + "`[0-9a-f]{12}`" + `\]`)
	var url string
	for _, n := range e.notesOf(3) {
		if m := link.FindStringSubmatch(n); m != nil {
			url = m[1]
		}
	}
	if !e.failedCheckURLs("trainyard/main/3")[url] {
		t.Fatalf("no eviction note on #3 links one of its failed checks %v; notes: %q", e.failedCheckURLs("trainyard/main/3"), e.notesOf(3))
	}
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
	e.requireNote(broken, "Removed from the merge train for `main`: ")
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

// failedCheckURLs are the pages of the check runs that failed on a
// branch's commits.
func (e *env) failedCheckURLs(branch string) map[string]bool {
	e.t.Helper()
	runs, err := e.ff.WorkflowRuns(project, "")
	if err != nil {
		e.t.Fatal(err)
	}
	urls := map[string]bool{}
	for _, r := range runs {
		if r.Branch != branch {
			continue
		}
		checks, err := e.ff.CheckRuns(project, r.SHA)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, c := range checks {
			if c.Conclusion == fakeforge.ConclusionFailure {
				urls[c.URL] = true
			}
		}
	}
	return urls
}

// A check event carries GitHub's own ids (a workflow run's, a check
// suite's), never the train's pipeline id: the car is found by the
// event's commit, and its pipeline read again.
func TestGitHubCheckEventsFindTheCarByCommit(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvWith(t, train.Settings{}, fakeforge.CI{Manual: true}, nil)
	for i, ref := range []string{"trainyard/main/1", ""} { // a check run names its branch; a status may not
		pr := e.mr(i+1, nil)
		e.addAll(pr)
		car := e.runningCar(pr)
		run := e.passRun(car.Commit)
		if ref != "" {
			ref = fmt.Sprintf("trainyard/main/%d", pr)
		}
		err := e.eng.Dispatch(e.ctx, event.Event{ID: fmt.Sprintf("run-%d", pr), Forge: "github", Project: project, Kind: event.KindPipeline,
			Pipeline: run, SHA: car.Commit, Ref: ref, Status: train.PipelineSuccess})
		if err != nil {
			t.Fatal(err)
		}
		if s := e.mrState(pr).State; s != fakeforge.StateMerged {
			t.Fatalf("#%d is %s after its checks passed (ref %q), want merged", pr, s, ref)
		}
		if head := e.head(); head != car.Commit {
			t.Fatalf("main is at %.12s, want the car's commit %.12s", head, car.Commit)
		}
	}
}

// runningCar sweeps the train until pr's car has a pipeline.
func (e *env) runningCar(pr int64) train.Car {
	e.t.Helper()
	for {
		if err := e.eng.Sweep(e.ctx, e.key); err != nil {
			e.t.Fatal(err)
		}
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			e.t.Fatal(err)
		}
		if c := tr.Car(pr); c != nil && c.State == train.StateRunning {
			return *c
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("#%d's car never ran: %+v", pr, tr.Cars)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// passRun passes the one workflow run of a car's commit, waits for it to
// complete, and returns its id.
func (e *env) passRun(sha string) int64 {
	e.t.Helper()
	runs, err := e.ff.WorkflowRuns(project, sha)
	if err != nil || len(runs) != 1 {
		e.t.Fatalf("runs of the car: %v, %v", runs, err)
	}
	if err := e.ff.FinishWorkflowRun(project, runs[0].ID, fakeforge.ConclusionSuccess); err != nil {
		e.t.Fatal(err)
	}
	e.waitRun(sha, fakeforge.CheckCompleted)
	return runs[0].ID
}

func (e *env) waitRun(sha, status string) {
	e.t.Helper()
	for {
		runs, err := e.ff.WorkflowRuns(project, sha)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(runs) > 0 && runs[0].Status == status {
			return
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("the run of %.12s never got %s", sha, status)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestGitHubFastForwardsThroughTheRefsAPI(t *testing.T) {
	t.Parallel()
	e := newGitHubEnvWith(t, train.Settings{}, fakeforge.CI{Duration: 40 * time.Millisecond}, func(c *engine.Config, client *github.Client) {
		c.Policy = engine.StaticPolicy{TrainSettings: c.Settings.WithDefaults(), Access: forge.Developer, ForgeFastForwards: true}
	})
	prs := []int64{e.mr(1, nil), e.mr(2, nil)}
	e.addAll(prs...)
	e.run()
	e.requireIdle()
	e.requireMerged(prs...)
	if n := e.ff.Calls()["PATCH /repos/{owner}/{repo}/git/refs/{ref...}"]; n == 0 {
		t.Fatal("main moved without a call to the refs API")
	}
	e.checkedHistory()
}

func TestGitHubRefusalNamesTheRole(t *testing.T) {
	t.Parallel()
	e := newGitHubEnv(t, train.Settings{})
	e.users["rita"] = e.ff.AddUser("rita")
	if err := e.ff.SetAccess(project, "rita", fakeforge.Guest); err != nil {
		t.Fatal(err)
	}
	pr := e.mr(1, nil)
	if err := e.add(pr, "rita"); !errors.Is(err, engine.ErrRefused) {
		t.Fatalf("add by a reader: %v, want a refusal", err)
	}
	e.requireNote(pr, "Using the merge train needs write access or higher to group/app.")
}

// A car whose checks are found passed when its pipeline is started moves
// the target before the cars behind it are built: their builds can wait,
// the merge should not. With checks that finish as soon as a car branch
// is pushed, the pushes go car, target, car, target, ...
func TestGitHubPassedCarMergesBeforeTheNextBuild(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var moves []string
	e := newGitHubEnvOn(t, train.Settings{BatchSize: 1, MaxParallel: 4}, fakeforge.CI{}, nil, ghEnvOptions{
		forge: func(o *fakeforge.Options) {
			o.OnBranchMoved = func(m fakeforge.BranchMoved) {
				if m.Branch == "main" || strings.HasPrefix(m.Branch, "trainyard/") {
					mu.Lock()
					moves = append(moves, m.Branch)
					mu.Unlock()
				}
			}
		},
		// The simulated Actions finish a run on their own time: the look
		// for a car's checks waits for it, so that it always finds them
		// passed, however busy the machine.
		wrap: func(ff *fakeforge.Forge, f engine.Forge) engine.Forge { return finishedLook{f, ff, t} },
	})
	prs := []int64{e.mr(1, nil), e.mr(2, nil), e.mr(3, nil)}
	// Paused while they are added, the train takes all three in one pass
	// once resumed, as it does MRs added together.
	if err := e.add(prs[0], "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Pause(e.ctx, e.key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	e.addAll(prs[1:]...)
	if err := e.eng.Resume(e.ctx, e.key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	e.run()
	e.requireIdle()
	e.requireMerged(prs...)
	mu.Lock()
	defer mu.Unlock()
	// Car branches are deleted after their merge; those moves are left
	// out.
	var pushes []string
	for _, b := range moves {
		if !slices.Contains(pushes, b) || b == "main" {
			pushes = append(pushes, b)
		}
	}
	want := []string{"trainyard/main/1", "main", "trainyard/main/2", "main", "trainyard/main/3", "main"}
	if !slices.Equal(pushes, want) {
		t.Fatalf("branch moves %q, want %q", pushes, want)
	}
}

// finishedLook is the engine's forge, with the look for a commit's
// checks made once its workflow runs have finished.
type finishedLook struct {
	engine.Forge
	ff *fakeforge.Forge
	t  *testing.T
}

func (l finishedLook) PipelinesFor(ctx context.Context, project, ref, sha string) ([]forge.Pipeline, error) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		runs, err := l.ff.WorkflowRuns(project, sha)
		if err != nil {
			return nil, err
		}
		done := len(runs) > 0
		for _, r := range runs {
			done = done && r.Status == fakeforge.CheckCompleted
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			l.t.Errorf("the workflow runs of %.12s did not finish: %+v", sha, runs)
			break
		}
	}
	return l.Forge.PipelinesFor(ctx, project, ref, sha)
}
