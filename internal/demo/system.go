package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/app"
	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
)

// system is the service exactly as trainyard serve runs it (internal/app:
// the webhook listener, API and metrics on one HTTP server, the workers,
// the sweep and the notifier), on the demo's configuration and embedded
// Redis.
type system struct {
	app    *app.App
	addr   net.Addr
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// systemConfig is what the demo sets of the service's configuration.
type systemConfig struct {
	listen, dir, forge, forgeURL, token, secret string
	// apiToken guards the API's and the dashboard's actions; none when
	// empty.
	apiToken string
	// checks are the required checks, where the forge has them.
	checks      []string
	maxParallel int
	retries     int
	interval    time.Duration
	rdb         redis.UniversalClient
	trace       engine.Trace
}

// yaml is the service's configuration file for the demo: one project on
// one forge, one worker so the train's order is the order of the /train
// add comments, and the dashboard (on by default) readable by anyone who
// reaches the address.
func (c systemConfig) yaml() string {
	sections := fmt.Sprintf("%s:\n  url: %q\n  token: %q\n  webhook_secret: %q\n", c.forge, c.forgeURL, c.token, c.secret)
	if len(c.checks) > 0 {
		sections += fmt.Sprintf("  required_checks: [%q]\n", c.checks[0])
	}
	if c.apiToken != "" {
		sections += fmt.Sprintf("api:\n  token: %q\n", c.apiToken)
	}
	return fmt.Sprintf(`listen: %q
data_dir: %q
workers: 1
sweep_interval: %s
claim_idle: 5s
redis:
  prefix: demo
%strain:
  max_parallel: %d
  retries: %d
projects:
  - forge: %s
    path: %s
`, c.listen, c.dir, c.interval, sections, c.maxParallel, c.retries, c.forge, project)
}

// startSystem starts the service and returns once its server listens.
func startSystem(ctx context.Context, c systemConfig) (*system, error) {
	cfg, err := config.Parse([]byte(c.yaml()), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: configuration: %w", err)
	}
	ready := make(chan net.Addr, 1)
	a, err := app.New(cfg, zap.NewNop(), app.WithRedis(c.rdb), app.OnListen(func(addr net.Addr) { ready <- addr }),
		app.WithEngineOptions(engine.WithTrace(c.trace)))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &system{app: a, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.err = fmt.Errorf("demo: %w", err)
			s.mu.Unlock()
		}
	}()
	select {
	case s.addr = <-ready:
		return s, nil
	case <-s.done:
		return nil, errors.Join(s.failed(), errors.New("demo: the service stopped before it listened"))
	case <-ctx.Done():
		return nil, errors.Join(s.stop(), ctx.Err())
	}
}

// stop ends the service and waits for it.
func (s *system) stop() error {
	s.cancel()
	<-s.done
	return s.failed()
}

// failed reports the service's failure while the demo is still running.
func (s *system) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
