package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

func TestRetriedUntilDelivered(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/flaky", failFirst(2, http.StatusInternalServerError))
	h := start(t, Options{Routes: []Route{{Kind: KindSlack, URL: rc.url("/flaky")}}})
	h.n.Notify(t.Context(), appKey, mergedEvent())
	waitFor(t, "the post to go through", func() bool { return h.c.get("slack#0", train.NotifyMerged, OutcomeSent) == 1 })
	h.n.Close()
	got := rc.got("/flaky")
	if len(got) != 3 || got[0] != got[2] {
		t.Errorf("receiver got %q, want the same post 3 times (two 500s, one 200)", got)
	}
	if got, want := h.c.all(), "slack#0/merged/retried=2 slack#0/merged/sent=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	if n := queued(t, h.q, "slack#0"); n != 0 {
		t.Errorf("%d messages left in the queue, want none", n)
	}
	noSecretInLogs(t, h.logs)
}

// TestHungRouteDoesNotDelayOthers: while one route's receiver holds a
// request, another route gets every message.
func TestHungRouteDoesNotDelayOthers(t *testing.T) {
	rc := newReceiver(t)
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	rc.answer("/hung", hang(arrived, release))
	// The request timeout is far beyond the test's waits, so the hung
	// request cannot end by itself while the test looks.
	h := start(t, Options{Timeout: time.Minute, Routes: []Route{
		{Name: "hung", Kind: KindSlack, URL: rc.url("/hung")},
		{Name: "team", Kind: KindMattermost, URL: rc.url("/team")},
	}})
	h.n.Notify(t.Context(), appKey, mergedEvent())
	select {
	case <-arrived: // the hung route's worker is stuck in its request
	case <-time.After(5 * time.Second):
		t.Fatal("the hung receiver never got the first notification")
	}
	h.n.Notify(t.Context(), appKey, evictedEvent())
	h.n.Notify(t.Context(), appKey, pausedEvent())
	waitFor(t, "the team route's three posts", func() bool {
		return h.c.get("team", train.NotifyMerged, OutcomeSent)+h.c.get("team", train.NotifyEvicted, OutcomeSent)+h.c.get("team", train.NotifyPaused, OutcomeSent) == 3
	})
	if got := len(rc.got("/hung")); got != 1 {
		t.Fatalf("hung receiver got %d requests, want only the one it still holds", got)
	}
	want := "team/evicted/sent=1 team/merged/sent=1 team/paused/sent=1"
	if got := h.c.all(); got != want {
		t.Errorf("counts while hung = %q, want %q", got, want)
	}
	close(release)
	waitFor(t, "the hung route's three posts", func() bool { return len(rc.got("/hung")) == 3 })
	h.n.Close()
	want = "hung/evicted/sent=1 hung/merged/sent=1 hung/paused/sent=1 " + want
	if got := h.c.all(); got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

// TestMessageSurvivesRestart: a message that did not go through before a
// stop is sent, once, by the next process on the same Redis.
func TestMessageSurvivesRestart(t *testing.T) {
	rc := newReceiver(t)
	var healthy atomic.Bool
	rc.answer("/ops", func(w http.ResponseWriter, _ *http.Request, _ int) {
		if !healthy.Load() {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	rdb, prefix := redisFor(t)
	routes := []Route{{Name: "ops", Kind: KindSlack, URL: rc.url("/ops")}}

	first := start(t, Options{Routes: routes, Queue: store.New(rdb, store.Options{Prefix: prefix}).Notifications()})
	first.n.Notify(t.Context(), appKey, mergedEvent())
	waitFor(t, "the first attempt to fail", func() bool { return first.c.get("ops", train.NotifyMerged, OutcomeRetried) == 1 })
	returns(t, "Close with a retry a minute away", first.n.Close)
	if got, want := first.c.all(), "ops/merged/retried=1"; got != want {
		t.Fatalf("first process's counts = %q, want %q", got, want)
	}

	healthy.Store(true)
	// The next process starts after the minute the receiver asked for.
	var c clock
	c.advance(61 * time.Second)
	second := start(t, Options{Routes: routes, Now: c.now, Queue: store.New(rdb, store.Options{Prefix: prefix}).Notifications()})
	waitFor(t, "the kept message to be sent", func() bool { return second.c.get("ops", train.NotifyMerged, OutcomeSent) == 1 })
	// The engine repeating the event after the restart posts nothing.
	second.n.Notify(t.Context(), appKey, mergedEvent())
	second.n.Close()
	got := rc.got("/ops")
	if len(got) != 2 || got[0] != got[1] {
		t.Errorf("receiver got %q, want one refused post and the same post once more", got)
	}
	if got, want := second.c.all(), "ops/merged/sent=1"; got != want {
		t.Errorf("second process's counts = %q, want %q", got, want)
	}
	if n := queued(t, second.q, "ops"); n != 0 {
		t.Errorf("%d messages left in the queue, want none", n)
	}
}

// TestGivenUpAfterRetryFor: a message still failing at the end of its
// route's retry period is given up, logged and counted.
func TestGivenUpAfterRetryFor(t *testing.T) {
	rc := newReceiver(t)
	var c clock
	// Each attempt takes 25 minutes of the hour.
	rc.answer("/down", func(w http.ResponseWriter, _ *http.Request, _ int) {
		c.advance(25 * time.Minute)
		w.WriteHeader(http.StatusBadGateway)
	})
	h := start(t, Options{Now: c.now, Routes: []Route{{Name: "ops", Kind: KindSlack, URL: rc.url("/down"), RetryFor: time.Hour}}})
	h.n.Notify(t.Context(), appKey, mergedEvent())
	waitFor(t, "the message to be given up", func() bool { return h.c.get("ops", train.NotifyMerged, OutcomeExpired) == 1 })
	h.n.Close()
	if got := len(rc.got("/down")); got != 3 {
		t.Errorf("receiver got %d requests, want 3 (at 0, 25 and 50 minutes)", got)
	}
	if got, want := h.c.all(), "ops/merged/expired=1 ops/merged/retried=2"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	given := h.logs.FilterMessage("chat notification given up").All()
	if len(given) != 1 {
		t.Fatalf("%d give-up logs, want 1", len(given))
	}
	f := given[0].ContextMap()
	if given[0].Level != zapcore.WarnLevel || f["route"] != "ops" || f["train"] != appKey.String() || f["attempts"] != int64(3) ||
		f["retry_for"] != time.Hour || !strings.Contains(f["error"].(string), "502 Bad Gateway") {
		t.Errorf("give-up log = %s %v", given[0].Level, f)
	}
	if n := queued(t, h.q, "ops"); n != 0 {
		t.Errorf("%d messages left in the queue, want none", n)
	}
	noSecretInLogs(t, h.logs)
}

// TestExpiredWhileDown: a message found after its retry period (nothing
// ran to send it) is given up without a post.
func TestExpiredWhileDown(t *testing.T) {
	rc := newReceiver(t)
	q := newQueue(t)
	routes := []Route{{Name: "ops", Kind: KindMattermost, URL: rc.url("/ops"), RetryFor: time.Hour}}
	down := build(t, Options{Routes: routes, Queue: q})
	down.n.Notify(t.Context(), appKey, pausedEvent())
	down.n.Close()
	var c clock
	c.advance(2 * time.Hour)
	h := start(t, Options{Routes: routes, Queue: q, Now: c.now})
	waitFor(t, "the message to be given up", func() bool { return h.c.get("ops", train.NotifyPaused, OutcomeExpired) == 1 })
	h.n.Close()
	if got := len(rc.got("/ops")); got != 0 {
		t.Errorf("receiver got %d posts, want none", got)
	}
	given := h.logs.FilterMessage("chat notification given up").All()
	if len(given) != 1 || given[0].ContextMap()["attempts"] != int64(0) || !strings.HasPrefix(given[0].ContextMap()["error"].(string), "queued 2h0m") {
		t.Errorf("give-up logs = %v", given)
	}
	if got, want := h.c.all(), "ops/paused/expired=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
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
	waitFor(t, "the retry to go through", func() bool { return h.c.get("slack#0", train.NotifyPaused, OutcomeSent) == 1 })
	at := rc.times("/busy")
	if len(at) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Errorf("retried after %v, before the Retry-After of 1s", gap)
	}
	if got, want := h.c.all(), "slack#0/paused/retried=1 slack#0/paused/sent=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/bad", func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("invalid_payload\n"))
	})
	h := start(t, Options{Routes: []Route{{Name: "ops", Kind: KindSlack, URL: rc.url("/bad")}}})
	h.n.Notify(t.Context(), appKey, evictedEvent())
	waitFor(t, "the refusal", func() bool { return h.c.get("ops", train.NotifyEvicted, OutcomeFailed) == 1 })
	h.n.Close()
	if got := len(rc.got("/bad")); got != 1 {
		t.Errorf("receiver got %d requests, want 1", got)
	}
	if got, want := h.c.all(), "ops/evicted/failed=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	failed := h.logs.FilterMessage("chat notification failed").All()
	if len(failed) != 1 || failed[0].ContextMap()["error"] != "webhook answered 400 Bad Request: invalid_payload" ||
		failed[0].ContextMap()["route"] != "ops" || failed[0].ContextMap()["mr"] != int64(14) {
		t.Errorf("failure logs = %v", failed)
	}
	if n := queued(t, h.q, "ops"); n != 0 {
		t.Errorf("%d messages left in the queue, want none", n)
	}
}

