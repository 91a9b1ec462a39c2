package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/internal/command"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/train"
)

// Job is what events and the sweep ask of one train. Jobs for one train
// that wait together are merged into one, so a burst of events costs one
// pass under the lease.
type Job struct {
	Key train.Key
	// Obs are observations to apply, oldest first.
	Obs []train.Observation
	// Head: read the target's head under the lease (a push happened).
	Head bool
	// Sweep: read the forge's view of the train under the lease, unless
	// a replica did so less than a sweep interval ago.
	Sweep bool
	// Checks are commits whose pipelines are read again under the lease,
	// once each, on forges whose pipelines are found by commit.
	Checks []string
	// Command is a comment's command. It is run on its own: a command
	// reads the forge before it knows its train.
	Command *event.Event
	// parsed is Command's command, parsed when the job was made.
	parsed *command.Result
	// force: sweep whenever the last sweep was (direct calls).
	force bool
	// headIfIdle: read the target's head if the train has no car, whose
	// head may be old; a train with cars follows its head already.
	headIfIdle bool
	// create: make the train if it does not exist (commands); events
	// never make trains.
	create bool
	// after runs under the lease once the job's observations are planned
	// and carried out; what it returns is planned in turn.
	after []afterFunc
	// done runs under the lease once everything the job brought, its
	// after work included, is saved: marking its command done then
	// cannot lose what the command led to.
	done []func(ctx context.Context) error
	// pushed is the head a push event reported, when every head read the
	// job asks for came from pushes to that one head: one the train holds
	// already (its own fast-forward) needs no read.
	pushed string
	// urgent: the job brings a pipeline's result that a car waits for (see
	// Engine.waitedOn); it goes ahead of builds and sweeps.
	urgent bool
	// results are the commits whose finished pipelines the job brings.
	// A result that came while the pass building its car was under way
	// (a forge that starts pipelines on the push reports them before the
	// push returns) is not yet waited on; it is checked again when that
	// pass ends (see Workers.Urgent).
	results []string
	// inboxOnly: what was left of a job whose work was forwarded to the
	// train's holder (see Engine.Forward); its pass takes what the inbox
	// still holds, and leaves the rest to the holder.
	inboxOnly bool
	// solo: the job comes of an event delivered again after it failed,
	// and runs in a pass of its own, never merged with other work: an
	// event that makes every pass it is in panic or fail would otherwise
	// take the events merged with it, again at each delivery, to the
	// dead letters with it.
	solo bool
}

// Urgent reports whether j brings a pipeline's result that a car waits
// for.
func (j Job) Urgent() bool { return j.urgent }

// Results are the commits whose finished pipelines j brings.
func (j Job) Results() []string { return j.results }

// afterFunc is work a job does under the train's lease once its
// observations are carried out, such as reading the head of an MR just
// added again.
type afterFunc func(ctx context.Context, t train.Train) ([]train.Observation, error)

// id keys a job in the queue: a train, or the commands on one MR, which
// then run one at a time in the order they came. Each command reads the
// forge before its train is known and queues its train's work when done:
// an add and a remove on two workers at once could reach the train in
// the wrong order.
func (j Job) id() string {
	if c := j.Command; c != nil {
		return "command:" + c.Forge + ":" + strings.ToLower(c.Project) + "!" + strconv.FormatInt(c.MR, 10)
	}
	return j.Key.String()
}

// sameCommand reports whether a and b are the same command, delivered
// twice.
func sameCommand(a, b Job) bool {
	return a.Command != nil && b.Command != nil && a.Command.CommandID() == b.Command.CommandID()
}

