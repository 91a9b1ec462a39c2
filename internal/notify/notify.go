// Package notify tells chat (Slack- and Mattermost-compatible incoming
// webhooks) about merges, evictions and paused trains.
//
// Sending is off the train's path. Notify renders the message for each
// route that wants it, keeps it in the route's queue in Redis and returns.
// Each route has a worker of its own that posts the route's messages as
// they fall due, so a receiver that hangs or fails holds up its own route
// only. A message that does not go through is due again after a backoff,
// for as long as its route's RetryFor, and then given up; one the receiver
// refuses (a 4xx) is given up at once. Either is logged and counted.
// Queued messages outlive a restart, and any replica may send them.
package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Counter counts notifications by route, event kind (merged, evicted, ...)
// and outcome (one of the Outcome constants), for metrics.
type Counter interface {
	Count(route, kind, outcome string)
}

// Outcomes given to Counter. One notification to one route ends sent,
// failed, expired or dropped; retried counts each extra attempt.
const (
	OutcomeSent = "sent"
	// OutcomeFailed: the receiver refused it (a 4xx), or it could not be
	// rendered or read back.
	OutcomeFailed = "failed"
	// OutcomeExpired: it still did not go through when its route's
	// RetryFor ran out.
	OutcomeExpired = "expired"
	// OutcomeDropped: it was never queued: the route's queue was full or
	// Redis did not answer in time.
	OutcomeDropped = "dropped"
	OutcomeRetried = "retried"
)

type nopCounter struct{}

func (nopCounter) Count(string, string, string) {}

// Queue keeps each route's messages in Redis until they are sent or given
// up, so they outlive a restart and any replica may send them;
// *store.Notifications is one. Times are when a message is due.
type Queue interface {
	// Add queues message id of route unless the route holds it or sent
	// it lately, and reports whether it did; a route holding limit
	// messages refuses it with an error. The route's queue is kept at
	// least keep.
	Add(ctx context.Context, route, id string, data []byte, due time.Time, limit int, keep time.Duration) (bool, error)
	// Claim takes the route's earliest message due by now, hidden from
	// other claims for lease; when none is due, it says when one is.
	Claim(ctx context.Context, route string, now time.Time, lease time.Duration) (store.Claimed, error)
	// Retry makes a claimed message due again at due, with new data.
	Retry(ctx context.Context, route, id string, data []byte, due time.Time) error
	// Done removes a sent message and remembers its id for remember.
	Done(ctx context.Context, route, id string, remember time.Duration) error
	// Drop removes a message given up on.
	Drop(ctx context.Context, route, id string) error
}

var _ Queue = (*store.Notifications)(nil)

