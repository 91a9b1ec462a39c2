// Package app is the composition root of trainyard serve: it builds every
// part from the validated configuration and runs them until the context
// ends, then drains. Its HTTP listeners open first, so health checks
// answer (and readiness says why it is not ready) while Redis is still
// awaited.
package app

import (
	"cmp"
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
	"github.com/trainyard/trainyard/internal/buildinfo"
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
	cfg     *config.Config
	log     *zap.Logger
	rdb     redis.UniversalClient
	store   *store.Store
	engines *engine.Router
	handler http.Handler
	// metricsHandler serves /metrics, /healthz and /readyz on
	// metrics_listen; nil when that is off and /metrics is on handler.
	metricsHandler http.Handler
	workers        *engine.Workers
	sweeper        *engine.Sweeper
	notifier       *notify.Notifier
	metrics        *metrics.Metrics
	onListen       func(net.Addr)
	// onMetricsListen is told the metrics listener's address.
	onMetricsListen func(net.Addr)
	// configPath names the configuration file in what is logged.
	configPath string
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

// OnMetricsListen is told the address of the metrics listener, when
// metrics_listen is set.
func OnMetricsListen(f func(net.Addr)) Option { return func(a *App) { a.onMetricsListen = f } }

// WithConfigPath names the file the configuration came from, for the
// warnings about it.
func WithConfigPath(path string) Option { return func(a *App) { a.configPath = path } }

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
	for _, f := range cfg.ExposedSecretFiles() {
		a.log.Warn("a secret file is readable by other users: make it readable by its owner alone (chmod 600)",
			zap.String("setting", f.Setting), zap.String("file", f.Path), zap.String("mode", f.Mode.String()))
	}
	if len(cfg.Projects) == 0 {
		// Valid, and useless: every webhook is dropped as being for an unknown
		// project. Most likely the wrong file was read.
		a.log.Warn("no projects configured: no train will run", zap.String("config", cmp.Or(a.configPath, "(none)")))
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
	if err := metrics.WatchTrains(reg, a.trainsForMetrics); err != nil {
		return err
	}
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
		Trains: a.engines, Events: a.store, Token: cfg.API.Token.Reveal(), Tokens: apiTokens(cfg), ProtectReads: cfg.API.ProtectReads,
		Profiles: profiles, Logger: log.Named("api"),
	})
	mounts := map[string]http.Handler{api.Prefix: apiHandler}
	if cfg.MetricsListen == "" {
		// /metrics names every train: where reads are private, so is it
		// on the public listener (metrics_listen keeps it apart instead).
		mounts["/metrics"] = metrics.Handler(reg)
		if cfg.API.ProtectReads {
			mounts["/metrics"] = tokenOnly(api.AllTokens(cfg.API.Token.Reveal(), apiTokens(cfg)), mounts["/metrics"])
		}
	} else {
		// Health stays on both listeners: probes may use either.
		a.metricsHandler = server.Handler(server.Options{Ready: a.store, Logger: log,
			Mounts: map[string]http.Handler{"/metrics": metrics.Handler(reg)}})
	}
	if cfg.UI.Enabled {
		// The dashboard takes every path nothing else serves, and the
		// API's token and forge profiles.
		dash, err := web.New(web.Options{Trains: a.engines, Token: cfg.API.Token.Reveal(), Tokens: apiTokens(cfg), Public: cfg.UI.Public,
			Profiles: profiles, Logger: log.Named("web")})
		if err != nil {
			return err
		}
		mounts["/"] = dash
	}
	a.handler = server.Handler(server.Options{Webhooks: hooks, Ready: a.store, Logger: log, Mounts: mounts})
	a.workers = &engine.Workers{
		Store: a.store, Jobs: a.jobs, Pass: a.engines.Pass, Forward: a.engines.Forward, Urgent: a.engines.Urgent, Consumer: a.owner, Count: cfg.Workers,
		ClaimIdle: cfg.ClaimIdle, MaxDeliveries: int64(cfg.MaxDeliveries), Grace: Grace, Log: log.Named("worker"),
		Observe: a.metrics.ObserveEvent, Panicked: a.metrics.Panicked,
	}
	// The sweep only queues trains: their forge reads happen in the
	// workers' passes, under the lease, once per interval across replicas.
	enqueue := func(_ context.Context, key train.Key) error {
		a.workers.Enqueue(engine.Job{Key: key, Sweep: true})
		return nil
	}
	a.sweeper = &engine.Sweeper{Store: a.store, Sweep: enqueue, CatchUp: a.engines.CatchUp, Retire: a.retire, Interval: cfg.SweepInterval,
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
// finish within Grace (or leaves it to another replica) and returns. The
// listeners open first: until Redis answers, /healthz answers 200 and
// /readyz 503, and Run keeps trying Redis; then the workers, the sweep
// and the notifier start.
func (a *App) Run(ctx context.Context) error {
	defer a.rdb.Close()
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	var metricsLn net.Listener
	if a.metricsHandler != nil {
		if metricsLn, err = net.Listen("tcp", a.cfg.MetricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics on %s: %w", a.cfg.MetricsListen, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	run("http", func(ctx context.Context) error { return server.ServeListener(ctx, ln, a.handler, Grace) })
	// Once bound: what runs, from which file, for which projects.
	projects := make([]string, len(a.cfg.Projects))
	for i, p := range a.cfg.Projects {
		projects[i] = p.Forge + ":" + p.Path
	}
	fields := []zap.Field{zap.Stringer("listen", ln.Addr()), zap.Int("workers", a.cfg.Workers),
		zap.String("version", buildinfo.Get().Version), zap.String("config", cmp.Or(a.configPath, "(none)")), zap.Strings("projects", projects)}
	if metricsLn != nil {
		run("metrics http", func(ctx context.Context) error {
			return server.ServeListener(ctx, metricsLn, a.metricsHandler, Grace)
		})
		fields = append(fields, zap.Stringer("metrics_listen", metricsLn.Addr()))
	}
	a.log.Info("trainyard serving", fields...)
	if a.onListen != nil {
		a.onListen(ln.Addr())
	}
	if a.onMetricsListen != nil && metricsLn != nil {
		a.onMetricsListen(metricsLn.Addr())
	}
	if a.waitForRedis(ctx) {
		a.initTrainSeries(ctx)
		run("workers", a.workers.Run)
		run("sweep", a.sweeper.Run)
		run("notify", a.notifier.Run)
	}
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

// Redis is tried again after redisRetryFirst, doubling up to
// redisRetryMax, and the wait is logged at most every redisWaitLog.
const (
	redisRetryFirst = 200 * time.Millisecond
	redisRetryMax   = 5 * time.Second
	redisWaitLog    = 30 * time.Second
)

// waitForRedis tries Redis until it answers, and reports whether it did:
// false once ctx ends first. A service started before its Redis, or
// alongside it, waits for it instead of exiting and being restarted.
func (a *App) waitForRedis(ctx context.Context) bool {
	wait, logged := redisRetryFirst, time.Time{}
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.store.Ping(pctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				a.log.Info("redis answers", zap.Int("attempts", attempt))
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if time.Since(logged) >= redisWaitLog {
			a.log.Warn("waiting for redis: not ready until it answers", zap.Int("attempts", attempt), zap.Error(err))
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, redisRetryMax)
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

// apiTokens are the named tokens the API and the dashboard take.
func apiTokens(cfg *config.Config) []api.Token {
	out := make([]api.Token, 0, len(cfg.API.Tokens))
	for _, t := range cfg.API.Tokens {
		out = append(out, api.Token{Name: t.Name, Write: t.Role == config.RoleWrite, Value: t.Token.Reveal()})
	}
	return out
}

// tokenOnly serves next only to a request bearing one of tokens (any
// role), as Prometheus sends with its scrape config's authorization.
func tokenOnly(tokens []api.Token, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := api.Bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "missing bearer token (Authorization: Bearer <token>)", http.StatusUnauthorized)
			return
		}
		if _, ok := api.Match(tokens, got); !ok {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
