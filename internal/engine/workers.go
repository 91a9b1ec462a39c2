package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Workers drain the event stream through a consumer group: each event is
// acknowledged only after the train it concerns was saved, so an event a
// dead worker held is claimed by another once it has been idle ClaimIdle.
type Workers struct {
	Store    *store.Store
	Dispatch func(ctx context.Context, ev event.Event) error
	// Group is the consumer group; every replica uses the same one.
	Group string
	// Consumer names this process in the group; unique per replica.
	Consumer string
	Count    int
	// ClaimIdle is how long an unacknowledged event waits before another
	// worker takes it over.
	ClaimIdle time.Duration
	// MaxDeliveries moves an event that failed or panicked this many times
	// to the dead-letter stream, where an operator can read and requeue it.
	MaxDeliveries int64
	// Grace is how long in-flight events may finish after Run's context
	// ends; past it they are abandoned, unacknowledged, for another worker.
	Grace time.Duration
	// EventTimeout bounds the handling of one event.
	EventTimeout time.Duration
	Log          *zap.Logger
	// Observe, when set, is told each event's outcome (for metrics).
	Observe func(ev event.Event, outcome string, took time.Duration)
	// Panicked, when set, is told of every panic recovered (for metrics).
	Panicked func(where string)
}

// Outcomes of an event, as Workers.Observe is told them.
const (
	OutcomeHandled = "handled"
	// OutcomeGone: the forge answered that what the event is about is
	// gone or refused for good (404, 410, another 4xx); retrying cannot
	// help, so it is acknowledged.
	OutcomeGone  = "gone"
	OutcomeRetry = "retry"
	OutcomePanic = "panic"
	// OutcomeDead: moved to the dead-letter stream.
	OutcomeDead = "dead_letter"
)

func (w *Workers) defaults() {
	if w.Group == "" {
		w.Group = "trainyard"
	}
	if w.Count <= 0 {
		w.Count = 1
	}
	if w.ClaimIdle <= 0 {
		w.ClaimIdle = time.Minute
	}
	if w.MaxDeliveries <= 0 {
		w.MaxDeliveries = 10
	}
	if w.Grace <= 0 {
		w.Grace = 10 * time.Second
	}
	if w.EventTimeout <= 0 {
		w.EventTimeout = 5 * time.Minute
	}
	if w.Log == nil {
		w.Log = zap.NewNop()
	}
}

// Run drains the stream until ctx ends, then lets in-flight events finish
// within Grace and returns.
func (w *Workers) Run(ctx context.Context) error {
	w.defaults()
	if err := w.Store.EnsureGroup(ctx, w.Group); err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	// Handling outlives ctx by at most Grace, so a SIGTERM does not cut a
	// train's save in half when it need not.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(w.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-hctx.Done():
		}
	})
	defer stop()

	var wg sync.WaitGroup
	for i := range w.Count {
		wg.Go(func() { w.loop(ctx, hctx, w.Consumer+"-"+strconv.Itoa(i)) })
	}
	wg.Wait()
	return nil
}

func (w *Workers) loop(ctx, hctx context.Context, consumer string) {
	log := w.Log.With(zap.String("consumer", consumer))
	nextClaim := time.Now()
	for ctx.Err() == nil {
		if time.Now().After(nextClaim) {
			evs, err := w.Store.ClaimIdle(ctx, w.Group, consumer, w.ClaimIdle, 10)
			if err != nil && ctx.Err() == nil {
				log.Warn("claim idle events", zap.Error(err))
			}
			w.handleAll(hctx, log, evs)
			nextClaim = time.Now().Add(w.ClaimIdle / 2)
		}
		evs, err := w.Store.ReadEvents(ctx, w.Group, consumer, 1, time.Second)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("read events", zap.Error(err))
				sleep(ctx, time.Second)
			}
			continue
		}
		w.handleAll(hctx, log, evs)
	}
}

func (w *Workers) handleAll(ctx context.Context, log *zap.Logger, evs []store.Event) {
	for _, se := range evs {
		if ctx.Err() != nil {
			return
		}
		w.handle(ctx, log, se)
	}
}

