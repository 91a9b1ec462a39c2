package engine_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/trainyard/trainyard/internal/train"
)

// sawSuccess records which replicas planned a pipeline's success.
type sawSuccess struct {
	mu  sync.Mutex
	who []string
}

func (s *sawSuccess) trace(name string, pipeline *int64) engine.Option {
	return engine.WithTrace(engine.Trace{Observed: func(_ train.Key, o train.Observation, _ train.Train) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if p, ok := o.(train.PipelineStatus); ok && p.Pipeline == *pipeline && p.Status == train.PipelineSuccess {
			s.who = append(s.who, name)
		}
	}})
}

func (s *sawSuccess) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.who...)
}

// passAndForward passes pipeline p and queues its webhook, then waits for
// the replica that gets it to forward it to the train's inbox.
func passAndForward(t *testing.T, e *env, p fakeforge.Pipeline, what string) {
	t.Helper()
	if err := e.ff.FinishPipeline(e.ctx, p.ID, "success"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, e.st, event.Event{ID: "result", Forge: "gitlab", Project: project, Kind: event.KindPipeline,
		Pipeline: p.ID, SHA: p.SHA, Ref: p.Ref, Status: train.PipelineSuccess})
	waitFor(t, 10*time.Second, what, func() bool {
		got, err := e.st.PeekInbox(e.ctx, e.key)
		return err == nil && len(got) == 1
	})
}

// TestABusyTrainTakesAnotherReplicasResult: a pipeline's result that
// reaches a replica while another is in a pass of its train is forwarded
// to that pass, which merges the car before it lets the lease go; the
// replica that got the result never plans it, and settles its event once
// the lease is free.
func TestABusyTrainTakesAnotherReplicasResult(t *testing.T) {
	t.Parallel()
	var pipeline int64
	saw := &sawSuccess{}
	// The holder's pass stops on a head change of an MR that is not on
	// the train until the result is in its inbox.
	hold, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	blocker := train.HeadChanged{MR: 999, HeadSHA: "0123456789abcdef0123456789abcdef01234567"}
	block := engine.WithTrace(engine.Trace{Observed: func(_ train.Key, o train.Observation, _ train.Train) {
		if o == train.Observation(blocker) {
			once.Do(func() { close(hold) })
			<-proceed
		}
	}})
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, options: []engine.Option{saw.trace("holder", &pipeline), block}})
	a := e.mr(1, nil)
	e.addAll(a)
	p := e.carPipeline(1, "trainyard/main/1")
	pipeline = p.ID

	other := e.replica("other", train.Settings{}, saw.trace("other", &pipeline))
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	w := &engine.Workers{Store: e.st, Consumer: "other", ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: other.Jobs, Pass: other.Pass, Forward: other.Forward}
	runWorkers(t, w)

	// The holder's pass, told by the workers that work waits for it once
	// the forward is announced.
	passed := make(chan error, 1)
	go func() {
		ctx := engine.WithOthersWaiting(e.ctx, func() bool {
			n, _ := e.st.PeekInbox(context.WithoutCancel(e.ctx), e.key)
			return len(n) > 0
		})
		_, err := e.eng.Pass(ctx, engine.Job{Key: e.key, Obs: []train.Observation{blocker}})
		passed <- err
	}()
	<-hold

	passAndForward(t, e, p, "the result forwarded")
	if s := e.mrState(a).State; s != "opened" {
		t.Fatalf("!%d is %s while the holder's pass waits, want opened", a, s)
	}
	close(proceed)
	if err := <-passed; err != nil {
		t.Fatalf("the holder's pass: %v", err)
	}
	if s := e.mrState(a).State; s != "merged" {
		t.Fatalf("!%d is %s after the holder's pass, want merged by it", a, s)
	}
	if got, err := e.st.PeekInbox(e.ctx, e.key); err != nil || len(got) != 0 {
		t.Fatalf("inbox after the pass: %q, %v; want it emptied", got, err)
	}
	waitFor(t, 10*time.Second, "the forwarded event settled", func() bool {
		return len(o.of("result")) > 0
	})
	if got := o.of("result"); len(got) != 1 || got[0] != engine.OutcomeHandled {
		t.Fatalf("the event's outcomes: %q, want handled once", got)
	}
	if got := saw.list(); len(got) != 1 || got[0] != "holder" {
		t.Fatalf("the success was planned by %q, want by the holder alone", got)
	}
	if h := e.head(); h == e.base {
		t.Fatalf("the target did not move")
	}
}

