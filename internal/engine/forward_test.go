package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/fakeforge"
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

	if err := e.ff.FinishPipeline(e.ctx, p.ID, "success"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, e.st, event.Event{ID: "result", Forge: "gitlab", Project: project, Kind: event.KindPipeline,
		Pipeline: p.ID, SHA: p.SHA, Ref: p.Ref, Status: train.PipelineSuccess})
	waitFor(t, 10*time.Second, "the result forwarded", func() bool {
		got, err := e.st.PeekInbox(e.ctx, e.key)
		return err == nil && len(got) == 1
	})
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

	if ok, err := e.st.AcquireLease(e.ctx, e.key, "dead-replica", 2*time.Second); err != nil || !ok {
		t.Fatalf("lease for the dead replica: %v, %v", ok, err)
	}
	other := e.replica("other", train.Settings{}, saw.trace("other", &pipeline))
	o := &outcomes{seen: map[string][]string{}, calls: map[string]int{}}
	w := &engine.Workers{Store: e.st, Consumer: "other", ClaimIdle: time.Hour, Log: zaptest.NewLogger(t), Observe: o.observe,
		Jobs: other.Jobs, Pass: other.Pass, Forward: other.Forward}
	runWorkers(t, w)
	if err := e.ff.FinishPipeline(e.ctx, p.ID, "success"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, e.st, event.Event{ID: "result", Forge: "gitlab", Project: project, Kind: event.KindPipeline,
		Pipeline: p.ID, SHA: p.SHA, Ref: p.Ref, Status: train.PipelineSuccess})
	waitFor(t, time.Second, "the result forwarded to the dead holder", func() bool {
		got, err := e.st.PeekInbox(e.ctx, e.key)
		return err == nil && len(got) == 1
	})
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
