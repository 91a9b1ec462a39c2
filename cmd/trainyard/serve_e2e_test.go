package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// These tests run `trainyard serve` as separate processes against a real
// redis-server and the fake forge, which sends real webhooks over HTTP.

const (
	e2eProject = "group/app"
	e2eToken   = "serve-bot-token"
	e2eSecret  = "serve-webhook-secret"
)

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "trainyard-e2e-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "trainyard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type rig struct {
	t       *testing.T
	ctx     context.Context
	ff      *fakeforge.Forge
	ffDir   string
	redis   string
	prefix  string
	users   map[string]fakeforge.User
	base    string
	mu      sync.Mutex
	servers []*serveProc
	// forges is the configuration's forge sections and projects, env
	// the credentials serve gets, forge the forge of the train at
	// e2eProject.
	forges string
	env    []string
	forge  string
	// sweep is the sweep interval; a long one leaves the train to the
	// webhooks alone.
	sweep string
}

type serveProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedWriter
	done   chan error
}

func newRig(t *testing.T, ci fakeforge.CI) *rig {
	t.Helper()
	r := newForgeRig(t, fakeforge.Options{CI: ci})
	r.forges = fmt.Sprintf("gitlab: {url: %q}\nprojects:\n  - {forge: gitlab, path: %s, branches: [main]}", r.ff.URL(), e2eProject)
	r.env = []string{"TRAINYARD_GITLAB_TOKEN=" + e2eToken, "TRAINYARD_GITLAB_WEBHOOK_SECRET=" + e2eSecret}
	return r
}

// newForgeRig is the fake forge with e2eProject, alice (developer) and
// rita (reporter), and a Redis; the caller says what serve runs.
func newForgeRig(t *testing.T, opts fakeforge.Options) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	if opts.CI.Duration == 0 && !opts.CI.Manual {
		opts.CI.Duration = 100 * time.Millisecond
	}
	r := &rig{t: t, ctx: ctx, ffDir: t.TempDir(), redis: redistest.URL(t), prefix: redistest.Prefix(t), users: map[string]fakeforge.User{},
		forge: "gitlab", sweep: "500ms"}
	opts.Dir, opts.Tokens, opts.Seed = r.ffDir, map[string]string{e2eToken: "trainyard-bot"}, 11
	ff, err := fakeforge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ff.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ff.Close() })
	r.ff = ff
	if _, err := ff.CreateProject(ctx, e2eProject, map[string]string{"README.md": "# app\n"}); err != nil {
		t.Fatal(err)
	}
	for name, level := range map[string]int{"alice": 30, "rita": 20} {
		r.users[name] = ff.AddUser(name)
		if err := ff.SetAccess(e2eProject, name, level); err != nil {
			t.Fatal(err)
		}
	}
	r.base = r.head()
	t.Cleanup(r.stopAll)
	return r
}

