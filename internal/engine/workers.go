package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Workers drain the event stream through a consumer group. A reader turns
// each event into jobs for the trains it concerns; jobs wait in a queue
// keyed by train, where a train's jobs are merged, and Count workers take
// one train at a time and handle all its waiting work in one pass. A
// train whose lease another replica holds goes back in the queue for a
// while instead of holding a worker, and is tried again as soon as the
// store announces the lease released. Each event is acknowledged only after
// every pass that consumed it saved its train, so an event a dead process
// held is claimed by another once it has been idle ClaimIdle.
type Workers struct {
	Store *store.Store
	// Jobs says what an event asks of which trains. It reads neither the
	// forge nor a train's lease.
	Jobs func(ctx context.Context, ev event.Event) ([]Job, error)
	// Pass carries out one train's merged job with one try at its lease,
	// failing with ErrBusy when another holds it. It may return jobs
	// that finish the work, such as the train job of a command: the
	// events settle when those are done too.
	Pass func(ctx context.Context, j Job) ([]Job, error)
	// Forward, when set, hands what an urgent job brings to the replica
	// that holds its train's lease, and returns what is left to try
	// again (see Engine.Forward).
	Forward func(ctx context.Context, j Job) (Job, error)
	// Urgent, when set, reports whether a car of key's train now waits
	// for the pipeline of one of commits. It is asked, when a pass ends,
	// of results that came for the train during the pass and were not
	// urgent then: the pass may have built the car they are for.
	Urgent func(ctx context.Context, key train.Key, commits []string) bool
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
	// EventTimeout bounds one pass.
	EventTimeout time.Duration
	// HeldBytes bounds the bytes of the events read and not yet settled
	// (default 8 MiB per worker): anyone who can comment can post
	// commands of many kilobytes each.
	HeldBytes int64
	// BusyFirst and BusyMax bound the backoff of a train whose lease
	// another replica holds: it doubles from BusyFirst up to BusyMax.
	// It is the fallback for a release whose announcement was lost, or a
	// lease that expired. Defaults: 5ms and 200ms.
	BusyFirst, BusyMax time.Duration
	Log                *zap.Logger
	// Observe, when set, is told each event's outcome (for metrics).
	Observe func(ev event.Event, outcome string, took time.Duration)
	// Panicked, when set, is told of every panic recovered (for metrics).
	Panicked func(where string)

	once  sync.Once
	queue *keyQueue
	// slots bounds the events read and not yet settled, heldBytes their
	// size.
	slots     chan struct{}
	heldBytes atomic.Int64
	mu        sync.Mutex // guards held, and every entry's left and err
	// held are the entries read and not yet settled, by stream id.
	held map[string]*entry
	// freedMu orders announcements of freed leases with workers giving
	// their trains back, so that one heard during a pass is not lost.
	freedMu sync.Mutex
	// freed are the trains, by queue id, whose lease was announced freed
	// while a worker had them.
	freed map[string]bool
}

