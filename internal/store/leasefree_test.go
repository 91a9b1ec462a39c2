package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/train"
)

// TestLeaseFreed runs the announcement cases on each backend of TestStore.
func TestLeaseFreed(t *testing.T) {
	cases := []storeCase{
		{name: "awaited release announced once", run: testFreedAwaited},
		{name: "unawaited release silent", run: testFreedUnawaited},
		{name: "foreign release keeps the mark", run: testFreedForeignRelease},
		{name: "wanted apart from freed", run: testWanted},
		{name: "awaited without a failed take", run: testAwaitLease},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			newEnv := b.setup(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, newEnv(t, c.opts)) })
			}
		})
	}
}

// TestLeaseFreedClusterN: a release is heard by a subscriber connected to
// another master than the one that holds the lease, since Redis Cluster
// broadcasts PUBLISH.
func TestLeaseFreedClusterN(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes := redistest.ClusterN(t, 3, 0)
	rdb := nodes.Client()
	e := &env{s: New(rdb, Options{Prefix: redistest.Prefix(t)}), rdb: rdb}
	// go-redis subscribes on the master of the channel's slot.
	sub, err := nodes.MasterOf(ctx, e.s.freedChannel())
	if err != nil {
		t.Fatal(err)
	}
	var far train.Key
	for i := 0; far == (train.Key{}); i++ {
		k := train.Key{Forge: "gitlab", Project: "g/p", Branch: fmt.Sprintf("b%d", i)}
		m, err := nodes.MasterOf(ctx, e.s.leaseKey(k))
		if err != nil {
			t.Fatal(err)
		}
		if m != sub {
			far = k
		}
	}
	h := watch(t, e)
	h.waitSubscribed(t, e)
	announce(t, e, far)
	h.waitFor(t, far, 1)
}

func testFreedAwaited(t *testing.T, e *env) {
	ctx := context.Background()
	// Parts that need escaping, so the key must come back from its tag.
	key := train.Key{Forge: "gitlab", Project: "g/p:a", Branch: "release/{1.0}"}
	h := watch(t, e)
	h.waitSubscribed(t, e)
	take(t, e, key, "a", true)
	take(t, e, key, "b", false)
	take(t, e, key, "c", false) // two waiters, one mark
	if err := e.s.ReleaseLease(ctx, key, "a"); err != nil {
		t.Fatalf("release: %v", err)
	}
	h.waitFor(t, key, 1)
	if n := e.rdb.Exists(ctx, e.s.leaseWaitKey(key)).Val(); n != 0 {
		t.Errorf("the wait mark outlived the announced release")
	}
	// A waiter that takes the lease sets no mark: its own release is silent.
	take(t, e, key, "b", true)
	if err := e.s.ReleaseLease(ctx, key, "b"); err != nil {
		t.Fatalf("release by the former waiter: %v", err)
	}
	h.barrier(t, e)
	if n := h.count(key); n != 1 {
		t.Fatalf("%s announced %d times, want once", key, n)
	}
}

func testFreedUnawaited(t *testing.T, e *env) {
	ctx := context.Background()
	h := watch(t, e)
	h.waitSubscribed(t, e)
	take(t, e, testKey, "a", true)
	if err := e.s.ReleaseLease(ctx, testKey, "a"); err != nil {
		t.Fatalf("release: %v", err)
	}
	h.barrier(t, e)
	if n := h.count(testKey); n != 0 {
		t.Fatalf("a release nobody waited for was announced %d times", n)
	}
	if n := e.rdb.Exists(ctx, e.s.leaseWaitKey(testKey)).Val(); n != 0 {
		t.Errorf("an uncontended take left a wait mark")
	}
}

// testFreedForeignRelease: a release refused to a non-owner neither
// announces nor spends the mark, which the owner's release then does.
func testFreedForeignRelease(t *testing.T, e *env) {
	ctx := context.Background()
	h := watch(t, e)
	h.waitSubscribed(t, e)
	take(t, e, testKey, "a", true)
	take(t, e, testKey, "b", false)
	if err := e.s.ReleaseLease(ctx, testKey, "b"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("release by a waiter: %v, want ErrLeaseLost", err)
	}
	h.barrier(t, e)
	if n := h.count(testKey); n != 0 {
		t.Fatalf("a refused release was announced %d times", n)
	}
	if err := e.s.ReleaseLease(ctx, testKey, "a"); err != nil {
		t.Fatalf("release by the owner: %v", err)
	}
	h.waitFor(t, testKey, 1)
}