// merge adds newer work to j.
func (j *Job) merge(newer Job) {
	j.Obs = append(j.Obs, newer.Obs...)
	switch {
	case !newer.Head:
	case !j.Head:
		j.pushed = newer.pushed
	case j.pushed != newer.pushed:
		j.pushed = ""
	}
	j.Head = j.Head || newer.Head
	j.Sweep = j.Sweep || newer.Sweep
	j.force = j.force || newer.force
	j.headIfIdle = j.headIfIdle || newer.headIfIdle
	j.create = j.create || newer.create
	j.urgent = j.urgent || newer.urgent
	for _, sha := range newer.results {
		if !slices.Contains(j.results, sha) {
			j.results = append(j.results, sha)
		}
	}
	j.inboxOnly = j.inboxOnly && newer.inboxOnly
	j.after = append(j.after, newer.after...)
	j.done = append(j.done, newer.done...)
	for _, sha := range newer.Checks {
		if !slices.Contains(j.Checks, sha) {
			j.Checks = append(j.Checks, sha)
		}
	}
}

// item is the work waiting for one key, with the stream entries it
// settles.
type item struct {
	job     Job
	entries []*entry
	// later are commands on the same MR that came after job's: commands
	// are never merged, each waits its turn.
	later []queued
	// busy counts the tries in a row that found the train's lease held
	// elsewhere.
	busy int
	// state: idle (added while its key is with a worker), queued (in
	// ready or urgent) or delayed (waiting out a backoff).
	state itemState
	// inUrgent: queued in urgent rather than ready.
	inUrgent bool
}

// queued is a job waiting behind another of its key, with its entries.
type queued struct {
	job     Job
	entries []*entry
}

// push adds j to it: merged, or, for a command other than its own or
// work that runs alone, behind it.
func (it *item) push(j Job, ens []*entry) {
	switch {
	case len(it.later) == 0 && mergeable(it.job, j):
		// Not past work waiting behind: what a pass consumes stays in
		// the order it came.
		it.job.merge(j)
	case sameCommand(it.job, j):
	default:
		for i := range it.later {
			if sameCommand(it.later[i].job, j) {
				it.later[i].entries = append(it.later[i].entries, ens...)
				return
			}
		}
		if n := len(it.later); n > 0 && mergeable(it.later[n-1].job, j) {
			it.later[n-1].job.merge(j)
			it.later[n-1].entries = append(it.later[n-1].entries, ens...)
			return
		}
		it.later = append(it.later, queued{job: j, entries: ens})
		return
	}
	it.entries = append(it.entries, ens...)
}

// mergeable reports whether a and b may be done in one pass: trains'
// work, neither of which runs alone.
func mergeable(a, b Job) bool {
	return a.Command == nil && b.Command == nil && !a.solo && !b.solo
}

type itemState int

const (
	itemIdle itemState = iota
	itemQueued
	itemDelayed
)

// keyQueue hands out work by key, in the way of client-go's workqueue:
// work added for a key that waits is merged into it; work added while a
// worker has the key waits until that worker is done, so one key is never
// with two workers of a process at once; a key given back after a busy
// lease waits out a delay without holding a worker. Keys with urgent work
// (a pipeline's result) are handed out first.
type keyQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	waiting map[string]*item
	ready   []string
	urgent  []string
	active  map[string]bool
	// wanted are active keys whose lease another replica wants for
	// urgent work.
	wanted map[string]bool
	timers map[string]*time.Timer
	closed bool
}

