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

// A result read while a worker of this process is in a pass of its train,
// before that pass saved the car it is for, goes ahead of other trains'
// work once the pass ends.
func TestWorkersPassAResultOnOnceItsCarsPassEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	enqueue := func(ctx context.Context, ev event.Event) error {
		data, err := ev.Marshal()
		if err == nil {
			_, err = st.EnqueueDelivery(ctx, "gitlab:"+ev.ID, time.Hour, data)
		}
		return err
	}
	for _, p := range []string{"g/a", "g/b", "g/c"} {
		if err := enqueue(ctx, event.Event{ID: "add-" + p, Forge: "gitlab", Project: p, Kind: event.KindComment, MR: 1}); err != nil {
			t.Fatal(err)
		}
	}
	result := event.Event{ID: "result", Forge: "gitlab", Project: "g/a", Kind: event.KindPipeline, Pipeline: 9, SHA: "c0ffee", Status: train.PipelineSuccess}
	a := train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}
	var (
		mu    sync.Mutex
		order []string
		saved bool // the car of c0ffee, as Urgent reads it
		all   = make(chan struct{})
	)
	var w *Workers
	w = &Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: time.Minute, MaxDeliveries: 3, Log: zaptest.NewLogger(t),
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			j := Job{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: "main"}, Obs: []train.Observation{train.Tick{}}}
			if ev.Kind == event.KindPipeline {
				j.results = []string{ev.SHA} // not urgent: no car waits yet
			}
			return []Job{j}, nil
		},
		Urgent: func(_ context.Context, k train.Key, commits []string) bool {
			mu.Lock()
			defer mu.Unlock()
			return saved && k == a && slices.Equal(commits, []string{"c0ffee"})
		},
		Pass: func(ctx context.Context, j Job) ([]Job, error) {
			mu.Lock()
			first := len(order) == 0
			mu.Unlock()
			if first {
				// The pass pushing the car of a: its pipeline's result
				// comes meanwhile, and waits for the pass to end.
				if j.Key != a {
					return nil, fmt.Errorf("first pass of %s, want %s", j.Key, a)
				}
				if err := enqueue(ctx, result); err != nil {
					return nil, err
				}
				for it, _ := w.queue.pendingResults(a.String()); it == nil; it, _ = w.queue.pendingResults(a.String()) {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					time.Sleep(time.Millisecond)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			saved = true
			if order = append(order, j.Key.Project); len(order) == 4 {
				close(all)
			}
			return nil, nil
		},
	}
	stop := startWorkers(ctx, t, w)
	handledAll(ctx, t, all)
	stop()
	if want := []string{"g/a", "g/a", "g/b", "g/c"}; !slices.Equal(order, want) {
		t.Fatalf("passes %q, want %q", order, want)
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

// A release announced while the worker here tried the lease finds the
// train busy here and leaves its results alone; the worker looks at them
// once it gives the train back, and the result the released pass made
// awaited goes ahead of the work that can wait.
func TestWorkersPromoteAResultWhoseLeaseFreedDuringABusyTry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	a := train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}
	evs := []event.Event{{ID: "result", Forge: "gitlab", Project: "g/a", Kind: event.KindPipeline, Pipeline: 9, SHA: "c0ffee", Status: train.PipelineSuccess}}
	for _, p := range []string{"g/b", "g/c"} {
		evs = append(evs, event.Event{ID: "add-" + p, Forge: "gitlab", Project: p, Kind: event.KindComment, MR: 1})
	}
	for _, ev := range evs {
		data, err := ev.Marshal()
		if err == nil {
			_, err = st.EnqueueDelivery(ctx, "gitlab:"+ev.ID, time.Hour, data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		order []string
		saved bool
		all   = make(chan struct{})
	)
	var w *Workers
	w = &Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: time.Minute, MaxDeliveries: 3, BusyFirst: time.Minute, BusyMax: time.Minute, Log: zaptest.NewLogger(t),
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			j := Job{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: "main"}, Obs: []train.Observation{train.Tick{}}}
			if ev.Kind == event.KindPipeline {
				j.results = []string{ev.SHA} // not urgent: no car waits yet
			}
			return []Job{j}, nil
		},
		Urgent: func(_ context.Context, k train.Key, commits []string) bool {
			mu.Lock()
			defer mu.Unlock()
			return saved && k == a && slices.Equal(commits, []string{"c0ffee"})
		},
		Pass: func(ctx context.Context, j Job) ([]Job, error) {
			mu.Lock()
			first := len(order) == 0
			mu.Unlock()
			if first {
				// The others are queued behind, and another replica's
				// pass saves the car and releases the lease while this
				// worker tries it.
				for !w.queue.has(train.Key{Forge: "gitlab", Project: "g/c", Branch: "main"}.String()) {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					time.Sleep(time.Millisecond)
				}
				mu.Lock()
				saved = true
				order = append(order, "busy")
				mu.Unlock()
				if w.leaseFreed(a) {
					return nil, fmt.Errorf("the release was to be heard while the train is busy here")
				}
				return nil, ErrBusy
			}
			mu.Lock()
			defer mu.Unlock()
			if order = append(order, j.Key.Project); len(order) == 4 {
				close(all)
			}
			return nil, nil
		},
	}
	stop := startWorkers(ctx, t, w)
	handledAll(ctx, t, all)
	stop()
	if want := []string{"busy", "g/a", "g/b", "g/c"}; !slices.Equal(order, want) {
		t.Fatalf("passes %q, want %q", order, want)
	}
}

