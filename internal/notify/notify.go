// Package notify tells chat (Slack- and Mattermost-compatible incoming
// webhooks) about merges, evictions and paused trains.
//
// Sending is off the train's path: Notify only queues, and a fixed set of
// workers owned by the Notifier posts, retrying what may pass. A chat
// outage costs notifications, never a train's progress: when the queue is
// full, notifications are dropped and counted.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// Counter counts notifications by event kind (merged, evicted, ...) and
// outcome (one of the Outcome constants), for metrics.
type Counter interface {
	Count(kind, outcome string)
}

// Outcomes given to Counter. One notification to one route ends sent,
// failed or dropped; retried counts each extra attempt.
const (
	OutcomeSent    = "sent"
	OutcomeFailed  = "failed"
	OutcomeDropped = "dropped"
	OutcomeRetried = "retried"
)

type nopCounter struct{}

func (nopCounter) Count(string, string) {}

// Options configure a Notifier. Zero values take the defaults named.
type Options struct {
	Routes []Route
	// Profiles name and link MRs, pipelines and commits the way each
	// forge does; a forge without one gets plain labels.
	Profiles forge.Profiles
	// Workers is how many posts run at once; default 2.
	Workers int
	// QueueSize is how many notifications wait before new ones are
	// dropped; default 256.
	QueueSize int
	Retry     Retry
	// Timeout bounds one request; default DefaultTimeout.
	Timeout time.Duration
	// Grace is how long queued notifications may still be sent once the
	// Notifier is told to stop; default 5s.
	Grace time.Duration
	// Remember is how many recent events are remembered to post each once;
	// default 4096.
	Remember int
	Client   *http.Client
	Logger   *zap.Logger
	Counter  Counter
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	o.Retry = o.Retry.withDefaults()
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Remember <= 0 {
		o.Remember = 4096
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Counter == nil {
		o.Counter = nopCounter{}
	}
	return o
}

// sink is a validated route with its sender.
type sink struct {
	name    string
	route   Route
	sender  Sender
	dialect dialect
}

// job is one notification for one route.
type job struct {
	sink *sink
	key  train.Key
	n    train.Notify
	id   string
}

// Notifier fans notifications out to the routes that want them. It
// implements the engine's Notifier.
type Notifier struct {
	opts   Options
	sinks  []sink
	queue  chan job
	recent *recent

	// mu orders Notify's queueing against shutdown: once closed is set no
	// job enters the queue, so the final drain sees every queued job.
	mu     sync.RWMutex
	closed bool

	life    sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New checks the routes and returns a Notifier; it sends nothing until
// Start or Run.
func New(o Options) (*Notifier, error) {
	o = o.withDefaults()
	n := &Notifier{
		opts:   o,
		queue:  make(chan job, o.QueueSize),
		recent: newRecent(o.Remember),
		done:   make(chan struct{}),
	}
	for i, r := range o.Routes {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("notify route %s: %w", r.name(i), err)
		}
		hook := Webhook{URL: r.URL, Client: o.Client, Timeout: o.Timeout}
		var s Sender = Slack{Webhook: hook}
		if r.Kind == KindMattermost {
			s = Mattermost{Webhook: hook, Username: r.Username, IconURL: r.IconURL}
		}
		r.Branches, r.Events = slices.Clone(r.Branches), slices.Clone(r.Events)
		n.sinks = append(n.sinks, sink{name: r.name(i), route: r, sender: s, dialect: dialectFor(r.Kind)})
	}
	return n, nil
}

// Notify queues ev for every route that wants it and returns at once;
// sending outlives the call, so ctx is not used. An event already queued
// or sent for a route is not queued again.
func (n *Notifier) Notify(_ context.Context, key train.Key, ev train.Notify) {
	copied := false
	for i := range n.sinks {
		s := &n.sinks[i]
		if !s.route.matches(key, ev.Kind) {
			continue
		}
		if !copied {
			// The worker reads the cars later; the caller may reuse them.
			ev.Cars, copied = slices.Clone(ev.Cars), true
		}
		j := job{sink: s, key: key, n: ev, id: eventID(i, key, ev)}
		if ev.Key != "" && !n.recent.add(j.id) {
			n.logger(j).Debug("chat notification already sent or queued")
			continue
		}
		n.enqueue(j)
	}
}

func (n *Notifier) enqueue(j job) {
	n.mu.RLock()
	queued := false
	if !n.closed {
		select {
		case n.queue <- j:
			queued = true
		default:
		}
	}
	closed := n.closed
	n.mu.RUnlock()
	if queued {
		return
	}
	reason := "queue full"
	if closed {
		reason = "notifier stopped"
	}
	n.drop(j, reason)
}

func (n *Notifier) drop(j job, reason string) {
	n.recent.forget(j.id)
	n.opts.Counter.Count(string(j.n.Kind), OutcomeDropped)
	n.logger(j).Warn("chat notification dropped", zap.String("reason", reason))
}

// eventID identifies an event for one route. The cars are part of it
// because an eviction's key names the reason, not the MR.
func eventID(route int, key train.Key, ev train.Notify) string {
	id := strconv.Itoa(route) + "\x00" + key.String() + "\x00" + ev.Key
	for _, c := range ev.Cars {
		id += "\x00" + strconv.FormatInt(c.MR, 10)
	}
	return id
}

// ErrStarted is returned by Start and Run on a Notifier that was started
// or closed before.
var ErrStarted = errors.New("notifier already started or closed")

// Start runs the workers in the background until ctx ends or Close is
// called.
func (n *Notifier) Start(ctx context.Context) error {
	n.life.Lock()
	defer n.life.Unlock()
	if n.started {
		return ErrStarted
	}
	n.started = true
	ctx, n.cancel = context.WithCancel(ctx)
	go func() {
		defer close(n.done)
		n.serve(ctx)
	}()
	return nil
}

// Run sends notifications until ctx ends, then sends what is queued
// within Grace and returns.
func (n *Notifier) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return err
	}
	<-n.done
	return nil
}

