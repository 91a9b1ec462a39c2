// Package loadtest runs the whole service at scale for the scale benchmark
// (internal/app/scale_bench_test.go): a real redis-server, the fake forge
// with instant (or manual) CI and real git, and one or more replicas of
// the service as trainyard serve builds it (internal/app), each with its
// own data_dir, git mirrors and owner, all on one Redis and one forge.
// The forge's webhooks reach the replicas through a round-robin forwarder,
// and the replicas reach the forge through a proxy that counts their
// requests.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/app"
	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/webhook"
)

const (
	botToken = "loadtest-bot-token"
	botUser  = "trainyard-bot"
	secret   = "loadtest-webhook-secret"
	dev      = "dev"
	target   = fakeforge.DefaultBranch
	// check is the one required check of the GitHub side's Actions.
	check = "ci/test"
)

// Options shape a run.
type Options struct {
	// Forge is "gitlab" or "github": which side of the fake forge, and
	// which client, the trains run on.
	Forge string
	// Replicas is how many instances of the service share the work.
	Replicas int
	// Trains is how many trains run at once, one project each; MRs how
	// many merge requests each train gets.
	Trains, MRs int
	// MaxParallel is train.max_parallel, BatchSize train.batch_size (the
	// service's default, 8, if 0).
	MaxParallel, BatchSize int
	// Broken is the fraction of MRs whose pipelines fail, drawn from Seed.
	Broken float64
	// Manual CI: pipelines run until the rig finishes them.
	Manual bool
	// SweepInterval is sweep_interval; Workers the workers of each
	// replica (serve's default, 4, if 0).
	SweepInterval time.Duration
	Workers       int
	Seed          uint64
	// LogPath, when set, is where the replicas log, at debug level, with
	// every observation and action of their engines: to see where the
	// time goes.
	LogPath string
}

// Rig is the service on the fake forge, with the trains' MRs open and
// not yet on their trains.
type Rig struct {
	tb       testing.TB
	o        Options
	ctx      context.Context
	ff       *fakeforge.Forge
	side     fakeforge.Side
	proxy    *forgeProxy
	fwd      *forwarder
	redisURL string
	prefix   string
	rdb      *redis.Client // the rig's own, not counted
	st       *store.Store
	mirrors  string // warmed mirrors every replica starts with
	replicas []*replica
	trains   []*trainSpec
	moves    moveLog
}

type trainSpec struct {
	key train.Key
	mrs []mrSpec
}

type mrSpec struct {
	iid    int64
	broken bool
}

type replica struct {
	redis  *redisCounter
	cancel context.CancelFunc
	done   chan error
}

// Start builds the rig: Redis, the forge with every project and MR, the
// replicas, listening, and the webhooks pointed at them. Everything stops
// when tb ends.
func Start(ctx context.Context, tb testing.TB, o Options) *Rig {
	tb.Helper()
	if o.Workers == 0 {
		o.Workers = 4
	}
	r := &Rig{tb: tb, o: o, ctx: ctx, redisURL: redistest.URL(tb), prefix: redistest.Prefix(tb)}
	tb.Cleanup(r.stop)
	if err := r.start(); err != nil {
		tb.Fatalf("loadtest: %v", err)
	}
	return r
}

func (r *Rig) start() error {
	side, err := fakeforge.SideOf(r.o.Forge)
	if err != nil {
		return err
	}
	r.side = side
	if err := r.startForge(); err != nil {
		return err
	}
	rdb, err := r.redisClient()
	if err != nil {
		return err
	}
	r.rdb, r.st = rdb, store.New(rdb, store.Options{Prefix: r.prefix})
	if err := r.openTrains(); err != nil {
		return err
	}
	if err := r.warmMirrors(); err != nil {
		return err
	}
	if r.fwd, err = startForwarder(); err != nil {
		return err
	}
	for range r.o.Replicas {
		if err := r.startReplica(); err != nil {
			return err
		}
	}
	r.side.Hook(r.ff, fakeforge.Webhook{URL: r.fwd.URL() + webhook.Path(r.o.Forge), Secret: secret, Timeout: 30 * time.Second})
	return nil
}

