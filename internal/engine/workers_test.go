package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/retry"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// outcomes records what the workers did with each event, by delivery id.
type outcomes struct {
	mu    sync.Mutex
	seen  map[string][]string
	calls map[string]int
}

func (o *outcomes) observe(ev event.Event, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen[ev.ID] = append(o.seen[ev.ID], outcome)
}

func (o *outcomes) called(id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls[id]++
	return o.calls[id]
}

func (o *outcomes) of(id string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen[id]...)
}

// TestWorkersSettleEveryEvent: a good event is handled once, a 404 is
// final, and one that fails or panics every time ends in the dead letters
// after MaxDeliveries, with the process still running.
func TestWorkersSettleEveryEvent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	panics := 0
	var mu sync.Mutex
	w := &engine.Workers{
		Store: st, Consumer: "w", Count: 2, ClaimIdle: 50 * time.Millisecond, MaxDeliveries: 3,
		Log: zaptest.NewLogger(t), Observe: o.observe,
		Panicked: func(where string) {
			mu.Lock()
			defer mu.Unlock()
			if where == "event" {
				panics++
			}
		},
		Jobs: oneJobPerEvent,
		Pass: passing(func(ctx context.Context, j engine.Job) error {
			id := j.Key.Project
			n := o.called(id)
			switch id {
			case "good":
				return nil
			case "gone":
				return fmt.Errorf("add !7 of g/p: get MR: %w", forge.ErrNotFound)
			case "flaky":
				if n < 2 {
					return errors.New("forge hiccup")
				}
				return nil
			case "failing":
				return errors.New("forge down")
			case "poison":
				panic("poison event")
			}
			return nil
		}),
	}
	for _, id := range []string{"good", "gone", "flaky", "failing", "poison"} {
		data, err := event.Event{ID: id, Forge: "gitlab", Project: "g/p", Kind: event.KindPush, Ref: "main"}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.EnqueueDelivery(ctx, "gitlab:"+id, time.Hour, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.EnqueueDelivery(ctx, "gitlab:garbage", time.Hour, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(run) }()
	waitFor(t, 20*time.Second, "every event settled", func() bool {
		n, err := st.DeadLetterCount(ctx)
		return err == nil && n == 3 && len(o.of("flaky")) == 2
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("workers: %v", err)
	}
	want := map[string]string{
		"good":    "handled",
		"gone":    "gone",
		"flaky":   "retry handled",
		"failing": "retry retry dead_letter",
		"poison":  "panic panic dead_letter",
	}
	for id, outcome := range want {
		if got := strings.Join(o.of(id), " "); got != outcome {
			t.Errorf("%s: outcomes %q, want %q", id, got, outcome)
		}
	}
	if panics != 3 {
		t.Errorf("%d panics counted, want 3", panics)
	}
	dead, err := st.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, d := range dead {
		ev, _ := event.Unmarshal(d.Data)
		reasons[ev.ID] = d.Reason
		if ev.ID == "" {
			reasons["garbage"] = d.Reason
		}
	}
	if reasons["poison"] != "panic: poison event" ||
		reasons["failing"] != "forge down" || !strings.HasPrefix(reasons["garbage"], "does not decode") {
		t.Errorf("dead letter reasons %q", reasons)
	}
	pending, err := st.ClaimIdle(ctx, "trainyard", "check", 0, 10)
	if err != nil || len(pending) != 0 {
		t.Errorf("events left pending: %v, %v", pending, err)
	}
}

// TestWorkersBuryAnEventDeliveredTooOften: an event handed out more than
// MaxDeliveries times without being settled (its workers crashed on it) is
// buried without being handled again.
func TestWorkersBuryAnEventDeliveredTooOften(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	if err := st.EnsureGroup(ctx, "trainyard"); err != nil {
		t.Fatal(err)
	}
	data, _ := event.Event{ID: "crasher", Forge: "gitlab", Project: "g/p", Kind: event.KindPush, Ref: "main"}.Marshal()
	if _, err := st.EnqueueDelivery(ctx, "gitlab:crasher", time.Hour, data); err != nil {
		t.Fatal(err)
	}
	// Three workers took it and died without a word.
	if _, err := st.ReadEvents(ctx, "trainyard", "dead-1", 1, 0); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 3; i++ {
		waitFor(t, 5*time.Second, "claimed", func() bool {
			evs, err := st.ClaimIdle(ctx, "trainyard", fmt.Sprintf("dead-%d", i), time.Millisecond, 1)
			return err == nil && len(evs) == 1
		})
	}
	called := 0
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	w := &engine.Workers{
		Store: st, Consumer: "w", ClaimIdle: 20 * time.Millisecond, MaxDeliveries: 2,
		Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: oneJobPerEvent,
		Pass: passing(func(context.Context, engine.Job) error { called++; return nil }),
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(run) }()
	waitFor(t, 10*time.Second, "buried", func() bool { n, _ := st.DeadLetterCount(ctx); return n == 1 })
	stop()
	<-done
	if called != 0 || strings.Join(o.of("crasher"), " ") != "dead_letter" {
		t.Fatalf("dispatched %d times, outcomes %v; want it buried unhandled", called, o.of("crasher"))
	}
}

// TestWorkersRetryWhenLeaseFreed: a train whose lease another replica
// holds is tried again as soon as that replica releases it, whether the
// release comes while the train waits out its backoff or during the pass
// that found it busy. The backoff is a minute here, so only the
// announcement of the release can bring the second try within the test's
// deadline.
func TestWorkersRetryWhenLeaseFreed(t *testing.T) {
	for _, c := range []struct {
		name string
		// duringPass: the other replica releases before the busy pass
		// ends, so the announcement comes while a worker has the train.
		duringPass bool
	}{{"while waiting", false}, {"during the pass", true}} {
		t.Run(c.name, func(t *testing.T) { testRetryWhenLeaseFreed(t, c.duringPass) })
	}
}

func testRetryWhenLeaseFreed(t *testing.T, duringPass bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t)
	st := store.New(rdb, store.Options{Prefix: prefix})
	key := train.Key{Forge: "gitlab", Project: "busy", Branch: "main"}
	if ok, err := st.AcquireLease(ctx, key, "other-replica", time.Minute); err != nil || !ok {
		t.Fatalf("lease for the other replica: %v, %v", ok, err)
	}
	release := func(ctx context.Context) error { return st.ReleaseLease(ctx, key, "other-replica") }
	var mu sync.Mutex
	busy, passes := 0, 0
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return busy, passes
	}
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	w := &engine.Workers{
		Store: st, Consumer: "w", Log: zaptest.NewLogger(t), Observe: o.observe,
		BusyFirst: time.Minute, BusyMax: time.Minute,
		Jobs: oneJobPerEvent,
		Pass: passing(func(ctx context.Context, j engine.Job) error {
			ok, err := st.AcquireLease(ctx, j.Key, "w", time.Minute)
			if err != nil {
				return err
			}
			if ok {
				mu.Lock()
				passes++
				mu.Unlock()
				return st.ReleaseLease(ctx, j.Key, "w")
			}
			mu.Lock()
			busy++
			mu.Unlock()
			if duringPass {
				if err := release(ctx); err != nil {
					return err
				}
				// Time for the announcement to arrive before the train
				// is given back. Arriving later, it is heard as in the
				// other case: the test passes either way.
				time.Sleep(200 * time.Millisecond)
			}
			return engine.ErrBusy
		}),
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(run) }()
	defer func() {
		stop()
		<-done
	}()
	// A release announced before the workers subscribed would go unheard.
	waitFor(t, 10*time.Second, "subscribed to freed leases", func() bool {
		chans, err := rdb.PubSubChannels(ctx, prefix+":*").Result()
		return err == nil && len(chans) > 0
	})
	data, err := event.Event{ID: "busy", Forge: "gitlab", Project: "g/p", Kind: event.KindPush, Ref: "main"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnqueueDelivery(ctx, "gitlab:busy", time.Hour, data); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "found busy", func() bool { n, _ := counts(); return n == 1 })
	if !duringPass {
		if err := release(ctx); err != nil {
			t.Fatalf("release by the other replica: %v", err)
		}
	}
	waitFor(t, 10*time.Second, "handled after the release", func() bool {
		return strings.Join(o.of("busy"), " ") == "handled"
	})
	if b, p := counts(); b != 1 || p != 1 {
		t.Fatalf("found busy %d times and passed %d times, want once each", b, p)
	}
}