// TestNotifyNeverBlocks: a receiver that never answers holds up neither
// Notify nor Close; a full queue costs the new messages only, and what
// was queued waits for the next start.
func TestNotifyNeverBlocks(t *testing.T) {
	rc := newReceiver(t)
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	defer close(release)
	rc.answer("/hung", hang(arrived, release))
	h := start(t, Options{QueueSize: 2, Grace: 50 * time.Millisecond, Timeout: time.Minute,
		Routes: []Route{{Name: "ops", Kind: KindSlack, URL: rc.url("/hung")}}})

	returns(t, "Notify with a hung receiver", func() { h.n.Notify(t.Context(), appKey, event(train.NotifyPaused, 0)) })
	select {
	case <-arrived: // the route's worker is now stuck in the request
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver never got the first notification")
	}
	for i := 1; i <= 5; i++ {
		returns(t, "Notify with a full queue", func() { h.n.Notify(t.Context(), appKey, event(train.NotifyPaused, i)) })
	}
	if got, want := h.c.all(), "ops/paused/dropped=4"; got != want {
		t.Errorf("counts = %q, want %q (the message in flight and one more fill the queue of 2)", got, want)
	}
	dropped := h.logs.FilterMessage("chat notification dropped").All()
	if len(dropped) != 4 || dropped[0].ContextMap()["route"] != "ops" || !strings.Contains(dropped[0].ContextMap()["error"].(string), "queue full") {
		t.Errorf("drop logs = %v", dropped)
	}
	returns(t, "Close with a hung receiver", h.n.Close)
	if got, want := h.c.all(), "ops/paused/dropped=4"; got != want {
		t.Errorf("counts after Close = %q, want %q", got, want)
	}
	// The request in flight was abandoned at the end of the grace period
	// and its message kept.
	if n := queued(t, h.q, "ops"); n != 2 {
		t.Errorf("%d messages kept, want 2", n)
	}
	noSecretInLogs(t, h.logs)
}

