package store

import (
	"context"
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

func testInboxOrder(t *testing.T, e *env) {
	ctx := context.Background()
	for _, w := range []string{"first", "second", "third"} {
		if err := e.s.Forward(ctx, testKey, w); err != nil {
			t.Fatalf("forward %s: %v", w, err)
		}
	}
	got, err := e.s.PeekInbox(ctx, testKey)
	if err != nil {
		t.Fatalf("peek: %v", err)
	}
	if want := []string{"first", "second", "third"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	// Work forwarded after the peek stays for the next one.
	if err := e.s.Forward(ctx, testKey, "fourth"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DropInbox(ctx, testKey, len(got)); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if again, err := e.s.PeekInbox(ctx, testKey); err != nil || !slices.Equal(again, []string{"fourth"}) {
		t.Fatalf("after the drop: %q, %v; want the work forwarded since", again, err)
	}
	if err := e.s.DropInbox(ctx, testKey, 1); err != nil {
		t.Fatal(err)
	}
	if n := e.rdb.Exists(ctx, e.s.inboxKey(testKey)).Val(); n != 0 {
		t.Fatalf("an emptied inbox is still a key")
	}
}

func testInboxPerTrain(t *testing.T, e *env) {
	ctx := context.Background()
	// Parts that need escaping: the inbox must not be shared with a
	// train whose key reads the same once joined.
	a := train.Key{Forge: "gitlab", Project: "g/p:a", Branch: "release/{1.0}"}
	b := train.Key{Forge: "gitlab", Project: "g/p", Branch: "a:release/{1.0}"}
	if err := e.s.Forward(ctx, a, "for a"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.PeekInbox(ctx, b); err != nil || len(got) != 0 {
		t.Fatalf("the other train read %q, %v", got, err)
	}
	if got, err := e.s.PeekInbox(ctx, a); err != nil || !slices.Equal(got, []string{"for a"}) {
		t.Fatalf("took %q, %v; want the work forwarded to a", got, err)
	}
}

func testInboxBounded(t *testing.T, e *env) {
	ctx := context.Background()
	for i := range inboxMax + 2 {
		if err := e.s.Forward(ctx, testKey, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	ttl, err := e.rdb.PTTL(ctx, e.s.inboxKey(testKey)).Result()
	if err != nil || ttl <= 0 || ttl > inboxTTL {
		t.Fatalf("inbox ttl %s, %v; want at most %s", ttl, err, inboxTTL)
	}
	got, err := e.s.PeekInbox(ctx, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != inboxMax || got[0] != "2" || got[len(got)-1] != fmt.Sprint(inboxMax+1) {
		t.Fatalf("took %d items from %q to %q; want the newest %d", len(got), got[0], got[len(got)-1], inboxMax)
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
	if err := e.s.Forward(ctx, testKey, "result"); err != nil {
		t.Fatal(err)
	}
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
