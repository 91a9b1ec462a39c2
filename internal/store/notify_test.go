package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func notificationCases() []storeCase {
	return []storeCase{
		{name: "notifications claimed in due order", run: testNotificationOrder},
		{name: "notification queued once", run: testNotificationOnce},
		{name: "notification claim lapses", run: testNotificationClaimLapses},
		{name: "notification retried", run: testNotificationRetry},
		{name: "notification queue full", run: testNotificationFull},
		{name: "notification routes apart", run: testNotificationRoutes},
		{name: "notification queue expires", run: testNotificationExpiry},
	}
}

// TestNotifications runs the notification queue's cases on every backend,
// as TestStore does for the rest.
func TestNotifications(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			newEnv := b.setup(t)
			for _, c := range notificationCases() {
				t.Run(c.name, func(t *testing.T) { c.run(t, newEnv(t, c.opts)) })
			}
		})
	}
}

// n0 is whole microseconds, the resolution of a due time.
var n0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

const lease = 10 * time.Second

// notifyQueue is e's queue with helpers that fail the test on errors.
type notifyQueue struct {
	t *testing.T
	q *Notifications
}

func queueOf(t *testing.T, e *env) notifyQueue { return notifyQueue{t: t, q: e.s.Notifications()} }

func (nq notifyQueue) add(route, id string, due time.Time, limit int) bool {
	nq.t.Helper()
	ok, err := nq.q.Add(context.Background(), route, id, []byte("data of "+id), due, limit, time.Hour)
	if err != nil {
		nq.t.Fatalf("add %s to %s: %v", id, route, err)
	}
	return ok
}

// claim claims at now and checks the answer: the id (with its data as add
// wrote it) or, for want "", when the next one is due (zero: none left).
func (nq notifyQueue) claim(route string, now time.Time, want string, next time.Time) Claimed {
	nq.t.Helper()
	c, err := nq.q.Claim(context.Background(), route, now, lease)
	if err != nil {
		nq.t.Fatalf("claim %s: %v", route, err)
	}
	if c.ID != want || !c.Next.Equal(next) {
		nq.t.Fatalf("claim %s at %s = %q next %s, want %q next %s", route, now.Format(time.TimeOnly), c.ID, c.Next, want, next)
	}
	if want != "" && string(c.Data) != "data of "+want {
		nq.t.Fatalf("claimed %s with data %q", want, c.Data)
	}
	return c
}

func testNotificationOrder(t *testing.T, e *env) {
	nq := queueOf(t, e)
	for _, m := range []struct {
		id  string
		due time.Duration
	}{{"a", 2 * time.Second}, {"b", time.Second}, {"c", 3 * time.Second}} {
		if !nq.add("ops", m.id, n0.Add(m.due), 10) {
			t.Fatalf("add %s = false, want true", m.id)
		}
	}
	nq.claim("ops", n0, "", n0.Add(time.Second))
	now := n0.Add(5 * time.Second)
	for _, id := range []string{"b", "a", "c"} {
		nq.claim("ops", now, id, time.Time{})
	}
	// All three are claimed: the earliest claim ends first.
	nq.claim("ops", now, "", now.Add(lease))
	nq.claim("other", now, "", time.Time{})
}

