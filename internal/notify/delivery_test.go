package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/trainyard/trainyard/internal/train"
)

func TestRetriedUntilDelivered(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/flaky", failFirst(2, http.StatusInternalServerError))
	h := start(t, Options{Routes: []Route{{Kind: KindSlack, URL: rc.url("/flaky")}}})
	h.n.Notify(t.Context(), appKey, mergedEvent())
	h.n.Close()
	if got := len(rc.got("/flaky")); got != 3 {
		t.Errorf("receiver got %d requests, want 3 (two 500s, one 200)", got)
	}
	if got, want := h.c.all(), "merged/sent=1 merged/retried=2"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	noSecretInLogs(t, h.logs)
}

// TestFailingRouteDoesNotStopOthers: a receiver that always fails costs
// its own notifications only; they are counted, logged and given up.
func TestFailingRouteDoesNotStopOthers(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/down", status(http.StatusBadGateway))
	h := start(t, Options{Routes: []Route{
		{Name: "ops", Kind: KindSlack, URL: rc.url("/down")},
		{Name: "team", Kind: KindMattermost, URL: rc.url("/up")},
	}})
	h.n.Notify(t.Context(), appKey, mergedEvent())
	h.n.Notify(t.Context(), appKey, evictedEvent())
	h.n.Close()
	if got := len(rc.got("/down")); got != 6 {
		t.Errorf("failing receiver got %d requests, want 6 (3 attempts each)", got)
	}
	if got := len(rc.got("/up")); got != 2 {
		t.Errorf("working receiver got %d posts, want 2", got)
	}
	want := "merged/sent=1 merged/failed=1 merged/retried=2 evicted/sent=1 evicted/failed=1 evicted/retried=2"
	if got := h.c.all(); got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	failed := h.logs.FilterMessage("chat notification failed").All()
	if len(failed) != 2 {
		t.Fatalf("%d failure logs, want 2", len(failed))
	}
	for _, e := range failed {
		f := e.ContextMap()
		if e.Level != zapcore.WarnLevel || f["route"] != "ops" || f["train"] != appKey.String() || f["attempts"] != int64(3) ||
			!strings.Contains(f["error"].(string), "502 Bad Gateway") || !strings.Contains(f["error"].(string), "gave up retrying after 3 attempts") {
			t.Errorf("failure log = %s %v", e.Level, f)
		}
	}
	noSecretInLogs(t, h.logs)
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/busy", func(w http.ResponseWriter, _ *http.Request, nth int) {
		if nth == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	h := start(t, Options{Routes: []Route{{Kind: KindSlack, URL: rc.url("/busy")}}})
	h.n.Notify(t.Context(), appKey, pausedEvent())
	h.n.Close()
	at := rc.times("/busy")
	if len(at) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Errorf("retried after %v, before the Retry-After of 1s", gap)
	}
	if got, want := h.c.all(), "paused/sent=1 paused/retried=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/bad", func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("invalid_payload\n"))
	})
	h := start(t, Options{Routes: []Route{{Kind: KindSlack, URL: rc.url("/bad")}}})
	h.n.Notify(t.Context(), appKey, evictedEvent())
	h.n.Close()
	if got := len(rc.got("/bad")); got != 1 {
		t.Errorf("receiver got %d requests, want 1", got)
	}
	if got, want := h.c.all(), "evicted/failed=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	failed := h.logs.FilterMessage("chat notification failed").All()
	if len(failed) != 1 || failed[0].ContextMap()["error"] != "webhook answered 400 Bad Request: invalid_payload" {
		t.Errorf("failure logs = %v", failed)
	}
}

// TestNotifyNeverBlocks: a receiver that never answers neither holds up
// Notify nor, once the queue is full, anything but the dropped events.
func TestNotifyNeverBlocks(t *testing.T) {
	rc := newReceiver(t)
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	defer close(release)
	rc.answer("/hung", hang(arrived, release))
	h := start(t, Options{Workers: 1, QueueSize: 2, Grace: 50 * time.Millisecond,
		Routes: []Route{{Kind: KindSlack, URL: rc.url("/hung")}}})

	returns(t, "Notify with a hung receiver", func() { h.n.Notify(t.Context(), appKey, event(train.NotifyPaused, 0)) })
	select {
	case <-arrived: // the only worker is now stuck in the request
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver never got the first notification")
	}
	for i := 1; i <= 5; i++ {
		returns(t, "Notify with a full queue", func() { h.n.Notify(t.Context(), appKey, event(train.NotifyPaused, i)) })
	}
	if got := h.c.get(train.NotifyPaused, OutcomeDropped); got != 3 {
		t.Errorf("dropped %d, want 3 (5 events, 2 queue slots)", got)
	}
	returns(t, "Close with a hung receiver", h.n.Close)
	// At the deadline the request in flight is abandoned and the two
	// queued events are dropped.
	if got, want := h.c.all(), "paused/failed=1 paused/dropped=5"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	noSecretInLogs(t, h.logs)
}