// TestSweeperRecoversPanics: a panic sweeping one train is logged and
// counted, and the pass goes on to the next train and the catch-up.
func TestSweeperRecoversPanics(t *testing.T) {
	ctx := context.Background()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	keys := []train.Key{{Forge: "gitlab", Project: "g/a", Branch: "main"}, {Forge: "gitlab", Project: "g/b", Branch: "main"}}
	for _, k := range keys {
		tr := train.New(k, train.Settings{})
		tr.Cars = []train.Car{{MR: 1, HeadSHA: "h", State: train.StateQueued}}
		if _, err := st.Save(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	var swept []string
	panics := 0
	s := &engine.Sweeper{
		Store: st, Log: zaptest.NewLogger(t),
		Sweep: func(_ context.Context, k train.Key) error {
			swept = append(swept, k.Project)
			if k.Project == "g/a" {
				panic("sweep bug")
			}
			return nil
		},
		CatchUp:  func(context.Context) error { panic("catch-up bug") },
		Panicked: func(string) { panics++ },
	}
	s.Pass(ctx)
	if strings.Join(swept, ",") != "g/a,g/b" || panics != 2 {
		t.Fatalf("swept %v with %d panics, want g/a,g/b and 2", swept, panics)
	}
}

// passing is a Pass that returns no further jobs.
func passing(f func(context.Context, engine.Job) error) func(context.Context, engine.Job) ([]engine.Job, error) {
	return func(ctx context.Context, j engine.Job) ([]engine.Job, error) { return nil, f(ctx, j) }
}

// oneJobPerEvent gives each event a train of its own, named by its id.
func oneJobPerEvent(_ context.Context, ev event.Event) ([]engine.Job, error) {
	return []engine.Job{{Key: train.Key{Forge: ev.Forge, Project: ev.ID, Branch: ev.Ref}}}, nil
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSweepersShareTheirPasses: of the sweepers of several replicas, one
// sweeps the trains per interval.
func TestSweepersShareTheirPasses(t *testing.T) {
	ctx := context.Background()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	key := train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}
	tr := train.New(key, train.Settings{})
	tr.Cars = []train.Car{{MR: 1, HeadSHA: "h", State: train.StateQueued}}
	if _, err := st.Save(ctx, tr); err != nil {
		t.Fatal(err)
	}
	swept := map[string]int{}
	replica := func(name string) *engine.Sweeper {
		return &engine.Sweeper{Store: st, Log: zaptest.NewLogger(t), Interval: time.Minute,
			Sweep: func(context.Context, train.Key) error { swept[name]++; return nil }}
	}
	a, b := replica("a"), replica("b")
	a.Pass(ctx)
	b.Pass(ctx)
	a.Pass(ctx)
	if swept["a"] != 1 || swept["b"] != 0 {
		t.Fatalf("sweeps by replica %v, want one by a and none by b within the interval", swept)
	}
}

// queueCommand posts body as alice's comment on mr and queues its
// delivery id as the webhook listener would, returning the event.
func (e *env) queueCommand(id string, mr int64, body string) event.Event {
	e.t.Helper()
	return e.queueCommandBy(id, "alice", mr, body)
}

func (e *env) queueCommandBy(id, user string, mr int64, body string) event.Event {
	e.t.Helper()
	n, err := e.ff.AddNote(e.ctx, project, mr, user, body)
	if err != nil {
		e.t.Fatal(err)
	}
	ev := event.Event{ID: id, Forge: "gitlab", Project: project, Kind: event.KindComment,
		User: event.User{ID: e.users[user].ID, Username: user}, MR: mr, CommentID: n.ID, Body: body}
	if err := e.st.EnsureGroup(e.ctx, "trainyard"); err != nil {
		e.t.Fatal(err)
	}
	enqueue(e.t, e.st, ev)
	return ev
}

// An add and then a remove posted on one MR leave it off the train with
// several workers, as with one: a remove whose forge reads end first
// does not reach the train before the add.
func TestAnMRsCommandsReachItsTrainInOrder(t *testing.T) {
	t.Parallel()
	for trial := range 2 {
		e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, faults: fakeforge.Faults{Latency: 2 * time.Millisecond}})
		mr := e.mr(1, nil)
		add, remove := e.queueCommand("add", mr, "/train add"), e.queueCommand("remove", mr, "/train remove")
		o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
		runWorkers(t, &engine.Workers{Store: e.st, Consumer: "w", Count: 4, ClaimIdle: time.Second,
			Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: e.eng.Jobs, Pass: e.eng.Pass})
		waitFor(t, 20*time.Second, "both commands settled", func() bool { return len(o.of(add.ID)) > 0 && len(o.of(remove.ID)) > 0 })
		if cars := e.cars(); len(cars) != 0 {
			t.Fatalf("trial %d: cars %v after an add then a remove; notes %q", trial, cars, e.notesOf(mr))
		}
	}
}