func newKeyQueue() *keyQueue {
	q := &keyQueue{waiting: map[string]*item{}, active: map[string]bool{}, wanted: map[string]bool{}, timers: map[string]*time.Timer{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues j, settling ens when the pass that consumes j ends.
func (q *keyQueue) add(j Job, ens ...*entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	id := j.id()
	it := q.waiting[id]
	if it == nil {
		it = &item{job: j, entries: ens}
		q.waiting[id] = it
	} else {
		it.push(j, ens)
	}
	if it.state == itemQueued && !it.inUrgent && it.job.urgent {
		// In line already, behind work that can wait: moved ahead.
		if i := slices.Index(q.ready, id); i >= 0 {
			q.ready = slices.Delete(q.ready, i, i+1)
			q.urgent = append(q.urgent, id)
			it.inUrgent = true
		}
	}
	q.wake(id, it)
}

// wake puts an idle item in line unless a worker has its key.
func (q *keyQueue) wake(id string, it *item) {
	if it.state != itemIdle || q.active[id] || q.closed {
		return
	}
	it.state = itemQueued
	it.inUrgent = it.job.urgent
	if it.inUrgent {
		q.urgent = append(q.urgent, id)
	} else {
		q.ready = append(q.ready, id)
	}
	q.cond.Signal()
}

// get waits for a key whose work is ready and hands it to the caller, who
// must call done. It returns false once the queue is closed.
func (q *keyQueue) get() (string, *item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ready) == 0 && len(q.urgent) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", nil, false
	}
	var id string
	if len(q.urgent) > 0 {
		id, q.urgent = q.urgent[0], q.urgent[1:]
	} else {
		id, q.ready = q.ready[0], q.ready[1:]
	}
	it := q.waiting[id]
	delete(q.waiting, id)
	if len(it.later) > 0 {
		// The next command waits for this one's worker to be done.
		next := &item{job: it.later[0].job, entries: it.later[0].entries, later: it.later[1:]}
		it.later = nil
		q.waiting[id] = next
	}
	q.active[id] = true
	return id, it, true
}

// done gives key id back. again, when set, is work to do again after
// delay, ahead of anything added for the key meanwhile.
func (q *keyQueue) done(id string, again *item, delay time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, id)
	delete(q.wanted, id)
	if again != nil {
		if newer := q.waiting[id]; newer != nil {
			again.push(newer.job, newer.entries)
			for _, l := range newer.later {
				again.push(l.job, l.entries)
			}
		}
		again.state = itemIdle
		q.waiting[id] = again
		if delay > 0 && !q.closed {
			again.state = itemDelayed
			q.timers[id] = time.AfterFunc(delay, func() {
				q.mu.Lock()
				defer q.mu.Unlock()
				delete(q.timers, id)
				if it := q.waiting[id]; it == again && it.state == itemDelayed {
					it.state = itemIdle
					q.wake(id, it)
				}
			})
			return
		}
	}
	if it := q.waiting[id]; it != nil {
		q.wake(id, it)
	}
}

// pendingResults is the results of the work waiting for key id that is
// not urgent, if any.
func (q *keyQueue) pendingResults(id string) (*item, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.waiting[id]
	if it == nil || it.job.urgent || len(it.job.results) == 0 {
		return nil, nil
	}
	return it, slices.Clone(it.job.results)
}

// promote makes the work waiting for key id urgent, ahead of work that
// can wait.
func (q *keyQueue) promote(id string, was *item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.waiting[id]
	if it == nil || it != was || it.job.urgent {
		return
	}
	it.job.urgent = true
	if it.state == itemQueued && !it.inUrgent {
		if i := slices.Index(q.ready, id); i >= 0 {
			q.ready = slices.Delete(q.ready, i, i+1)
			q.urgent = append(q.urgent, id)
			it.inUrgent = true
		}
	}
}

// othersWait reports whether the pass of the worker that has key id
// should end early to let other work in: work added for id meanwhile,
// urgent work of another key that no worker is free to take, or urgent
// work of another replica for id.
func (q *keyQueue) othersWait(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active[id] && (q.waiting[id] != nil || q.wanted[id]) || len(q.urgent) > 0
}

// want records that another replica wants active key id's lease for
// urgent work.
func (q *keyQueue) want(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active[id] {
		q.wanted[id] = true
	}
}

// served records that what another replica wanted active key id's lease
// for was forwarded and taken: the pass need not end early for it.
func (q *keyQueue) served(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.wanted, id)
}

// close wakes every waiting get and drops what was never handed out: its
// events stay unacknowledged, for the claim.
func (q *keyQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, t := range q.timers {
		t.Stop()
	}
	q.cond.Broadcast()
	clear(q.waiting)
}