func TestCloseDrainsQueue(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/slow", func(http.ResponseWriter, *http.Request, int) { time.Sleep(5 * time.Millisecond) })
	h := start(t, Options{Workers: 1, QueueSize: 20, Routes: []Route{{Kind: KindMattermost, URL: rc.url("/slow")}}})
	for i := range 10 {
		h.n.Notify(t.Context(), appKey, event(train.NotifyResumed, i))
	}
	h.n.Close()
	if got := len(rc.got("/slow")); got != 10 {
		t.Errorf("receiver got %d posts after Close, want all 10", got)
	}
	h.n.Notify(t.Context(), appKey, event(train.NotifyResumed, 99))
	if got, want := h.c.all(), "resumed/sent=10 resumed/dropped=1"; got != want {
		t.Errorf("counts = %q, want %q (a Notify after Close is dropped)", got, want)
	}
	if got := len(rc.got("/slow")); got != 10 {
		t.Errorf("receiver got %d posts, want 10: nothing after Close", got)
	}
}

// TestRunReturnsAfterCancel: every goroutine of the Notifier stops when
// Run's context ends, even with a request hanging.
func TestRunReturnsAfterCancel(t *testing.T) {
	rc := newReceiver(t)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	rc.answer("/hung", hang(arrived, release))
	n, err := New(Options{Grace: 20 * time.Millisecond, Retry: fastRetry, Routes: []Route{{Kind: KindSlack, URL: rc.url("/hung")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx) }()
	n.Notify(ctx, appKey, pausedEvent())
	<-arrived
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := n.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("Start after Run = %v, want ErrStarted", err)
	}
	returns(t, "Close after Run", n.Close)
}

func TestCloseWithoutStartDropsQueued(t *testing.T) {
	c := &counts{}
	n, err := New(Options{Counter: c, Routes: []Route{{Kind: KindSlack, URL: "http://127.0.0.1:1/x"}}})
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(t.Context(), appKey, pausedEvent())
	n.Close()
	n.Notify(t.Context(), appKey, event(train.NotifyResumed, 1))
	if got, want := c.all(), "paused/dropped=1 resumed/dropped=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	if err := n.Run(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("Run after Close = %v, want ErrStarted", err)
	}
}

// TestRepeatedEventPostedOnce: the engine may carry out one Notify action
// twice; chat hears of it once. An event that was not delivered is tried
// again when repeated.
func TestRepeatedEventPostedOnce(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/refusing", failFirst(1, http.StatusForbidden))
	// One worker, so the refused post is the first to reach /refusing.
	h := start(t, Options{Workers: 1, Routes: []Route{{Kind: KindSlack, URL: rc.url("/ok")}, {Kind: KindSlack, URL: rc.url("/refusing")}}})
	other := appKey
	other.Branch = "next"
	for range 3 {
		h.n.Notify(t.Context(), appKey, mergedEvent())
	}
	h.n.Notify(t.Context(), other, mergedEvent()) // same event key, another train
	waitFor(t, "the refused post to fail", func() bool { return h.c.get(train.NotifyMerged, OutcomeFailed) == 1 })
	h.n.Notify(t.Context(), appKey, mergedEvent())
	h.n.Close()
	if got := len(rc.got("/ok")); got != 2 {
		t.Errorf("/ok got %d posts, want 2 (one per train)", got)
	}
	if got := len(rc.got("/refusing")); got != 3 {
		t.Errorf("/refusing got %d requests, want 3 (refused, other train, repeat of the refused one)", got)
	}
	if got, want := h.c.all(), "merged/sent=4 merged/failed=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

func TestRecentForgetsOldest(t *testing.T) {
	r := newRecent(2)
	steps := []struct {
		key  string
		want bool
	}{{"a", true}, {"b", true}, {"a", false}, {"c", true}, {"a", true}, {"c", false}, {"b", true}}
	for i, s := range steps {
		if got := r.add(s.key); got != s.want {
			t.Fatalf("step %d: add(%q) = %v, want %v", i, s.key, got, s.want)
		}
	}
	r.forget("b")
	if !r.add("b") {
		t.Error("add after forget = false, want true")
	}
	if r.add("b") {
		t.Error("second add = true, want false")
	}
}
