package fakeforge

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestOnBranchMovedIsToldOfEveryMove(t *testing.T) {
	var mu sync.Mutex
	var moves []BranchMoved
	f := newForge(t, func(o *Options) {
		o.OnBranchMoved = func(m BranchMoved) {
			mu.Lock()
			defer mu.Unlock()
			moves = append(moves, m)
		}
	})
	mustProject(t, f, project1, nil)
	before, err := f.BranchHead(context.Background(), project1, DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	head, err := f.PushBranch(context.Background(), project1, DefaultBranch, "alice", Commit{Message: "x", Files: map[string]string{"x": "x\n"}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(moves) != 1 {
		t.Fatalf("moves = %+v, want one", moves)
	}
	m := moves[0]
	if m.Project != project1 || m.Branch != DefaultBranch || m.Old != before || m.New != head || m.At.Before(start) {
		t.Errorf("move = %+v, want %s %s %s..%s at or after %v", m, project1, DefaultBranch, before, head, start)
	}
}
