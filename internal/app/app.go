// Package app is the composition root of trainyard serve: it builds every
// part from the validated configuration and runs them until the context
// ends, then drains.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/metrics"
	"github.com/trainyard/trainyard/internal/notify"
	"github.com/trainyard/trainyard/internal/server"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/web"
)

// Grace is how long in-flight requests and events may finish after a stop.
const Grace = 10 * time.Second

// App is a built, not yet running, Trainyard service.
type App struct {
	cfg      *config.Config
	log      *zap.Logger
	rdb      redis.UniversalClient
	store    *store.Store
	engines  *engine.Router
	handler  http.Handler
	workers  *engine.Workers
	sweeper  *engine.Sweeper
	notifier *notify.Notifier
	metrics  *metrics.Metrics
	onListen func(net.Addr)
	// transport carries the forges' HTTP requests; nil: the default.
	transport  http.RoundTripper
	engineOpts []engine.Option
	// owner names this process in leases and the consumer group.
	owner string
}

// Option adjusts an App.
type Option func(*App)

// OnListen is told the address the server listens on.
func OnListen(f func(net.Addr)) Option { return func(a *App) { a.onListen = f } }

// WithRedis uses rdb instead of a client built from the configuration,
// such as an embedded store's.
func WithRedis(rdb redis.UniversalClient) Option { return func(a *App) { a.rdb = rdb } }

// WithEngineOptions adds opts to every engine, such as a trace.
func WithEngineOptions(opts ...engine.Option) Option {
	return func(a *App) { a.engineOpts = append(a.engineOpts, opts...) }
}

// WithForgeTransport carries every forge HTTP request through rt.
func WithForgeTransport(rt http.RoundTripper) Option { return func(a *App) { a.transport = rt } }

// New builds the service from cfg. It connects to nothing yet.
func New(cfg *config.Config, log *zap.Logger, opts ...Option) (*App, error) {
	ropts, err := cfg.RedisOptions()
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log}
	for _, o := range opts {
		o(a)
	}
	if a.rdb == nil {
		a.rdb = newRedis(ropts)
	}
	if err := a.build(); err != nil {
		a.rdb.Close()
		return nil, err
	}
	return a, nil
}

// build makes every part; on error, the caller closes Redis.
func (a *App) build() error {
	cfg, log := a.cfg, a.log
	reg := metrics.NewRegistry()
	a.metrics = metrics.New(reg)
	a.rdb.AddHook(a.metrics.RedisHook())
	a.store = store.New(a.rdb, store.Options{Prefix: cfg.Redis.Prefix})
	all, err := a.openForges()
	if err != nil {
		return err
	}
	profiles := forge.Profiles{}
	for _, f := range all {
		profiles[f.Profile.Name] = f.Profile
	}
	if a.notifier, err = newNotifier(cfg, log, a.metrics, a.store.Notifications(), profiles); err != nil {
		return err
	}
	a.owner = instanceName()
	a.engines = a.buildEngines(all)
	hooks, err := a.webhooks()
	if err != nil {
		return err
	}
	apiHandler := api.New(api.Options{
		Trains: a.engines, Events: a.store, Token: cfg.API.Token.Reveal(), ProtectReads: cfg.API.ProtectReads,
		Profiles: profiles, Logger: log.Named("api"),
	})
	mounts := map[string]http.Handler{
		api.Prefix: apiHandler,
		"/metrics": metrics.Handler(reg),
	}
	if cfg.UI.Enabled {
		// The dashboard takes every path nothing else serves, and the
		// API's token and forge profiles.
		dash, err := web.New(web.Options{Trains: a.engines, Token: cfg.API.Token.Reveal(), Public: cfg.UI.Public,
			Profiles: profiles, Logger: log.Named("web")})
		if err != nil {
			return err
		}
		mounts["/"] = dash
	}
	a.handler = server.Handler(server.Options{Webhooks: hooks, Ready: a.store, Logger: log, Mounts: mounts})
	a.workers = &engine.Workers{
		Store: a.store, Jobs: a.jobs, Pass: a.engines.Pass, Consumer: a.owner, Count: cfg.Workers,
		ClaimIdle: cfg.ClaimIdle, MaxDeliveries: int64(cfg.MaxDeliveries), Grace: Grace, Log: log.Named("worker"),
		Observe: a.metrics.ObserveEvent, Panicked: a.metrics.Panicked,
	}
	// The sweep only queues trains: their forge reads happen in the
	// workers' passes, under the lease, once per interval across replicas.
	enqueue := func(_ context.Context, key train.Key) error {
		a.workers.Enqueue(engine.Job{Key: key, Sweep: true})
		return nil
	}
	a.sweeper = &engine.Sweeper{Store: a.store, Sweep: enqueue, CatchUp: a.engines.CatchUp, Interval: cfg.SweepInterval,
		Log: log.Named("sweep"), Observe: a.metrics.ObserveSweep, Panicked: a.metrics.Panicked}
	return metrics.WatchDeadLetters(reg, a.store.DeadLetterCount)
}