func (r *Rig) startForge() error {
	o := r.side.WithChecks(fakeforge.Options{
		Dir: filepath.Join(r.tb.TempDir(), "forge"), Tokens: map[string]string{botToken: botUser}, Seed: r.o.Seed,
		CI: fakeforge.CI{Manual: r.o.Manual},
		// Deliveries are sent one at a time; a full queue would drop them.
		Webhook:       fakeforge.Webhook{QueueSize: 1 << 16},
		OnBranchMoved: r.moves.add,
	}, []string{"trainyard/**"}, []string{check})
	ff, err := fakeforge.New(o)
	if err != nil {
		return err
	}
	if err := ff.Start(r.ctx); err != nil {
		return err
	}
	r.ff = ff
	r.proxy, err = startProxy(ff.URL())
	return err
}

func (r *Rig) redisClient() (*redis.Client, error) {
	opts, err := redis.ParseURL(r.redisURL)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
}

// openTrains creates a project per train and its MRs, on two goroutines.
func (r *Rig) openTrains() error {
	total := r.o.Trains * r.o.MRs
	rng := rand.New(rand.NewPCG(r.o.Seed, 0x5ca1e))
	broken := map[int]bool{}
	for _, i := range rng.Perm(total)[:int(math.Round(r.o.Broken*float64(total)))] {
		broken[i] = true
	}
	for i := range r.o.Trains {
		t := &trainSpec{key: train.Key{Forge: r.o.Forge, Project: fmt.Sprintf("load/t%03d", i+1), Branch: target}}
		for j := range r.o.MRs {
			t.mrs = append(t.mrs, mrSpec{broken: broken[i*r.o.MRs+j]})
		}
		r.trains = append(r.trains, t)
	}
	return parallel(2, len(r.trains), func(i int) error { return r.openTrain(r.trains[i]) })
}

func (r *Rig) openTrain(t *trainSpec) error {
	p := t.key.Project
	if _, err := r.ff.CreateProject(r.ctx, p, map[string]string{"README.md": "# " + p + "\n"}); err != nil {
		return err
	}
	if err := r.ff.SetAccess(p, dev, fakeforge.Developer); err != nil {
		return err
	}
	for j := range t.mrs {
		files := map[string]string{fmt.Sprintf("src/change-%d.txt", j+1): fmt.Sprintf("change %d\n", j+1)}
		if t.mrs[j].broken {
			files[fmt.Sprintf("src/change-%d/%s", j+1, fakeforge.DefaultFailMarker)] = "a test that fails\n"
		}
		m, err := r.ff.CreateMR(r.ctx, p, fakeforge.MRSpec{Source: fmt.Sprintf("change-%d", j+1), Title: fmt.Sprintf("Change %d", j+1),
			Author: dev, Commits: []fakeforge.Commit{{Message: fmt.Sprintf("Change %d", j+1), Files: files}}})
		if err != nil {
			return fmt.Errorf("open MR %d of %s: %w", j+1, p, err)
		}
		t.mrs[j].iid = m.IID
	}
	return nil
}

// warmMirrors fetches every project's target into one set of mirrors that
// each replica copies, so the runs measure a service whose mirrors exist,
// as they do after its first minutes. The layout is the one the service
// keeps under data_dir (mirrors/<forge>/<project>.git, made by
// gitops.Open); were it to change, the replicas would open mirrors of
// their own and only the warm-up be lost.
func (r *Rig) warmMirrors() error {
	r.mirrors = filepath.Join(r.tb.TempDir(), "mirrors")
	return parallel(2, len(r.trains), func(i int) error {
		p := r.trains[i].key.Project
		repo, err := gitops.Open(r.ctx, gitops.Options{Dir: r.mirrors, Project: p, RemoteURL: r.ff.CloneURL(p), Token: botToken,
			Identity: gitops.Identity{Name: "loadtest", Email: "loadtest@example.com"}})
		if err != nil {
			return err
		}
		_, err = repo.FetchBranch(r.ctx, target)
		return err
	})
}