// testAwaitLease: a replica that never tried the lease can still hear its
// release, by marking it awaited while it is held; marking a lease nobody
// holds does nothing, and its next uncontended release stays silent.
func testAwaitLease(t *testing.T, e *env) {
	ctx := context.Background()
	h := watch(t, e)
	h.waitSubscribed(t, e)
	held, err := e.s.AwaitLease(ctx, testKey, time.Minute)
	if err != nil || held {
		t.Fatalf("await a free lease: %v, %v; want false, nil", held, err)
	}
	if n := e.rdb.Exists(ctx, e.s.leaseWaitKey(testKey)).Val(); n != 0 {
		t.Fatalf("awaiting a free lease left a wait mark")
	}
	take(t, e, testKey, "a", true)
	if err := e.s.ReleaseLease(ctx, testKey, "a"); err != nil {
		t.Fatalf("release: %v", err)
	}
	h.barrier(t, e)
	if n := h.count(testKey); n != 0 {
		t.Fatalf("a release nobody awaited was announced %d times", n)
	}
	take(t, e, testKey, "a", true)
	if held, err := e.s.AwaitLease(ctx, testKey, time.Minute); err != nil || !held {
		t.Fatalf("await a held lease: %v, %v; want true, nil", held, err)
	}
	if err := e.s.ReleaseLease(ctx, testKey, "a"); err != nil {
		t.Fatalf("release: %v", err)
	}
	h.waitFor(t, testKey, 1)
	if _, err := e.s.AwaitLease(ctx, testKey, 0); err == nil {
		t.Errorf("await with no ttl: no error")
	}
}

// heard records the keys WatchLeases delivered as freed.
type heard struct {
	mu   sync.Mutex
	keys map[train.Key]int
	// wants counts the keys delivered as wanted.
	wants map[train.Key]int
	seq   int // names the probes of waitSubscribed and barrier
}

// watch runs WatchLeases on e until the test ends.
func watch(t *testing.T, e *env) *heard {
	h := &heard{keys: map[train.Key]int{}, wants: map[train.Key]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.s.WatchLeases(ctx, func(k train.Key) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.keys[k]++
		}, func(k train.Key) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.wants[k]++
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func (h *heard) count(k train.Key) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[k]
}

func (h *heard) probe() train.Key {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return train.Key{Forge: "gitlab", Project: "probe", Branch: fmt.Sprint(h.seq)}
}

// waitFor waits until k was heard n times.
func (h *heard) waitFor(t *testing.T, k train.Key, n int) {
	t.Helper()
	if !h.within(k, n, 10*time.Second) {
		t.Fatalf("%s heard %d times within 10s, want %d", k, h.count(k), n)
	}
}

func (h *heard) within(k train.Key, n int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for h.count(k) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// waitSubscribed returns once the subscription is live: a subscriber
// hears nothing published before it subscribed, and go-redis subscribes
// in the background.
func (h *heard) waitSubscribed(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		k := h.probe()
		announce(t, e, k)
		if h.within(k, 1, 100*time.Millisecond) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no announcement heard within 10s")
		}
	}
}

// barrier returns once everything announced before it was heard: one
// server delivers a channel's messages in the order they were published.
func (h *heard) barrier(t *testing.T, e *env) {
	t.Helper()
	k := h.probe()
	announce(t, e, k)
	h.waitFor(t, k, 1)
}

// announce releases k's lease while another waits for it.
func announce(t *testing.T, e *env, k train.Key) {
	t.Helper()
	take(t, e, k, "holder", true)
	take(t, e, k, "waiter", false)
	if err := e.s.ReleaseLease(context.Background(), k, "holder"); err != nil {
		t.Fatalf("release %s: %v", k, err)
	}
}

func take(t *testing.T, e *env, k train.Key, owner string, want bool) {
	t.Helper()
	if got, err := e.s.AcquireLease(context.Background(), k, owner, time.Minute); err != nil || got != want {
		t.Fatalf("acquire %s by %s = %v (%v), want %v", k, owner, got, err, want)
	}
}

// testWanted: a want reaches the wanted callback, and only it.
func testWanted(t *testing.T, e *env) {
	h := watch(t, e)
	h.waitSubscribed(t, e)
	if err := e.s.WantLease(context.Background(), testKey); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		n := h.wants[testKey]
		h.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the want was heard %d times within 10s, want once", n)
		}
		time.Sleep(time.Millisecond)
	}
	h.barrier(t, e)
	if n := h.count(testKey); n != 0 {
		t.Fatalf("a want was heard as a release %d times", n)
	}
}
