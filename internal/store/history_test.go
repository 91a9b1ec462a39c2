package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

func historyCases() []storeCase {
	return []storeCase{
		{name: "history order", run: testHistoryOrder},
		{name: "history capped", opts: Options{HistoryLen: 10}, run: testHistoryCap},
		{name: "history corrupt entry", run: testHistoryCorrupt},
	}
}

func mrs(cars []train.Car) []int64 {
	out := make([]int64, len(cars))
	for i, c := range cars {
		out[i] = c.MR
	}
	return out
}

func testHistoryOrder(t *testing.T, e *env) {
	ctx := context.Background()
	if cars, err := e.s.History(ctx, testKey, 0); err != nil || len(cars) != 0 {
		t.Fatalf("history of a new train = %v, %v; want none", cars, err)
	}
	if err := e.s.AppendHistory(ctx, testKey, fullCar(1), fullCar(2), fullCar(3)); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := e.s.AppendHistory(ctx, testKey, fullCar(4), fullCar(5)); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := e.s.AppendHistory(ctx, testKey); err != nil {
		t.Fatalf("append of nothing: %v", err)
	}
	all, err := e.s.History(ctx, testKey, 0)
	if err != nil || !reflect.DeepEqual(mrs(all), []int64{5, 4, 3, 2, 1}) {
		t.Fatalf("history = %v (%v), want MRs 5..1", mrs(all), err)
	}
	if !reflect.DeepEqual(all[0], fullCar(5)) {
		t.Fatalf("car changed in history\n got: %+v\nwant: %+v", all[0], fullCar(5))
	}
	two, err := e.s.History(ctx, testKey, 2)
	if err != nil || !reflect.DeepEqual(mrs(two), []int64{5, 4}) {
		t.Fatalf("history limit 2 = %v (%v), want [5 4]", mrs(two), err)
	}
	other := train.Key{Forge: "gitlab", Project: "group/project", Branch: "other"}
	if cars, err := e.s.History(ctx, other, 0); err != nil || len(cars) != 0 {
		t.Fatalf("history of another branch = %v, %v; want none", mrs(cars), err)
	}
}

func testHistoryCap(t *testing.T, e *env) {
	ctx := context.Background()
	for mr := range int64(300) {
		if err := e.s.AppendHistory(ctx, testKey, train.Car{MR: mr + 1, State: train.StateMerged}); err != nil {
			t.Fatal(err)
		}
	}
	cars, err := e.s.History(ctx, testKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Trimming is approximate: whole nodes of up to 100 entries go at once.
	if len(cars) < 10 || len(cars) > 110 {
		t.Fatalf("history keeps %d cars, want 10 to 110", len(cars))
	}
	for i, c := range cars[:10] {
		if c.MR != int64(300-i) {
			t.Fatalf("history[%d] is MR %d, want %d", i, c.MR, 300-i)
		}
	}
}

func testHistoryCorrupt(t *testing.T, e *env) {
	ctx := context.Background()
	rkey := e.s.historyKey(testKey)
	for _, values := range [][]any{{historyField, "{not json"}, {"other", "field"}} {
		e.rdb.Del(ctx, rkey)
		if err := e.s.AppendHistory(ctx, testKey, fullCar(1)); err != nil {
			t.Fatal(err)
		}
		id := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: rkey, Values: values}).Val()
		_, err := e.s.History(ctx, testKey, 0)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rkey) || !strings.Contains(err.Error(), id) {
			t.Fatalf("history with entry %v: %v, want ErrCorrupt naming %s and %s", values, err, rkey, id)
		}
	}
}
