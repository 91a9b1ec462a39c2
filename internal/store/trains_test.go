package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

func trainCases() []storeCase {
	return []storeCase{
		{name: "round trip", run: testRoundTrip},
		{name: "not found", run: testNotFound},
		{name: "stale version conflicts", run: testStaleVersion},
		{name: "create twice conflicts", run: testCreateTwice},
		{name: "concurrent writers one wins", run: testConcurrentWriters},
		{name: "invalid key", run: testInvalidKey},
		{name: "save leaves no staged records", run: testNoStagedLeft},
		{name: "list and delete", run: testListDelete},
		{name: "retire at a version", run: testRetire},
		{name: "retired history expires", run: testRetiredHistory},
		{name: "list skips and rejects bad index entries", run: testListBadIndex},
		{name: "corrupt train", run: testCorruptTrain},
	}
}

func testRoundTrip(t *testing.T, e *env) {
	ctx := context.Background()
	in := fullTrain(testKey, 3)
	saved, err := e.s.Save(ctx, in)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	if saved.Version != 1 || in.Version != 0 {
		t.Fatalf("versions after save: returned %d, input %d; want 1, 0", saved.Version, in.Version)
	}
	got, err := e.s.Load(ctx, testKey)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !reflect.DeepEqual(got, saved) {
		t.Fatalf("loaded train differs from saved one\n got: %+v\nwant: %+v", got, saved)
	}
	raw, err := e.rdb.HGet(ctx, e.s.trainKey(testKey), "d").Result()
	if err != nil {
		t.Fatalf("read stored JSON: %v", err)
	}
	var stored struct{ Version int64 }
	if err := json.Unmarshal([]byte(raw), &stored); err != nil || stored.Version != 1 {
		t.Fatalf("stored JSON version = %d (%v), want 1", stored.Version, err)
	}
}

func testNotFound(t *testing.T, e *env) {
	ctx := context.Background()
	_, err := e.s.Load(ctx, testKey)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), testKey.String()) {
		t.Fatalf("load of absent train: %v, want ErrNotFound naming %s", err, testKey)
	}
	if ok, err := e.s.Exists(ctx, testKey); ok || err != nil {
		t.Fatalf("an absent train exists: %v, %v", ok, err)
	}
	if _, err := e.s.Save(ctx, train.New(testKey, train.Settings{})); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.Exists(ctx, testKey); !ok || err != nil {
		t.Fatalf("a saved train does not exist: %v, %v", ok, err)
	}
}

// wantConflict fails unless err is a conflict with the given versions.
func wantConflict(t *testing.T, err error, want, have int64) {
	t.Helper()
	var ce *ConflictError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConflictError", err)
	}
	if ce.Want != want || ce.Have != have || ce.Key != testKey {
		t.Fatalf("conflict = %+v, want key %s want %d have %d", ce, testKey, want, have)
	}
}

