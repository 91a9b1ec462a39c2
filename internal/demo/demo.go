// Package demo runs the whole merge train on one machine with nothing to
// set up: an embedded Redis, the fake GitLab (or GitHub) with a project and
// a handful of merge requests (some broken, some conflicting), simulated
// CI, real git and the real engine, and tells what happens as it happens.
package demo

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

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
	// Serve, when set, keeps the API up on this address after the train
	// has finished, until ctx ends.
	Serve string
	// Live redraws the train in place on a terminal instead of printing a
	// line per event.
	Live bool
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

// Run runs the demo and writes what happens to out.
func Run(ctx context.Context, o Options, out io.Writer) (Summary, error) {
	start := time.Now()
	if o.Timeout <= 0 {
		o.Timeout = Defaults().Timeout
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
	ff, err := fakeforge.New(k.forgeOptions(fakeforge.Options{
		Dir: dir, Tokens: map[string]string{botToken: "trainyard-bot"}, Seed: o.Seed,
		// The run's own pipelines.jsonl is written from the forge's log
		// with the fields the demo documents.
		CI: fakeforge.CI{Duration: o.CIDuration, FlakeRate: o.FlakeRate, LogPath: os.DevNull},
	}))
	if err != nil {
		return Summary{}, fmt.Errorf("demo: forge: %w", err)
	}
	if err := ff.Start(ctx); err != nil {
		return Summary{}, fmt.Errorf("demo: forge: %w", err)
	}
	defer ff.Close()

	specs := plan(o)
	key := train.Key{Forge: k.name, Project: project, Branch: "main"}
	w := newWriter(out, start, o.Live, k)
	titles := titlesOf(specs)
	secret, err := newSecret()
	if err != nil {
		return Summary{}, err
	}
	listen := o.Serve
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	sys, err := startSystem(ctx, systemConfig{listen: listen, dir: dir, forge: k.name, forgeURL: ff.URL(), token: botToken,
		secret: secret, checks: k.checks(), maxParallel: o.MaxParallel, retries: o.Retries,
		interval: 500 * time.Millisecond, rdb: rdb, trace: w.trace(titles)})
	if err != nil {
		return Summary{}, err
	}
	k.hookTo(ff, sys.addr.String(), secret)
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
	if o.Serve != "" {
		w.line("The API is up: trainyard train list --server http://%s (Ctrl-C to stop)", sys.addr)
		<-ctx.Done()
	}
	return s, sys.stop()
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
	ff.AddUser("dev")
	if err := ff.SetAccess(project, "dev", 30); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	var iids []int64
	for i, s := range specs {
		m, err := ff.CreateMR(ctx, project, fakeforge.MRSpec{Source: sourceBranch(i), Title: s.title, Author: "dev",
			Commits: []fakeforge.Commit{{Message: s.title, Files: s.files}}})
		if err != nil {
			return Summary{}, fmt.Errorf("demo: open MR %d: %w", i+1, err)
		}
		iids = append(iids, m.IID)
	}
	for _, iid := range iids {
		if _, err := ff.AddNote(ctx, project, iid, "dev", "/train add"); err != nil {
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

func titlesOf(specs []spec) map[int64]string {
	titles := map[int64]string{}
	for i, s := range specs {
		// The forge numbers a new project's MRs from 1 in creation order.
		titles[int64(i+1)] = s.title
	}
	return titles
}

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

func newSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		return "", fmt.Errorf("demo: webhook secret: %w", err)
	}
	return hex.EncodeToString(b), nil
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
