package engine_test

import (
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// A train idle for train.RetireAfter is deleted by the sweep, and made
// again by the next add; one that is paused (state someone set on
// purpose) stays, and one idle since before idle times were kept is
// first marked idle.
func TestSweepRetiresIdleTrains(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	sweeper := &engine.Sweeper{Store: e.st, Sweep: e.eng.Sweep, Retire: e.eng.Retire, Log: zaptest.NewLogger(t)}
	pass := func() { t.Helper(); sweeper.Pass(e.ctx) }
	a := e.mr(1, nil)
	e.addAll(a)
	e.run()
	e.requireMerged(a)
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Idle() || tr.IdleSince.IsZero() {
		t.Fatalf("after the merge: idle %v since %v, want idle with a time", tr.Idle(), tr.IdleSince)
	}
	pass()
	if ok, _ := e.st.Exists(e.ctx, e.key); !ok {
		t.Fatal("a train idle for moments was retired")
	}

	age := func(since time.Time, paused bool) {
		t.Helper()
		tr, err := e.st.Load(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		tr.IdleSince, tr.Paused = since, paused
		if _, err := e.st.Save(e.ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	age(time.Now().Add(-train.RetireAfter-time.Hour), true)
	pass()
	if ok, _ := e.st.Exists(e.ctx, e.key); !ok {
		t.Fatal("a paused train was retired")
	}
	age(time.Time{}, false)
	pass()
	tr, err = e.st.Load(e.ctx, e.key)
	if err != nil || tr.IdleSince.IsZero() {
		t.Fatalf("a train idle from before: %+v, %v; want it marked idle", tr.IdleSince, err)
	}
	age(time.Now().Add(-train.RetireAfter-time.Hour), false)
	pass()
	if ok, _ := e.st.Exists(e.ctx, e.key); ok {
		t.Fatal("a train idle for longer than RetireAfter was not retired")
	}
	if keys, err := e.eng.Trains(e.ctx); err != nil || len(keys) != 0 {
		t.Fatalf("trains after the retirement: %v, %v", keys, err)
	}
	b := e.mr(2, nil)
	e.addAll(b)
	e.run()
	e.requireMerged(b)
}
