package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/server"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/webhook"
)

// grace bounds how long the demo's server and workers drain when it stops.
const grace = 2 * time.Second

// system is the service as trainyard serve runs it: the webhook listener
// and API on one HTTP server, the workers draining the event stream and
// the sweeper, all stopped and waited for by stop.
type system struct {
	addr   net.Addr
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

type systemConfig struct {
	listen   string
	forge    string
	hooks    webhook.Options
	store    *store.Store
	engine   *engine.Engine
	links    api.Links
	interval time.Duration
}

// startSystem starts the server, workers and sweeper and returns once the
// server listens.
func startSystem(ctx context.Context, c systemConfig) (*system, error) {
	c.hooks.Queue = c.store
	hooks, err := webhook.New(c.hooks)
	if err != nil {
		return nil, fmt.Errorf("demo: webhook handler: %w", err)
	}
	engines := engine.Router{c.forge: c.engine}
	apiHandler := api.New(api.Options{Trains: api.Engines(engines), Links: map[string]api.Links{c.forge: c.links}})
	h := server.Handler(server.Options{Webhooks: hooks, Ready: c.store, Logger: zap.NewNop(),
		Mounts: map[string]http.Handler{api.Prefix: apiHandler}})

	ctx, cancel := context.WithCancel(ctx)
	s := &system{cancel: cancel}
	ready := make(chan net.Addr, 1)
	s.run(ctx, "http", func(ctx context.Context) error {
		return server.Serve(ctx, c.listen, h, grace, func(a net.Addr) { ready <- a })
	})
	// One worker keeps the events in the order the forge sent them, so
	// the train's order is the order of the /train add comments.
	workers := &engine.Workers{Store: c.store, Dispatch: engines.Dispatch, Consumer: "demo", Count: 1,
		ClaimIdle: 5 * time.Second, Grace: grace}
	s.run(ctx, "workers", workers.Run)
	sweeper := &engine.Sweeper{Store: c.store, Sweep: engines.Sweep, Interval: c.interval}
	s.run(ctx, "sweep", sweeper.Run)

	select {
	case s.addr = <-ready:
		return s, nil
	case <-ctx.Done():
		return nil, errors.Join(s.stop(), ctx.Err())
	}
}

// run starts f in a goroutine that stops the whole system if f fails.
func (s *system) run(ctx context.Context, name string, f func(context.Context) error) {
	s.wg.Go(func() {
		if err := f(ctx); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("demo: %s: %w", name, err))
			s.mu.Unlock()
			s.cancel()
		}
	})
}

// stop ends every part and waits for them.
func (s *system) stop() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// failed reports a part's failure while the system is still running.
func (s *system) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}
