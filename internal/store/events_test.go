package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func eventCases() []storeCase {
	return []storeCase{
		{name: "events read and ack", run: testEventsReadAck},
		{name: "events claim idle", run: testEventsClaimIdle},
		{name: "events forget idle consumers", run: testForgetConsumers},
		{name: "events claim skips deleted", run: testEventsClaimDeleted},
		{name: "events touched stay with their consumer", run: testEventsTouch},
		{name: "events stream capped", opts: Options{EventsMaxLen: 10}, run: testEventsCap},
		{name: "events cap spares what no group read", opts: Options{EventsMaxLen: 4}, run: testEventsCapUnread},
		{name: "events cap takes the oldest of every group", opts: Options{EventsMaxLen: 4}, run: testEventsCapGroups},
		{name: "events cap with a group that read nothing", opts: Options{EventsMaxLen: 3}, run: testEventsCapGroupReadNothing},
		{name: "events cap past any double", opts: Options{EventsMaxLen: 2}, run: testEventsCapLargeIDs},
		{name: "events stream name", run: testEventsStreamName},
		{name: "delivery enqueued once", run: testEnqueueDelivery},
		{name: "delivery marked only when queued", run: testEnqueueNeitherWithoutBoth},
	}
}

const group = "workers"

// addEvents adds n events with data "event-<i>" and returns their ids.
func addEvents(t *testing.T, e *env, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := e.s.AddEvent(context.Background(), fmt.Appendf(nil, "event-%d", i))
		if err != nil {
			t.Fatalf("add event: %v", err)
		}
		ids[i] = id
	}
	return ids
}

func ensureGroup(t *testing.T, e *env) {
	t.Helper()
	for range 2 { // the second call finds the group and is fine
		if err := e.s.EnsureGroup(context.Background(), group); err != nil {
			t.Fatalf("ensure group: %v", err)
		}
	}
}

// eventIDs returns the ids of evs, failing on unexpected delivery counts or data.
func eventIDs(t *testing.T, evs []Event, deliveries int64) []string {
	t.Helper()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		if ev.Deliveries != deliveries || len(ev.Data) == 0 {
			t.Fatalf("event %s: deliveries %d, data %q; want %d deliveries and data", ev.ID, ev.Deliveries, ev.Data, deliveries)
		}
		ids[i] = ev.ID
	}
	return ids
}

func testEventsReadAck(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e) // before any event: a group created early must see them all
	bin := []byte{0, 1, 0xff, '\n'}
	binID, err := e.s.AddEvent(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	ids := append([]string{binID}, addEvents(t, e, 2)...)
	evs, err := e.s.ReadEvents(ctx, group, "c1", 10, 0)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got := eventIDs(t, evs, 1); !reflect.DeepEqual(got, ids) {
		t.Fatalf("read ids %v, want %v", got, ids)
	}
	if string(evs[0].Data) != string(bin) || string(evs[2].Data) != "event-1" {
		t.Fatalf("data %q, %q; want %q, event-1", evs[0].Data, evs[2].Data, bin)
	}
	for _, block := range []time.Duration{0, 20 * time.Millisecond} {
		if evs, err := e.s.ReadEvents(ctx, group, "c2", 10, block); err != nil || len(evs) != 0 {
			t.Fatalf("read of a drained stream (block %s) = %v, %v; want none", block, evs, err)
		}
	}
	if err := e.s.Ack(ctx, group, ids...); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if n := e.rdb.XPending(ctx, e.s.opts.EventStream, group).Val().Count; n != 0 {
		t.Fatalf("%d events pending after ack, want 0", n)
	}
	if err := e.s.Ack(ctx, group); err != nil {
		t.Fatalf("ack of nothing: %v", err)
	}
	if _, err := e.s.ReadEvents(ctx, group, "c1", 0, 0); err == nil {
		t.Fatalf("read of 0 events succeeded")
	}
}