// has reports whether work for key id waits in q.
func (q *keyQueue) has(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting[id] != nil
}

// A result read just before the pass saving its car ended is queued as
// work that can wait after that pass's end looked for it: it is looked at
// again once queued, and goes ahead of the work that can wait.
func TestWorkersPromoteAResultWhoseCarWasSavedAsItWasRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	enqueue := func(ctx context.Context, ev event.Event) error {
		data, err := ev.Marshal()
		if err == nil {
			_, err = st.EnqueueDelivery(ctx, "gitlab:"+ev.ID, time.Hour, data)
		}
		return err
	}
	for _, p := range []string{"g/b", "g/c"} {
		if err := enqueue(ctx, event.Event{ID: "add-" + p, Forge: "gitlab", Project: p, Kind: event.KindComment, MR: 1}); err != nil {
			t.Fatal(err)
		}
	}
	result := event.Event{ID: "result", Forge: "gitlab", Project: "g/a", Kind: event.KindPipeline, Pipeline: 9, SHA: "c0ffee", Status: train.PipelineSuccess}
	a := train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}
	var (
		mu    sync.Mutex
		order []string
		saved bool
		all   = make(chan struct{})
	)
	var w *Workers
	w = &Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: time.Minute, MaxDeliveries: 3, Log: zaptest.NewLogger(t),
		Jobs: func(_ context.Context, ev event.Event) ([]Job, error) {
			j := Job{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: "main"}, Obs: []train.Observation{train.Tick{}}}
			if ev.Kind == event.KindPipeline {
				j.results = []string{ev.SHA} // not urgent: no car waits yet...
				mu.Lock()
				saved = true // ...but the pass saving it ends right now
				mu.Unlock()
			}
			return []Job{j}, nil
		},
		Urgent: func(_ context.Context, k train.Key, commits []string) bool {
			mu.Lock()
			defer mu.Unlock()
			return saved && k == a && slices.Equal(commits, []string{"c0ffee"})
		},
		Pass: func(ctx context.Context, j Job) ([]Job, error) {
			if j.Key.Project == "g/b" {
				// c waits already; the result comes now.
				if err := enqueue(ctx, result); err != nil {
					return nil, err
				}
				for !w.queue.has(a.String()) {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					time.Sleep(time.Millisecond)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if order = append(order, j.Key.Project); len(order) == 3 {
				close(all)
			}
			return nil, nil
		},
	}
	stop := startWorkers(ctx, t, w)
	handledAll(ctx, t, all)
	stop()
	if want := []string{"g/b", "g/a", "g/c"}; !slices.Equal(order, want) {
		t.Fatalf("passes %q, want %q", order, want)
	}
}
