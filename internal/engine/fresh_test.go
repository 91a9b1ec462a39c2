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
		f.put(key, fmt.Sprintf("old%d", i), carPushed{at: now.Add(-time.Hour), created: true})
	}
	f.put(key, "recent", carPushed{at: now.Add(-time.Minute), created: true})
	if f.ask(key, "new", now) || !f.ask(key, "new", now) {
		t.Fatal("ask: want false the first time, true after")
	}
	if len(f.m) != 2 {
		t.Fatalf("%d pushes remembered, want the recent and the new one", len(f.m))
	}
	if !f.takeCreated(key, "recent") || f.takeCreated(key, "recent") {
		t.Fatal("takeCreated: want the recent push once")
	}
	if f.takeCreated(key, "new") {
		t.Fatal("takeCreated: a push that starts its pipeline is no created branch without one")
	}
}
