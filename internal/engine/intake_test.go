package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// A pipeline's result that a car waits for is read from the stream and
// handled ahead of a backlog of commands waiting for a worker, not after
// them: a burst of /train add on many projects once held results in the
// stream, unread, until most of the burst was done.
func TestWorkersReadAResultPastACommandBacklog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	const backlog = 300
	for i := range backlog + 1 {
		ev := event.Event{ID: fmt.Sprintf("add-%03d", i), Forge: "gitlab", Project: fmt.Sprintf("g/p%03d", i), Kind: event.KindComment, MR: 1}
		if i == backlog {
			ev = event.Event{ID: "result", Forge: "gitlab", Project: "g/busy", Kind: event.KindPipeline, Pipeline: 9, SHA: "c0ffee", Status: train.PipelineSuccess}
		}
		data, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.EnqueueDelivery(ctx, "gitlab:"+ev.ID, time.Hour, data); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		order []string
		all   = make(chan struct{})
	)
	w := &Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: time.Minute, MaxDeliveries: 3, Log: zaptest.NewLogger(t),
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			j := Job{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: "main"}, Obs: []train.Observation{train.Tick{}}}
			if ev.Kind == event.KindPipeline {
				j.urgent, j.results = true, []string{ev.SHA}
			}
			return []Job{j}, nil
		},
		Pass: func(_ context.Context, j Job) ([]Job, error) {
			time.Sleep(5 * time.Millisecond) // a command reads the forge
			mu.Lock()
			defer mu.Unlock()
			if order = append(order, j.Key.Project); len(order) == backlog+1 {
				close(all)
			}
			return nil, nil
		},
	}
	stop := startWorkers(ctx, t, w)
	handledAll(ctx, t, all)
	stop()
	at := slices.Index(order, "g/busy")
	// The result is read within a few reads of 64, each far quicker than
	// a pass; before, it was read once 236 commands were done.
	t.Logf("the result's pass was number %d of %d", at+1, len(order))
	if at < 0 || at > 40 {
		t.Fatalf("the result's pass was number %d of %d, behind the commands read before it", at+1, len(order))
	}
}

// The events a stopped replica held are all taken over at once, not ten
// per half of ClaimIdle: a replica holds up to a thousand per worker.
func TestWorkersTakeOverAStoppedReplicasEventsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rdb := redistest.Client(t)
	stream := redistest.Prefix(t) + ":takeover"
	st := store.New(rdb, store.Options{Prefix: redistest.Prefix(t), EventStream: stream})
	const held = 35
	for i := range held {
		data, err := event.Event{ID: fmt.Sprint("ev-", i), Forge: "gitlab", Project: fmt.Sprintf("g/p%02d", i), Kind: event.KindPush, Ref: "main"}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.EnqueueDelivery(ctx, fmt.Sprint("gitlab:ev-", i), time.Hour, data); err != nil {
			t.Fatal(err)
		}
	}
	const group = "trainyard"
	if err := st.EnsureGroup(ctx, group); err != nil {
		t.Fatal(err)
	}
	evs, err := st.ReadEvents(ctx, group, "stopped", held, time.Second)
	if err != nil || len(evs) != held {
		t.Fatalf("the stopped replica read %d events, %v", len(evs), err)
	}
	for _, ev := range evs {
		// Idle for two minutes, as if the replica stopped then.
		if err := rdb.Do(ctx, "XCLAIM", stream, group, "stopped", 0, ev.ID, "IDLE", 2*time.Minute/time.Millisecond, "JUSTID").Err(); err != nil {
			t.Fatal(err)
		}
	}
	var handled atomic.Int64
	w := &Workers{
		Store: st, Consumer: "new", Count: 2, ClaimIdle: time.Minute, MaxDeliveries: 3, Log: zaptest.NewLogger(t),
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			return []Job{{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: ev.Ref}, Obs: []train.Observation{train.Tick{}}}}, nil
		},
		Pass: func(context.Context, Job) ([]Job, error) { handled.Add(1); return nil, nil },
	}
	stop := startWorkers(ctx, t, w)
	// The next regular claim is half of ClaimIdle away, 30 s.
	deadline := time.Now().Add(20 * time.Second)
	for handled.Load() < held && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if n := handled.Load(); n != held {
		t.Fatalf("%d of the %d events the stopped replica held were taken over", n, held)
	}
}