func (w *Workers) handle(ctx context.Context, log *zap.Logger, se store.Event) {
	start := time.Now()
	ev, err := event.Unmarshal(se.Data)
	if err != nil {
		log.Error("an event that does not decode goes to the dead letters", zap.String("entry", se.ID), zap.Error(err))
		w.bury(ctx, log, se, fmt.Sprintf("does not decode: %v", err))
		w.observe(ev, OutcomeDead, start)
		return
	}
	log = log.With(zap.String("event", ev.ID), zap.String("kind", string(ev.Kind)), zap.String("project", ev.Project), zap.Int64("mr", ev.MR))
	if se.Deliveries > w.MaxDeliveries {
		// Handed out more often than allowed and never settled: whoever
		// took it may have crashed on it. It is not tried again.
		log.Error("an event delivered too often goes to the dead letters", zap.Int64("deliveries", se.Deliveries))
		w.bury(ctx, log, se, fmt.Sprintf("delivered %d times without being settled (a worker may have crashed on it)", se.Deliveries))
		w.observe(ev, OutcomeDead, start)
		return
	}
	ectx, cancel := context.WithTimeout(ctx, w.EventTimeout)
	err = w.dispatch(ectx, ev)
	cancel()
	var p *PanicError
	panicked := errors.As(err, &p)
	if panicked {
		log.Error("panic while handling an event", zap.Any("panic", p.Value), zap.ByteString("stack", p.Stack))
	}
	switch {
	case err == nil:
		w.ack(ctx, log, se.ID)
		w.observe(ev, OutcomeHandled, start)
	case errors.Is(err, forge.ErrNotFound) || errors.Is(err, forge.ErrRejected):
		log.Warn("event not handled: the forge refused for good", zap.Error(err))
		w.ack(ctx, log, se.ID)
		w.observe(ev, OutcomeGone, start)
	case se.Deliveries >= w.MaxDeliveries:
		log.Error("an event that keeps failing goes to the dead letters", zap.Int64("deliveries", se.Deliveries), zap.Error(err))
		w.bury(ctx, log, se, err.Error())
		w.observe(ev, OutcomeDead, start)
	default:
		// Left unacknowledged: it is claimed again after ClaimIdle, here or
		// by another replica.
		level := log.Warn
		if errors.Is(err, ErrBusy) || errors.Is(err, context.Canceled) {
			level = log.Info
		}
		level("event not handled; it will be retried", zap.Int64("deliveries", se.Deliveries), zap.Error(err))
		outcome := OutcomeRetry
		if panicked {
			outcome = OutcomePanic
		}
		w.observe(ev, outcome, start)
	}
}

// PanicError is a panic recovered while handling an event or a sweep.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// dispatch runs Dispatch with panics turned into errors, so one poison
// event cannot take the process, and every replica in turn, down with it.
func (w *Workers) dispatch(ctx context.Context, ev event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
			if w.Panicked != nil {
				w.Panicked("event")
			}
		}
	}()
	return w.Dispatch(ctx, ev)
}

// bury moves an event to the dead-letter stream. If that fails the event
// stays pending and is tried again after ClaimIdle.
func (w *Workers) bury(ctx context.Context, log *zap.Logger, se store.Event, reason string) {
	if _, err := w.Store.Bury(ctx, w.Group, se, reason, time.Now()); err != nil {
		log.Error("move event to the dead letters", zap.String("entry", se.ID), zap.Error(err))
	}
}

func (w *Workers) ack(ctx context.Context, log *zap.Logger, id string) {
	if err := w.Store.Ack(ctx, w.Group, id); err != nil {
		log.Warn("ack event", zap.String("entry", id), zap.Error(err))
	}
}

func (w *Workers) observe(ev event.Event, outcome string, start time.Time) {
	if w.Observe != nil {
		w.Observe(ev, outcome, time.Since(start))
	}
}

// Sweeper re-reads every active train's world on a timer, so a lost
// webhook delays a train by at most one interval.
type Sweeper struct {
	Store    *store.Store
	Sweep    func(ctx context.Context, key train.Key) error
	Interval time.Duration
	Log      *zap.Logger
	// Observe, when set, is told how long each pass took (for metrics).
	Observe func(took time.Duration)
	// CatchUp, when set, runs at the start of every pass: it finds the
	// commands that no webhook brought.
	CatchUp func(ctx context.Context) error
	// Panicked, when set, is told of every panic recovered (for metrics).
	Panicked func(where string)
}

// Run sweeps at once and then every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	if s.Interval <= 0 {
		s.Interval = 30 * time.Second
	}
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		s.Pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass sweeps every train that has cars or owes actions once. A panic in
// one train's sweep is recovered and logged, and the pass goes on.
func (s *Sweeper) Pass(ctx context.Context) {
	start := time.Now()
	if s.CatchUp != nil {
		if err := s.guard(ctx, "catch up", s.CatchUp); err != nil && ctx.Err() == nil {
			s.Log.Warn("sweep: catch up on missed commands", zap.Error(err))
		}
	}
	keys, err := s.Store.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("sweep: list trains", zap.Error(err))
		}
		return
	}
	for _, key := range keys {
		if ctx.Err() != nil {
			return
		}
		t, err := s.Store.Load(ctx, key)
		if err != nil {
			s.Log.Warn("sweep: load train", zap.String("train", key.String()), zap.Error(err))
			continue
		}
		if t.Idle() && len(t.Outbox) == 0 {
			continue
		}
		err = s.guard(ctx, "sweep train "+key.String(), func(ctx context.Context) error { return s.Sweep(ctx, key) })
		if err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			s.Log.Warn("sweep train", zap.String("train", key.String()), zap.Error(err))
		}
	}
	if s.Observe != nil {
		s.Observe(time.Since(start))
	}
}

// guard runs f with a panic turned into an error.
func (s *Sweeper) guard(ctx context.Context, what string, f func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p := &PanicError{Value: r, Stack: debug.Stack()}
			s.Log.Error("panic in the sweep", zap.String("what", what), zap.Any("panic", r), zap.ByteString("stack", p.Stack))
			if s.Panicked != nil {
				s.Panicked("sweep")
			}
			err = p
		}
	}()
	return f(ctx)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