func testStaleVersion(t *testing.T, e *env) {
	ctx := context.Background()
	v1, err := e.s.Save(ctx, train.New(testKey, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	v2 := v1
	v2.TargetHead = "second"
	if v2, err = e.s.Save(ctx, v2); err != nil || v2.Version != 2 {
		t.Fatalf("second save: version %d, %v; want 2", v2.Version, err)
	}
	stale := v1
	stale.TargetHead = "stale"
	_, err = e.s.Save(ctx, stale)
	wantConflict(t, err, 1, 2)
	got, err := e.s.Load(ctx, testKey)
	if err != nil || got.TargetHead != "second" || got.Version != 2 {
		t.Fatalf("after a lost save: %q v%d (%v), want the winner's train", got.TargetHead, got.Version, err)
	}
	absent := train.New(train.Key{Forge: "gitlab", Project: "group/project", Branch: "gone"}, train.Settings{})
	absent.Version = 3
	if _, err := e.s.Save(ctx, absent); !errors.Is(err, ErrConflict) {
		t.Fatalf("update of an absent train: %v, want ErrConflict", err)
	}
}

func testCreateTwice(t *testing.T, e *env) {
	ctx := context.Background()
	if _, err := e.s.Save(ctx, train.New(testKey, train.Settings{})); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Save(ctx, train.New(testKey, train.Settings{}))
	wantConflict(t, err, 0, 1)
}

func testConcurrentWriters(t *testing.T, e *env) {
	ctx := context.Background()
	base, err := e.s.Save(ctx, train.New(testKey, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	for round := range 3 {
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				mine := base.Clone()
				mine.TargetHead = sha(i)
				<-start
				_, errs[i] = e.s.Save(ctx, mine)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, ErrConflict):
				t.Fatalf("round %d: writer %d: %v, want ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		if base, err = e.s.Load(ctx, testKey); err != nil {
			t.Fatal(err)
		}
		if base.TargetHead != sha(winner) || base.Version != int64(round+2) {
			t.Fatalf("round %d: stored %q v%d, want writer %d's train at v%d", round, base.TargetHead, base.Version, winner, round+2)
		}
	}
}

func testInvalidKey(t *testing.T, e *env) {
	_, err := e.s.Save(context.Background(), train.New(train.Key{Forge: "gitlab", Project: "g/p"}, train.Settings{}))
	if err == nil || errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "branch is empty") {
		t.Fatalf("save without branch: %v, want a validation error", err)
	}
}

func testListDelete(t *testing.T, e *env) {
	ctx := context.Background()
	keys := []train.Key{
		{Forge: "gitlab", Project: "z/last", Branch: "main"},
		{Forge: "github", Project: "org/repo", Branch: "release/{1.0}"},
		{Forge: "gitlab", Project: "a/first", Branch: "main"},
		{Forge: "gitlab", Project: "a/first", Branch: "dev:%7B"},
	}
	for _, k := range keys {
		if _, err := e.s.Save(ctx, train.New(k, train.Settings{})); err != nil {
			t.Fatalf("save %s: %v", k, err)
		}
	}
	want := []train.Key{keys[1], keys[3], keys[2], keys[0]}
	got, err := e.s.List(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("list = %v (%v), want %v", got, err, want)
	}
	for range 2 { // deleting twice is fine
		if err := e.s.Delete(ctx, keys[3]); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := e.s.Load(ctx, keys[3]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("load after delete: %v, want ErrNotFound", err)
	}
	got, err = e.s.List(ctx)
	if want := []train.Key{keys[1], keys[2], keys[0]}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("list after delete = %v (%v), want %v", got, err, want)
	}
	if _, err := e.s.Save(ctx, train.New(keys[3], train.Settings{})); err != nil {
		t.Fatalf("recreate after delete: %v", err)
	}
}

func testListBadIndex(t *testing.T, e *env) {
	ctx := context.Background()
	if _, err := e.s.Save(ctx, train.New(testKey, train.Settings{})); err != nil {
		t.Fatal(err)
	}
	ghost := train.Key{Forge: "gitlab", Project: "g/ghost", Branch: "main"}
	e.rdb.SAdd(ctx, e.s.indexKey(), e.s.tag(ghost))
	got, err := e.s.List(ctx)
	if want := []train.Key{testKey}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("list with an entry of a missing train = %v (%v), want %v", got, err, want)
	}
	e.rdb.SAdd(ctx, e.s.indexKey(), "two:parts")
	_, err = e.s.List(ctx)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), e.s.indexKey()) {
		t.Fatalf("list with a malformed entry: %v, want ErrCorrupt naming %s", err, e.s.indexKey())
	}
}

func testCorruptTrain(t *testing.T, e *env) {
	ctx := context.Background()
	rkey := e.s.trainKey(testKey)
	good, err := json.Marshal(train.New(testKey, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	other, err := json.Marshal(train.New(train.Key{Forge: "github", Project: "o/r", Branch: "main"}, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, v, d string
	}{
		{"bad JSON", "1", `{"cars": [`},
		{"JSON of another type", "1", `[1, 2]`},
		{"bad version", "one", string(good)},
		{"another train", "1", string(other)},
		{"no JSON", "1", ""},
	} {
		e.rdb.Del(ctx, rkey)
		if c.d == "" {
			e.rdb.HSet(ctx, rkey, "v", c.v)
		} else {
			e.rdb.HSet(ctx, rkey, "v", c.v, "d", c.d)
		}
		_, err := e.s.Load(ctx, testKey)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rkey) {
			t.Errorf("%s: load = %v, want ErrCorrupt naming %s", c.name, err, rkey)
		}
	}
	e.rdb.HSet(ctx, rkey, "v", "one", "d", string(good))
	_, err = e.s.Save(ctx, train.Train{Key: testKey, Version: 1})
	if err == nil || errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), rkey) {
		t.Fatalf("save over a bad version field: %v, want an error naming %s", err, rkey)
	}
}

