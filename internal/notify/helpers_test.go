package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// secretPath is in every webhook URL the tests use, so a leak of the URL
// into an error or a log can be searched for.
const secretPath = "/hooks/s3cr3t-T0KEN"

// receiver is a chat server: it records every request by path and answers
// with the path's answer function, 200 when there is none.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	bodies  map[string][]string
	arrived map[string][]time.Time
	answers map[string]answer
}

// answer writes the reply to the nth (1-based) request to a path.
type answer func(w http.ResponseWriter, r *http.Request, nth int)

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, bodies: map[string][]string{}, arrived: map[string][]time.Time{}, answers: map[string]answer{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("bad request %s %s (%s): %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err)
	}
	path := strings.TrimPrefix(r.URL.Path, secretPath)
	rc.mu.Lock()
	rc.bodies[path] = append(rc.bodies[path], string(body))
	rc.arrived[path] = append(rc.arrived[path], time.Now())
	nth := len(rc.bodies[path])
	a := rc.answers[path]
	rc.mu.Unlock()
	if a != nil {
		a(w, r, nth)
	}
}

// url is the webhook URL of a path.
func (rc *receiver) url(path string) Secret { return Secret(rc.srv.URL + secretPath + path) }

func (rc *receiver) answer(path string, a answer) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answers[path] = a
}

func (rc *receiver) got(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies[path]...)
}

func (rc *receiver) times(path string) []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]time.Time(nil), rc.arrived[path]...)
}

// failFirst answers code to the first n requests, then 200.
func failFirst(n, code int) answer {
	return func(w http.ResponseWriter, _ *http.Request, nth int) {
		if nth <= n {
			w.WriteHeader(code)
		}
	}
}

// hang holds every request until release is closed, telling arrived of
// each.
func hang(arrived chan<- struct{}, release <-chan struct{}) answer {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// counts is a Counter the tests read.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) Count(route, kind, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[route+"/"+kind+"/"+outcome]++
}

func (c *counts) get(route string, kind train.NotifyKind, outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[route+"/"+string(kind)+"/"+outcome]
}

// all renders every count, sorted, for exact comparison.
func (c *counts) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := make([]string, 0, len(c.n))
	for k, v := range c.n {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// fastRetry keeps retry waits short so tests stay fast.
var fastRetry = Retry{Base: time.Millisecond, Max: 5 * time.Millisecond}

// clock is real time moved on by the test: waits stay real, while the
// retry period of a message can be spent in one step.
type clock struct{ ahead atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// redisFor is a redis-server of the test's own and a prefix for its keys.
func redisFor(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	return redistest.Client(t), redistest.Prefix(t)
}

// newQueue is a queue on a redis-server of the test's own.
func newQueue(t *testing.T) *store.Notifications {
	t.Helper()
	rdb, prefix := redisFor(t)
	return store.New(rdb, store.Options{Prefix: prefix}).Notifications()
}

// harness is a started Notifier with its counter and logs.
type harness struct {
	n    *Notifier
	q    Queue
	c    *counts
	logs *observer.ObservedLogs
}

// start builds and starts a Notifier, on a queue of its own unless o has
// one; Close runs at cleanup if the test did not call it.
func start(t *testing.T, o Options) harness {
	t.Helper()
	h := build(t, o)
	if err := h.n.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h
}

// build is start without the Start.
func build(t *testing.T, o Options) harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	c := &counts{}
	o.Logger, o.Counter = zap.New(core), c
	if o.Retry == (Retry{}) {
		o.Retry = fastRetry
	}
	if o.Queue == nil {
		o.Queue = newQueue(t)
	}
	n, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(n.Close)
	return harness{n: n, q: o.Queue, c: c, logs: logs}
}

// queued is how many messages route's queue holds; it claims them all,
// so it is for the end of a test.
func queued(t *testing.T, q Queue, route string) int {
	t.Helper()
	far := time.Now().Add(100 * 365 * 24 * time.Hour)
	for n := 0; ; n++ {
		c, err := q.Claim(context.Background(), route, far, time.Hour)
		if err != nil {
			t.Fatalf("claim from %s: %v", route, err)
		}
		if c.ID == "" {
			return n
		}
	}
}

// returns fails the test if f does not return within a generous bound:
// the question is whether it blocks at all, not how fast it is.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// noSecretInLogs fails the test if any log entry carries the webhook
// secret.
func noSecretInLogs(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, "s3cr3t") {
			t.Errorf("log entry carries the webhook secret: %s", line)
		}
	}
}

var (
	t0     = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	appKey = train.Key{Forge: "gitlab", Project: "group/my_app", Branch: "main"}
	sha    = "0123456789abcdef0123456789abcdef01234567"
	// The API URL, as the configuration may give it: links must still
	// point at pages.
	profiles = forge.Profiles{gitlab.Name: gitlab.Profile("https://gitlab.example.com/api/v4"), github.Name: github.Profile("https://github.com")}
)

func mergedEvent() train.Notify {
	reason := &train.Reason{Code: train.ReasonMerged, Pipeline: 77, Commit: sha, Message: train.Join("Merged into `main`, tested by ", train.PipelineRef(77), ".")}
	return train.Notify{Kind: train.NotifyMerged, Key: "merged:" + sha, Commit: sha, Cars: []train.Car{
		{MR: 12, Title: "Fix the <parser> & lexer", AddedAt: t0, LeftAt: t0.Add(42 * time.Minute), Commit: "c12", Reason: reason},
		{MR: 13, Title: "Add *docs*", AddedAt: t0.Add(-23 * time.Minute), LeftAt: t0.Add(42 * time.Minute), Commit: sha, Pipeline: 77, Reason: reason},
	}}
}

func evictedEvent() train.Notify {
	return train.Notify{Kind: train.NotifyEvicted, Key: "evicted:pipeline_failed:2:x", Cars: []train.Car{{
		MR: 14, Title: "Speed up CI", AddedAt: t0, LeftAt: t0.Add(time.Hour),
		Reason: &train.Reason{Code: train.ReasonPipelineFailed, Pipeline: 78, Detail: train.Join(train.PipelineRef(78), " failed (attempt 2)")},
	}}}
}

func pausedEvent() train.Notify {
	return train.Notify{Kind: train.NotifyPaused, Key: "paused:2025-03-04T10:00:00Z", By: "alice_b"}
}

// event returns a distinct event of kind, numbered i.
func event(kind train.NotifyKind, i int) train.Notify {
	return train.Notify{Kind: kind, Key: fmt.Sprintf("%s:%d", kind, i), By: "bob"}
}
