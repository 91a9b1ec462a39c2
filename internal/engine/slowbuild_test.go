package engine

import (
	"testing"

	"github.com/trainyard/trainyard/internal/train"
)

// A build is counted slow in a row, per car build and base: another
// build's, or a build that ends in time, starts the count again.
func TestSlowBuildsCountInARow(t *testing.T) {
	s := &slowBuilds{m: map[string]int{}}
	key := train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}
	a := train.BuildCar{MR: 7, Base: "b1", Build: 1}
	for want := 1; want <= 3; want++ {
		if got := s.count(key, a, true); got != want {
			t.Fatalf("timeout %d counted %d", want, got)
		}
	}
	rebuilt := a
	rebuilt.Build, rebuilt.Base = 2, "b2"
	if got := s.count(key, rebuilt, true); got != 1 {
		t.Fatalf("a new build's first timeout counted %d, want 1", got)
	}
	if got := s.count(key, a, false); got != 0 {
		t.Fatalf("a build in time counted %d, want 0", got)
	}
	if got := s.count(key, a, true); got != 1 {
		t.Fatalf("a timeout after a build in time counted %d, want 1", got)
	}
}