// TestAForwardOutlivesItsHolder: a result forwarded to a holder that dies
// before it takes it is planned by the replica that forwarded it, once the
// dead holder's lease has expired.
func TestAForwardOutlivesItsHolder(t *testing.T) {
	t.Parallel()
	var pipeline int64
	saw := &sawSuccess{}
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, options: []engine.Option{saw.trace("first", &pipeline)}})
	a := e.mr(1, nil)
	e.addAll(a)
	p := e.carPipeline(1, "trainyard/main/1")
	pipeline = p.ID

	if ok, err := e.st.AcquireLease(e.ctx, e.key, "dead-replica", 3*time.Second); err != nil || !ok {
		t.Fatalf("lease for the dead replica: %v, %v", ok, err)
	}
	other := e.replica("other", train.Settings{}, saw.trace("other", &pipeline))
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	w := &engine.Workers{Store: e.st, Consumer: "other", ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: other.Jobs, Pass: other.Pass, Forward: other.Forward}
	runWorkers(t, w)
	passAndForward(t, e, p, "the result forwarded to the dead holder")
	waitFor(t, 10*time.Second, "the forwarded event settled", func() bool {
		return len(o.of("result")) > 0
	})
	if got := o.of("result"); len(got) != 1 || got[0] != engine.OutcomeHandled {
		t.Fatalf("the event's outcomes: %q, want handled once", got)
	}
	if s := e.mrState(a).State; s != "merged" {
		t.Fatalf("!%d is %s, want merged by the replica that forwarded its result", a, s)
	}
	if got := saw.list(); len(got) != 1 || got[0] != "other" {
		t.Fatalf("the success was planned by %q, want by the forwarding replica alone", got)
	}
	if got, err := e.st.PeekInbox(e.ctx, e.key); err != nil || len(got) != 0 {
		t.Fatalf("inbox: %q, %v; want it emptied", got, err)
	}
}