func logLevel() string {
	if l := os.Getenv("E2E_LOG_LEVEL"); l != "" {
		return l
	}
	return "info"
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// config writes a config file for one serve process listening on addr.
func (r *rig) config(addr string, extra string) string {
	r.t.Helper()
	data := fmt.Sprintf(`listen: %q
data_dir: %q
log: {level: %s, format: json}
redis: {url: %q, prefix: %q}
workers: 2
sweep_interval: %s
lease_ttl: 5s
claim_idle: 2s
action_timeout: 20s
train: {max_parallel: 20}
%s
%s`, addr, r.t.TempDir(), logLevel(), r.redis, r.prefix, r.sweep, r.forges, extra)
	path := filepath.Join(r.t.TempDir(), "trainyard.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// serve starts a serve process and waits until it is ready.
func (r *rig) serve(addr string) *serveProc {
	r.t.Helper()
	cmd := exec.Command(binary(r.t), "serve", "--config", r.config(addr, ""))
	cmd.Env = append(os.Environ(), r.env...)
	p := &serveProc{cmd: cmd, addr: addr, stderr: &lockedWriter{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	r.mu.Lock()
	r.servers = append(r.servers, p)
	r.mu.Unlock()
	r.waitFor("serve to be ready", 30*time.Second, func() bool {
		select {
		case err := <-p.done:
			r.t.Fatalf("serve exited: %v\n%s", err, p.stderr)
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

func (r *rig) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.servers {
		if p.cmd.ProcessState == nil {
			if os.Getenv("E2E_LOGS") != "" && r.t.Failed() {
				_ = p.cmd.Process.Signal(syscall.SIGQUIT)
				time.Sleep(500 * time.Millisecond)
			}
			_ = p.cmd.Process.Kill()
		}
	}
	if dir := os.Getenv("E2E_LOGS"); dir != "" && r.t.Failed() {
		if f, err := os.Create(filepath.Join(dir, "test-goroutines.txt")); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
		}
		for i, p := range r.servers {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.log", r.t.Name(), p.addr, i)), []byte(p.stderr.String()), 0o644)
		}
	}
	if !r.t.Failed() {
		return
	}
	for _, p := range r.servers {
		r.t.Logf("serve %s stderr (tail):\n%s", p.addr, tail(p.stderr.String(), 3000))
	}
	for _, d := range r.ff.Deliveries() {
		if d.Err != "" || d.Dropped {
			r.t.Logf("delivery %d %s lost (dropped %v): %s", d.ID, d.Event, d.Dropped, d.Err)
		}
	}
	if runs, err := r.ff.WorkflowRuns(e2eProject, ""); err == nil {
		for _, w := range runs {
			r.t.Logf("workflow run %d on %s at %.8s: %s %s", w.ID, w.Branch, w.SHA, w.Status, w.Conclusion)
		}
	}
	if mrs, err := r.ff.MRs(e2eProject); err == nil {
		for _, m := range mrs {
			notes, _ := r.ff.Notes(e2eProject, m.IID)
			r.t.Logf("!%d %s: %d notes", m.IID, m.State, len(notes))
			for _, n := range notes {
				r.t.Logf("    %s", tail(n.Body, 300))
			}
		}
	}
	opts, err := redis.ParseURL(r.redis)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	for _, k := range rdb.Keys(context.Background(), "*lease*").Val() {
		r.t.Logf("lease %s = %q ttl %s", k, rdb.Get(context.Background(), k).Val(), rdb.PTTL(context.Background(), k).Val())
	}
	st := store.New(rdb, store.Options{Prefix: r.prefix})
	if tr, err := st.Load(context.Background(), train.Key{Forge: r.forge, Project: e2eProject, Branch: "main"}); err == nil {
		r.t.Logf("train: pending %+v, head %.12s, outbox %d", tr.Pending, tr.TargetHead, len(tr.Outbox))
		for _, c := range tr.Cars {
			r.t.Logf("  !%d %s base %.8s commit %.8s pipeline %d", c.MR, c.State, c.Base, c.Commit, c.Pipeline)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// lockedWriter collects a process's stderr while the test reads it.
type lockedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (r *rig) hookTo(addr string, drop float64) {
	w := fakeforge.Webhook{URL: "http://" + addr + "/webhooks/gitlab", Secret: e2eSecret, DropRate: drop}
	if drop > 0 {
		// At least one is lost, so that requireDropped holds whatever
		// the draws.
		w.DropFirst = 1
	}
	r.ff.SetWebhook(w)
}

// requireDropped fails the test unless the forge lost a delivery: a test
// of lost webhooks that lost none tested nothing.
func (r *rig) requireDropped() {
	r.t.Helper()
	for _, d := range r.ff.Deliveries() {
		if d.Dropped {
			return
		}
	}
	r.t.Fatal("no webhook was dropped: the test tested nothing")
}

func (r *rig) waitFor(what string, limit time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || r.ctx.Err() != nil {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) head() string {
	r.t.Helper()
	h, err := r.ff.BranchHead(r.ctx, e2eProject, "main")
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

func (r *rig) openMR(n int, broken bool) int64 {
	r.t.Helper()
	files := map[string]string{fmt.Sprintf("mr-%d.txt", n): fmt.Sprintf("change %d\n", n)}
	if broken {
		files[fmt.Sprintf("mr-%d/BROKEN", n)] = "fails\n"
	}
	m, err := r.ff.CreateMR(r.ctx, e2eProject, fakeforge.MRSpec{Source: fmt.Sprintf("feature-%d", n),
		Title: fmt.Sprintf("Change %d", n), Author: "alice", Commits: []fakeforge.Commit{{Message: "change", Files: files}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return m.IID
}

func (r *rig) note(mr int64, user, body string) {
	r.t.Helper()
	if _, err := r.ff.AddNote(r.ctx, e2eProject, mr, user, body); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) state(mr int64) string {
	m, err := r.ff.MR(e2eProject, mr)
	if err != nil {
		r.t.Fatal(err)
	}
	return m.State
}

func (r *rig) hasNote(mr int64, want string) bool {
	return r.countNotes(mr, want) > 0
}

// evictionNotes counts the notes that tell an MR it left the train: the
// eviction's own note, not the status comment, which tells it too.
func (r *rig) evictionNotes(mr int64) int {
	notes, err := r.ff.Notes(e2eProject, mr)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, x := range notes {
		if strings.HasPrefix(x.Body, "Removed from the merge train") {
			n++
		}
	}
	return n
}

func (r *rig) countNotes(mr int64, want string) int {
	notes, err := r.ff.Notes(e2eProject, mr)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, x := range notes {
		if strings.Contains(x.Body, want) {
			n++
		}
	}
	return n
}

// settled reports whether every MR is merged and told so, or has been told
// it left. The forge marks an MR merged as soon as the target moves, a
// moment before the train tells it.
func (r *rig) settled(merge, evict []int64) bool {
	for _, mr := range merge {
		if r.state(mr) != "merged" || !r.hasNote(mr, "Merged into `main`") {
			return false
		}
	}
	for _, mr := range evict {
		if !r.hasNote(mr, "Removed from the merge train") {
			return false
		}
	}
	return true
}

func (r *rig) git(args ...string) string {
	r.t.Helper()
	return r.gitIn(e2eProject, args...)
}

// checkPipelines checks the one rule and no double work: main's head
// passed as that exact commit, every commit on main's new first-parent
// history passed or was merged by a later commit that did, and no commit
// had two pipelines that were not failures or cancellations.
func (r *rig) checkPipelines() {
	r.t.Helper()
	var ps []fakeforge.Pipeline
	r.waitFor("pipelines to finish", time.Minute, func() bool {
		var err error
		ps, err = r.ff.Pipelines(e2eProject)
		if err != nil {
			r.t.Fatal(err)
		}
		return !slices.ContainsFunc(ps, func(p fakeforge.Pipeline) bool {
			return p.Status == "created" || p.Status == "pending" || p.Status == "running"
		})
	})
	passed, live := map[string]bool{}, map[string]int{}
	for _, p := range ps {
		if p.Status == "success" {
			passed[p.SHA] = true
		}
		if p.Status != "failed" && p.Status != "canceled" {
			live[p.SHA]++
		}
	}
	for sha, n := range live {
		if n > 1 {
			r.t.Errorf("commit %.12s had %d pipelines that were not failures", sha, n)
			for _, p := range ps {
				if p.SHA == sha {
					r.t.Logf("  pipeline #%d on %s: %s, source %s, created %s, variables %v",
						p.ID, p.Ref, p.Status, p.Source, p.CreatedAt.Format("15:04:05.000"), p.Variables)
				}
			}
		}
	}
	out := r.git("rev-list", "--first-parent", "--reverse", r.base+"..main")
	history := strings.Fields(out)
	for i, c := range history {
		if !passed[c] && !slices.ContainsFunc(history[i+1:], func(d string) bool { return passed[d] }) {
			r.t.Errorf("commit %.12s on main was never tested", c)
		}
	}
	if len(history) > 0 && !passed[history[len(history)-1]] {
		r.t.Errorf("main's head was not tested as that exact commit")
	}
}

func TestServeRunsTrainsFromComments(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)

	var good, reporter, typo []int64
	for i := 1; i <= 20; i++ {
		mr := r.openMR(i, false)
		switch {
		case i%7 == 3:
			reporter = append(reporter, mr)
			r.note(mr, "rita", "/train add")
		case i%7 == 5:
			typo = append(typo, mr)
			r.note(mr, "alice", "Ready.\n\n/train ad")
		default:
			good = append(good, mr)
			r.note(mr, "alice", "LGTM\n\n/train add")
		}
	}
	r.waitFor("the good MRs to merge and the others to be answered", 2*time.Minute, func() bool {
		if !r.settled(good, nil) {
			return false
		}
		for _, mr := range reporter {
			if !r.hasNote(mr, "Using the merge train needs developer access or higher to group/app.") {
				return false
			}
		}
		for _, mr := range typo {
			if !r.hasNote(mr, "Unknown command `/train ad`.") {
				return false
			}
		}
		return true
	})
	for _, mr := range append(reporter, typo...) {
		if s := r.state(mr); s != "opened" {
			t.Errorf("!%d is %s, want opened", mr, s)
		}
	}
	for _, mr := range good {
		if n := r.countNotes(mr, "Added to the merge train for `main`"); n != 1 {
			t.Errorf("!%d got %d 'added' notes, want 1", mr, n)
		}
	}
	r.checkPipelines()
	// Each car's push started its pipeline, with the train's variables;
	// none was created through the API.
	ps, err := r.ff.Pipelines(e2eProject)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if strings.HasPrefix(p.Ref, "trainyard/") && (p.Source != "push" || p.Status != "success" || p.Variables["TRAINYARD"] != "true" || p.Variables["TRAINYARD_TARGET_BRANCH"] != "main") {
			t.Errorf("car pipeline %d on %s: source %s, status %s, variables %v; want started by the push with the train's variables, and passed", p.ID, p.Ref, p.Source, p.Status, p.Variables)
		}
	}
	if n := r.ff.Calls()["POST /projects/{id}/pipeline"]; n != 0 {
		t.Errorf("%d pipelines created through the API, want none", n)
	}
	// The merge is counted when its record is written, which follows the
	// note the wait above saw.
	want := fmt.Sprintf("trainyard_merged_total{train=\"gitlab:%s:main\"} %d", e2eProject, len(good))
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if metrics = httpGet(t, "http://"+addr+"/metrics"); strings.Contains(metrics, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q; it has %q", want, grepLines(metrics, "trainyard_merged_total"))
		}
	}
	if trains := httpGet(t, "http://"+addr+"/api/v1/trains"); !strings.Contains(trains, `"project":"group/app"`) {
		t.Errorf("/api/v1/trains = %s", trains)
	}
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b.String())
	}
	return b.String()
}

func TestServeHandlesARepeatedDeliveryOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Manual: true})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	mr := r.openMR(1, false)
	r.note(mr, "alice", "/train status")
	r.waitFor("the status reply", 30*time.Second, func() bool { return r.hasNote(mr, "not on the merge train") })
	var id int64
	for _, d := range r.ff.Deliveries() {
		if d.Event == "Note Hook" && bytes.Contains(d.Body, []byte("/train status")) {
			id = d.ID
		}
	}
	if id == 0 {
		t.Fatal("no delivery of the note")
	}
	// Send it again, then a fresh command, so that once the fresh one is
	// answered the replay has surely been handled too.
	if _, err := r.ff.Replay(id); err != nil {
		t.Fatal(err)
	}
	r.note(mr, "alice", "/train help")
	r.waitFor("the help reply", 30*time.Second, func() bool { return r.hasNote(mr, "Usage:") })
	if n := r.countNotes(mr, "not on the merge train"); n != 1 {
		t.Fatalf("%d replies to one status command, want 1", n)
	}
}

func TestServeFinishesWhenWebhooksAreLost(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	r.serve(addr)
	var mrs []int64
	for i := 1; i <= 8; i++ {
		mrs = append(mrs, r.openMR(i, i == 5))
	}
	// The commands get through; from here on one webhook in five is lost.
	r.hookTo(addr, 0.2)
	for _, mr := range mrs {
		r.note(mr, "alice", "/train add")
	}
	// A lost command is lost for good: send again what was dropped.
	r.waitFor("every MR to be added", time.Minute, func() bool {
		missing := false
		for _, mr := range mrs {
			if !r.hasNote(mr, "merge train for `main`") {
				missing = true
			}
		}
		if missing {
			for _, d := range r.ff.Deliveries() {
				if d.Dropped && d.Event == "Note Hook" {
					_, _ = r.ff.Replay(d.ID)
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
		return !missing
	})
	good := slices.DeleteFunc(slices.Clone(mrs), func(m int64) bool { return m == mrs[4] })
	r.waitFor("the train to finish through the sweep", 2*time.Minute, func() bool { return r.settled(good, []int64{mrs[4]}) })
	r.requireDropped()
	r.checkPipelines()
}

// TestServeSurvivesKills kills serve with SIGKILL at random moments of a
// 30-MR run and restarts it, each time with an empty data directory as a
// rescheduled pod would have. The outcome must be the one a calm run
// gives, which the inputs decide: every good MR merged and told so once,
// every broken one evicted and told so once, main holding exactly the
// good MRs' files, and no commit tested twice.
func TestServeSurvivesKills(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Duration: 300 * time.Millisecond})
	addr := freeAddr(t)
	r.hookTo(addr, 0)
	p := r.serve(addr)
	var good, broken []int64
	want := []string{"README.md"}
	for i := 1; i <= 30; i++ {
		mr := r.openMR(i, i%10 == 4)
		if i%10 == 4 {
			broken = append(broken, mr)
		} else {
			good = append(good, mr)
			want = append(want, fmt.Sprintf("mr-%d.txt", i))
		}
	}
	for _, mr := range append(slices.Clone(good), broken...) {
		r.note(mr, "alice", "/train add")
	}
	rng := rand.New(rand.NewPCG(5, 1))
	for k := 0; k < 5; k++ {
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		p = r.serve(addr)
	}
	r.waitFor("the train to finish", 4*time.Minute, func() bool { return r.settled(good, broken) })
	for _, mr := range good {
		if n := r.countNotes(mr, "Merged into `main`"); n != 1 {
			t.Errorf("!%d was told it merged %d times", mr, n)
		}
	}
	for _, mr := range broken {
		if s := r.state(mr); s != "opened" {
			t.Errorf("broken !%d is %s", mr, s)
		}
		if n := r.evictionNotes(mr); n != 1 {
			t.Errorf("broken !%d was told it left %d times", mr, n)
		}
	}
	slices.Sort(want)
	if got := strings.Fields(r.git("ls-tree", "--name-only", "main")); !slices.Equal(got, want) {
		t.Errorf("main holds %v, want %v", got, want)
	}
	r.checkPipelines()
}

func TestTwoReplicasShareTheWork(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{})
	a, b := freeAddr(t), freeAddr(t)
	pa := r.serve(a)
	pb := r.serve(b)
	r.hookTo(a, 0)
	var mrs []int64
	for i := 1; i <= 12; i++ {
		mrs = append(mrs, r.openMR(i, false))
	}
	for i, mr := range mrs {
		if i == 6 {
			r.hookTo(b, 0) // half the events arrive at each replica
		}
		r.note(mr, "alice", "/train add")
	}
	r.waitFor("every MR to merge", 2*time.Minute, func() bool { return r.settled(mrs, nil) })
	r.checkPipelines()
	for _, p := range []*serveProc{pa, pb} {
		if s := p.stderr.String(); strings.Contains(s, "version conflict") || strings.Contains(s, "conflict: train") {
			t.Errorf("replica %s saw a concurrent write to a train:\n%s", p.addr, tail(s, 2000))
		}
	}
}

func TestServeDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Manual: true})
	addr := freeAddr(t)
	p := r.serve(addr)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM, want 0\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still listening after exit")
	}
}

func TestServeRefusesABadConfig(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := fmt.Sprintf("listen: %q\ntrain: {max_parallel: 0, method: zip}\nprojects:\n  - {forge: gitea, path: a/b}\n", addr)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "serve", "--config", path)
	cmd.Env = append(os.Environ(), "TRAINYARD_GITLAB_TOKEN=", "TRAINYARD_GITLAB_WEBHOOK_SECRET=")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("serve with a bad config: %v, want a non-zero exit\n%s", err, out)
	}
	for _, want := range []string{"train.max_parallel", "train.method", "projects[0].forge"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output does not name %s:\n%s", want, out)
		}
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("something listens on the configured address")
	}
}

