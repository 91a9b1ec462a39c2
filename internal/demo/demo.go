// Package demo runs the whole merge train on one machine with nothing to
// set up: an embedded Redis, the fake GitLab (or GitHub) with a project and
// a handful of merge requests (some broken, some conflicting), simulated
// CI, real git and the real engine, and tells what happens as it happens.
package demo

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Options shape a demo run.
type Options struct {
	// Forge is ForgeGitLab (the default) or ForgeGitHub: which side of
	// the fake forge, and which client, the train runs on.
	Forge        string
	MRs          int
	FailRate     float64 // fraction of MRs whose tests fail
	ConflictRate float64 // fraction of MRs that edit the same lines as an earlier one
	FlakeRate    float64 // fraction of passing pipelines that fail anyway
	Retries      int     // extra pipelines a failing car gets
	MaxParallel  int
	CIDuration   time.Duration
	Seed         uint64
	// Dir keeps the forge's repositories and the run's record
	// (pipelines.jsonl, mrs.json, summary.json); a temporary directory,
	// removed afterwards, when empty.
	Dir string
	// Serve keeps the whole system up after the train has finished, until
	// ctx ends: the service (webhooks, API and dashboard) and the fake
	// forge with its control API, to drive by hand.
	Serve bool
	// Listen is the service's address; a free loopback port when empty.
	Listen string
	// Token is the API token, at least 16 characters; a random one when
	// empty and Serve is set.
	Token string
	// Live redraws the train in place on a terminal instead of printing a
	// line per event.
	Live bool
	// Size tells the terminal's width and height for the live board;
	// 80×24 when nil or zero.
	Size func() (width, height int)
	// Timeout bounds the wait for every MR to leave the train.
	Timeout time.Duration
}

// Defaults: a seed whose draw shows one broken and one conflicting MR.
func Defaults() Options {
	return Options{Forge: ForgeGitLab, MRs: 8, FailRate: 0.15, ConflictRate: 0.15, MaxParallel: 4, CIDuration: 400 * time.Millisecond, Seed: 5,
		Timeout: 2 * time.Minute}
}

// Outcome is one MR's fate.
type Outcome struct {
	MR          int64
	Title       string
	Source      string
	HeadSHA     string
	Broken      bool
	Conflicting bool
	State       train.State
	Reason      train.Text
	// Commit and Pipeline are, for a merged MR, the commit the target moved
	// to and the pipeline that passed it.
	Commit   string
	Pipeline int64
}

// Summary is what a run ended with.
type Summary struct {
	MRs       []Outcome
	Merged    int
	Evicted   int
	Pipelines int
	// Initial is the target's head before the train ran, Head its head after.
	Initial string
	Head    string
	Elapsed time.Duration
}

const (
	project  = "demo/app"
	botToken = "demo-bot-token"
	// author opens the MRs and may use the train.
	author = "dev"
)

// spec is one MR to open.
type spec struct {
	title       string
	files       map[string]string
	broken      bool
	conflicting bool
}

// plan draws the MRs from the seed.
func plan(o Options) []spec {
	rng := rand.New(rand.NewPCG(o.Seed, 0xde70))
	var specs []spec
	for i := 1; i <= o.MRs; i++ {
		s := spec{title: fmt.Sprintf("Add feature %d", i), files: map[string]string{
			fmt.Sprintf("features/feature-%d.txt", i): fmt.Sprintf("feature %d\n", i),
		}}
		if rng.Float64() < o.FailRate {
			s.broken = true
			s.title = fmt.Sprintf("Add feature %d (its tests fail)", i)
			s.files[fmt.Sprintf("features/feature-%d/BROKEN", i)] = "a test that fails\n"
		}
		if conflict := rng.Float64() < o.ConflictRate; conflict && i > 1 && !s.broken {
			s.conflicting = true
			s.title = fmt.Sprintf("Add feature %d (edits the same line as others)", i)
			s.files["VERSION"] = fmt.Sprintf("1.%d\n", i)
			// The MR ahead that it clashes with edits the line too.
			specs[i-2].files["VERSION"] = fmt.Sprintf("1.%d-pre\n", i-1)
		}
		specs = append(specs, s)
	}
	return specs
}

// ErrAddressInUse: another program listens on Options.Listen.
var ErrAddressInUse = errors.New("the address is already in use")