// A command the forge answers with 401 (a revoked or mistyped token) is
// not dropped as refused for good: it is tried again, then kept in the
// dead letters with the reason, to be queued again once the token is
// fixed.
func TestACommandMetWithBadCredentialsIsKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	mr := e.mr(1, nil)
	ev := e.queueCommand("delivery-1", mr, "/train add")
	revoked, err := gitlab.New(gitlab.Options{BaseURL: e.ff.URL(), Token: "revoked-token", BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	repos := &engine.GitRepos{Dir: t.TempDir(), Token: "revoked-token", CloneURL: revoked.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@example.com"}}
	eng := engine.New(engine.Config{Profile: gitlab.Profile(e.ff.URL()), Owner: "revoked", Projects: []string{project}, PipelinesByAPI: true},
		e.st, revoked, repos, engine.WithRules(revoked), engine.WithComments(revoked))
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	runWorkers(t, &engine.Workers{Store: e.st, Consumer: "w", ClaimIdle: 50 * time.Millisecond, MaxDeliveries: 2,
		Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: eng.Jobs, Pass: eng.Pass})
	waitFor(t, 20*time.Second, "the command buried", func() bool { return slices.Contains(o.of(ev.ID), engine.OutcomeDead) })
	if got := o.of(ev.ID); slices.Contains(got, engine.OutcomeGone) {
		t.Fatalf("outcomes %v: dropped as refused for good", got)
	}
	dead, err := e.st.DeadLetters(e.ctx, 10)
	if err != nil || len(dead) != 1 || !strings.Contains(dead[0].Reason, "did not take the credentials") {
		t.Fatalf("dead letters %+v, %v: want the command, with why", dead, err)
	}
	if cars := e.cars(); len(cars) != 0 {
		t.Fatalf("cars %v", cars)
	}
}

// closeForbidden refuses every CloseMR with a 403, as GitLab does for a
// bot without the role to close an MR.
type closeForbidden struct {
	engine.Forge
	calls atomic.Int64
}

func (f *closeForbidden) CloseMR(ctx context.Context, project string, iid int64) error {
	f.calls.Add(1)
	return forbidden("PUT /projects/%s/merge_requests/%d", project, iid)
}

// forbidden is the forge's 403 for want of a right on the request named.
func forbidden(format string, args ...any) error {
	return retry.ForgeError(retry.Answer{Status: 403, Said: "403 Forbidden"}, fmt.Errorf(format+": 403", args...))
}

// An action of a train the forge refuses with 403 stays in the train's
// outbox, which every pass and sweep tries again: the events whose passes
// met it are not kept for it, so they do not all end in the dead letters.
func TestAForbiddenActionKeepsNoEventOfItsTrain(t *testing.T) {
	t.Parallel()
	cf := &closeForbidden{}
	e := newEnv(t, envOptions{forge: func(f engine.Forge) engine.Forge { cf.Forge = f; return cf }})
	a, b := e.mr(1, nil), e.mr(2, nil)
	e.addAll(a)
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	tr.Outbox = append(tr.Outbox, train.CloseMR{MR: b})
	if _, err := e.st.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	runWorkers(t, &engine.Workers{Store: e.st, Consumer: "w", Count: 1, ClaimIdle: 30 * time.Millisecond, MaxDeliveries: 3,
		Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: e.eng.Jobs, Pass: e.eng.Pass})
	const n = 4
	for i := range n {
		// News of an MR that is not on the train.
		enqueue(t, e.st, event.Event{ID: fmt.Sprint("mr-", i), Forge: "gitlab", Project: project, Kind: event.KindMR,
			Action: event.ActionUpdate, MR: b, TargetBranch: "main", HeadSHA: fmt.Sprintf("%040d", i)})
	}
	waitFor(t, 30*time.Second, "every event settled", func() bool {
		for i := range n {
			got := o.of(fmt.Sprint("mr-", i))
			if !slices.Contains(got, engine.OutcomeGone) && !slices.Contains(got, engine.OutcomeDead) && !slices.Contains(got, engine.OutcomeHandled) {
				return false
			}
		}
		return true
	})
	for i := range n {
		if got := o.of(fmt.Sprint("mr-", i)); slices.Contains(got, engine.OutcomeDead) || slices.Contains(got, engine.OutcomeRetry) {
			t.Errorf("mr-%d: outcomes %v, want it settled at once", i, got)
		}
	}
	if dead, err := e.st.DeadLetters(e.ctx, 100); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %+v, %v; want none", dead, err)
	}
	if tr, err := e.eng.Train(e.ctx, e.key); err != nil || !slices.ContainsFunc(tr.Outbox, func(a train.Action) bool { _, ok := a.(train.CloseMR); return ok }) {
		t.Fatalf("outbox %+v (%v): the refused close should wait there", tr.Outbox, err)
	}
}

// commentForbidden refuses every comment with a 403, as GitLab does on an
// MR whose discussion is locked, and as GitHub does for an App without
// the right to write pull requests.
type commentForbidden struct {
	engine.Forge
	calls atomic.Int64
}

func (f *commentForbidden) Comment(ctx context.Context, project string, iid int64, _ string) error {
	f.calls.Add(1)
	return forbidden("POST /projects/%s/merge_requests/%d/notes", project, iid)
}

// A command whose reply the forge refuses with 403 did what it asked: it
// is settled, its reply tried once and dropped, and the command is not
// delivered again into the dead letters.
func TestACommandWhoseReplyIsForbiddenIsDone(t *testing.T) {
	t.Parallel()
	cf := &commentForbidden{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, forge: func(f engine.Forge) engine.Forge { cf.Forge = f; return cf }})
	a := e.mr(1, nil)
	e.addAll(a)
	before := cf.calls.Load()
	cmds := []event.Event{
		e.queueCommandBy("pause", "mia", a, "/train pause"),           // a Maintainer's: done, then answered
		e.queueCommandBy("help", "alice", a, "/train help"),           // an answer alone
		e.queueCommandBy("freeze", "alice", a, "/train freeze lunch"), // refused: a Developer may not freeze
	}
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	runWorkers(t, &engine.Workers{Store: e.st, Consumer: "w", Count: 1, ClaimIdle: 30 * time.Millisecond, MaxDeliveries: 2,
		Log: zaptest.NewLogger(t), Observe: o.observe, Jobs: e.eng.Jobs, Pass: e.eng.Pass})
	waitFor(t, 30*time.Second, "every command settled", func() bool {
		for _, ev := range cmds {
			if len(o.of(ev.ID)) == 0 {
				return false
			}
		}
		return true
	})
	for _, ev := range cmds {
		if got := o.of(ev.ID); !slices.Equal(got, []string{engine.OutcomeHandled}) {
			t.Errorf("%s: outcomes %v, want handled once", ev.ID, got)
		}
	}
	if n := cf.calls.Load() - before; n != int64(len(cmds)) {
		t.Errorf("%d replies tried, want %d (one each)", n, len(cmds))
	}
	if dead, err := e.st.DeadLetters(e.ctx, 10); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %+v, %v; want none", dead, err)
	}
	if tr, err := e.eng.Train(e.ctx, e.key); err != nil || !tr.Paused || tr.Frozen != nil {
		t.Fatalf("train paused %v, frozen %v (%v); want paused, not frozen", tr.Paused, tr.Frozen, err)
	}
}