// entry is a stream entry being handled: settled once every job made of
// it is done.
type entry struct {
	se    store.Event
	ev    event.Event
	start time.Time
	left  int
	err   error
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

// By default busy trains are tried again after a delay doubling from
// busyFirst up to busyMax, or sooner when their lease is announced freed,
// for as long as it takes: their events are kept from the claim meanwhile
// (see touch), so waiting costs no delivery.
const (
	busyFirst = 5 * time.Millisecond
	busyMax   = 200 * time.Millisecond
)

func (w *Workers) init() {
	w.once.Do(func() {
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
		if w.HeldBytes <= 0 {
			w.HeldBytes = heldBytesPerWorker * int64(w.Count)
		}
		if w.EventTimeout <= 0 {
			w.EventTimeout = 5 * time.Minute
		}
		if w.BusyFirst <= 0 {
			w.BusyFirst = busyFirst
		}
		if w.BusyMax <= 0 {
			w.BusyMax = busyMax
		}
		w.BusyMax = max(w.BusyMax, w.BusyFirst)
		if w.Log == nil {
			w.Log = zap.NewNop()
		}
		w.queue = newKeyQueue()
		// The stream is read in order, so whatever lies behind the bound
		// waits unread: a pipeline's result behind a burst of /train add
		// on many projects would wait for most of the burst to be done
		// instead of going ahead of it. An entry held costs one XCLAIM
		// per touch and its event, under a kilobyte but for a comment's
		// text, whose bytes HeldBytes bounds: the count is generous.
		w.slots = make(chan struct{}, heldPerWorker*w.Count)
		w.held = map[string]*entry{}
		w.freed = map[string]bool{}
	})
}

// Enqueue queues a job that no event brought, such as a sweep.
func (w *Workers) Enqueue(j Job) {
	w.init()
	w.queue.add(j)
}

// Run drains the stream until ctx ends, then lets in-flight passes finish
// within Grace and returns. Work still queued is left, unacknowledged, for
// the claim.
func (w *Workers) Run(ctx context.Context) error {
	w.init()
	w.ensureGroup(ctx)
	if ctx.Err() != nil {
		return nil
	}
	// Passes outlive ctx by at most Grace, so a SIGTERM does not cut a
	// train's save in half when it need not.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		w.queue.close()
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
	for range w.Count {
		wg.Go(func() { w.work(hctx) })
	}
	wg.Go(func() { w.touch(ctx) })
	freed := func(k train.Key) {
		if w.leaseFreed(k) {
			if it, _ := w.queue.pendingResults(k.String()); it != nil {
				// Off the watcher's goroutine, which also carries the
				// requests for leases that urgent work waits on: Urgent
				// reads Redis.
				wg.Go(func() { w.promoteResults(ctx, k.String(), k) })
			}
		}
	}
	wg.Go(func() { w.Store.WatchLeases(ctx, freed, w.leaseWanted) })
	w.read(ctx, hctx)
	wg.Wait()
	return nil
}

// ensureGroup makes the consumer group, trying again until Redis answers
// or ctx ends: a replica started while Redis fails over (a ping may
// reach a node that is up while the stream's is not) waits for it
// instead of exiting.
func (w *Workers) ensureGroup(ctx context.Context) {
	wait := 100 * time.Millisecond
	for {
		err := w.Store.EnsureGroup(ctx, w.Group)
		if err == nil || ctx.Err() != nil {
			return
		}
		w.Log.Warn("create the consumer group; trying again", zap.Duration("in", wait), zap.Error(err))
		sleep(ctx, wait)
		wait = min(wait*2, 5*time.Second)
	}
}

// touch keeps the entries this process holds from being claimed by
// another while they wait in the queue or for a busy train, every third
// of ClaimIdle, until ctx ends. A process that dies stops touching, and
// its entries are claimed as before.
func (w *Workers) touch(ctx context.Context) {
	t := time.NewTicker(w.ClaimIdle / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		evs := make([]store.Event, 0, len(w.held))
		for _, en := range w.held {
			evs = append(evs, en.se)
		}
		w.mu.Unlock()
		if err := w.Store.Touch(ctx, w.Group, w.Consumer, evs...); err != nil && ctx.Err() == nil {
			w.Log.Warn("keep held events", zap.Int("events", len(evs)), zap.Error(err))
		}
	}
}

// heldPerWorker and heldBytesPerWorker bound the events read and not yet
// settled, per worker.
const (
	heldPerWorker      = 1024
	heldBytesPerWorker = 8 << 20
)

// A consumer idle for forgetAfter with nothing pending is dropped from the
// group, looked for every forgetEvery.
const (
	forgetAfter = time.Hour
	forgetEvery = 10 * time.Minute
)

// read feeds the queue from the stream, and from events other consumers
// left idle, until ctx ends.
func (w *Workers) read(ctx, hctx context.Context) {
	log := w.Log.With(zap.String("consumer", w.Consumer))
	nextClaim, nextForget := time.Now(), time.Now()
	for ctx.Err() == nil {
		if time.Now().After(nextForget) {
			// Each process start reads as a consumer of its own: those
			// of processes long gone, once their events were claimed,
			// are dropped from the group.
			if n, err := w.Store.ForgetConsumers(ctx, w.Group, forgetAfter); err != nil && ctx.Err() == nil {
				log.Warn("forget idle consumers", zap.Error(err))
			} else if n > 0 {
				log.Info("forgot idle consumers", zap.Int("consumers", n))
			}
			nextForget = time.Now().Add(forgetEvery)
		}
		free := cap(w.slots) - len(w.slots)
		if free == 0 || w.heldBytes.Load() >= w.HeldBytes {
			sleep(ctx, 10*time.Millisecond)
			continue
		}
		if time.Now().After(nextClaim) {
			n := min(free, 10)
			evs, err := w.Store.ClaimIdle(ctx, w.Group, w.Consumer, w.ClaimIdle, int64(n))
			if err != nil && ctx.Err() == nil {
				log.Warn("claim idle events", zap.Error(err))
			}
			w.intake(hctx, log, evs)
			nextClaim = time.Now().Add(w.ClaimIdle / 2)
			if len(evs) == n {
				nextClaim = time.Now() // a full batch: more may be idle
			}
			continue
		}
		// Read in bites, so that replicas share a burst.
		evs, err := w.Store.ReadEvents(ctx, w.Group, w.Consumer, int64(min(free, 64*w.Count)), min(time.Second, w.ClaimIdle/2))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("read events", zap.Error(err))
				sleep(ctx, time.Second)
			}
			continue
		}
		w.intake(hctx, log, evs)
	}
}