// TestRedisDown: with its queue unreachable, Notify returns, and counts
// and logs what it could not queue.
func TestRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	h := start(t, Options{Retry: Retry{Base: 50 * time.Millisecond, Max: 100 * time.Millisecond}, Queue: store.New(rdb, store.Options{}).Notifications(),
		Routes: []Route{{Name: "ops", Kind: KindSlack, URL: "http://127.0.0.1:1/x"}}})
	returns(t, "Notify with Redis down", func() { h.n.Notify(t.Context(), appKey, mergedEvent()) })
	if got, want := h.c.all(), "ops/merged/dropped=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
	waitFor(t, "the worker to report the queue unreadable", func() bool {
		return h.logs.FilterMessage("read chat notification queue").FilterField(zap.String("route", "ops")).Len() > 0
	})
	returns(t, "Close with Redis down", h.n.Close)
}

// TestRunReturnsAfterCancel: every goroutine of the Notifier stops when
// Run's context ends, even with a request hanging.
func TestRunReturnsAfterCancel(t *testing.T) {
	rc := newReceiver(t)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	rc.answer("/hung", hang(arrived, release))
	h := build(t, Options{Grace: 20 * time.Millisecond, Routes: []Route{{Kind: KindSlack, URL: rc.url("/hung")}}})
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- h.n.Run(ctx) }()
	h.n.Notify(ctx, appKey, pausedEvent())
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
	if err := h.n.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("Start after Run = %v, want ErrStarted", err)
	}
	returns(t, "Close after Run", h.n.Close)
}