// Close stops taking notifications, sends what is queued within Grace,
// and returns when every worker has stopped. Notifications still queued
// at the deadline are dropped and counted.
func (n *Notifier) Close() {
	n.life.Lock()
	cancel := n.cancel
	n.started = true
	n.life.Unlock()
	if cancel == nil {
		// Never started: nothing will send what is queued.
		n.shut()
		n.drain(canceled())
		return
	}
	cancel()
	<-n.done
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func (n *Notifier) shut() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
}

// serve runs the workers. Sends use a context that outlives ctx by at
// most Grace, so a shutdown lets queued notifications out but does not
// wait on a hung receiver.
func (n *Notifier) serve(ctx context.Context) {
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	var grace sync.WaitGroup
	grace.Go(func() {
		select {
		case <-ctx.Done():
		case <-sctx.Done():
			return
		}
		t := time.NewTimer(n.opts.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			scancel()
		case <-sctx.Done():
		}
	})
	var workers sync.WaitGroup
	for range n.opts.Workers {
		workers.Go(func() { n.work(ctx, sctx) })
	}
	workers.Wait()
	scancel()
	grace.Wait()
}

func (n *Notifier) work(ctx, sctx context.Context) {
	for {
		select {
		case j := <-n.queue:
			n.handle(sctx, j)
		case <-ctx.Done():
			n.shut()
			n.drain(sctx)
			return
		}
	}
}

// drain handles what is queued, without waiting for more.
func (n *Notifier) drain(sctx context.Context) {
	for {
		select {
		case j := <-n.queue:
			n.handle(sctx, j)
		default:
			return
		}
	}
}

// handle sends j, or drops it once sctx has ended.
func (n *Notifier) handle(sctx context.Context, j job) {
	if sctx.Err() != nil {
		n.drop(j, "shut down before it was sent")
		return
	}
	n.deliver(sctx, j)
}

func (n *Notifier) deliver(ctx context.Context, j job) {
	log := n.logger(j)
	kind := string(j.n.Kind)
	defer func() {
		// A bad profile or an unforeseen event must not take the process
		// down with it.
		if p := recover(); p != nil {
			n.recent.forget(j.id)
			n.opts.Counter.Count(kind, OutcomeFailed)
			log.Error("chat notification panicked", zap.Any("panic", p))
		}
	}()
	msg := Message{Text: render(j.sink.dialect, n.opts.Profiles, j.key, j.n)}
	attempts, err := n.opts.Retry.send(ctx, j.sink.sender, msg, func(attempt int, wait time.Duration, err error) {
		n.opts.Counter.Count(kind, OutcomeRetried)
		log.Info("chat notification failed, retrying", zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
	})
	if err != nil {
		n.recent.forget(j.id)
		n.opts.Counter.Count(kind, OutcomeFailed)
		log.Warn("chat notification failed", zap.Int("attempts", attempts), zap.Error(err))
		return
	}
	n.opts.Counter.Count(kind, OutcomeSent)
	log.Debug("chat notification sent", zap.Int("attempts", attempts))
}

func (n *Notifier) logger(j job) *zap.Logger {
	fields := []zap.Field{
		zap.String("train", j.key.String()),
		zap.String("event", string(j.n.Kind)),
		zap.String("route", j.sink.name),
	}
	if len(j.n.Cars) == 1 {
		fields = append(fields, zap.Int64("mr", j.n.Cars[0].MR))
	}
	if j.n.Commit != "" {
		fields = append(fields, zap.String("sha", j.n.Commit))
	}
	return n.opts.Logger.With(fields...)
}
