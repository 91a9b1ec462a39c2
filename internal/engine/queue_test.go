package engine_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/retry"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// headJobs makes each event a head change of MR ev.MR on the train ev.Ref
// names, so a test can tell which events a pass consumed.
func headJobs(_ context.Context, ev event.Event) ([]engine.Job, error) {
	return []engine.Job{{Key: train.Key{Forge: "gitlab", Project: "g/p", Branch: ev.Ref},
		Obs: []train.Observation{train.HeadChanged{MR: ev.MR, HeadSHA: ev.ID}}}}, nil
}

// mrsOf lists the MRs of a job's head changes, in order.
func mrsOf(j engine.Job) []int64 {
	var mrs []int64
	for _, o := range j.Obs {
		if h, ok := o.(train.HeadChanged); ok {
			mrs = append(mrs, h.MR)
		}
	}
	return mrs
}

func enqueue(t *testing.T, st *store.Store, ev event.Event) {
	t.Helper()
	data, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnqueueDelivery(t.Context(), "gitlab:"+ev.ID, time.Hour, data); err != nil {
		t.Fatal(err)
	}
}

func runWorkers(t *testing.T, w *engine.Workers) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("workers: %v", err)
		}
	})
}

// Events for a train that arrive while it is in a pass wait, merged, for
// the next pass: one pass for all of them, with their observations in the
// order they came, and each event acknowledged only once the pass that
// consumed it is over.
func TestWorkersMergeWhatWaitsForATrain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	log := newPassLog()
	w := &engine.Workers{
		Store: st, Consumer: "w", Count: 2, ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: headJobs,
		Pass: passing(func(_ context.Context, j engine.Job) error {
			log.record(j)
			return nil
		}),
	}
	runWorkers(t, w)
	log.holdFirst(t, st, 1)
	for i := int64(2); i <= 6; i++ {
		enqueueHead(t, st, i)
	}
	// Every event is read and waits; none is acknowledged yet.
	time.Sleep(300 * time.Millisecond)
	pending, err := st.ClaimIdle(ctx, "trainyard", "peek", 0, 10)
	if err != nil || len(pending) != 6 {
		t.Fatalf("pending during the first pass: %d, %v; want all 6", len(pending), err)
	}
	close(log.release)
	waitFor(t, 5*time.Second, "every event handled", func() bool { return len(o.of("e6")) == 1 })
	if got := fmt.Sprint(log.all()); got != "[[1] [2 3 4 5 6]]" {
		t.Fatalf("passes consumed %s, want [[1] [2 3 4 5 6]]", got)
	}
	for i := 1; i <= 6; i++ {
		if got := o.of(fmt.Sprintf("e%d", i)); !slices.Equal(got, []string{engine.OutcomeHandled}) {
			t.Errorf("e%d: outcomes %v, want handled once", i, got)
		}
	}
	if left, err := st.ClaimIdle(ctx, "trainyard", "peek", 0, 10); err != nil || len(left) != 0 {
		t.Errorf("left pending: %v, %v", left, err)
	}
}

// A train whose lease another replica holds goes back in the queue and is
// tried again later: the only worker goes on with other trains meanwhile,
// and the busy train's events are handled once its lease is free, never
// claimed meanwhile, however long it takes.
func TestWorkersDoNotWaitForABusyTrain(t *testing.T) {
	t.Parallel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	var held atomic.Bool
	held.Store(true)
	var busyTries atomic.Int32
	w := &engine.Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: 90 * time.Millisecond, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: headJobs,
		Pass: passing(func(_ context.Context, j engine.Job) error {
			if j.Key.Branch == "busy" && held.Load() {
				busyTries.Add(1)
				return fmt.Errorf("lease train %s: %w", j.Key, engine.ErrBusy)
			}
			return nil
		}),
	}
	runWorkers(t, w)
	enqueue(t, st, event.Event{ID: "b1", Forge: "gitlab", Project: "g/p", Kind: event.KindMR, MR: 1, Ref: "busy"})
	waitFor(t, 5*time.Second, "the busy train tried", func() bool { return busyTries.Load() > 0 })
	for i := 1; i <= 3; i++ {
		enqueue(t, st, event.Event{ID: fmt.Sprintf("f%d", i), Forge: "gitlab", Project: "g/p", Kind: event.KindMR, MR: int64(i), Ref: fmt.Sprintf("free-%d", i)})
	}
	waitFor(t, 5*time.Second, "the other trains handled", func() bool { return len(o.of("f3")) == 1 })
	if got := o.of("b1"); len(got) != 0 {
		t.Fatalf("the busy train's event settled as %v while its lease was held", got)
	}
	waitFor(t, 5*time.Second, "the busy train tried again", func() bool { return busyTries.Load() >= 3 })
	time.Sleep(500 * time.Millisecond) // several ClaimIdle
	held.Store(false)
	waitFor(t, 5*time.Second, "the busy train handled", func() bool { return len(o.of("b1")) == 1 })
	time.Sleep(200 * time.Millisecond)
	if got := o.of("b1"); !slices.Equal(got, []string{engine.OutcomeHandled}) {
		t.Fatalf("b1: outcomes %v, want handled once (never claimed while held)", got)
	}
}