// With Redis down at start, serve answers on its port, says it is not
// ready, and go-redis's own complaints reach its structured log, not
// stderr as plain text: every line serve writes is a JSON entry.
func TestServeLogsRedisTroubleInItsOwnFormat(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeforge.CI{Manual: true})
	r.redis = "redis://" + freeAddr(t) // nothing listens there
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "serve", "--config", r.config(addr, ""))
	cmd.Env = append(os.Environ(), r.env...)
	p := &serveProc{cmd: cmd, addr: addr, stderr: &lockedWriter{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	r.mu.Lock()
	r.servers = append(r.servers, p)
	r.mu.Unlock()

	r.waitFor("not ready, and go-redis's dial failure logged", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d with Redis down, want 503", resp.StatusCode)
		}
		return strings.Contains(p.stderr.String(), "failed to dial")
	})
	var fromRedis int
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var entry struct {
			Level  string `json:"level"`
			Logger string `json:"logger"`
			Msg    string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("serve wrote a line that is not a JSON log entry: %q", line)
		}
		if strings.Contains(entry.Msg, "failed to dial") {
			fromRedis++
			if entry.Logger != "redis" || entry.Level != "warn" || strings.HasPrefix(entry.Msg, "redis:") {
				t.Errorf("go-redis's line logged as %+v, want level warn, logger redis, no prefix", entry)
			}
		}
	}
	if fromRedis == 0 {
		t.Fatalf("no go-redis dial failure in the log:\n%s", p.stderr)
	}
}