// Events of many kilobytes, such as long comments, stop the reading once
// their bytes pass HeldBytes, whatever their count: anyone who can comment
// can post them.
func TestWorkersHoldEventsUpToTheirBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	const events, size = 200, 2 << 10
	for i := range events {
		ev := event.Event{ID: fmt.Sprint("c-", i), Forge: "gitlab", Project: fmt.Sprintf("g/p%03d", i), Kind: event.KindComment, MR: 1,
			Body: "/train add\n\n" + strings.Repeat("x", size)}
		data, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.EnqueueDelivery(ctx, "gitlab:"+ev.ID, time.Hour, data); err != nil {
			t.Fatal(err)
		}
	}
	var read atomic.Int64
	release := make(chan struct{})
	w := &Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: time.Minute, MaxDeliveries: 3, Log: zaptest.NewLogger(t),
		HeldBytes: 10 * size, // reached within the first read of 64
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			read.Add(1)
			return []Job{{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: "main"}, Obs: []train.Observation{train.Tick{}}}}, nil
		},
		Pass: func(ctx context.Context, _ Job) ([]Job, error) {
			select { // the worker is busy: nothing is settled
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		},
	}
	stop := startWorkers(ctx, t, w)
	for read.Load() < 64 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	// Another read would come within milliseconds; none may.
	time.Sleep(300 * time.Millisecond)
	n := read.Load()
	close(release)
	for read.Load() < events && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	stop()
	if n != 64 {
		t.Fatalf("%d events of %d bytes read while the first waited, want one read of 64 and no more", n, size)
	}
	if got := read.Load(); got != events {
		t.Fatalf("%d of %d events read once the worker was free", got, events)
	}
}

// startWorkers runs w until stop, which fails t unless Run ended cleanly.
func startWorkers(ctx context.Context, t *testing.T, w *Workers) (stop func()) {
	t.Helper()
	run, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(run) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("workers: %v", err)
		}
	}
}

// handledAll waits for all to close, or fails t when ctx ends first.
func handledAll(ctx context.Context, t *testing.T, all <-chan struct{}) {
	t.Helper()
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatal("not every event handled in time")
	}
}

// has reports whether work for key id waits in q.
func (q *keyQueue) has(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting[id] != nil
}

// resultRig runs one worker on events whose jobs carry one observation;
// the result of the pipeline of c0ffee on g/a brings that commit and is
// not urgent when read: Urgent says a car waits for it once saved is set.
// Each test's pass says what happened when (see record).
type resultRig struct {
	st   *store.Store
	a    train.Key
	want int

	mu    sync.Mutex
	saved bool
	order []string
	all   chan struct{}
}

func newResultRig(t *testing.T, want int) *resultRig {
	return &resultRig{st: store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)}),
		a: train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}, want: want, all: make(chan struct{})}
}

var theResult = event.Event{ID: "result", Forge: "gitlab", Project: "g/a", Kind: event.KindPipeline, Pipeline: 9, SHA: "c0ffee", Status: train.PipelineSuccess}

// enqueue queues the command of adding MR 1 of each project, or ev.
func (r *resultRig) enqueue(ctx context.Context, evs ...event.Event) error {
	for _, ev := range evs {
		data, err := ev.Marshal()
		if err == nil {
			_, err = r.st.EnqueueDelivery(ctx, "gitlab:"+ev.ID, time.Hour, data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func adds(projects ...string) []event.Event {
	var evs []event.Event
	for _, p := range projects {
		evs = append(evs, event.Event{ID: "add-" + p, Forge: "gitlab", Project: p, Kind: event.KindComment, MR: 1})
	}
	return evs
}

// workers is one worker whose passes run pass; read, when set, runs as
// the result's jobs are made.
func (r *resultRig) workers(t *testing.T, read func(), pass func(ctx context.Context, j Job) error) *Workers {
	return &Workers{
		Store: r.st, Consumer: "w", Count: 1, ClaimIdle: time.Minute, MaxDeliveries: 3, Log: zaptest.NewLogger(t),
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			j := Job{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: "main"}, Obs: []train.Observation{train.Tick{}}}
			if ev.Kind == event.KindPipeline {
				j.results = []string{ev.SHA} // not urgent: no car waits yet
				if read != nil {
					read()
				}
			}
			return []Job{j}, nil
		},
		Urgent: func(_ context.Context, k train.Key, commits []string) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.saved && k == r.a && slices.Equal(commits, []string{theResult.SHA})
		},
		Pass: func(ctx context.Context, j Job) ([]Job, error) {
			return nil, pass(ctx, j)
		},
	}
}

// save says the car of the result is saved.
func (r *resultRig) save() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = true
}