func testNoStagedLeft(t *testing.T, e *env) {
	ctx := context.Background()
	tr, err := e.s.Save(ctx, train.New(testKey, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	// A server restart or failover empties the script cache.
	if err := e.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if tr, err = e.s.Save(ctx, tr); err != nil || tr.Version != 2 {
		t.Fatalf("save after the script cache was emptied: v%d, %v; want v2", tr.Version, err)
	}
	if _, err := e.s.Save(ctx, train.New(testKey, train.Settings{})); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over an existing train: %v, want ErrConflict", err)
	}
	if ttl := e.rdb.PTTL(ctx, e.s.trainKey(testKey)).Val(); ttl >= 0 {
		t.Fatalf("train record expires in %s, want no expiry", ttl)
	}
	staged, err := e.rdb.Keys(ctx, e.s.prefix+":*stage*").Result()
	if err != nil || len(staged) != 0 {
		t.Fatalf("staged records left: %v (%v)", staged, err)
	}
}

// A train is retired only at the version it was read at: a save since
// keeps it.
func testRetire(t *testing.T, e *env) {
	ctx := context.Background()
	saved, err := e.s.Save(ctx, train.New(testKey, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.Retire(ctx, testKey, saved.Version+1); err != nil || ok {
		t.Fatalf("retire at another version: %v, %v; want kept", ok, err)
	}
	if ok, _ := e.s.Exists(ctx, testKey); !ok {
		t.Fatal("the train is gone after a retire at another version")
	}
	// Work forwarded to it since it was looked at keeps it.
	if err := e.s.Forward(ctx, testKey, "work"); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.Retire(ctx, testKey, saved.Version); err != nil || ok {
		t.Fatalf("retire with work in its inbox: %v, %v; want kept", ok, err)
	}
	if ok, _ := e.s.Exists(ctx, testKey); !ok {
		t.Fatal("the train is gone with work in its inbox")
	}
	holdLease(t, e, testKey, "h")
	if err := e.s.DropInbox(ctx, testKey, "h", peek(t, e, testKey)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.Retire(ctx, testKey, saved.Version); err != nil || !ok {
		t.Fatalf("retire at its version: %v, %v; want retired", ok, err)
	}
	keys, err := e.s.List(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("list after the retire: %v, %v", keys, err)
	}
	if ok, _ := e.s.Exists(ctx, testKey); ok {
		t.Fatal("the train is still there")
	}
}

// A retired train's history expires unless the train is made again.
func testRetiredHistory(t *testing.T, e *env) {
	ctx := context.Background()
	saved, err := e.s.Save(ctx, train.New(testKey, train.Settings{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.AppendHistory(ctx, testKey, fullCar(7)); err != nil {
		t.Fatal(err)
	}
	ttl := func() time.Duration {
		t.Helper()
		d, err := e.rdb.PTTL(ctx, e.s.historyKey(testKey)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// -1: kept for good (-2 would be no history at all).
	if d := ttl(); d != -1 {
		t.Fatalf("history of a live train: ttl %s, want kept for good", d)
	}
	if ok, err := e.s.Retire(ctx, testKey, saved.Version); err != nil || !ok {
		t.Fatalf("retire: %v, %v", ok, err)
	}
	if d := ttl(); d <= 0 || d > retiredHistoryKeep {
		t.Fatalf("history of a retired train expires in %s, want within %s", d, retiredHistoryKeep)
	}
	if cars, err := e.s.History(ctx, testKey, 0); err != nil || len(cars) != 1 {
		t.Fatalf("history after the retire: %d cars, %v; want the one kept", len(cars), err)
	}
	if _, err := e.s.Save(ctx, train.New(testKey, train.Settings{})); err != nil {
		t.Fatal(err)
	}
	if d := ttl(); d != -1 {
		t.Fatalf("history of the train made again: ttl %s, want kept for good", d)
	}
}