// Several workers never hold one train at once, and every observation of
// every event reaches a pass exactly once.
func TestWorkersHoldATrainOneAtATime(t *testing.T) {
	t.Parallel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	var mu sync.Mutex
	inPass := map[string]int{}
	seen := map[string][]int64{}
	var overlap atomic.Bool
	w := &engine.Workers{
		Store: st, Consumer: "w", Count: 4, ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: headJobs,
		Pass: passing(func(_ context.Context, j engine.Job) error {
			k := j.Key.Branch
			mu.Lock()
			inPass[k]++
			if inPass[k] > 1 {
				overlap.Store(true)
			}
			seen[k] = append(seen[k], mrsOf(j)...)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			inPass[k]--
			mu.Unlock()
			return nil
		}),
	}
	runWorkers(t, w)
	const n = 40
	for i := 1; i <= n; i++ {
		enqueue(t, st, event.Event{ID: fmt.Sprintf("e%d", i), Forge: "gitlab", Project: "g/p", Kind: event.KindMR, MR: int64(i), Ref: fmt.Sprintf("b%d", i%2)})
	}
	waitFor(t, 10*time.Second, "every event handled", func() bool {
		for i := 1; i <= n; i++ {
			if len(o.of(fmt.Sprintf("e%d", i))) == 0 {
				return false
			}
		}
		return true
	})
	if overlap.Load() {
		t.Error("two workers held one train at once")
	}
	mu.Lock()
	defer mu.Unlock()
	for b := range 2 {
		var want []int64
		for i := 1; i <= n; i++ {
			if i%2 == b {
				want = append(want, int64(i))
			}
		}
		if got := seen[fmt.Sprintf("b%d", b)]; !slices.Equal(got, want) {
			t.Errorf("train b%d saw %v, want %v", b, got, want)
		}
	}
}