// record notes what happened; all closes once want things did.
func (r *resultRig) record(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.order = append(r.order, what); len(r.order) == r.want {
		close(r.all)
	}
}

func (r *resultRig) passes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// waitQueued waits until work for key waits in w's queue.
func waitQueued(ctx context.Context, w *Workers, key train.Key) error {
	for !w.queue.has(key.String()) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// run runs w until every recorded thing happened and checks their order.
func (r *resultRig) run(ctx context.Context, t *testing.T, w *Workers, want ...string) {
	t.Helper()
	stop := startWorkers(ctx, t, w)
	handledAll(ctx, t, r.all)
	stop()
	if !slices.Equal(r.order, want) {
		t.Fatalf("passes %q, want %q", r.order, want)
	}
}

// A result read while a worker of this process is in a pass of its train,
// before that pass saved the car it is for, goes ahead of other trains'
// work once the pass ends.
func TestWorkersPassAResultOnOnceItsCarsPassEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newResultRig(t, 4)
	if err := r.enqueue(ctx, adds("g/a", "g/b", "g/c")...); err != nil {
		t.Fatal(err)
	}
	var w *Workers
	w = r.workers(t, nil, func(ctx context.Context, j Job) error {
		if r.passes() == 0 {
			// The pass pushing the car of a: its pipeline's result
			// comes meanwhile, and waits for the pass to end.
			if j.Key != r.a {
				return fmt.Errorf("first pass of %s, want %s", j.Key, r.a)
			}
			if err := r.enqueue(ctx, theResult); err != nil {
				return err
			}
			for it, _ := w.queue.pendingResults(r.a.String()); it == nil; it, _ = w.queue.pendingResults(r.a.String()) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				time.Sleep(time.Millisecond)
			}
		}
		r.save()
		r.record(j.Key.Project)
		return nil
	})
	r.run(ctx, t, w, "g/a", "g/a", "g/b", "g/c")
}

// A release announced while the worker here tried the lease finds the
// train busy here and leaves its results alone; the worker looks at them
// once it gives the train back, and the result the released pass made
// awaited goes ahead of the work that can wait.
func TestWorkersPromoteAResultWhoseLeaseFreedDuringABusyTry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newResultRig(t, 4)
	if err := r.enqueue(ctx, append([]event.Event{theResult}, adds("g/b", "g/c")...)...); err != nil {
		t.Fatal(err)
	}
	var w *Workers
	w = r.workers(t, nil, func(ctx context.Context, j Job) error {
		if r.passes() == 0 {
			// The others are queued behind, and another replica's
			// pass saves the car and releases the lease while this
			// worker tries it.
			if err := waitQueued(ctx, w, train.Key{Forge: "gitlab", Project: "g/c", Branch: "main"}); err != nil {
				return err
			}
			r.save()
			r.record("busy")
			if w.leaseFreed(r.a) {
				return fmt.Errorf("the release was to be heard while the train is busy here")
			}
			return ErrBusy
		}
		r.record(j.Key.Project)
		return nil
	})
	w.BusyFirst, w.BusyMax = time.Minute, time.Minute
	r.run(ctx, t, w, "busy", "g/a", "g/b", "g/c")
}

// A result read just before the pass saving its car ended is queued as
// work that can wait after that pass's end looked for it: it is looked at
// again once queued, and goes ahead of the work that can wait.
func TestWorkersPromoteAResultWhoseCarWasSavedAsItWasRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newResultRig(t, 3)
	if err := r.enqueue(ctx, adds("g/b", "g/c")...); err != nil {
		t.Fatal(err)
	}
	var w *Workers
	// Not urgent as it is read, but the pass saving its car ends then.
	w = r.workers(t, r.save, func(ctx context.Context, j Job) error {
		if j.Key.Project == "g/b" {
			// c waits already; the result comes now.
			if err := r.enqueue(ctx, theResult); err != nil {
				return err
			}
			if err := waitQueued(ctx, w, r.a); err != nil {
				return err
			}
		}
		r.record(j.Key.Project)
		return nil
	})
	r.run(ctx, t, w, "g/b", "g/a", "g/c")
}