// intake turns entries into jobs, or settles those that cannot be.
func (w *Workers) intake(ctx context.Context, log *zap.Logger, evs []store.Event) {
	for _, se := range evs {
		w.slots <- struct{}{}
		w.heldBytes.Add(int64(len(se.Data)))
		en := &entry{se: se, start: time.Now()}
		ev, err := event.Unmarshal(se.Data)
		en.ev = ev
		if err != nil {
			log.Error("an event that does not decode goes to the dead letters", zap.String("entry", se.ID), zap.Error(err))
			w.bury(ctx, en, fmt.Sprintf("does not decode: %v", err))
			continue
		}
		if se.Deliveries > w.MaxDeliveries {
			// Handed out more often than allowed and never settled: whoever
			// took it may have crashed on it. It is not tried again.
			w.logFor(en).Error("an event delivered too often goes to the dead letters", zap.Int64("deliveries", se.Deliveries))
			w.bury(ctx, en, fmt.Sprintf("delivered %d times without being settled (a worker may have crashed on it)", se.Deliveries))
			continue
		}
		jobs, err := w.jobs(ctx, ev)
		if err != nil || len(jobs) == 0 {
			en.left = 1
			w.settle(ctx, []*entry{en}, err)
			continue
		}
		w.mu.Lock()
		en.left = len(jobs)
		w.held[se.ID] = en
		w.mu.Unlock()
		for _, j := range jobs {
			j.solo = se.Deliveries > 1
			w.queue.add(j, en)
			if !j.urgent && len(j.results) > 0 {
				// The pass saving the car may have ended between Jobs's
				// look and the add: neither its end here nor its release
				// announced found this work to promote, so look again.
				w.promoteResults(ctx, j.id(), j.Key)
			}
		}
	}
}

// jobs runs Jobs with a panic turned into an error.
func (w *Workers) jobs(ctx context.Context, ev event.Event) (jobs []Job, err error) {
	defer w.recover(&err)
	return w.Jobs(ctx, ev)
}