// A job queued by the sweep, with no event behind it, is passed like any
// other.
func TestWorkersRunEnqueuedJobs(t *testing.T) {
	t.Parallel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	got := make(chan engine.Job, 1)
	w := &engine.Workers{
		Store: st, Consumer: "w", Log: zaptest.NewLogger(t), Jobs: headJobs,
		Pass: passing(func(_ context.Context, j engine.Job) error { got <- j; return nil }),
	}
	key := train.Key{Forge: "gitlab", Project: "g/p", Branch: "main"}
	w.Enqueue(engine.Job{Key: key, Sweep: true})
	runWorkers(t, w)
	select {
	case j := <-got:
		if j.Key != key || !j.Sweep {
			t.Fatalf("passed %+v, want a sweep of %s", j, key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued sweep was never passed")
	}
}

// A pass may hand work on to its train, as a command does once it knows
// the train: the event settles when that work is done too, and not before.
func TestWorkersSettleAnEventAfterTheWorkItHandsOn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	release := make(chan struct{})
	trainPassed := make(chan []int64, 1)
	key := train.Key{Forge: "gitlab", Project: "g/p", Branch: "main"}
	w := &engine.Workers{
		Store: st, Consumer: "w", Count: 2, ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: func(_ context.Context, ev event.Event) ([]engine.Job, error) {
			return []engine.Job{{Key: train.Key{Forge: ev.Forge, Project: ev.Project}, Command: &ev}}, nil
		},
		Pass: func(_ context.Context, j engine.Job) ([]engine.Job, error) {
			if c := j.Command; c != nil {
				return []engine.Job{{Key: key, Obs: []train.Observation{train.HeadChanged{MR: c.MR, HeadSHA: c.ID}}}}, nil
			}
			<-release
			trainPassed <- mrsOf(j)
			return nil, nil
		},
	}
	runWorkers(t, w)
	enqueue(t, st, event.Event{ID: "c1", Forge: "gitlab", Project: "g/p", Kind: event.KindComment, MR: 7, CommentID: 1, Body: "/train add"})
	time.Sleep(300 * time.Millisecond)
	if got := o.of("c1"); len(got) != 0 {
		t.Fatalf("the command settled as %v before its train's pass", got)
	}
	if pending, err := st.ClaimIdle(ctx, "trainyard", "peek", 0, 10); err != nil || len(pending) != 1 {
		t.Fatalf("pending while the train's pass runs: %d, %v; want the command", len(pending), err)
	}
	close(release)
	if got := <-trainPassed; !slices.Equal(got, []int64{7}) {
		t.Fatalf("the train's pass got %v, want the command's MR 7", got)
	}
	waitFor(t, 5*time.Second, "the command settled", func() bool { return len(o.of("c1")) == 1 })
	if got := o.of("c1"); !slices.Equal(got, []string{engine.OutcomeHandled}) {
		t.Fatalf("c1: outcomes %v, want handled once", got)
	}
}

// Workers started while Redis is away wait for it to make their group,
// instead of giving up, and then handle what was queued.
func TestWorkersWaitForRedisToMakeTheirGroup(t *testing.T) {
	t.Parallel()
	// An address nothing listens on yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	st := store.New(rdb, store.Options{Prefix: "t"})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	w := &engine.Workers{
		Store: st, Consumer: "w", ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: headJobs,
		Pass: passing(func(context.Context, engine.Job) error { return nil }),
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("workers: %v", err)
		}
	}()
	// Longer than go-redis's own attempts to dial.
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-done:
		done <- err // for the deferred wait
		t.Fatalf("workers gave up while Redis was away: %v", err)
	default:
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	enqueueHead(t, st, 1)
	waitFor(t, 10*time.Second, "the event handled", func() bool { return len(o.of("e1")) == 1 })
}

// What the forge refused decides an event's fate: a request refused for
// good (422) drops it, but one refused for want of a right (403: a token
// or GitHub App short of a permission) is tried again and then kept in
// the dead letters, to be queued again once the right is granted, and a
// rate limit's 403 is only tried again.
func TestWorkersKeepWhatTheForgeRefusedForWantOfARight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ans  retry.Answer
		want string
	}{
		{"unprocessable", retry.Answer{Status: 422, Said: "Validation Failed"}, engine.OutcomeGone},
		{"forbidden", retry.Answer{Status: 403, Said: "Resource not accessible by integration"}, engine.OutcomeDead},
		{"rate limited", retry.Answer{Status: 403, Throttled: true}, engine.OutcomeDead},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
			o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
			runWorkers(t, &engine.Workers{
				Store: st, Consumer: "w", Count: 1, ClaimIdle: 20 * time.Millisecond, MaxDeliveries: 2,
				Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: headJobs,
				Pass: passing(func(_ context.Context, j engine.Job) error {
					err := retry.ForgeError(c.ans, fmt.Errorf("POST /repos/o/r/issues/1/comments: %d %s", c.ans.Status, c.ans.Said))
					return fmt.Errorf("handle train %s: %w", j.Key, err)
				}),
			})
			enqueueHead(t, st, 1)
			waitFor(t, 10*time.Second, "the event settled", func() bool {
				got := o.of("e1")
				return slices.Contains(got, engine.OutcomeGone) || slices.Contains(got, engine.OutcomeDead)
			})
			got := o.of("e1")
			if got[len(got)-1] != c.want {
				t.Fatalf("outcomes %v, want it to end %s", got, c.want)
			}
			dead, err := st.DeadLetters(t.Context(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if kept := len(dead) == 1 && strings.Contains(dead[0].Reason, fmt.Sprint(c.ans.Status)); kept != (c.want == engine.OutcomeDead) {
				t.Fatalf("dead letters %+v, want the event kept: %v", dead, c.want == engine.OutcomeDead)
			}
		})
	}
}