func (r *Rig) startReplica() error {
	dataDir := r.tb.TempDir()
	if err := os.CopyFS(filepath.Join(dataDir, "mirrors", r.o.Forge), os.DirFS(r.mirrors)); err != nil {
		return fmt.Errorf("copy mirrors: %w", err)
	}
	cfg, err := config.Parse([]byte(r.config(dataDir)), nil, nil)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	rdb, err := r.redisClient()
	if err != nil {
		return err
	}
	rep := &replica{redis: newRedisCounter(), done: make(chan error, 1)}
	rdb.AddHook(rep.redis)
	ready := make(chan net.Addr, 1)
	log, err := r.logger()
	if err != nil {
		return err
	}
	// Which replica logged a line tells a forward from a pass.
	log = log.With(zap.Int("replica", len(r.replicas)))
	a, err := app.New(cfg, log, app.WithRedis(rdb), app.OnListen(func(addr net.Addr) { ready <- addr }),
		app.WithEngineOptions(engine.WithTrace(trace(log))))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.ctx)
	rep.cancel = cancel
	r.replicas = append(r.replicas, rep)
	go func() { rep.done <- a.Run(ctx) }()
	select {
	case addr := <-ready:
		r.fwd.add(addr.String())
		return nil
	case err := <-rep.done:
		rep.done <- err
		return fmt.Errorf("replica stopped before it listened: %w", err)
	case <-time.After(30 * time.Second):
		return errors.New("replica did not listen within 30s")
	}
}

// config is one replica's configuration file.
func (r *Rig) config(dataDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: \"127.0.0.1:0\"\ndata_dir: %q\nworkers: %d\nsweep_interval: %s\nredis:\n  prefix: %q\n",
		dataDir, r.o.Workers, r.o.SweepInterval, r.prefix)
	fmt.Fprintf(&b, "%s:\n  url: %q\n  token: %q\n  webhook_secret: %q\n", r.o.Forge, r.proxy.URL(), botToken, secret)
	if checks := r.side.RequiredChecks([]string{check}); len(checks) > 0 {
		fmt.Fprintf(&b, "  required_checks: [%q]\n", checks[0])
	}
	fmt.Fprintf(&b, "train:\n  max_parallel: %d\n", r.o.MaxParallel)
	if r.o.BatchSize > 0 {
		fmt.Fprintf(&b, "  batch_size: %d\n", r.o.BatchSize)
	}
	b.WriteString("projects:\n")
	for _, t := range r.trains {
		fmt.Fprintf(&b, "  - {forge: %s, path: %s, branches: [%s]}\n", r.o.Forge, t.key.Project, target)
	}
	return b.String()
}

// logger is a replica's logger: none unless LogPath is set.
func (r *Rig) logger() (*zap.Logger, error) {
	if r.o.LogPath == "" {
		return zap.NewNop(), nil
	}
	c := zap.NewDevelopmentConfig()
	c.OutputPaths = []string{r.o.LogPath}
	return c.Build()
}

// trace logs the engine's steps, at debug level.
func trace(log *zap.Logger) engine.Trace {
	if !log.Core().Enabled(zap.DebugLevel) {
		return engine.Trace{}
	}
	return engine.Trace{
		Observed: func(k train.Key, o train.Observation, _ train.Train) {
			log.Debug("observed", zap.Stringer("train", k), zap.String("observation", fmt.Sprintf("%T %+v", o, o)))
		},
		Acted: func(k train.Key, a train.Action) {
			log.Debug("acted", zap.Stringer("train", k), zap.String("action", fmt.Sprintf("%T %+v", a, a)))
		},
	}
}

// stop ends the replicas, then the forge and the proxies.
func (r *Rig) stop() {
	for _, rep := range r.replicas {
		rep.cancel()
	}
	for _, rep := range r.replicas {
		if err := <-rep.done; err != nil {
			r.tb.Errorf("loadtest: replica: %v", err)
		}
	}
	if r.fwd != nil {
		r.fwd.close()
	}
	if r.proxy != nil {
		r.proxy.close()
	}
	if r.ff != nil {
		r.ff.Close()
	}
	if r.rdb != nil {
		r.rdb.Close()
	}
}

// parallel runs f(0..n-1) on at most width goroutines and joins the
// errors.
func parallel(width, n int, f func(int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range width {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// moveLog keeps the forge's branch moves, as OnBranchMoved tells them.
type moveLog struct {
	mu    sync.Mutex
	moves []fakeforge.BranchMoved
}

func (l *moveLog) add(m fakeforge.BranchMoved) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.moves = append(l.moves, m)
}

// targetSince is every move of a target branch to a commit at or after t.
func (l *moveLog) targetSince(t time.Time) []fakeforge.BranchMoved {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []fakeforge.BranchMoved
	for _, m := range l.moves {
		if m.Branch == target && m.New != "" && !m.At.Before(t) {
			out = append(out, m)
		}
	}
	return out
}