// newNotifier builds the chat notifier from the configured routes, its
// messages kept in q.
func newNotifier(cfg *config.Config, log *zap.Logger, m *metrics.Metrics, q notify.Queue, profiles forge.Profiles) (*notify.Notifier, error) {
	routes := make([]notify.Route, 0, len(cfg.Notify))
	for _, r := range cfg.Notify {
		events := make([]train.NotifyKind, len(r.Events))
		for i, e := range r.Events {
			events[i] = train.NotifyKind(e)
		}
		routes = append(routes, notify.Route{
			Name: r.Name, Forge: r.Forge, Project: r.Project, Branches: r.Branches,
			Kind: notify.Kind(r.Kind), URL: notify.Secret(r.URL.Reveal()), Events: events,
			Username: r.Username, IconURL: r.IconURL, RetryFor: r.RetryFor,
		})
	}
	n, err := notify.New(notify.Options{Routes: routes, Profiles: profiles, Queue: q, Logger: log.Named("notify"), Counter: m.NotifyCounter()})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return n, nil
}

// jobs is what an event asks of its forge's trains, nothing for a
// project Trainyard does not run trains for.
func (a *App) jobs(ctx context.Context, ev event.Event) ([]engine.Job, error) {
	if _, ok := a.cfg.Project(ev.Forge, ev.Project); !ok {
		a.log.Debug("event for a project not in the configuration", zap.String("forge", ev.Forge), zap.String("project", ev.Project))
		return nil, nil
	}
	return a.engines.Jobs(ctx, ev)
}

// Run serves until ctx ends, then stops accepting, lets in-flight work
// finish within Grace (or leaves it to another replica) and returns.
func (a *App) Run(ctx context.Context) error {
	defer a.rdb.Close()
	if err := a.waitForRedis(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	run("http", func(ctx context.Context) error { return server.Serve(ctx, a.cfg.Listen, a.handler, Grace, a.onListen) })
	run("workers", a.workers.Run)
	run("sweep", a.sweeper.Run)
	run("notify", a.notifier.Run)
	a.log.Info("trainyard serving", zap.String("listen", a.cfg.Listen), zap.Int("workers", a.cfg.Workers))
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// clusterReload is how stale a cluster client's map of slots may grow.
// go-redis reloads it only on MOVED answers or after this long, and a
// master that died answers nothing: with the default minute, the trains on
// its slots would wait that long after its replica took over.
const clusterReload = time.Second

// newRedis is go-redis's universal client, with a cluster's slot map kept
// fresh enough to follow a failover within seconds.
func newRedis(o *redis.UniversalOptions) redis.UniversalClient {
	if o.MasterName == "" && (o.IsClusterMode || len(o.Addrs) > 1) {
		co := o.Cluster()
		co.ClusterStateReloadInterval = clusterReload
		return redis.NewClusterClient(co)
	}
	return redis.NewUniversalClient(o)
}

// waitForRedis gives Redis a little while to come up, so a service started
// alongside it does not fail at once.
func (a *App) waitForRedis(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.store.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis unreachable: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// instanceName names this process in leases and the consumer group.
func instanceName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Trains is every forge's trains, as the API reads them.
func (a *App) Trains() *engine.Router { return a.engines }