// An event that makes every pass it is in panic takes the events merged
// with it into its pass down once, not to the dead letters: delivered
// again, each runs in a pass of its own, so the others are handled and
// the poison one alone is buried.
func TestWorkersSplitAPassAPoisonEventPanicked(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t)
	st := store.New(rdb, store.Options{Prefix: prefix})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	log := newPassLog()
	w := &engine.Workers{
		Store: st, Consumer: "w", Count: 1, ClaimIdle: 50 * time.Millisecond, MaxDeliveries: 3,
		Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: headJobs,
		Pass: passing(func(_ context.Context, j engine.Job) error {
			if slices.Contains(log.record(j), 99) {
				panic("poison")
			}
			return nil
		}),
	}
	runWorkers(t, w)
	log.holdFirst(t, st, 1)
	for _, mr := range []int64{2, 99, 3} {
		enqueueHead(t, st, mr)
	}
	waitFor(t, 5*time.Second, "all four read", func() bool {
		return rdb.XPending(t.Context(), prefix+":events", "trainyard").Val().Count == 4
	})
	time.Sleep(50 * time.Millisecond) // and queued behind the first pass, merged
	close(log.release)
	waitFor(t, 10*time.Second, "the poison event buried", func() bool { return slices.Contains(o.of("e99"), engine.OutcomeDead) })
	waitFor(t, 10*time.Second, "the others handled", func() bool {
		return slices.Contains(o.of("e2"), engine.OutcomeHandled) && slices.Contains(o.of("e3"), engine.OutcomeHandled)
	})
	for _, id := range []string{"e2", "e3"} {
		if got := o.of(id); !slices.Equal(got, []string{engine.OutcomePanic, engine.OutcomeHandled}) {
			t.Errorf("%s: outcomes %v, want one panic with the poison event, then handled", id, got)
		}
	}
	dead, err := st.DeadLetters(t.Context(), 10)
	if err != nil || len(dead) != 1 || !strings.Contains(string(dead[0].Data), `"e99"`) {
		t.Fatalf("dead letters %+v, %v: want the poison event alone", dead, err)
	}
	passes := log.all()
	if got := fmt.Sprint(passes[1]); got != "[2 99 3]" {
		t.Fatalf("passes %v: want the three merged into the second", passes)
	}
	for _, p := range passes[2:] {
		if len(p) != 1 {
			t.Fatalf("passes %v: a delivery again merged with other work", passes)
		}
	}
}

// passLog records the MRs of each pass, holding the first until release
// is closed, so that what comes meanwhile waits for one pass.
type passLog struct {
	mu      sync.Mutex
	passes  [][]int64
	release chan struct{}
}

func newPassLog() *passLog { return &passLog{release: make(chan struct{})} }

// record notes j's pass and returns its MRs, once released if it is the
// first.
func (l *passLog) record(j engine.Job) []int64 {
	mrs := mrsOf(j)
	l.mu.Lock()
	l.passes = append(l.passes, mrs)
	first := len(l.passes) == 1
	l.mu.Unlock()
	if first {
		<-l.release
	}
	return mrs
}

func (l *passLog) all() [][]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.passes)
}

// holdFirst queues MR mr's event and waits until its pass holds.
func (l *passLog) holdFirst(t *testing.T, st *store.Store, mr int64) {
	t.Helper()
	enqueueHead(t, st, mr)
	waitFor(t, 5*time.Second, "the first pass started", func() bool { return len(l.all()) == 1 })
}

// enqueueHead queues event e<mr>, a head change of MR mr on main (see
// headJobs).
func enqueueHead(t *testing.T, st *store.Store, mr int64) {
	t.Helper()
	enqueue(t, st, event.Event{ID: fmt.Sprintf("e%d", mr), Forge: "gitlab", Project: "g/p", Kind: event.KindMR, MR: mr, Ref: "main"})
}