// claimWithin polls ClaimIdle until it returns events or 5s passed: entries
// become idle with the server's clock.
func claimWithin(t *testing.T, e *env, consumer string, minIdle time.Duration, count int64) []Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, err := e.s.ClaimIdle(context.Background(), group, consumer, minIdle, count)
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		if len(evs) > 0 || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testEventsClaimIdle(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e)
	ids := addEvents(t, e, 4)
	if _, err := e.s.ReadEvents(ctx, group, "dead", 10, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Ack(ctx, group, ids[0]); err != nil {
		t.Fatal(err)
	}
	if evs, err := e.s.ClaimIdle(ctx, group, "alive", time.Hour, 10); err != nil || len(evs) != 0 {
		t.Fatalf("claim of entries not idle long enough = %v, %v; want none", evs, err)
	}
	const minIdle = 30 * time.Millisecond
	first := claimWithin(t, e, "alive", minIdle, 1)
	if got := eventIDs(t, first, 2); !reflect.DeepEqual(got, ids[1:2]) {
		t.Fatalf("claim of 1 = %v, want %v", got, ids[1:2])
	}
	rest := claimWithin(t, e, "alive", minIdle, 10)
	if got := eventIDs(t, rest, 2); !reflect.DeepEqual(got, ids[2:]) {
		t.Fatalf("claim of the rest = %v, want %v", got, ids[2:])
	}
	if string(rest[0].Data) != "event-2" {
		t.Fatalf("claimed data %q, want event-2", rest[0].Data)
	}
	pending := e.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: e.s.opts.EventStream, Group: group, Start: "-", End: "+", Count: 10}).Val()
	for _, p := range pending {
		if p.Consumer != "alive" {
			t.Fatalf("entry %s still pending for %s after the claim", p.ID, p.Consumer)
		}
	}
	if len(pending) != 3 {
		t.Fatalf("%d entries pending, want 3", len(pending))
	}
	if _, err := e.s.ClaimIdle(ctx, group, "alive", minIdle, 0); err == nil {
		t.Fatalf("claim of 0 entries succeeded")
	}
}

func testEventsTouch(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e)
	ids := addEvents(t, e, 2)
	read, err := e.s.ReadEvents(ctx, group, "busy", 10, 0)
	if err != nil || len(read) != 2 {
		t.Fatalf("read %v, %v", read, err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := e.s.Touch(ctx, group, "busy", read[0]); err != nil {
		t.Fatal(err)
	}
	evs, err := e.s.ClaimIdle(ctx, group, "other", 40*time.Millisecond, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(t, evs, 2); !reflect.DeepEqual(got, ids[1:]) {
		t.Fatalf("claimed %v, want only the untouched %v", got, ids[1:])
	}
	pending := e.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: e.s.opts.EventStream, Group: group, Start: "-", End: "+", Count: 10}).Val()
	if len(pending) != 2 || pending[0].ID != ids[0] || pending[0].Consumer != "busy" || pending[0].RetryCount != 1 {
		t.Fatalf("pending %+v; want %s with busy, delivered once", pending, ids[0])
	}
	if err := e.s.Ack(ctx, group, ids...); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Touch(ctx, group, "busy", read[0]); err != nil {
		t.Fatalf("touch of an acknowledged entry: %v", err)
	}
	if n := e.rdb.XPending(ctx, e.s.opts.EventStream, group).Val().Count; n != 0 {
		t.Fatalf("%d entries pending after a touch of acknowledged ones, want 0", n)
	}
}

func testEventsClaimDeleted(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e)
	ids := addEvents(t, e, 3)
	if _, err := e.s.ReadEvents(ctx, group, "dead", 10, 0); err != nil {
		t.Fatal(err)
	}
	e.rdb.XDel(ctx, e.s.opts.EventStream, ids[1])
	evs := claimWithin(t, e, "alive", 20*time.Millisecond, 10)
	if got, want := eventIDs(t, evs, 2), []string{ids[0], ids[2]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("claimed %v, want %v (the deleted entry skipped)", got, want)
	}
}

