package ratelimit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/redistest"
)

// windowSteps are requests at times after t0 against 2 a minute and 3 an
// hour: whether each finds room, and if not when the budget has some.
var windowSteps = []struct {
	at   time.Duration
	ok   bool
	free time.Duration
}{
	{0, true, 0}, {time.Second, true, 0},
	{2 * time.Second, false, time.Minute},         // the minute is full until the first leaves it
	{time.Minute, true, 0},                        // the first left
	{time.Minute + time.Second, false, time.Hour}, // the hour is full
	{time.Hour + time.Second, true, 0},            // the first two left the hour
	{time.Hour + 2*time.Second, true, 0},
	// Both windows are full: the minute until +1h1m1s, the hour until
	// +1h1m; the later counts.
	{time.Hour + 3*time.Second, false, time.Hour + time.Minute + time.Second},
}

var (
	t0         = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	twoWindows = []Window{{2, time.Minute}, {3, time.Hour}}
)

func TestLocalWindows(t *testing.T) {
	l := NewLocal(twoWindows...)
	for i, tc := range windowSteps {
		free, ok := l.take(t0.Add(tc.at))
		if ok != tc.ok || (!ok && !free.Equal(t0.Add(tc.free))) {
			t.Errorf("step %d at +%v: ok %v free +%v; want %v +%v", i, tc.at, ok, free.Sub(t0), tc.ok, tc.free)
		}
	}
}

// The script keeps the same windows as Local, on the server's clock.
func TestRedisWindows(t *testing.T) {
	m, rdb := redistest.MiniServer(t)
	r := NewRedis(rdb, Key("test", "windows", "token"), twoWindows...)
	ctx := context.Background()
	for i, tc := range windowSteps {
		m.SetTime(t0.Add(tc.at))
		wait, err := r.take(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ok := wait == 0; ok != tc.ok || (!ok && t0.Add(tc.at+wait) != t0.Add(tc.free)) {
			t.Errorf("step %d at +%v: wait %v; want ok %v free +%v", i, tc.at, wait, tc.ok, tc.free)
		}
	}
}

// Two requests in the same microsecond are two requests.
func TestRedisCountsRequestsOfOneInstant(t *testing.T) {
	m, rdb := redistest.MiniServer(t)
	m.SetTime(t0)
	r := NewRedis(rdb, "budget", Window{2, time.Second})
	for i, want := range []bool{true, true, false} {
		wait, err := r.take(context.Background())
		if err != nil || (wait == 0) != want {
			t.Fatalf("request %d: wait %v, %v; want room %v", i, wait, err, want)
		}
	}
}

func TestNoWindowsNoBound(t *testing.T) {
	for name, l := range map[string]Limiter{
		"local": NewLocal(Window{0, time.Second}), "redis": NewRedis(redistest.Mini(t), "k", Window{5, 0}),
	} {
		for range 10 {
			if err := l.Reserve(context.Background()); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
}

func TestStore(t *testing.T) {
	w := Window{1, time.Second}
	if _, ok := Store(nil).Budget(w).(*Local); !ok {
		t.Error("no store is not process memory")
	}
	if r, ok := InRedis(redistest.Mini(t), "k").Budget(w).(*Redis); !ok || r.key != "k" || len(r.args) != 2 {
		t.Errorf("InRedis made %+v", r)
	}
}

func TestKey(t *testing.T) {
	a := Key("trainyard", "github", "https://api.github.com", "ghp_secret")
	if !strings.HasPrefix(a, "trainyard:ratelimit:github:") || strings.Contains(a, "ghp_secret") {
		t.Errorf("key %q", a)
	}
	if b := Key("trainyard", "github", "https://api.github.com", "ghp_secret"); b != a {
		t.Errorf("one identity, two keys: %q, %q", a, b)
	}
	for _, other := range []string{
		Key("trainyard", "github", "https://api.github.com", "ghp_other"),
		Key("trainyard", "github", "https://ghe.example.com/api/v3", "ghp_secret"),
		Key("other", "github", "https://api.github.com", "ghp_secret"),
		Key("trainyard", "gitlab", "https://api.github.com", "ghp_secret"),
		// The parts are kept apart, not run together.
		Key("trainyard", "github", "https://api.github.comghp_secret"),
	} {
		if other == a {
			t.Errorf("another identity has the key %q", a)
		}
	}
}

// Every limiter waits for room while its context allows, and fails at
// once when the room would come after the context's deadline.
func TestReserveWaitsWithinTheDeadline(t *testing.T) {
	for name, l := range map[string]Limiter{
		"local": NewLocal(Window{2, time.Second}),
		"redis": NewRedis(redistest.Client(t), Key(redistest.Prefix(t), "test", "t"), Window{2, time.Second}),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			within(t, l, 2*time.Second)
			within(t, l, 2*time.Second)
			spent(t, l, 200*time.Millisecond)
			// The first request leaves the window within the deadline.
			within(t, l, 5*time.Second)
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			var ex *Exhausted
			if err := l.Reserve(cancelled); !errors.As(err, &ex) || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled: %v", err)
			}
		})
	}
}

// Two replicas, each with its own client, on one key share one budget;
// another key is another budget.
func TestRedisBudgetIsSharedByKey(t *testing.T) {
	t.Parallel()
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	key := Key(prefix, "github", "https://api.github.com", "ghp_shared")
	w := Window{3, 2 * time.Second}
	a, b := NewRedis(dial(t, url), key, w), NewRedis(dial(t, url), key, w)
	for _, l := range []*Redis{a, b, a} {
		within(t, l, 2*time.Second)
	}
	// The fourth request, from either replica, waits for the window.
	spent(t, b, 200*time.Millisecond)
	spent(t, a, 200*time.Millisecond)
	other := NewRedis(dial(t, url), Key(prefix, "github", "https://api.github.com", "ghp_other"), w)
	for range 3 {
		within(t, other, 200*time.Millisecond)
	}
	within(t, b, 10*time.Second)
}

// The script touches one key, so Redis Cluster runs it.
func TestRedisOnCluster(t *testing.T) {
	t.Parallel()
	rdb := redistest.Cluster(t)
	w := Window{2, 10 * time.Second}
	a, b := NewRedis(rdb, Key("trainyard", "github", "one"), w), NewRedis(rdb, Key("trainyard", "github", "two"), w)
	for _, l := range []*Redis{a, a, b, b} {
		within(t, l, 2*time.Second)
	}
	spent(t, a, 200*time.Millisecond)
	spent(t, b, 200*time.Millisecond)
}

func TestRedisDownFails(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	err := NewRedis(rdb, "k", Window{1, time.Second}).Reserve(context.Background())
	var ex *Exhausted
	if err == nil || errors.As(err, &ex) || !strings.Contains(err.Error(), "rate limit k") {
		t.Fatalf("err = %v", err)
	}
}

// within reserves room, which must come before d.
func within(t *testing.T, l Limiter, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := l.Reserve(ctx); err != nil {
		t.Fatalf("reserve within %v: %v", d, err)
	}
}

// spent fails to reserve room within d, and says so without waiting for
// the deadline to pass.
func spent(t *testing.T, l Limiter, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := l.Reserve(ctx)
	var ex *Exhausted
	if !errors.As(err, &ex) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reserve within %v: %v, want the budget spent", d, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("waited for the deadline, though the room comes at %v", ex.Free)
	}
	if deadline, _ := ctx.Deadline(); !ex.Free.After(deadline) {
		t.Fatalf("room at %v, before the deadline %v", ex.Free, deadline)
	}
}

func dial(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