// TestAForwardersRetryLeavesTheHoldersOutbox: once the holder took what
// was forwarded, the forwarding replica's retry leaves the train as it is:
// what the holder's pass left in its outbox is the holder's to carry out,
// from its own mirror.
func TestAForwardersRetryLeavesTheHoldersOutbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	mrs := []int64{e.mr(1, nil), e.mr(2, nil), e.mr(3, nil)}
	if err := e.add(mrs[0], "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Pause(e.ctx, e.key, engine.Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	e.addAll(mrs[1:]...)
	state := func() (built, outbox int) {
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tr.Cars {
			if c.Commit != "" {
				built++
			}
		}
		return built, len(tr.Outbox)
	}
	// The holder's pass ends after its first action, as when another
	// replica asked for the lease.
	waiting := engine.WithOthersWaiting(e.ctx, func() bool { return true })
	rest, err := e.eng.Pass(waiting, engine.Job{Key: e.key, Obs: []train.Observation{train.Resumed{By: "alice"}}})
	if err != nil || len(rest) != 1 {
		t.Fatalf("the holder's pass: %+v, %v", rest, err)
	}
	built, outbox := state()
	if outbox == 0 {
		t.Fatal("the holder's pass left nothing in its outbox")
	}

	other := e.replica("other", train.Settings{})
	left, err := other.Forward(e.ctx, engine.Job{Key: e.key, Obs: []train.Observation{
		train.PipelineStatus{Pipeline: 424242, SHA: "0123456789abcdef0123456789abcdef01234567", Status: train.PipelineRunning}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Obs) != 0 || len(left.Checks) != 0 {
		t.Fatalf("left after the forward: %+v, want no work", left)
	}
	got, err := e.st.PeekInbox(e.ctx, e.key)
	if err != nil || len(got) != 1 || !strings.Contains(got[0].Work, "424242") {
		t.Fatalf("inbox: %+v, %v; want the forwarded pipeline", got, err)
	}
	// The holder takes it.
	if ok, err := e.st.AcquireLease(e.ctx, e.key, "holder", time.Minute); err != nil || !ok {
		t.Fatalf("lease: %v, %v", ok, err)
	}
	if err := e.st.DropInbox(e.ctx, e.key, "holder", got); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ReleaseLease(e.ctx, e.key, "holder"); err != nil {
		t.Fatal(err)
	}
	if next, err := other.Pass(e.ctx, left); err != nil || len(next) != 0 {
		t.Fatalf("the forwarder's retry: %+v, %v", next, err)
	}
	if b, o := state(); b != built || o != outbox {
		t.Fatalf("after the forwarder's retry: %d cars built, %d actions left; want the holder's %d and %d untouched", b, o, built, outbox)
	}
	if next, err := e.eng.Pass(e.ctx, rest[0]); err != nil || len(next) != 0 {
		t.Fatalf("the holder's next pass: %+v, %v", next, err)
	}
	if b, o := state(); b != len(mrs) || o != 0 {
		t.Fatalf("after the holder's next pass: %d cars built, %d actions left; want all %d and none", b, o, len(mrs))
	}
}

// pipelineFails answers reads of one pipeline with an error.
type pipelineFails struct {
	engine.Forge
	id  atomic.Int64
	err error
}

func (f *pipelineFails) Pipeline(ctx context.Context, project string, id int64) (forge.Pipeline, error) {
	if id == f.id.Load() {
		return forge.Pipeline{}, f.err
	}
	return f.Forge.Pipeline(ctx, project, id)
}

// TestForwardedWorkNeverFailsTheHoldersPass: forwarded work whose reads
// fail does not fail the pass that takes it, which plans its own work;
// what the forge refuses for good is dropped, what fails for now is left
// for a later pass.
func TestForwardedWorkNeverFailsTheHoldersPass(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
		kept bool
	}{
		{"refused for good", fmt.Errorf("get pipeline: %w", forge.ErrNotFound), false},
		{"failing for now", errors.New("get pipeline: 503 Service Unavailable"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fails := &pipelineFails{err: c.err}
			e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, forge: func(f engine.Forge) engine.Forge {
				fails.Forge = f
				return fails
			}})
			a, b := e.mr(1, nil), e.mr(2, nil)
			e.addAll(a, b)
			p := e.carPipeline(2, "trainyard/main/1")
			fails.id.Store(p.ID)
			other := e.replica("other", train.Settings{})
			if _, err := other.Forward(e.ctx, engine.Job{Key: e.key, Checks: []string{p.SHA}}); err != nil {
				t.Fatal(err)
			}
			if got, err := e.st.PeekInbox(e.ctx, e.key); err != nil || len(got) != 1 {
				t.Fatalf("inbox before the pass: %+v, %v; want the forwarded checks", got, err)
			}
			// The holder's own work: !b was closed.
			if _, err := e.eng.Pass(e.ctx, engine.Job{Key: e.key, Obs: []train.Observation{train.Closed{MR: b}}}); err != nil {
				t.Fatalf("the pass that took the forward: %v", err)
			}
			tr, err := e.eng.Train(e.ctx, e.key)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Car(b) != nil || tr.Car(a) == nil {
				t.Fatalf("cars after the pass: %v; want !%d alone, !%d closed", e.cars(), a, b)
			}
			left, err := e.st.PeekInbox(e.ctx, e.key)
			if err != nil {
				t.Fatal(err)
			}
			if kept := len(left) == 1; kept != c.kept {
				t.Fatalf("inbox after the pass: %+v; want kept %v", left, c.kept)
			}
		})
	}
}