// Run runs the demo and writes what happens to out. With Options.Serve it
// then keeps the system up until ctx ends.
func Run(ctx context.Context, o Options, out io.Writer) (Summary, error) {
	start := time.Now()
	if o.Timeout <= 0 {
		o.Timeout = Defaults().Timeout
	}
	tok, err := newTokens(o)
	if err != nil {
		return Summary{}, err
	}
	dir, cleanup, err := workDir(o.Dir)
	if err != nil {
		return Summary{}, err
	}
	defer cleanup()
	mr, err := miniredis.Run()
	if err != nil {
		return Summary{}, fmt.Errorf("demo: embedded redis: %w", err)
	}
	defer mr.Close()
	// miniredis leaves TTLs alone unless told to follow the clock, and the
	// service relies on its keys expiring as on a real Redis: the sweep's
	// catch-up of commands no webhook brought runs once per interval
	// (store.Once), and a lease or lock nobody released must lapse.
	// Without this the catch-up runs once, on the first pass (which only
	// sets its cursor), and a lost /train add is never picked up.
	mr.ClockTTL(true)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	st := store.New(rdb, store.Options{Prefix: "demo"})

	k, err := kitFor(o.Forge)
	if err != nil {
		return Summary{}, err
	}
	ff, err := startForge(ctx, o, k, dir, tok.control)
	if err != nil {
		return Summary{}, err
	}
	defer ff.Close()

	specs := plan(o)
	key := train.Key{Forge: k.name, Project: project, Branch: "main"}
	w := newWriter(out, start, o.Live, o.Size, k)
	listen := cmp.Or(o.Listen, "127.0.0.1:0")
	sys, err := startSystem(ctx, systemConfig{listen: listen, dir: dir, forge: k.name, forgeURL: ff.URL(), token: botToken,
		secret: tok.webhook, apiToken: tok.api, checks: k.checks(), maxParallel: o.MaxParallel, retries: o.Retries,
		interval: 500 * time.Millisecond, rdb: rdb, trace: w.trace()})
	if errors.Is(err, syscall.EADDRINUSE) {
		return Summary{}, fmt.Errorf("demo: listen on %s: %w", listen, ErrAddressInUse)
	}
	if err != nil {
		return Summary{}, err
	}
	k.hookTo(ff, sys.addr.String(), tok.webhook)
	stopBoard := w.startBoard(ctx, sys.app.Trains(), key)

	s, err := runTrain(ctx, o, k, w, ff, st, sys, key, specs)
	stopBoard()
	if err != nil {
		return Summary{}, errors.Join(err, sys.stop())
	}
	s.Elapsed = time.Since(start)
	if o.Dir != "" {
		if err := writeFiles(dir, s, k.pipelines(ff)); err != nil {
			return Summary{}, errors.Join(err, sys.stop())
		}
	}
	w.summary(s)
	if o.Serve {
		w.text(serving{Dashboard: "http://" + reachable(sys.addr), Token: tok.api, Forge: ff.URL(), ControlToken: tok.control,
			ForgeName: k.name, Project: project, Branch: key.Branch, Next: int64(len(specs)) + 1, Author: author}.lines()...)
		<-ctx.Done()
	}
	return s, sys.stop()
}

// tokens are the run's secrets: the webhooks', and, to drive the system
// by hand, the API's and the fake forge's control API's.
type tokens struct {
	webhook, api, control string
}

func newTokens(o Options) (tokens, error) {
	if o.Token != "" && len(o.Token) < config.MinSecretLen {
		return tokens{}, fmt.Errorf("demo: the API token must have at least %d characters", config.MinSecretLen)
	}
	t := tokens{webhook: crand.Text(), api: o.Token}
	if o.Serve {
		t.api = cmp.Or(t.api, crand.Text())
		t.control = crand.Text()
	}
	return t, nil
}

// startForge starts the fake forge, with its control API when control is
// set.
func startForge(ctx context.Context, o Options, k kit, dir, control string) (*fakeforge.Forge, error) {
	ff, err := fakeforge.New(k.forgeOptions(fakeforge.Options{
		Dir: dir, Tokens: map[string]string{botToken: "trainyard-bot"}, Seed: o.Seed,
		// The run's own pipelines.jsonl is written from the forge's log
		// with the fields the demo documents.
		CI: fakeforge.CI{Duration: o.CIDuration, FlakeRate: o.FlakeRate, LogPath: os.DevNull},
	}))
	if err != nil {
		return nil, fmt.Errorf("demo: forge: %w", err)
	}
	if control == "" {
		err = ff.Start(ctx)
	} else {
		err = ff.StartWithControl(ctx, control)
	}
	if err != nil {
		ff.Close()
		return nil, fmt.Errorf("demo: forge: %w", err)
	}
	return ff, nil
}