// TestCloseWithoutStart: what a Notifier that never ran queued is sent by
// the next one.
func TestCloseWithoutStart(t *testing.T) {
	rc := newReceiver(t)
	routes := []Route{{Name: "ops", Kind: KindSlack, URL: rc.url("/ops")}}
	idle := build(t, Options{Routes: routes})
	idle.n.Notify(t.Context(), appKey, pausedEvent())
	idle.n.Close()
	idle.n.Notify(t.Context(), appKey, event(train.NotifyResumed, 1))
	if err := idle.n.Run(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("Run after Close = %v, want ErrStarted", err)
	}
	next := start(t, Options{Routes: routes, Queue: idle.q})
	waitFor(t, "both messages", func() bool { return len(rc.got("/ops")) == 2 })
	next.n.Close()
	if got, want := idle.c.all()+"|"+next.c.all(), "|ops/paused/sent=1 ops/resumed/sent=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

// TestRepeatedEventPostedOnce: the engine may carry out one Notify action
// twice; chat hears of it once. An event that was refused is tried again
// when repeated.
func TestRepeatedEventPostedOnce(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/refusing", failFirst(1, http.StatusForbidden))
	h := start(t, Options{Routes: []Route{{Name: "ok", Kind: KindSlack, URL: rc.url("/ok")}, {Name: "refusing", Kind: KindSlack, URL: rc.url("/refusing")}}})
	for range 3 {
		h.n.Notify(t.Context(), appKey, mergedEvent())
	}
	waitFor(t, "the refused post to fail", func() bool { return h.c.get("refusing", train.NotifyMerged, OutcomeFailed) == 1 })
	other := appKey
	other.Branch = "next"
	h.n.Notify(t.Context(), other, mergedEvent()) // same event key, another train
	h.n.Notify(t.Context(), appKey, mergedEvent())
	waitFor(t, "the posts", func() bool { return len(rc.got("/ok")) == 2 && len(rc.got("/refusing")) == 3 })
	h.n.Close()
	if got := len(rc.got("/ok")); got != 2 {
		t.Errorf("/ok got %d posts, want 2 (one per train)", got)
	}
	if got := len(rc.got("/refusing")); got != 3 {
		t.Errorf("/refusing got %d requests, want 3 (refused, other train, repeat of the refused one)", got)
	}
	if got, want := h.c.all(), "ok/merged/sent=2 refusing/merged/failed=1 refusing/merged/sent=2"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

// TestChangedWebhookNotPostedElsewhere: a message queued for one webhook
// is not posted to another that took its route's name, as an unnamed
// route does when the routes are reordered; it waits for its webhook
// until its time is over.
func TestChangedWebhookNotPostedElsewhere(t *testing.T) {
	rc := newReceiver(t)
	const retryFor = 300 * time.Millisecond
	before := build(t, Options{Routes: []Route{{Kind: KindSlack, URL: rc.url("/private"), RetryFor: retryFor}}})
	before.n.Notify(t.Context(), appKey, mergedEvent())
	before.n.Close()
	after := start(t, Options{Queue: before.q, Routes: []Route{{Kind: KindSlack, URL: rc.url("/public"), RetryFor: retryFor}}})
	waitFor(t, "the message to be given up", func() bool { return after.c.get("slack#0", train.NotifyMerged, OutcomeExpired) == 1 })
	after.n.Close()
	if got := len(rc.got("/private")) + len(rc.got("/public")); got != 0 {
		t.Errorf("receivers got %d posts, want none", got)
	}
	if given := after.logs.FilterMessage("chat notification given up").All(); len(given) != 1 || given[0].ContextMap()["route"] != "slack#0" {
		t.Errorf("give-up logs = %v", given)
	}
	if got, want := after.c.all(), "slack#0/merged/expired=1"; got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

// TestRollingDeployLosesNoMessage: while a replica with a route's old
// webhook still runs beside one with the new, the messages the new one
// queues all reach the new webhook, none the old.
func TestRollingDeployLosesNoMessage(t *testing.T) {
	rc := newReceiver(t)
	q := newQueue(t)
	// Each looks for messages queued elsewhere every Poll.
	const poll = 20 * time.Millisecond
	old := start(t, Options{Queue: q, Poll: poll, Routes: []Route{{Name: "chat", Kind: KindSlack, URL: rc.url("/old"), RetryFor: time.Hour}}})
	current := start(t, Options{Queue: q, Poll: poll, Routes: []Route{{Name: "chat", Kind: KindSlack, URL: rc.url("/new"), RetryFor: time.Hour}}})
	const n = 20
	for i := range n {
		k := appKey
		k.Branch = fmt.Sprintf("b%d", i)
		current.n.Notify(t.Context(), k, mergedEvent())
	}
	waitFor(t, "every message at the new webhook", func() bool { return len(rc.got("/new")) == n })
	old.n.Close()
	current.n.Close()
	if got := len(rc.got("/old")); got != 0 {
		t.Errorf("the old webhook got %d posts, want none", got)
	}
}
