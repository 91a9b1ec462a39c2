// Package server assembles Trainyard's HTTP surface: the webhook
// endpoints, health and readiness checks, and whatever else the caller
// mounts, with the timeouts a public listener needs.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Pinger reports whether a dependency answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the HTTP server.
type Options struct {
	Webhooks http.Handler // serves /webhooks/
	Ready    Pinger       // readiness: Redis reachable
	// Mounts adds more handlers by pattern (the API, metrics).
	Mounts map[string]http.Handler
	Logger *zap.Logger
}

// Handler returns the server's routes.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	if o.Webhooks != nil {
		mux.Handle("/webhooks/", o.Webhooks)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if o.Ready != nil {
			if err := o.Ready.Ping(ctx); err != nil {
				if o.Logger != nil {
					o.Logger.Warn("not ready", zap.Error(err))
				}
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "redis unreachable"})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	for pattern, h := range o.Mounts {
		mux.Handle(pattern, h)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve listens on addr and serves h until ctx ends, then stops accepting
// and lets requests in flight finish within grace. ready, when set,
// receives the bound address once the listener is open.
func Serve(ctx context.Context, addr string, h http.Handler, grace time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return ServeListener(ctx, ln, h, grace)
}

type lifetimeKey struct{}

// Lifetime is the context of the server a request came to, done once the
// server is down (its shutdown's grace over): work a request starts and
// lets outlive its caller stops there. Outside a server, it is never
// done.
func Lifetime(ctx context.Context) context.Context {
	if l, ok := ctx.Value(lifetimeKey{}).(context.Context); ok {
		return l
	}
	return context.Background()
}

// ServeListener is Serve on a listener the caller opened, for a caller
// that binds before it does anything else. It closes ln.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	addr := ln.Addr().String()
	// life ends once the server is all but down: near the end of the
	// grace its shutdown gives the requests in flight, not when the
	// shutdown starts.
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	srv := &http.Server{
		Handler: h,
		// Requests are not cancelled when the server starts to shut down
		// (they finish within the grace), but may look up its life.
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), lifetimeKey{}, life)
		},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	// What outlives its caller stops with a tenth of the grace left, to
	// unwind (release a lease, finish a write) before the app closes
	// Redis behind the server.
	defer time.AfterFunc(grace*9/10, endLife).Stop()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down the server on %s: %w", addr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	return nil
}