// work takes trains from the queue until it closes.
func (w *Workers) work(ctx context.Context) {
	for {
		id, it, ok := w.queue.get()
		if !ok {
			return
		}
		next, err := w.pass(ctx, it.job)
		if errors.Is(err, ErrBusy) && ctx.Err() == nil {
			// A job left waiting for what it forwarded asks once: asked
			// again at every try, the holder would end its pass at every
			// action for nothing.
			if it.job.urgent && !it.job.inboxOnly {
				// Forwarded first, so that the holder, told, finds it in
				// the inbox and plans it after the action at hand.
				if w.Forward != nil {
					if rest, err := w.Forward(ctx, it.job); err != nil {
						w.Log.Warn("forward to a busy train", zap.String("train", id), zap.Error(err))
					} else {
						rest.solo = it.job.solo
						it.job = rest
					}
				}
				if err := w.Store.WantLease(ctx, it.job.Key); err != nil {
					w.Log.Warn("ask for a busy lease", zap.String("train", id), zap.Error(err))
				}
			}
			delay := min(w.BusyFirst<<min(it.busy, 10), w.BusyMax)
			it.busy++
			key := it.job.Key // it is the queue's again once given back
			w.giveBack(id, it, delay)
			// A release announced while this worker tried the lease
			// found the train busy here and left its results alone
			// (leaseFreed); the car they are for may be saved now.
			w.promoteResults(ctx, id, key)
			continue
		}
		if err == nil && len(next) > 0 {
			w.mu.Lock()
			for _, en := range it.entries {
				en.left += len(next)
			}
			w.mu.Unlock()
			for _, j := range next {
				j.solo = j.solo || it.job.solo
				w.queue.add(j, it.entries...)
			}
		}
		w.promoteResults(ctx, id, it.job.Key)
		w.giveBack(id, nil, 0)
		if err != nil && !errors.Is(err, ErrBusy) {
			w.Log.Warn("pass failed", zap.String("train", id), zap.Error(err))
		}
		w.settle(ctx, it.entries, err)
	}
}

// promoteResults moves the work waiting for key id ahead of work that
// can wait if it brings a result that a car now waits for. On a forge
// that starts a car's pipeline when the car is pushed, the result of an
// instant pipeline comes before the pass that pushed the car has saved
// it, and would otherwise wait behind every other train's work.
func (w *Workers) promoteResults(ctx context.Context, id string, key train.Key) {
	if w.Urgent == nil {
		return
	}
	if it, commits := w.queue.pendingResults(id); it != nil && w.Urgent(ctx, key, commits) {
		w.queue.promote(id, it)
	}
}

// giveBack hands key id back to the queue, as keyQueue.done. Work to do
// again skips its delay if the train's lease was announced freed during
// the pass: the announcement found nothing to hurry then.
func (w *Workers) giveBack(id string, again *item, delay time.Duration) {
	w.freedMu.Lock()
	defer w.freedMu.Unlock()
	if w.freed[id] {
		delete(w.freed, id)
		if again != nil {
			delay = 0
		}
	}
	w.queue.done(id, again, delay)
}

// leaseFreed has a train whose lease was released tried again now if it
// waits out a busy backoff here, or as soon as its worker gives it back.
// It reports whether results waiting here for the train should be checked
// again (see promoteResults): unless a worker here has the train, the
// pass that released the lease was another replica's, and may have saved
// the car they are for.
func (w *Workers) leaseFreed(key train.Key) (recheck bool) {
	id := key.String()
	w.freedMu.Lock()
	active, hurried := w.queue.hurry(id)
	if active {
		w.freed[id] = true
	}
	w.freedMu.Unlock()
	if hurried {
		w.Log.Debug("lease freed: trying the train again now", zap.String("train", id))
	}
	return !active
}

// leaseWanted has the pass of a train whose lease another replica wants
// for urgent work end after the action at hand, if a worker here has it.
func (w *Workers) leaseWanted(key train.Key) {
	w.queue.want(key.String())
}