// At the cap, what every group acknowledged goes, and only that: the
// entries read and not acknowledged and those never read all stay, and a
// stream that holds nothing else refuses the next one.
func testEventsCap(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e)
	ids := addEvents(t, e, 10)
	evs, err := e.s.ReadEvents(ctx, group, "c", 5, 0)
	if err != nil || len(evs) != 5 {
		t.Fatalf("read 5: %v, %v", evs, err)
	}
	if err := e.s.Ack(ctx, group, ids[0], ids[1], ids[3]); err != nil {
		t.Fatal(err)
	}
	// ids[2] is pending: ids[0] and ids[1] go, ids[3] (acknowledged but
	// after it) stays, as trimming takes a prefix.
	more := addEvents(t, e, 2)
	if got, want := streamIDs(t, e), append(append([]string{}, ids[2:]...), more...); !reflect.DeepEqual(got, want) {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
	_, err = e.s.AddEvent(ctx, []byte("one too many"))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("add to a full stream: %v, want ErrFull", err)
	}
	first, err := e.s.EnqueueDelivery(ctx, "d-full", time.Minute, []byte("x"))
	if !errors.Is(err, ErrFull) || first {
		t.Fatalf("enqueue onto a full stream: %v, %v; want ErrFull", first, err)
	}
	if n := e.rdb.Exists(ctx, e.s.deliveryKey("d-full")).Val(); n != 0 {
		t.Fatalf("a refused delivery was marked seen: its re-send would be dropped")
	}
	// Every entry still there is handed out: the pending one to a claim,
	// the unread ones to a read.
	rest, err := e.s.ReadEvents(ctx, group, "c", 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := eventIDs(t, rest, 1), append(append([]string{}, ids[5:]...), more...); !reflect.DeepEqual(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	all := append([]string{ids[2], ids[4]}, eventIDs(t, rest, 1)...)
	if err := e.s.Ack(ctx, group, all...); err != nil {
		t.Fatal(err)
	}
	// Everything read and acknowledged: the next add makes room.
	if _, err := e.s.AddEvent(ctx, []byte("room again")); err != nil {
		t.Fatalf("add once the group caught up: %v", err)
	}
	if n := e.rdb.XLen(ctx, e.s.opts.EventStream).Val(); n > 2 {
		t.Fatalf("stream holds %d entries after the trim, want at most 2", n)
	}
}

// Without a group nothing has been read, so nothing is trimmed; a dead
// letter requeued onto a full stream stays a dead letter.
func testEventsCapUnread(t *testing.T, e *env) {
	ctx := context.Background()
	ids := addEvents(t, e, 4)
	if _, err := e.s.AddEvent(ctx, []byte("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("add to a full stream no group read: %v, want ErrFull", err)
	}
	if got := streamIDs(t, e); !reflect.DeepEqual(got, ids) {
		t.Fatalf("stream holds %v, want %v", got, ids)
	}
	ensureGroup(t, e)
	evs, err := e.s.ReadEvents(ctx, group, "c", 1, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("read 1: %v, %v", evs, err)
	}
	dead, err := e.s.Bury(ctx, group, evs[0], "boom", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddEvent(ctx, []byte("fills it")); err != nil {
		t.Fatalf("add after the buried entry was acknowledged: %v", err)
	}
	if _, err := e.s.Requeue(ctx, dead); !errors.Is(err, ErrFull) {
		t.Fatalf("requeue onto a full stream: %v, want ErrFull", err)
	}
	if _, err := e.s.DeadLetter(ctx, dead); err != nil {
		t.Fatalf("the refused dead letter is gone: %v", err)
	}
}

// With two groups, the trim stops at the oldest entry either still needs,
// comparing ids as numbers: 9-5 is older than 10-1, though not as text.
func testEventsCapGroups(t *testing.T, e *env) {
	ctx := context.Background()
	stream := e.s.opts.EventStream
	for _, id := range []string{"8-0", "9-5", "10-0", "11-0"} {
		if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: []any{eventField, id}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"slow", "fast"} {
		if err := e.rdb.XGroupCreate(ctx, stream, g, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	// fast read all four and still holds 9-5; slow read three and
	// acknowledged them, so it needs 10-1 on.
	if evs, err := e.s.ReadEvents(ctx, "fast", "c", 4, 0); err != nil || len(evs) != 4 {
		t.Fatalf("fast read: %v, %v", evs, err)
	}
	if err := e.s.Ack(ctx, "fast", "8-0", "10-0", "11-0"); err != nil {
		t.Fatal(err)
	}
	if evs, err := e.s.ReadEvents(ctx, "slow", "c", 3, 0); err != nil || len(evs) != 3 {
		t.Fatalf("slow read: %v, %v", evs, err)
	}
	if err := e.s.Ack(ctx, "slow", "8-0", "9-5", "10-0"); err != nil {
		t.Fatal(err)
	}
	id, err := e.s.AddEvent(ctx, []byte("x"))
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if got, want := streamIDs(t, e), []string{"9-5", "10-0", "11-0", id}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
}

// A group made before any event that has read nothing (miniredis keeps
// its id as "0") holds every entry: a full stream is ErrFull, not a
// script's error.
func testEventsCapGroupReadNothing(t *testing.T, e *env) {
	ensureGroup(t, e)
	addEvents(t, e, 3)
	if _, err := e.s.AddEvent(context.Background(), []byte("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("add to a full stream no group read: %v, want ErrFull", err)
	}
}

// Ids are compared as text, not as Lua's doubles: a sequence past 2^53,
// even the largest, is trimmed like any other.
func testEventsCapLargeIDs(t *testing.T, e *env) {
	ctx := context.Background()
	for _, id := range []string{"5-9007199254740993", "5-18446744073709551615"} {
		if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.s.opts.EventStream, ID: id, Values: []any{eventField, "d"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ensureGroup(t, e)
	evs, err := e.s.ReadEvents(ctx, group, "c", 1, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("read: %v %v", evs, err)
	}
	if err := e.s.Ack(ctx, group, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	id, err := e.s.AddEvent(ctx, []byte("x"))
	if err != nil {
		t.Fatalf("add once the first was acknowledged: %v", err)
	}
	if got, want := streamIDs(t, e), []string{"5-18446744073709551615", id}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
}

func streamIDs(t *testing.T, e *env) []string {
	t.Helper()
	msgs, err := e.rdb.XRange(context.Background(), e.s.opts.EventStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func testEventsStreamName(t *testing.T, e *env) {
	ctx := context.Background()
	stream := e.s.opts.Prefix + ":custom-events"
	s := New(e.rdb, Options{Prefix: e.s.opts.Prefix, EventStream: stream})
	if _, err := s.AddEvent(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := e.rdb.XLen(ctx, stream).Val(); n != 1 {
		t.Fatalf("%s holds %d entries, want 1", stream, n)
	}
	if n := e.rdb.Exists(ctx, e.s.opts.Prefix+":events").Val(); n != 0 {
		t.Fatalf("the default stream exists too")
	}
}

func testEnqueueDelivery(t *testing.T, e *env) {
	ctx := context.Background()
	ensureGroup(t, e)
	check := func(id string, ttl time.Duration, want bool) {
		t.Helper()
		if got, err := e.s.EnqueueDelivery(ctx, id, ttl, []byte("data-"+id)); err != nil || got != want {
			t.Fatalf("enqueue delivery %s = %v (%v), want %v", id, got, err, want)
		}
	}
	check("d1", time.Minute, true)
	check("d1", time.Minute, false)
	check("d2", time.Minute, true)
	check("short", 50*time.Millisecond, true)
	e.expire(t, e.s.deliveryKey("short"), 50*time.Millisecond)
	check("short", time.Minute, true)
	evs, err := e.s.ReadEvents(ctx, group, "c", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, string(ev.Data))
	}
	if want := []string{"data-d1", "data-d2", "data-short", "data-short"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("queued %q, want %q: each first delivery once", got, want)
	}
	if _, err := e.s.EnqueueDelivery(ctx, "", time.Minute, nil); err == nil {
		t.Fatalf("empty delivery id accepted")
	}
	if _, err := e.s.EnqueueDelivery(ctx, "d3", 0, nil); err == nil {
		t.Fatalf("delivery without ttl accepted")
	}
	if n := e.rdb.Exists(ctx, e.s.deliveryKey("d3")).Val(); n != 0 {
		t.Fatalf("a refused delivery was marked seen")
	}
}

// testEnqueueNeitherWithoutBoth: when the event cannot be queued, the
// delivery is not marked seen either, so the forge's re-send gets through.
func testEnqueueNeitherWithoutBoth(t *testing.T, e *env) {
	ctx := context.Background()
	// A stream key of the wrong type makes XADD fail inside the script.
	if err := e.rdb.Set(ctx, e.s.opts.EventStream, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.EnqueueDelivery(ctx, "d1", time.Minute, []byte("x")); err == nil {
		t.Fatalf("enqueue onto a broken stream succeeded")
	}
	// Redis does not roll back a script's writes before the failing
	// command, so the script must fail before it marks anything; a real
	// server and miniredis must agree.
	if n := e.rdb.Exists(ctx, e.s.deliveryKey("d1")).Val(); n != 0 {
		t.Fatalf("delivery marked seen although its event was not queued")
	}
}

// Consumers that hold nothing and were idle long enough are deleted; one
// that holds an event stays, whatever its idle time.
func testForgetConsumers(t *testing.T, e *env) {
	ctx := context.Background()
	if err := e.s.EnsureGroup(ctx, group); err != nil {
		t.Fatal(err)
	}
	addEvents(t, e, 2)
	gone, err := e.s.ReadEvents(ctx, group, "gone", 1, 0)
	if err != nil || len(gone) != 1 {
		t.Fatalf("read for gone: %v, %v", gone, err)
	}
	if err := e.s.Ack(ctx, group, gone[0].ID); err != nil {
		t.Fatal(err)
	}
	if held, err := e.s.ReadEvents(ctx, group, "holding", 1, 0); err != nil || len(held) != 1 {
		t.Fatalf("read for holding: %v, %v", held, err)
	}
	if n, err := e.s.ForgetConsumers(ctx, group, time.Hour); err != nil || n != 0 {
		t.Fatalf("forget consumers idle an hour: %d, %v; want none", n, err)
	}
	// Any idle time at all (miniredis, whose clock stands, reports -1ms).
	if n, err := e.s.ForgetConsumers(ctx, group, -time.Hour); err != nil || n != 1 {
		t.Fatalf("forget idle consumers: %d, %v; want 1", n, err)
	}
	cs, err := e.rdb.XInfoConsumers(ctx, e.s.opts.EventStream, group).Result()
	if err != nil || len(cs) != 1 || cs[0].Name != "holding" {
		t.Fatalf("consumers left: %+v, %v; want holding alone", cs, err)
	}
	// One that read an event after it was listed as holding none is kept,
	// with its event.
	if gone, err := e.s.forgetConsumer(ctx, group, "holding"); err != nil || gone {
		t.Fatalf("forget a consumer that holds an event: %v, %v; want kept", gone, err)
	}
	pending, err := e.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: e.s.opts.EventStream, Group: group, Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(pending) != 1 || pending[0].Consumer != "holding" {
		t.Fatalf("pending after the refused delete: %+v, %v; want holding's event", pending, err)
	}
}
