package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// TestInbox runs the inbox cases on each backend of TestStore.
func TestInbox(t *testing.T) {
	cases := []storeCase{
		{name: "read oldest first, dropped once planned", run: testInboxOrder},
		{name: "one inbox per train", run: testInboxPerTrain},
		{name: "bounded and expiring", run: testInboxBounded},
		{name: "a drop removes only what was read", run: testInboxDropAtTheCap},
		{name: "a drop needs the lease", run: testInboxDropFenced},
		{name: "the lease's taker told of waiting work", run: testInboxOnLease},
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

func works(fs []Forwarded) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Work
	}
	return out
}

func forward(t *testing.T, e *env, key train.Key, work ...string) {
	t.Helper()
	for _, w := range work {
		if err := e.s.Forward(context.Background(), key, w); err != nil {
			t.Fatalf("forward %s: %v", w, err)
		}
	}
}

func peek(t *testing.T, e *env, key train.Key) []Forwarded {
	t.Helper()
	got, err := e.s.PeekInbox(context.Background(), key)
	if err != nil {
		t.Fatalf("peek: %v", err)
	}
	return got
}

func holdLease(t *testing.T, e *env, key train.Key, owner string) {
	t.Helper()
	if ok, err := e.s.AcquireLease(context.Background(), key, owner, time.Minute); err != nil || !ok {
		t.Fatalf("lease for %s: %v, %v", owner, ok, err)
	}
}

func testInboxOrder(t *testing.T, e *env) {
	ctx := context.Background()
	// Twice the same work: two forwards, told apart.
	forward(t, e, testKey, "first", "second", "second")
	if n, err := e.s.InboxLen(ctx, testKey); err != nil || n != 3 {
		t.Fatalf("inbox length %d, %v; want 3", n, err)
	}
	holdLease(t, e, testKey, "h")
	got := peek(t, e, testKey)
	if want := []string{"first", "second", "second"}; !slices.Equal(works(got), want) {
		t.Fatalf("read %q, want %q", works(got), want)
	}
	if got[1].ID == got[2].ID {
		t.Fatalf("two forwards share the id %q", got[1].ID)
	}
	// Work forwarded after the peek stays for the next one.
	forward(t, e, testKey, "third")
	if err := e.s.DropInbox(ctx, testKey, "h", got); err != nil {
		t.Fatalf("drop: %v", err)
	}
	again := peek(t, e, testKey)
	if !slices.Equal(works(again), []string{"third"}) {
		t.Fatalf("after the drop: %q; want the work forwarded since", works(again))
	}
	if err := e.s.DropInbox(ctx, testKey, "h", again); err != nil {
		t.Fatal(err)
	}
	if n := e.rdb.Exists(ctx, e.s.inboxKey(testKey)).Val(); n != 0 {
		t.Fatalf("an emptied inbox is still a key")
	}
	if n, err := e.s.InboxLen(ctx, testKey); err != nil || n != 0 {
		t.Fatalf("inbox length %d, %v after the drops; want 0", n, err)
	}
}

func testInboxPerTrain(t *testing.T, e *env) {
	// Parts that need escaping: the inbox must not be shared with a
	// train whose key reads the same once joined.
	a := train.Key{Forge: "gitlab", Project: "g/p:a", Branch: "release/{1.0}"}
	b := train.Key{Forge: "gitlab", Project: "g/p", Branch: "a:release/{1.0}"}
	forward(t, e, a, "for a")
	if got := peek(t, e, b); len(got) != 0 {
		t.Fatalf("the other train read %q", works(got))
	}
	if got := peek(t, e, a); !slices.Equal(works(got), []string{"for a"}) {
		t.Fatalf("read %q; want the work forwarded to a", works(got))
	}
}

func testInboxBounded(t *testing.T, e *env) {
	ctx := context.Background()
	for i := range inboxMax + 2 {
		forward(t, e, testKey, fmt.Sprint(i))
	}
	ttl, err := e.rdb.PTTL(ctx, e.s.inboxKey(testKey)).Result()
	if err != nil || ttl <= 0 || ttl > inboxTTL {
		t.Fatalf("inbox ttl %s, %v; want at most %s", ttl, err, inboxTTL)
	}
	got := works(peek(t, e, testKey))
	if len(got) != inboxMax || got[0] != "2" || got[len(got)-1] != fmt.Sprint(inboxMax+1) {
		t.Fatalf("read %d items from %q to %q; want the newest %d", len(got), got[0], got[len(got)-1], inboxMax)
	}
}

// A forward that pushes the oldest item out of a full inbox while the
// holder plans what it read: the holder's drop keeps the new one.
func testInboxDropAtTheCap(t *testing.T, e *env) {
	ctx := context.Background()
	for i := range inboxMax {
		forward(t, e, testKey, fmt.Sprint(i))
	}
	holdLease(t, e, testKey, "h")
	read := peek(t, e, testKey)
	forward(t, e, testKey, "new")
	if err := e.s.DropInbox(ctx, testKey, "h", read); err != nil {
		t.Fatal(err)
	}
	if got := works(peek(t, e, testKey)); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("left %d items (%.40q); want only the one forwarded after the read", len(got), got)
	}
}

// A holder whose lease another has taken since it read leaves the inbox
// to the new holder, which may not have planned it yet.
func testInboxDropFenced(t *testing.T, e *env) {
	ctx := context.Background()
	forward(t, e, testKey, "result")
	if ok, err := e.s.AcquireLease(ctx, testKey, "old", 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("lease: %v, %v", ok, err)
	}
	read := peek(t, e, testKey)
	time.Sleep(100 * time.Millisecond)
	if e.mini != nil {
		e.mini.FastForward(100 * time.Millisecond)
	}
	holdLease(t, e, testKey, "new")
	if err := e.s.DropInbox(ctx, testKey, "old", read); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("drop by the old holder: %v, want ErrLeaseLost", err)
	}
	if got := works(peek(t, e, testKey)); !slices.Equal(got, []string{"result"}) {
		t.Fatalf("left %q, want the result kept for the new holder", got)
	}
}

func testInboxOnLease(t *testing.T, e *env) {
	ctx := context.Background()
	take := func(owner string) (ok, inbox bool) {
		t.Helper()
		ok, inbox, err := e.s.AcquireLeaseInbox(ctx, testKey, owner, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok, inbox
	}
	if ok, inbox := take("a"); !ok || inbox {
		t.Fatalf("empty inbox: took %v, told of work %v; want took, no work", ok, inbox)
	}
	forward(t, e, testKey, "result")
	// A failed take says nothing of the inbox: it is the holder's.
	if ok, inbox := take("b"); ok || inbox {
		t.Fatalf("held lease: took %v, told of work %v; want neither", ok, inbox)
	}
	if err := e.s.ReleaseLease(ctx, testKey, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, inbox := take("b"); !ok || !inbox {
		t.Fatalf("work waiting: took %v, told of work %v; want both", ok, inbox)
	}
	if ok, err := e.s.AcquireLease(ctx, train.Key{Forge: "gitlab", Project: "other", Branch: "main"}, "c", time.Minute); err != nil || !ok {
		t.Fatalf("the plain take: %v, %v", ok, err)
	}
}
