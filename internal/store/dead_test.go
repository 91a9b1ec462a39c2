package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func deadCases() []storeCase {
	return []storeCase{
		{name: "dead letters bury list requeue", run: testDeadLetters},
		{name: "dead letter ids checked", run: testDeadLetterIDs},
	}
}

func testDeadLetters(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e)
	ids := addEvents(t, e, 3)
	evs, err := e.s.ReadEvents(ctx, group, "c", 10, 0)
	if err != nil || len(evs) != 3 {
		t.Fatalf("read = %v, %v", evs, err)
	}
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	evs[1].Deliveries = 10
	dead, err := e.s.Bury(ctx, group, evs[1], "dispatch: boom", at)
	if err != nil {
		t.Fatalf("bury: %v", err)
	}
	pending := e.rdb.XPending(ctx, e.s.opts.EventStream, group).Val()
	if pending.Count != 2 {
		t.Fatalf("%d events pending after burying one of 3, want 2 (it is acknowledged)", pending.Count)
	}
	if n, err := e.s.DeadLetterCount(ctx); err != nil || n != 1 {
		t.Fatalf("dead letter count = %d, %v; want 1", n, err)
	}
	want := DeadLetter{ID: dead, Entry: ids[1], Data: []byte("event-1"), Reason: "dispatch: boom", Deliveries: 10, At: at}
	list, err := e.s.DeadLetters(ctx, 10)
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("dead letters = %+v, %v; want [%+v]", list, err, want)
	}
	one, err := e.s.DeadLetter(ctx, dead)
	if err != nil || !reflect.DeepEqual(one, want) {
		t.Fatalf("dead letter %s = %+v, %v; want %+v", dead, one, err, want)
	}
	entry, err := e.s.Requeue(ctx, dead)
	if err != nil {
		t.Fatalf("requeue: %v", err)
	}
	again, err := e.s.ReadEvents(ctx, group, "c", 10, 0)
	if err != nil || len(again) != 1 || again[0].ID != entry || string(again[0].Data) != "event-1" {
		t.Fatalf("read after requeue = %+v, %v; want the event as entry %s", again, err, entry)
	}
	if n, _ := e.s.DeadLetterCount(ctx); n != 0 {
		t.Fatalf("%d dead letters after requeue, want 0", n)
	}
	if _, err := e.s.Requeue(ctx, dead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second requeue = %v, want ErrNotFound", err)
	}
	if _, err := e.s.DeadLetter(ctx, dead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read of a requeued dead letter = %v, want ErrNotFound", err)
	}
}

