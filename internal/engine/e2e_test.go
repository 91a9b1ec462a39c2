package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

const (
	project  = "group/app"
	botToken = "bot-secret-token"
)

// env is one project on the fake forge, a real Redis and an engine that
// reaches the forge through the real GitLab client library.
type env struct {
	t     *testing.T
	ctx   context.Context
	ff    *fakeforge.Forge
	dir   string // the forge's data directory
	eng   *engine.Engine
	st    *store.Store
	key   train.Key
	users map[string]fakeforge.User
	base  string // target head before the train ran
}

type envOptions struct {
	settings train.Settings
	ci       fakeforge.CI
	faults   fakeforge.Faults
	// ignoreRules is merge_rules: none.
	ignoreRules bool
	// sweepEvery is the sweep interval; short, it lets tests run the
	// catch-up back to back.
	sweepEvery time.Duration
	// forge, when set, stands between the engine and the client.
	forge func(engine.Forge) engine.Forge
	// config adjusts the engine's configuration.
	config func(*engine.Config)
	// options are added to the engine's, such as a trace.
	options []engine.Option
	// redisHook, when set, sees every command the store sends.
	redisHook redis.Hook
	// maintainerBot signs the engine in as a project Maintainer, as most
	// deployments do, instead of the forge's administrator.
	maintainerBot bool
	// pushPipelines lets a car's push start its pipeline, as serve does
	// on GitLab. Off, pipelines are created through the API: the engine
	// here hears of no webhook, and would wait for a push's pipeline.
	pushPipelines bool
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	if o.ci.Duration == 0 && !o.ci.Manual {
		o.ci.Duration = 40 * time.Millisecond
	}
	ffDir := t.TempDir()
	ff, err := fakeforge.New(fakeforge.Options{
		Dir: ffDir, Tokens: map[string]string{botToken: "trainyard-bot"},
		CI: o.ci, Faults: o.faults, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ff.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ff.Close() })
	files := map[string]string{"README.md": "# app\n", "shared.txt": "one\ntwo\nthree\n"}
	if _, err := ff.CreateProject(ctx, project, files); err != nil {
		t.Fatal(err)
	}
	users := map[string]fakeforge.User{}
	for name, level := range map[string]int{"alice": 30, "rita": 20, "bob": 30, "mia": 40} {
		users[name] = ff.AddUser(name)
		if err := ff.SetAccess(project, name, level); err != nil {
			t.Fatal(err)
		}
	}
	token := botToken
	if o.maintainerBot {
		token = "maintainer-bot-token"
		ff.AddToken("trainyard-maintainer", token)
		if err := ff.SetAccess(project, "trainyard-maintainer", fakeforge.Maintainer); err != nil {
			t.Fatal(err)
		}
	}
	client, err := gitlab.New(gitlab.Options{BaseURL: ff.URL(), Token: token,
		BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rc := redistest.Client(t)
	if o.redisHook != nil {
		rc.AddHook(o.redisHook)
	}
	st := store.New(rc, store.Options{Prefix: redistest.Prefix(t)})
	repos := &engine.GitRepos{Dir: t.TempDir(), Token: token, CloneURL: client.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@example.com"}}
	cfg := engine.Config{Profile: gitlab.Profile(ff.URL()), Owner: "test", Settings: o.settings, Projects: []string{project}, SweepEvery: o.sweepEvery,
		PipelinesByAPI: !o.pushPipelines}
	if o.ignoreRules {
		cfg.Policy = engine.StaticPolicy{TrainSettings: o.settings.WithDefaults(), Access: forge.Developer, IgnoreRules: true}
	}
	if o.config != nil {
		o.config(&cfg)
	}
	var f engine.Forge = client
	if o.forge != nil {
		f = o.forge(client)
	}
	eng := engine.New(cfg, st, f, repos, append([]engine.Option{engine.WithRules(client), engine.WithComments(client)}, o.options...)...)
	e := &env{t: t, ctx: ctx, ff: ff, dir: ffDir, eng: eng, st: st, users: users,
		key: train.Key{Forge: "gitlab", Project: project, Branch: "main"}}
	e.base = e.head()
	return e
}

func (e *env) head() string {
	e.t.Helper()
	h, err := e.ff.BranchHead(e.ctx, project, "main")
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// mr opens an MR that adds its own file (and any extra files).
func (e *env) mr(n int, extra map[string]string) int64 {
	e.t.Helper()
	files := map[string]string{fmt.Sprintf("mr-%d.txt", n): fmt.Sprintf("change %d\n", n)}
	for k, v := range extra {
		files[k] = v
	}
	m, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{
		Source: fmt.Sprintf("feature-%d", n), Title: fmt.Sprintf("Change %d", n), Author: "alice",
		Commits: []fakeforge.Commit{{Message: fmt.Sprintf("Change %d", n), Files: files}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return m.IID
}

func (e *env) add(mr int64, user string) error {
	u := e.users[user]
	return e.eng.Add(e.ctx, engine.Request{Forge: e.key.Forge, Project: project, MR: mr,
		UserID: u.ID, Username: u.Username, Event: fmt.Sprintf("add-%d-%s", mr, user)})
}

func (e *env) addAll(mrs ...int64) {
	e.t.Helper()
	for _, mr := range mrs {
		if err := e.add(mr, "alice"); err != nil {
			e.t.Fatalf("add !%d: %v", mr, err)
		}
	}
}

// replica is another engine on the same forge and Redis, with its own
// mirrors and train settings, as another replica of the service.
func (e *env) replica(owner string, settings train.Settings, options ...engine.Option) *engine.Engine {
	e.t.Helper()
	client, err := gitlab.New(gitlab.Options{BaseURL: e.ff.URL(), Token: botToken, BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	repos := &engine.GitRepos{Dir: e.t.TempDir(), Token: botToken, CloneURL: client.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@example.com"}}
	return engine.New(engine.Config{Profile: gitlab.Profile(e.ff.URL()), Owner: owner, Projects: []string{project}, Settings: settings},
		e.st, client, repos, append([]engine.Option{engine.WithRules(client), engine.WithComments(client)}, options...)...)
}

func (e *env) run() {
	e.t.Helper()
	if err := e.eng.RunUntilIdle(e.ctx, e.key, 15*time.Millisecond); err != nil {
		e.t.Fatalf("run: %v", err)
	}
}

func (e *env) mrState(iid int64) fakeforge.MR {
	e.t.Helper()
	m, err := e.ff.MR(project, iid)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// notesOf returns the bodies of the notes on an MR.
func (e *env) notesOf(iid int64) []string {
	e.t.Helper()
	notes, err := e.ff.Notes(project, iid)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, n := range notes {
		out = append(out, n.Body)
	}
	return out
}

func (e *env) requireNote(iid int64, want string) {
	e.t.Helper()
	for _, n := range e.notesOf(iid) {
		if strings.Contains(n, want) {
			return
		}
	}
	e.t.Fatalf("no note on !%d contains %q; notes: %q", iid, want, e.notesOf(iid))
}

func (e *env) git(args ...string) string {
	e.t.Helper()
	dir := filepath.Join(e.ffDir(), "repos", project+".git")
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (e *env) ffDir() string { return e.dir }

func (e *env) firstParents() []string {
	out := e.git("rev-list", "--first-parent", "--reverse", e.base+"..main")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// waitPipelines waits until no pipeline of the project is still going.
func (e *env) waitPipelines() []fakeforge.Pipeline {
	e.t.Helper()
	for {
		ps, err := e.ff.Pipelines(project)
		if err != nil {
			e.t.Fatal(err)
		}
		if !slices.ContainsFunc(ps, func(p fakeforge.Pipeline) bool {
			return p.Status == "created" || p.Status == "pending" || p.Status == "running"
		}) {
			return ps
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatal("pipelines did not finish")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkTestedHistory checks the one rule on the target's new first-parent
// history: every commit on it is a car commit tested as that exact SHA, or
// was merged together with a later commit on it that was (a car merged by
// the success of a car behind it, whose own pipeline was cancelled).
func (e *env) checkTestedHistory() []string {
	e.t.Helper()
	ps := e.waitPipelines()
	passed := map[string]bool{}
	for _, p := range ps {
		if p.Status == "success" {
			passed[p.SHA] = true
		}
		if !strings.HasPrefix(p.Ref, "trainyard/main/") {
			e.t.Errorf("pipeline %d ran on %s, not a car branch", p.ID, p.Ref)
		}
	}
	history := e.firstParents()
	for i, c := range history {
		if passed[c] {
			continue
		}
		if !slices.ContainsFunc(history[i+1:], func(d string) bool { return passed[d] }) {
			e.t.Errorf("commit %.12s on main has no successful pipeline, nor a tested commit after it", c)
		}
	}
	if len(history) > 0 && !passed[history[len(history)-1]] {
		e.t.Errorf("main's head %.12s has no successful pipeline", history[len(history)-1])
	}
	return history
}

func (e *env) requireMerged(mrs ...int64) {
	e.t.Helper()
	for _, mr := range mrs {
		if s := e.mrState(mr).State; s != "merged" {
			e.t.Errorf("!%d is %s, want merged; notes: %q", mr, s, e.notesOf(mr))
		}
	}
}

func (e *env) requireIdle() {
	e.t.Helper()
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		e.t.Fatal(err)
	}
	if !tr.Idle() || len(tr.Outbox) > 0 {
		e.t.Fatalf("train not idle: %+v", tr)
	}
}

func TestTenGoodMRsAllMerge(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var deletes, withMoves int // car branches deleted by pushes of their own, and by the target's moves
	trace := engine.Trace{Observed: func(_ train.Key, o train.Observation, _ train.Train) {
		if ff, ok := o.(train.FastForwarded); ok && !ff.Rejected {
			mu.Lock()
			withMoves += len(ff.Deleted)
			mu.Unlock()
		}
	}, Acted: func(_ train.Key, a train.Action) {
		if _, ok := a.(train.DeleteCarRef); ok {
			mu.Lock()
			deletes++
			mu.Unlock()
		}
	}}
	e := newEnv(t, envOptions{options: []engine.Option{engine.WithTrace(trace)}})
	var mrs []int64
	for i := 1; i <= 10; i++ {
		mrs = append(mrs, e.mr(i, nil))
	}
	e.addAll(mrs...)
	e.run()
	e.requireIdle()
	e.requireMerged(mrs...)
	history := e.checkTestedHistory()
	if len(history) != 10 {
		t.Fatalf("main gained %d first-parent commits, want one per MR: %v", len(history), history)
	}
	for i, c := range history {
		if msg := e.git("log", "-1", "--format=%B", c); !strings.Contains(msg, fmt.Sprintf("See merge request %s!%d", project, mrs[i])) {
			t.Errorf("commit %d message %q does not name !%d", i, msg, mrs[i])
		}
	}
	for _, mr := range mrs {
		e.requireNote(mr, "Merged into `main`")
	}
	if refs := e.git("for-each-ref", "--format=%(refname)", "refs/heads/trainyard"); refs != "" {
		t.Errorf("car branches left behind: %s", refs)
	}
	// The car branches went with the pushes that moved the target.
	mu.Lock()
	defer mu.Unlock()
	if deletes != 0 || withMoves != len(mrs) {
		t.Errorf("car branches deleted by pushes of their own: %d, with the target's moves: %d; want 0 and %d", deletes, withMoves, len(mrs))
	}
}

func TestBrokenMRIsEvictedAndNeverReachesMain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var mrs []int64
	for i := 1; i <= 10; i++ {
		var extra map[string]string
		if i == 4 {
			extra = map[string]string{"mr-4/BROKEN": "tests fail\n"}
		}
		mrs = append(mrs, e.mr(i, extra))
	}
	e.addAll(mrs...)
	e.run()
	e.requireIdle()
	good := slices.DeleteFunc(slices.Clone(mrs), func(m int64) bool { return m == 4 })
	e.requireMerged(good...)
	if s := e.mrState(4).State; s != "opened" {
		t.Fatalf("!4 is %s, want opened", s)
	}
	history := e.checkTestedHistory()
	for _, c := range history {
		if tree := e.git("ls-tree", "-r", "--name-only", c); strings.Contains(tree, "mr-4") {
			t.Errorf("commit %.12s on main carries !4's change", c)
		}
	}
	// !4 failed twice before it was evicted: tested again on its own, or in
	// the pipeline of the car behind it, left running as a witness. The
	// note names both pipelines, and each failed with !4's changes in it.
	carried := map[int64]bool{}
	for _, p := range e.waitPipelines() {
		if p.Status == "failed" && slices.Contains(strings.Split(p.Variables["TRAINYARD_MRS"], ","), "4") {
			carried[p.ID] = true
		}
	}
	notes := []*regexp.Regexp{
		regexp.MustCompile("Removed from the merge train for `main`: \\[pipeline #([0-9]+)\\]\\([^)]*/pipelines/[0-9]+\\) failed; it tested this merge request again, without the ones behind it, after \\[pipeline #([0-9]+)\\]\\([^)]*\\) failed\\."),
		regexp.MustCompile("Removed from the merge train for `main`: \\[pipeline #([0-9]+)\\]\\([^)]*/pipelines/[0-9]+\\) failed, and so did \\[pipeline #([0-9]+)\\]\\([^)]*\\), which tested it with the merge requests behind it\\."),
	}
	var named []string
	for _, n := range e.notesOf(4) {
		for _, re := range notes {
			if m := re.FindStringSubmatch(n); m != nil {
				named = m[1:]
			}
		}
	}
	if len(named) != 2 || named[0] == named[1] {
		t.Fatalf("no eviction note on !4 names two failed pipelines; notes: %q", e.notesOf(4))
	}
	for _, id := range named {
		n, _ := strconv.ParseInt(id, 10, 64)
		if !carried[n] {
			t.Errorf("the note names pipeline #%d, which is no failed pipeline carrying !4 (%v)", n, carried)
		}
	}
	hist, err := e.st.History(e.ctx, e.key, 100)
	if err != nil {
		t.Fatal(err)
	}
	evicted := map[int64]train.ReasonCode{}
	for _, c := range hist {
		if c.State == train.StateEvicted {
			evicted[c.MR] = c.Reason.Code
		}
	}
	if len(evicted) != 1 || evicted[4] != train.ReasonPipelineFailed {
		t.Fatalf("evicted = %v, want only !4 for a failed pipeline", evicted)
	}
}

// TestLongQueueIsBatchedAndTheBrokenMRBisectedOut runs a queue longer
// than the free pipelines: cars ride in batches on one pipeline, the
// batch with the broken MR is bisected off the line, and only that MR
// leaves.
func TestLongQueueIsBatchedAndTheBrokenMRBisectedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{settings: train.Settings{MaxParallel: 2, BatchSize: 4}})
	var mrs []int64
	for i := 1; i <= 12; i++ {
		var extra map[string]string
		if i == 7 {
			extra = map[string]string{"mr-7/BROKEN": "tests fail\n"}
		}
		mrs = append(mrs, e.mr(i, extra))
	}
	e.addAll(mrs...)
	e.run()
	e.requireIdle()
	good := slices.DeleteFunc(slices.Clone(mrs), func(m int64) bool { return m == 7 })
	e.requireMerged(good...)
	if history := e.checkTestedHistory(); len(history) != len(good) {
		t.Fatalf("main gained %d first-parent commits, want %d", len(history), len(good))
	}
	// Some merged MRs never had a pipeline of their own: they rode in a
	// batch whose last car's pipeline tested them.
	own := map[string]bool{}
	for _, p := range e.waitPipelines() {
		own[p.Ref] = true
	}
	var rode []int64
	for _, mr := range good {
		if !own[fmt.Sprintf("trainyard/main/%d", mr)] {
			rode = append(rode, mr)
		}
	}
	if len(rode) == 0 {
		t.Error("every MR had a pipeline of its own: nothing was batched")
	}
	e.requireNote(7, "Removed from the merge train for `main`: [pipeline #")
	hist, err := e.st.History(e.ctx, e.key, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range hist {
		if c.State == train.StateEvicted && c.MR != 7 {
			t.Errorf("!%d evicted: %s", c.MR, c.Reason.Message)
		}
	}
}

func TestOutsidePushRebuildsOnTheNewHead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Duration: 150 * time.Millisecond}})
	var mrs []int64
	for i := 1; i <= 6; i++ {
		mrs = append(mrs, e.mr(i, nil))
	}
	e.addAll(mrs...)
	done := make(chan error, 1)
	go func() { done <- e.eng.RunUntilIdle(e.ctx, e.key, 15*time.Millisecond) }()
	// Push to main from outside while the first cars' pipelines run.
	var outside string
	for outside == "" {
		ps, err := e.ff.Pipelines(project)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) >= 2 {
			outside, err = e.ff.PushBranch(e.ctx, project, "main", "alice",
				fakeforge.Commit{Message: "Hotfix", Files: map[string]string{"hotfix.txt": "urgent\n"}})
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.requireIdle()
	e.requireMerged(mrs...)
	if out, err := exec.Command("git", "--git-dir", filepath.Join(e.ffDir(), "repos", project+".git"),
		"merge-base", "--is-ancestor", outside, "main").CombinedOutput(); err != nil {
		t.Fatalf("the outside commit is not on main: %v %s", err, out)
	}
	e.checkTestedHistory()
}

func TestNewCommitsEvict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a, b)
	if _, err := e.ff.PushToMR(e.ctx, project, b, fakeforge.Commit{Message: "more", Files: map[string]string{"more.txt": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	finishAll(t, e, func(fakeforge.Pipeline) string { return "success" })
	e.requireMerged(a)
	if s := e.mrState(b).State; s != "opened" {
		t.Fatalf("!%d is %s, want opened", b, s)
	}
	e.requireNote(b, "Removed from the merge train for `main`: new commits were pushed")
}

// TestNewCommitsJustBeforeTheMergeStopIt pushes to an MR after its car's
// pipeline passed and before the train has heard of the push: the merge
// reads the MR first, finds the new head and does not merge the old one.
func TestNewCommitsJustBeforeTheMergeStopIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	a := e.mr(1, nil)
	e.addAll(a)
	car := func() train.Car {
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil || len(tr.Cars) != 1 {
			t.Fatalf("train %+v, %v", tr, err)
		}
		return tr.Cars[0]
	}
	for deadline := time.Now().Add(time.Minute); car().State != train.StateRunning; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the car never ran: %+v", car())
		}
		if err := e.eng.Handle(e.ctx, e.key, train.Resync{}); err != nil && !errors.Is(err, engine.ErrBusy) {
			t.Fatal(err)
		}
	}
	c := car()
	if err := e.ff.FinishPipeline(e.ctx, c.Pipeline, "success"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ff.PushToMR(e.ctx, project, a, fakeforge.Commit{Message: "late", Files: map[string]string{"late.txt": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Handle(e.ctx, e.key, train.PipelineStatus{Pipeline: c.Pipeline, SHA: c.Commit, Status: train.PipelineSuccess}); err != nil {
		t.Fatal(err)
	}
	if h := e.head(); h != e.base {
		t.Errorf("main moved to %.12s, carrying the old head of !%d", h, a)
	}
	if s := e.mrState(a).State; s != "opened" {
		t.Errorf("!%d is %s, want opened", a, s)
	}
	e.requireNote(a, "Removed from the merge train for `main`: new commits were pushed")
	e.requireIdle()
}

// finishAll runs the train while finishing every pipeline by verdict.
func finishAll(t *testing.T, e *env, verdict func(fakeforge.Pipeline) string) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() {
		seen := map[int64]bool{}
		for ctx.Err() == nil {
			ps, _ := e.ff.Pipelines(project)
			for _, p := range ps {
				if (p.Status == "running" || p.Status == "pending" || p.Status == "created") && !seen[p.ID] {
					seen[p.ID] = true
					_ = e.ff.FinishPipeline(ctx, p.ID, verdict(p))
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	e.run()
}

func TestConflictEvictsWithPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	a := e.mr(1, map[string]string{"shared.txt": "one\nTWO by a\nthree\n"})
	b := e.mr(2, nil)
	c := e.mr(3, map[string]string{"shared.txt": "one\nTWO by c\nthree\n"})
	e.addAll(a, b, c)
	e.run()
	e.requireMerged(a, b)
	if s := e.mrState(c).State; s != "opened" {
		t.Fatalf("!%d is %s, want opened", c, s)
	}
	e.requireNote(c, "it does not merge cleanly onto `main` and the merge requests ahead of it; conflicting paths: `shared.txt`.")
	e.checkTestedHistory()
}

// A car keeps the first train.KeptConflictPaths of its conflicting
// paths, in its reason and so in the history, and its note says there
// may be more.
func TestConflictKeepsTheFirstPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	files := func(by string) map[string]string {
		out := map[string]string{}
		for i := range train.KeptConflictPaths + 50 {
			out[fmt.Sprintf("conflict/%03d.txt", i)] = by + "\n"
		}
		return out
	}
	a, c := e.mr(1, files("a")), e.mr(3, files("c"))
	e.addAll(a, c)
	e.run()
	e.requireMerged(a)
	e.requireNote(c, "conflicting paths: `conflict/000.txt`, ")
	e.requireNote(c, fmt.Sprintf(" and at least %d more.", train.KeptConflictPaths-20))
	cars, err := e.st.History(e.ctx, e.key, 10)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cars, func(car train.Car) bool { return car.MR == c })
	if i < 0 || cars[i].Reason == nil || len(cars[i].Reason.Paths) != train.KeptConflictPaths {
		t.Fatalf("!%d in the history: %+v, want its reason with its first %d paths", c, cars, train.KeptConflictPaths)
	}
}

func TestFlakyFailurePassesOnRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{settings: train.Settings{Retries: 1}, ci: fakeforge.CI{Manual: true}})
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a, b)
	flaked := false
	finishAll(t, e, func(p fakeforge.Pipeline) string {
		if p.Ref == "trainyard/main/1" && !flaked {
			flaked = true
			return "failed"
		}
		return "success"
	})
	if !flaked {
		t.Fatal("no pipeline flaked: the test tested nothing")
	}
	e.requireMerged(a, b)
	e.checkTestedHistory()
}

func TestAPIFaultsChangeNothing(t *testing.T) {
	t.Parallel()
	final := func(faults fakeforge.Faults) (string, []int64) {
		e := newEnv(t, envOptions{faults: faults})
		var mrs []int64
		for i := 1; i <= 5; i++ {
			var extra map[string]string
			if i == 3 {
				extra = map[string]string{"BROKEN": "x"}
			}
			mrs = append(mrs, e.mr(i, extra))
		}
		e.addAll(mrs...)
		for {
			err := e.eng.RunUntilIdle(e.ctx, e.key, 15*time.Millisecond)
			if err == nil {
				break
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			// A call that exhausted its retries: the train resumes from
			// its outbox on the next run, as a later sweep would.
		}
		var merged []int64
		for _, mr := range mrs {
			if e.mrState(mr).State == "merged" {
				merged = append(merged, mr)
			}
		}
		e.checkTestedHistory()
		if faults.ServerErrorRate > 0 && e.ff.FaultCounts()["500"]+e.ff.FaultCounts()["429"] == 0 {
			t.Fatalf("no fault was injected: %v", e.ff.FaultCounts())
		}
		return e.git("rev-parse", "main^{tree}"), merged
	}
	cleanTree, cleanMerged := final(fakeforge.Faults{})
	faultyTree, faultyMerged := final(fakeforge.Faults{ServerErrorRate: 0.05, RateLimitRate: 0.05})
	if !slices.Equal(cleanMerged, []int64{1, 2, 4, 5}) || !slices.Equal(faultyMerged, cleanMerged) {
		t.Fatalf("merged %v with faults, %v without, want [1 2 4 5]", faultyMerged, cleanMerged)
	}
	if faultyTree != cleanTree {
		t.Fatalf("main's tree %s with faults, %s without", faultyTree, cleanTree)
	}
}

func TestLinearMethods(t *testing.T) {
	t.Parallel()
	for _, method := range []train.Method{train.MethodSquash, train.MethodRebase} {
		t.Run(string(method), func(t *testing.T) {
			e := newEnv(t, envOptions{settings: train.Settings{Method: method}})
			var mrs []int64
			for i := 1; i <= 4; i++ {
				mrs = append(mrs, e.mr(i, nil))
			}
			e.addAll(mrs...)
			e.run()
			e.requireIdle()
			history := e.checkTestedHistory()
			if merges := e.git("rev-list", "--merges", e.base+"..main"); merges != "" {
				t.Fatalf("merge commits on main: %s", merges)
			}
			if len(history) != 4 {
				t.Fatalf("main gained %d commits, want 4", len(history))
			}
			tree := e.git("ls-tree", "-r", "--name-only", "main")
			for i := 1; i <= 4; i++ {
				if !strings.Contains(tree, fmt.Sprintf("mr-%d.txt", i)) {
					t.Errorf("main lacks mr-%d.txt", i)
				}
			}
			for _, mr := range mrs {
				e.requireNote(mr, "Merged into `main`")
				// When its own commits are not on main GitLab cannot see it
				// merged, and the train closes it; a rebase that replayed
				// nothing (the first car) leaves the MR's commits on main.
				if s := e.mrState(mr).State; s != "closed" && (s != "merged" || method != train.MethodRebase) {
					t.Errorf("!%d is %s after a %s merge, want closed", mr, s, method)
				}
			}
		})
	}
}

func TestBadRequestsAreRefusedWithANote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	good := e.mr(1, nil)
	draft, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{Source: "wip", Title: "Draft: wip", Author: "alice", Draft: true,
		Commits: []fakeforge.Commit{{Message: "wip", Files: map[string]string{"wip.txt": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ff.PushBranch(e.ctx, project, "develop", "alice"); err != nil {
		t.Fatal(err)
	}
	other, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{Source: "feat-dev", Target: "develop", Title: "For develop", Author: "alice",
		Commits: []fakeforge.Commit{{Message: "dev", Files: map[string]string{"dev.txt": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// Branches in the car branches' namespace, as source and as target.
	carSource, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{Source: "trainyard/main/77", Title: "Sneaky", Author: "alice",
		Commits: []fakeforge.Commit{{Message: "car-like", Files: map[string]string{"car.txt": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ff.PushBranch(e.ctx, project, "trainyard/main/78", "alice"); err != nil {
		t.Fatal(err)
	}
	carTarget, err := e.ff.CreateMR(e.ctx, project, fakeforge.MRSpec{Source: "into-car", Target: "trainyard/main/78", Title: "Into a car", Author: "alice",
		Commits: []fakeforge.Commit{{Message: "into", Files: map[string]string{"into.txt": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}

	if err := e.add(good, "alice"); err != nil {
		t.Fatal(err)
	}
	before, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		do   func() error
		mr   int64
		note string
	}{
		{"reporter", func() error { return e.add(good, "rita") }, good,
			"Using the merge train needs developer access or higher to group/app."},
		{"draft", func() error { return e.add(draft.IID, "alice") }, draft.IID,
			"This merge request is a draft; mark it as ready before adding it to the merge train."},
		{"other branch", func() error {
			u := e.users["alice"]
			return e.eng.Add(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: other.IID, Branch: "main",
				UserID: u.ID, Username: u.Username, Event: "other"})
		}, other.IID, "This merge request targets `develop`, not `main`."},
		{"source branch among the cars", func() error { return e.add(carSource.IID, "alice") }, carSource.IID,
			"This merge request's source branch `trainyard/main/77` is under `trainyard/`, where Trainyard keeps its car branches; push it under another name."},
		{"target branch among the cars", func() error { return e.add(carTarget.IID, "alice") }, carTarget.IID,
			"This merge request targets `trainyard/main/78`, one of Trainyard's car branches; merge trains run only on other branches."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if !errors.Is(err, engine.ErrRefused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			e.requireNote(c.mr, c.note)
		})
	}
	t.Run("already on the train", func(t *testing.T) {
		u := e.users["alice"]
		if err := e.eng.Add(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: good, UserID: u.ID, Username: u.Username, Event: "again"}); err != nil {
			t.Fatal(err)
		}
		e.requireNote(good, "This merge request is already on the merge train for `main`, at position 1.")
	})
	t.Run("unknown MR", func(t *testing.T) {
		if err := e.add(999, "alice"); !errors.Is(err, forge.ErrNotFound) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	t.Run("unknown project", func(t *testing.T) {
		u := e.users["alice"]
		err := e.eng.Add(e.ctx, engine.Request{Forge: "gitlab", Project: "nope/nothing", MR: 1, UserID: u.ID, Username: u.Username})
		if !errors.Is(err, forge.ErrNotFound) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	after, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Cars) != 1 || after.Cars[0].MR != good || after.Cars[0].State != before.Cars[0].State {
		t.Fatalf("train changed beyond the one repeated add: before %+v after %+v", before.Cars, after.Cars)
	}
	if dev, err := e.eng.Train(e.ctx, train.Key{Forge: "gitlab", Project: project, Branch: "develop"}); err != nil || len(dev.Cars) != 0 {
		t.Fatalf("develop train: %+v %v", dev, err)
	}
}

// A pass whose train has other work waiting ends after the action at
// hand, with the rest of its outbox saved for the next pass, so that a
// pipeline's result is not kept waiting behind the builds of a whole
// train.
func TestPassYieldsToWaitingWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, settings: train.Settings{BatchSize: 1, MaxParallel: 4}})
	prs := []int64{e.mr(1, nil), e.mr(2, nil), e.mr(3, nil)}
	if err := e.add(prs[0], "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Pause(e.ctx, e.key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	e.addAll(prs[1:]...)
	built := func() (n int, outbox int) {
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tr.Cars {
			if c.Commit != "" {
				n++
			}
		}
		return n, len(tr.Outbox)
	}
	waiting := engine.WithOthersWaiting(e.ctx, func() bool { return true })
	next, err := e.eng.Pass(waiting, engine.Job{Key: e.key, Obs: []train.Observation{train.Resumed{By: "alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].Key != e.key {
		t.Fatalf("a pass that yielded returned %+v, want one job for its train, to carry out the rest", next)
	}
	if n, outbox := built(); n == len(prs) || outbox == 0 {
		t.Fatalf("after a pass with work waiting: %d cars built, %d actions left; want some left to build", n, outbox)
	}
	if next, err := e.eng.Pass(e.ctx, next[0]); err != nil || len(next) != 0 {
		t.Fatalf("the job that carries out the rest: %+v, %v", next, err)
	}
	if n, outbox := built(); n != len(prs) || outbox != 0 {
		t.Fatalf("after a pass with nothing waiting: %d cars built, %d actions left; want all %d and none", n, outbox, len(prs))
	}
}

// Replicas share the access levels they read: a command another replica
// checked within the minute costs no read of the user's role.
func TestAccessLevelsAreSharedByReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	members := func() int {
		n := 0
		for route, c := range e.ff.Calls() {
			if strings.Contains(route, "/members/") {
				n += c
			}
		}
		return n
	}
	if err := e.add(e.mr(1, nil), "alice"); err != nil {
		t.Fatal(err)
	}
	if n := members(); n != 1 {
		t.Fatalf("the first command read the role %d times, want once", n)
	}
	other := e.replica("other", train.Settings{})
	u := e.users["alice"]
	if err := other.Add(e.ctx, engine.Request{Forge: "gitlab", Project: project, MR: e.mr(2, nil), UserID: u.ID, Username: u.Username, Event: "add-2-other"}); err != nil {
		t.Fatal(err)
	}
	if n := members(); n != 1 {
		t.Fatalf("the other replica read the role again (%d reads in all), want the shared level", n)
	}
	if got := e.mrState(2); !strings.Contains(strings.Join(e.notesOf(2), "\n"), "Added to the merge train") {
		t.Fatalf("!2 (%s) was not added: %q", got.State, e.notesOf(2))
	}
}

// A pipeline's result is urgent work when a car waits for it, so that it
// goes ahead of builds and sweeps; a result nobody waits for is not, but
// says what it brings, to be checked again once the pass that may be
// building its car ends.
func TestResultsACarWaitsForAreUrgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	if err := e.add(e.mr(1, nil), "alice"); err != nil {
		t.Fatal(err)
	}
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil || len(tr.Cars) != 1 || tr.Cars[0].State != train.StateRunning {
		t.Fatalf("train %+v, %v; want one car running", tr, err)
	}
	c := tr.Cars[0]
	for _, tc := range []struct {
		name   string
		sha    string
		status train.PipelineState
		want   bool
	}{
		{"its result", c.Commit, train.PipelineSuccess, true},
		{"its failure", c.Commit, train.PipelineFailed, true},
		{"still running", c.Commit, train.PipelineRunning, false},
		{"another commit", strings.Repeat("ab", 20), train.PipelineSuccess, false},
	} {
		jobs, err := e.eng.Jobs(e.ctx, event.Event{Kind: event.KindPipeline, Forge: "gitlab", Project: project,
			Ref: "trainyard/main/1", Pipeline: c.Pipeline, SHA: tc.sha, Status: tc.status})
		if err != nil || len(jobs) != 1 || jobs[0].Key != e.key {
			t.Fatalf("%s: jobs %+v, %v", tc.name, jobs, err)
		}
		if jobs[0].Urgent() != tc.want {
			t.Errorf("%s: urgent %v, want %v", tc.name, jobs[0].Urgent(), tc.want)
		}
		var results []string
		if tc.status.Done() {
			results = []string{tc.sha}
		}
		if got := jobs[0].Results(); !slices.Equal(got, results) {
			t.Errorf("%s: results %q, want %q", tc.name, got, results)
		}
	}
}

// GitLab starts a car's pipeline on its push, so an instant pipeline's
// result can be read on another replica before the pass pushing the car
// has saved it: not urgent yet. That replica never tried the lease, yet
// must hear the pass end to look at the result again (Workers.leaseFreed):
// reading the result marks the held lease awaited.
func TestAResultReadBeforeItsCarIsSavedHearsThePassEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	freed := make(chan train.Key, 16)
	go e.st.WatchLeases(ctx, func(k train.Key) { freed <- k }, nil)
	// The watcher hears a probe's awaited release once it is subscribed.
	probe := train.Key{Forge: "gitlab", Project: project, Branch: "probe"}
	for heard := false; !heard; {
		if ok, err := e.st.AcquireLease(ctx, probe, "p", time.Minute); err != nil || !ok {
			t.Fatalf("take the probe's lease: %v, %v", ok, err)
		}
		if _, err := e.st.AwaitLease(ctx, probe, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := e.st.ReleaseLease(ctx, probe, "p"); err != nil {
			t.Fatal(err)
		}
		select {
		case k := <-freed:
			heard = k == probe
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the watcher never subscribed")
		}
	}
	if ok, err := e.st.AcquireLease(ctx, e.key, "the pass pushing the car", time.Minute); err != nil || !ok {
		t.Fatalf("take the lease: %v, %v", ok, err)
	}
	sha := strings.Repeat("c0", 20)
	jobs, err := e.eng.Jobs(ctx, event.Event{Kind: event.KindPipeline, Forge: "gitlab", Project: project,
		Ref: "trainyard/main/1", Pipeline: 7, SHA: sha, Status: train.PipelineSuccess})
	if err != nil || len(jobs) != 1 || jobs[0].Urgent() || !slices.Equal(jobs[0].Results(), []string{sha}) {
		t.Fatalf("jobs %+v, %v; want one, not urgent yet, bringing the result", jobs, err)
	}
	if err := e.st.ReleaseLease(ctx, e.key, "the pass pushing the car"); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case k := <-freed:
			if k == e.key {
				return
			}
		case <-timeout:
			t.Fatal("the end of the pass was not announced")
		}
	}
}

// A note the forge refuses for good (GitLab takes at most a million
// characters) is dropped: it must not hold the train's outbox forever.
func TestARefusedNoteDoesNotHoldTheTrain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	a := e.mr(1, nil)
	e.addAll(a)
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	tr.Outbox = append(tr.Outbox, train.Comment{MR: a, Key: "too-long", Body: train.Words(strings.Repeat("x", 1_000_001))})
	if _, err := e.st.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.eng.RunUntilIdle(ctx, e.key, 15*time.Millisecond); err != nil {
		t.Fatalf("run: %v", err)
	}
	e.requireMerged(a)
	for _, n := range e.notesOf(a) {
		if strings.HasPrefix(n, "xxx") {
			t.Fatal("the refused note was posted")
		}
	}
}