// Options configure a Notifier. Zero values take the defaults named.
type Options struct {
	Routes []Route
	// Profiles name and link MRs, pipelines and commits the way each
	// forge does; a forge without one gets plain labels.
	Profiles forge.Profiles
	// Queue keeps the messages; required.
	Queue Queue
	// QueueSize is how many messages one route keeps before new ones are
	// dropped; default 1000.
	QueueSize int
	// QueueTimeout bounds Notify's writes to the queue; default 2s.
	QueueTimeout time.Duration
	Retry        Retry
	// Timeout bounds one request; default DefaultTimeout.
	Timeout time.Duration
	// Grace is how long, once the Notifier is told to stop, its workers
	// may still post what falls due; the rest waits in the queue for the
	// next start. Default 5s.
	Grace time.Duration
	// Poll is how often an idle worker looks for messages another replica
	// queued or left behind; default 5s.
	Poll time.Duration
	// Remember is how long a sent message is remembered, so a repeat of
	// its event is not posted again; default 24h.
	Remember time.Duration
	Client   *http.Client
	Logger   *zap.Logger
	Counter  Counter
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 2 * time.Second
	}
	o.Retry = o.Retry.withDefaults()
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Remember <= 0 {
		o.Remember = 24 * time.Hour
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
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// keepQueue is how long a route's queue outlives the retry period of its
// newest message. A message is settled within its retry period unless no
// worker ran (the service was down); one found later is given up, logged
// and counted, so the margin is generous. A route taken out of the
// configuration has its queue expire after that.
const keepQueue = 7 * 24 * time.Hour

// sink is a validated route with its sender.
type sink struct {
	name    string
	route   Route
	sender  Sender
	dialect dialect
	// hook tells the route's webhooks apart without naming them (see
	// message.Hook).
	hook string
	// wake tells the route's worker that a message was queued.
	wake chan struct{}
}

// Notifier fans notifications out to the routes that want them. It
// implements the engine's Notifier.
type Notifier struct {
	opts  Options
	sinks []sink
	// lease is how long a claimed message is hidden from other workers:
	// longer than one post may take, so that only a worker that died
	// leaves it to another.
	lease time.Duration

	life    sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New checks the routes and returns a Notifier; it sends nothing until
// Start or Run.
func New(o Options) (*Notifier, error) {
	o = o.withDefaults()
	n := &Notifier{opts: o, lease: o.Timeout + 30*time.Second, done: make(chan struct{})}
	for i, r := range o.Routes {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("notify route %s: %w", r.name(i), err)
		}
		hook := Webhook{URL: r.URL, Client: o.Client, Timeout: o.Timeout}
		var s Sender = Slack{Webhook: hook, Username: r.Username, IconURL: r.IconURL}
		if r.Kind == KindMattermost {
			s = Mattermost{Webhook: hook, Username: r.Username, IconURL: r.IconURL}
		}
		r.Branches, r.Events = slices.Clone(r.Branches), slices.Clone(r.Events)
		n.sinks = append(n.sinks, sink{
			name: r.name(i), route: r, sender: s, dialect: dialectFor(r.Kind), hook: fingerprint(r.URL), wake: make(chan struct{}, 1),
		})
	}
	if o.Queue == nil {
		return nil, errors.New("notify: no queue to keep messages in")
	}
	return n, nil
}

// Notify queues ev for every route that wants it and returns. An event
// already queued or sent lately for a route is not queued again.
func (n *Notifier) Notify(ctx context.Context, key train.Key, ev train.Notify) {
	// The engine counts the action done once Notify returns, so a pass
	// that is being cancelled still hands its message over; the writes
	// have a deadline of their own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.opts.QueueTimeout)
	defer cancel()
	now := n.opts.Now()
	id := eventID(key, ev)
	for i := range n.sinks {
		if s := &n.sinks[i]; s.route.matches(key, ev.Kind) {
			n.enqueue(ctx, s, id, key, ev, now)
		}
	}
}

func (n *Notifier) enqueue(ctx context.Context, s *sink, id string, key train.Key, ev train.Notify, now time.Time) {
	m := newMessage(key, ev, now)
	m.Hook = s.hook
	log := n.opts.Logger.With(m.fields(s.name)...)
	data, err := m.encode(s.dialect, n.opts.Profiles, key, ev)
	if err != nil {
		n.count(s, m.Kind, OutcomeFailed)
		log.Error("chat notification not rendered", zap.Error(err))
		return
	}
	queued, err := n.opts.Queue.Add(ctx, s.name, id, data, m.Queued, n.opts.QueueSize, s.route.retryFor()+keepQueue)
	switch {
	case err != nil:
		n.count(s, m.Kind, OutcomeDropped)
		log.Warn("chat notification dropped", zap.Error(err))
	case !queued:
		log.Debug("chat notification already queued or sent")
	default:
		log.Debug("chat notification queued")
		select {
		case s.wake <- struct{}{}:
		default: // the worker has a wake-up coming already
		}
	}
}

func (n *Notifier) count(s *sink, kind, outcome string) {
	n.opts.Counter.Count(s.name, kind, outcome)
}

// eventID names an event of a train alike each time the engine carries
// out its Notify action, which it may do twice. The cars are part of it
// because an eviction's key names the reason, not the MR. An event
// without a key is never taken for a repeat.
func eventID(key train.Key, ev train.Notify) string {
	if ev.Key == "" {
		return rand.Text()
	}
	b := []byte(key.String() + "\x00" + ev.Key)
	for _, c := range ev.Cars {
		b = strconv.AppendInt(append(b, 0), c.MR, 10)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// message is what a route's queue keeps of one notification: the post,
// what logs name it by, and how far its delivery got.
type message struct {
	Text  string `json:"text"`
	Kind  string `json:"kind"`
	Train string `json:"train"`
	// MR is set for an event about one MR.
	MR  int64  `json:"mr,omitempty"`
	SHA string `json:"sha,omitempty"`
	// Queued starts the route's retry period.
	Queued   time.Time `json:"queued"`
	Attempts int       `json:"attempts,omitempty"`
	// Hook is the fingerprint of the webhook it was written for. A queue
	// belongs to a route's name, which for an unnamed route is its place
	// in the configuration: after a reordering, the message must not go
	// to another route's channel.
	Hook string `json:"hook"`
}

// fingerprint tells webhook URLs apart; the URL, a credential, cannot be
// read back from it.
func fingerprint(url Secret) string {
	sum := sha256.Sum256([]byte(url))
	return hex.EncodeToString(sum[:8])
}

func newMessage(key train.Key, ev train.Notify, now time.Time) message {
	m := message{Kind: string(ev.Kind), Train: key.String(), SHA: ev.Commit, Queued: now}
	if len(ev.Cars) == 1 {
		m.MR = ev.Cars[0].MR
	}
	return m
}

// encode writes ev in a route's dialect as m's text and encodes m for the
// queue.
func (m message) encode(d dialect, profiles forge.Profiles, key train.Key, ev train.Notify) (data []byte, err error) {
	defer func() {
		// A bad profile or an unforeseen event must not take the train's
		// pass down with it.
		if p := recover(); p != nil {
			err = fmt.Errorf("render %s notification: panic: %v", m.Kind, p)
		}
	}()
	m.Text = render(d, profiles, key, ev)
	data, err = json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s notification: %w", m.Kind, err)
	}
	return data, nil
}

func (m message) fields(route string) []zap.Field {
	fields := []zap.Field{zap.String("train", m.Train), zap.String("event", m.Kind), zap.String("route", route)}
	if m.MR != 0 {
		fields = append(fields, zap.Int64("mr", m.MR))
	}
	if m.SHA != "" {
		fields = append(fields, zap.String("sha", m.SHA))
	}
	return fields
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

// Run sends notifications until ctx ends, then what falls due within
// Grace, and returns.
func (n *Notifier) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return err
	}
	<-n.done
	return nil
}

// Close stops the workers, lets them post what falls due within Grace,
// and returns when every worker has stopped. What is left waits in the
// queue for the next start, here or in another replica.
func (n *Notifier) Close() {
	n.life.Lock()
	cancel := n.cancel
	n.started = true
	n.life.Unlock()
	if cancel == nil {
		return // never started
	}
	cancel()
	<-n.done
}

// serve runs a worker per route. Posts use a context that outlives ctx by
// at most Grace, so a shutdown lets due messages out but does not wait on
// a hung receiver.
func (n *Notifier) serve(ctx context.Context) {
	if len(n.sinks) == 0 {
		<-ctx.Done() // nothing to send, but Run keeps its promise
		return
	}
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
	for i := range n.sinks {
		w := &worker{n: n, s: &n.sinks[i]}
		workers.Go(func() { w.run(ctx, sctx) })
	}
	workers.Wait()
	scancel()
	grace.Wait()
}