func testNotificationOnce(t *testing.T, e *env) {
	ctx := context.Background()
	nq := queueOf(t, e)
	if !nq.add("ops", "x", n0, 10) || nq.add("ops", "x", n0, 10) {
		t.Fatal("want the first add of x to queue it and the second not")
	}
	nq.claim("ops", n0, "x", time.Time{})
	if err := nq.q.Done(ctx, "ops", "x", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nq.claim("ops", n0.Add(time.Hour), "", time.Time{})
	if nq.add("ops", "x", n0, 10) {
		t.Fatal("x queued again right after it was sent")
	}
	e.expire(t, nq.q.sentKey("ops", "x"), 50*time.Millisecond)
	if !nq.add("ops", "x", n0, 10) {
		t.Fatal("x not queued again once its sent mark expired")
	}
	nq.claim("ops", n0, "x", time.Time{})
	if err := nq.q.Drop(ctx, "ops", "x"); err != nil {
		t.Fatal(err)
	}
	nq.claim("ops", n0.Add(time.Hour), "", time.Time{})
	if !nq.add("ops", "x", n0, 10) {
		t.Fatal("x not queued again after it was dropped")
	}
}

func testNotificationClaimLapses(t *testing.T, e *env) {
	nq := queueOf(t, e)
	nq.add("ops", "x", n0, 10)
	nq.claim("ops", n0, "x", time.Time{})
	nq.claim("ops", n0.Add(lease-time.Microsecond), "", n0.Add(lease))
	// A claimer that died leaves the message to the next.
	nq.claim("ops", n0.Add(lease), "x", time.Time{})
}

func testNotificationRetry(t *testing.T, e *env) {
	ctx := context.Background()
	nq := queueOf(t, e)
	nq.add("ops", "x", n0, 10)
	nq.add("ops", "y", n0.Add(time.Second), 10)
	nq.claim("ops", n0, "x", time.Time{})
	if err := nq.q.Retry(ctx, "ops", "x", []byte("data of x, attempt 2"), n0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	nq.claim("ops", n0.Add(55*time.Second), "y", time.Time{})
	nq.claim("ops", n0.Add(55*time.Second), "", n0.Add(time.Minute))
	c, err := nq.q.Claim(ctx, "ops", n0.Add(time.Minute), lease)
	if err != nil || c.ID != "x" || string(c.Data) != "data of x, attempt 2" {
		t.Fatalf("claim after retry = %+v, %v; want x with its new data", c, err)
	}
	if err := nq.q.Done(ctx, "ops", "x", time.Hour); err != nil {
		t.Fatal(err)
	}
	// A claimer whose claim lapsed finds the message sent by another.
	if err := nq.q.Retry(ctx, "ops", "x", []byte("late"), n0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retry after done = %v, want ErrNotFound", err)
	}
	if n := e.rdb.HLen(ctx, nq.q.key("ops", "data")).Val(); n != 1 {
		t.Fatalf("%d messages' data kept, want 1 (y's)", n)
	}
}

func testNotificationFull(t *testing.T, e *env) {
	ctx := context.Background()
	nq := queueOf(t, e)
	nq.add("ops", "a", n0, 2)
	nq.add("ops", "b", n0, 2)
	_, err := nq.q.Add(ctx, "ops", "c", nil, n0, 2, time.Hour)
	if !errors.Is(err, ErrQueueFull) || err.Error() != "queue notification c for route ops: queue full (2 messages)" {
		t.Fatalf("add to a full queue = %v, want ErrQueueFull", err)
	}
	nq.claim("ops", n0, "a", time.Time{})
	if err := nq.q.Done(ctx, "ops", "a", time.Hour); err != nil {
		t.Fatal(err)
	}
	if !nq.add("ops", "c", n0, 2) {
		t.Fatal("c not queued once the queue had room")
	}
}

// testNotificationRoutes: names that escaping could confuse keep queues
// of their own, each in one slot (the cluster backend refuses otherwise).
func testNotificationRoutes(t *testing.T, e *env) {
	nq := queueOf(t, e)
	routes := []string{"a:b", "a%3Ab", "{a}", "slack#0"}
	for _, r := range routes {
		nq.add(r, "x", n0, 1)
	}
	for _, r := range routes {
		nq.claim(r, n0, "x", time.Time{})
		nq.claim(r, n0, "", n0.Add(lease))
	}
}

func testNotificationExpiry(t *testing.T, e *env) {
	ctx := context.Background()
	nq := queueOf(t, e)
	if _, err := nq.q.Add(ctx, "gone", "x", []byte("d"), n0, 10, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e.expire(t, nq.q.key("gone", "due"), 50*time.Millisecond)
	e.expire(t, nq.q.key("gone", "data"), 50*time.Millisecond)
	nq.claim("gone", n0, "", time.Time{})
	// An id whose data is gone is skipped and forgotten.
	nq.add("ops", "x", n0, 10)
	nq.add("ops", "y", n0, 10)
	e.rdb.HDel(ctx, nq.q.key("ops", "data"), "x")
	nq.claim("ops", n0, "y", time.Time{})
	if n := e.rdb.ZCard(ctx, nq.q.key("ops", "due")).Val(); n != 1 {
		t.Fatalf("%d ids queued, want 1 (y's)", n)
	}
}