func testDeadLetterIDs(t *testing.T, e *env) {
	ctx := context.Background()
	for _, id := range []string{"", "-", "+", "1-", "-1", "a-1", "1-b", "1"} {
		if _, err := e.s.DeadLetter(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("dead letter %q = %v, want ErrNotFound", id, err)
		}
		if _, err := e.s.Requeue(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("requeue %q = %v, want ErrNotFound", id, err)
		}
	}
	long := make([]byte, 3*maxReason)
	for i := range long {
		long[i] = 'x'
	}
	ensureGroup(t, e)
	addEvents(t, e, 1)
	evs, _ := e.s.ReadEvents(ctx, group, "c", 1, 0)
	dead, err := e.s.Bury(ctx, group, evs[0], string(long), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.s.DeadLetter(ctx, dead)
	if len(d.Reason) > maxReason+len("…") {
		t.Fatalf("reason of %d bytes kept, want at most %d", len(d.Reason), maxReason)
	}
}

func commandCases() []storeCase {
	return []storeCase{
		{name: "command marks", run: testCommandMarks},
		{name: "cursors and once", run: testCursorsOnce},
		{name: "marks", run: testMarks},
	}
}

func testMarks(t *testing.T, e *env) {
	ctx := context.Background()
	name := "note:gitlab:g/p!7:merged:3"
	mark := func(want string) {
		t.Helper()
		if got, err := e.s.Mark(ctx, name); err != nil || got != want {
			t.Fatalf("mark %s = %q, %v; want %q", name, got, err, want)
		}
	}
	mark("")
	for _, m := range []string{NotePosting, NotePosted} {
		if err := e.s.SetMark(ctx, name, m, time.Hour); err != nil {
			t.Fatal(err)
		}
		mark(m)
	}
	if got, err := e.s.Mark(ctx, "note:gitlab:g/p!8:merged:3"); err != nil || got != "" {
		t.Fatalf("another mark = %q, %v", got, err)
	}
	if err := e.s.SetMark(ctx, name, NotePosted, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e.expire(t, e.s.markKey(name), time.Millisecond)
	mark("")
}

func testCommandMarks(t *testing.T, e *env) {
	ctx := context.Background()
	done := func(id string, want bool) {
		t.Helper()
		if got, err := e.s.CommandDone(ctx, id); err != nil || got != want {
			t.Fatalf("command %s done = %v, %v; want %v", id, got, err, want)
		}
	}
	if err := e.s.MarkCommandQueued(ctx, "gitlab:g/p:1", time.Hour); err != nil {
		t.Fatal(err)
	}
	done("gitlab:g/p:1", false)
	if err := e.s.FinishCommand(ctx, "gitlab:g/p:1", time.Hour); err != nil {
		t.Fatal(err)
	}
	done("gitlab:g/p:1", true)
	// A late queued mark does not undo done.
	if err := e.s.MarkCommandQueued(ctx, "gitlab:g/p:1", time.Hour); err != nil {
		t.Fatal(err)
	}
	done("gitlab:g/p:1", true)
	if err := e.s.MarkCommandQueued(ctx, "gitlab:g/p:2", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	seen, err := e.s.CommandsSeen(ctx, []string{"gitlab:g/p:1", "gitlab:g/p:2", "gitlab:g/p:3"})
	if want := map[string]bool{"gitlab:g/p:1": true, "gitlab:g/p:2": true, "gitlab:g/p:3": false}; err != nil || !reflect.DeepEqual(seen, want) {
		t.Fatalf("commands seen = %v, %v; want %v", seen, err, want)
	}
	e.expire(t, e.s.commandKey("gitlab:g/p:2"), 50*time.Millisecond)
	done("gitlab:g/p:2", false)
	if seen, _ := e.s.CommandsSeen(ctx, []string{"gitlab:g/p:2"}); seen["gitlab:g/p:2"] {
		t.Fatalf("an expired mark is still seen")
	}
}

func testCursorsOnce(t *testing.T, e *env) {
	ctx := context.Background()
	if _, ok, err := e.s.Cursor(ctx, "gitlab:g/p"); ok || err != nil {
		t.Fatalf("cursor before any = %v, %v; want none", ok, err)
	}
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	if err := e.s.SetCursor(ctx, "gitlab:g/p", at); err != nil {
		t.Fatal(err)
	}
	got, ok, err := e.s.Cursor(ctx, "gitlab:g/p")
	if !ok || err != nil || !got.Equal(at) {
		t.Fatalf("cursor = %v, %v, %v; want %v", got, ok, err, at)
	}
	if first, err := e.s.Once(ctx, "catch-up:gitlab:g/p", 50*time.Millisecond); !first || err != nil {
		t.Fatalf("first once = %v, %v", first, err)
	}
	if again, err := e.s.Once(ctx, "catch-up:gitlab:g/p", time.Minute); again || err != nil {
		t.Fatalf("second once within ttl = %v, %v; want false", again, err)
	}
	e.expire(t, e.s.onceKey("catch-up:gitlab:g/p"), 50*time.Millisecond)
	if first, _ := e.s.Once(ctx, "catch-up:gitlab:g/p", time.Minute); !first {
		t.Fatalf("once after its ttl = false, want true")
	}
	// The first value set stays for every later caller.
	for _, v := range []string{"first", "second"} {
		if got, err := e.s.MarkOnce(ctx, "note-key", v); got != "first" || err != nil {
			t.Fatalf("MarkOnce(%q) = %q, %v; want the first value", v, got, err)
		}
	}
}
