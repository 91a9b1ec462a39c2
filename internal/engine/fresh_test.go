package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// A full set of remembered pushes drops those older than freshKeep
// first, and keeps the recent ones, whose cars may still wait.
func TestFreshCommitsDropOldPushesFirst(t *testing.T) {
	f := &freshCommits{m: map[string]carPushed{}}
	key := train.Key{Forge: "gitlab", Project: "g/p", Branch: "main"}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range freshMax - 1 {
		f.add(key, fmt.Sprintf("old%d", i), carPushed{at: now.Add(-time.Hour)})
	}
	f.add(key, "recent", carPushed{at: now.Add(-time.Minute), options: true})
	f.add(key, "new", carPushed{at: now, options: true})
	if len(f.m) != 2 {
		t.Fatalf("%d pushes remembered, want the recent and the new one", len(f.m))
	}
	if _, ok := f.get(key, "recent"); !ok {
		t.Fatal("a recent push was dropped")
	}
	if f.ask(key, "new", now) || !f.ask(key, "new", now) {
		t.Fatal("ask: want false the first time, true after")
	}
	// Another replica's push: this one asks first, then again.
	if f.ask(key, "elsewhere", now) || !f.ask(key, "elsewhere", now) {
		t.Fatal("ask of a push made elsewhere: want false the first time, true after")
	}
}