// hurry ends id's busy backoff now, if it waits one, and reports whether
// it did, and whether a worker has id.
func (q *keyQueue) hurry(id string) (active, hurried bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active[id] {
		return true, false
	}
	it := q.waiting[id]
	if it == nil || it.state != itemDelayed {
		return false, false
	}
	// A timer that has fired wakes the item itself; only one stopped here
	// is sure not to cut the item's next backoff short.
	t := q.timers[id]
	if t == nil || !t.Stop() {
		return false, false
	}
	delete(q.timers, id)
	it.state = itemIdle
	q.wake(id, it)
	return false, true
}

// pass runs Pass for one job, bounded by EventTimeout, with a panic
// turned into an error.
func (w *Workers) pass(ctx context.Context, j Job) (next []Job, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.EventTimeout)
	defer cancel()
	defer w.recover(&err)
	id := j.id()
	h := &waitHook{waiting: func() bool { return w.queue.othersWait(id) }, served: func() { w.queue.served(id) }}
	return w.Pass(context.WithValue(ctx, othersWaitKey{}, h), j)
}

// recover turns a panic into a PanicError in *err, so one poison event
// cannot take the process, and every replica in turn, down with it.
func (w *Workers) recover(err *error) {
	if r := recover(); r != nil {
		p := &PanicError{Value: r, Stack: debug.Stack()}
		w.Log.Error("panic while handling an event", zap.Any("panic", r), zap.ByteString("stack", p.Stack))
		if w.Panicked != nil {
			w.Panicked("event")
		}
		*err = p
	}
}

// settle records the end of one job of each entry, and acknowledges,
// buries or leaves for the claim the entries that have no job left.
func (w *Workers) settle(ctx context.Context, ens []*entry, err error) {
	var finished []*entry
	w.mu.Lock()
	for _, en := range ens {
		if err != nil && en.err == nil {
			en.err = err
		}
		en.left--
		if en.left == 0 {
			finished = append(finished, en)
			delete(w.held, en.se.ID)
		}
	}
	w.mu.Unlock()
	var acks []string
	var acked []*entry
	for _, en := range finished {
		outcome := w.outcome(ctx, en)
		if outcome == OutcomeHandled || outcome == OutcomeGone {
			acks = append(acks, en.se.ID)
			acked = append(acked, en)
			continue
		}
		w.observe(en, outcome)
		w.release(en)
	}
	if len(acks) == 0 {
		return
	}
	if err := w.Store.Ack(ctx, w.Group, acks...); err != nil {
		w.Log.Warn("ack events", zap.Strings("entries", acks), zap.Error(err))
	}
	for _, en := range acked {
		if en.err == nil {
			w.observe(en, OutcomeHandled)
		} else {
			w.observe(en, OutcomeGone)
		}
		w.release(en)
	}
}

// release frees the slot and the bytes en held.
func (w *Workers) release(en *entry) {
	w.heldBytes.Add(-int64(len(en.se.Data)))
	<-w.slots
}

// outcome says what becomes of a settled entry, and buries it if that is
// its fate.
func (w *Workers) outcome(ctx context.Context, en *entry) string {
	err := en.err
	log := w.logFor(en)
	var p *PanicError
	switch {
	case err == nil:
		return OutcomeHandled
	case errors.Is(err, forge.ErrNotFound) || errors.Is(err, forge.ErrRejected) && (!errors.Is(err, forge.ErrForbidden) || heldByTrain(err)):
		log.Warn("event not handled: the forge refused for good", zap.Error(err))
		return OutcomeGone
	case en.se.Deliveries >= w.MaxDeliveries:
		log.Error("an event that keeps failing goes to the dead letters", zap.Int64("deliveries", en.se.Deliveries), zap.Error(err))
		if _, berr := w.Store.Bury(ctx, w.Group, en.se, err.Error(), time.Now()); berr != nil {
			log.Error("move event to the dead letters", zap.String("entry", en.se.ID), zap.Error(berr))
		}
		return OutcomeDead
	case errors.As(err, &p):
		return OutcomePanic
	}
	// Left unacknowledged: it is claimed again after ClaimIdle, here or
	// by another replica.
	level := log.Warn
	if errors.Is(err, ErrBusy) || errors.Is(err, context.Canceled) {
		level = log.Info
	}
	level("event not handled; it will be retried", zap.Int64("deliveries", en.se.Deliveries), zap.Error(err))
	return OutcomeRetry
}