// reachable is addr as a client reaches it: a server listening on every
// address answers on loopback.
func reachable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// runTrain opens the MRs, puts them on the train with /train add comments
// and waits until every one has left it.
func runTrain(ctx context.Context, o Options, k kit, w *writer, ff *fakeforge.Forge, st *store.Store, sys *system,
	key train.Key, specs []spec) (Summary, error) {
	w.line("A merge train for %s on a local %s-compatible forge: %d merge requests, %d cars tested at once.", project, k.title(), len(specs), o.MaxParallel)
	if _, err := ff.CreateProject(ctx, project, map[string]string{"README.md": "# demo app\n", "VERSION": "1.0\n"}); err != nil {
		return Summary{}, fmt.Errorf("demo: project: %w", err)
	}
	initial, err := ff.BranchHead(ctx, project, "main")
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	ff.AddUser(author)
	if err := ff.SetAccess(project, author, 30); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	var iids []int64
	for i, s := range specs {
		m, err := ff.CreateMR(ctx, project, fakeforge.MRSpec{Source: sourceBranch(i), Title: s.title, Author: author,
			Commits: []fakeforge.Commit{{Message: s.title, Files: s.files}}})
		if err != nil {
			return Summary{}, fmt.Errorf("demo: open MR %d: %w", i+1, err)
		}
		iids = append(iids, m.IID)
	}
	for _, iid := range iids {
		if _, err := ff.AddNote(ctx, project, iid, author, "/train add"); err != nil {
			return Summary{}, fmt.Errorf("demo: add %s: %w", k.ref(iid), err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	last, err := waitDone(wctx, st, sys, key, iids)
	if err != nil {
		return Summary{}, err
	}
	settle(wctx, k, ff)
	s, err := summarize(ctx, ff, specs, iids, last)
	s.Initial = initial
	return s, err
}

func sourceBranch(i int) string { return fmt.Sprintf("feature-%d", i+1) }

// workDir returns dir, created if needed, or a temporary directory that
// cleanup removes.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", func() {}, fmt.Errorf("demo: create %s: %w", dir, err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", func() {}, fmt.Errorf("demo: %s: %w", dir, err)
		}
		return abs, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "trainyard-demo-")
	if err != nil {
		return "", func() {}, fmt.Errorf("demo: %w", err)
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// waitDone polls the train's history until every MR has left the train,
// and returns each MR's last car.
func waitDone(ctx context.Context, st *store.Store, sys *system, key train.Key, iids []int64) (map[int64]train.Car, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		last, err := lastCars(ctx, st, key, int64(len(iids))*4)
		if err != nil {
			return nil, err
		}
		if allLeft(last, iids) {
			return last, nil
		}
		if err := sys.failed(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("demo: wait for the train to finish: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func lastCars(ctx context.Context, st *store.Store, key train.Key, limit int64) (map[int64]train.Car, error) {
	hist, err := st.History(ctx, key, limit)
	if err != nil {
		return nil, fmt.Errorf("demo: history of %s: %w", key, err)
	}
	last := map[int64]train.Car{}
	for i := len(hist) - 1; i >= 0; i-- {
		last[hist[i].MR] = hist[i]
	}
	return last, nil
}

func allLeft(last map[int64]train.Car, iids []int64) bool {
	for _, iid := range iids {
		c, ok := last[iid]
		if !ok || (c.State != train.StateMerged && c.State != train.StateEvicted) {
			return false
		}
	}
	return true
}

// settle gives pipelines that were cancelled or are finishing a moment to
// end, so the pipeline log is complete.
func settle(ctx context.Context, k kit, ff *fakeforge.Forge) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil && k.running(ff) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
}

func summarize(ctx context.Context, ff *fakeforge.Forge, specs []spec, iids []int64, last map[int64]train.Car) (Summary, error) {
	var s Summary
	for i, iid := range iids {
		c := last[iid]
		o := Outcome{MR: iid, Title: specs[i].title, Source: sourceBranch(i), HeadSHA: c.HeadSHA,
			Broken: specs[i].broken, Conflicting: specs[i].conflicting, State: c.State}
		if c.Reason != nil {
			o.Reason, o.Commit, o.Pipeline = c.Reason.Why(), c.Reason.Commit, c.Reason.Pipeline
		}
		switch o.State {
		case train.StateMerged:
			s.Merged++
		case train.StateEvicted:
			s.Evicted++
		}
		s.MRs = append(s.MRs, o)
	}
	s.Pipelines = len(ff.PipelineLog())
	var err error
	if s.Head, err = ff.BranchHead(ctx, project, "main"); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	return s, nil
}