// heldByTrain reports whether err is the failure of actions the train
// keeps in its outbox, which it tries again itself: the event need not be
// kept for them.
func heldByTrain(err error) bool {
	return errors.As(err, new(outboxError))
}

func (w *Workers) logFor(en *entry) *zap.Logger {
	return w.Log.With(zap.String("entry", en.se.ID), zap.String("event", en.ev.ID), zap.String("kind", string(en.ev.Kind)),
		zap.String("project", en.ev.Project), zap.Int64("mr", en.ev.MR))
}

// PanicError is a panic recovered while handling an event or a sweep.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// bury moves an entry that is never to be handled to the dead-letter
// stream. If that fails the entry stays pending and is tried again after
// ClaimIdle.
func (w *Workers) bury(ctx context.Context, en *entry, reason string) {
	if _, err := w.Store.Bury(ctx, w.Group, en.se, reason, time.Now()); err != nil {
		w.Log.Error("move event to the dead letters", zap.String("entry", en.se.ID), zap.Error(err))
	}
	w.observe(en, OutcomeDead)
	w.release(en)
}

func (w *Workers) observe(en *entry, outcome string) {
	if w.Observe != nil {
		w.Observe(en.ev, outcome, time.Since(en.start))
	}
}

// Sweeper has every active train's world re-read on a timer, so a lost
// webhook delays a train by at most one interval.
type Sweeper struct {
	Store *store.Store
	// Sweep sweeps a train, or queues it for the workers, which read the
	// forge under its lease.
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
	// Retire, when set, retires the idle trains that may be (see
	// train.Train.Retirable), and marks idle those idle since before
	// that was kept.
	Retire func(ctx context.Context, key train.Key) (bool, error)
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

// Pass sweeps every train that has cars or owes actions once, unless a
// replica's sweeper did so within most of an Interval: the trains' sweeps
// are shared out as their forge reads are. A panic in one train's sweep
// is recovered and logged, and the pass goes on.
func (s *Sweeper) Pass(ctx context.Context) {
	start := time.Now()
	if s.CatchUp != nil {
		if err := s.guard(ctx, "catch up", s.CatchUp); err != nil && ctx.Err() == nil {
			s.Log.Warn("sweep: catch up on missed commands", zap.Error(err))
		}
	}
	if s.Interval > 0 {
		// On an error the trains are swept: a sweep too many costs less
		// than one missed.
		if due, err := s.Store.Once(ctx, "sweeper", s.Interval*9/10); err == nil && !due {
			return
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
		if t.Idle() && len(t.Outbox) == 0 && len(t.Strays) == 0 && !s.hasInbox(ctx, key) {
			if s.Retire != nil && (t.IdleSince.IsZero() || t.Retirable(time.Now())) {
				err := s.guard(ctx, "retire train "+key.String(), func(ctx context.Context) error { _, err := s.Retire(ctx, key); return err })
				if err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
					s.Log.Warn("retire train", zap.String("train", key.String()), zap.Error(err))
				}
			}
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

// hasInbox reports whether work waits in an idle train's inbox, which
// another train sent it (a lane's train is sent its first MR so): a pass
// takes it. An error says yes: a sweep too many costs less.
func (s *Sweeper) hasInbox(ctx context.Context, key train.Key) bool {
	n, err := s.Store.InboxLen(ctx, key)
	return err != nil || n > 0
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
