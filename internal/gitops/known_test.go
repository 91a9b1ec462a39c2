package gitops

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// gitLog records the git processes a mirror starts.
type gitLog struct {
	mu   sync.Mutex
	runs [][]string
}

func (l *gitLog) record(args []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, append([]string(nil), args...))
}

// count is how many processes ran the git command cmd.
func (l *gitLog) count(cmd string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.runs {
		if len(r) > 0 && r[0] == cmd {
			n++
		}
	}
	return n
}

// TestHasCommitKnowsWhatTheMirrorWroteOrFetched: the commits a mirror
// built or fetched, or was found to hold, are known without a git
// process; one it does not hold is still looked for every time.
func TestHasCommitKnowsWhatTheMirrorWroteOrFetched(t *testing.T) {
	w := newWorld(t)
	log := &gitLog{}
	w.mirror.run.ran = log.record
	ctx := context.Background()
	res := w.build(t, nil)
	head, err := w.mirror.FetchBranch(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	before := log.count("cat-file")
	for _, sha := range []string{res.Commit, head, w.mrHead, w.root, w.root} {
		if !w.mirror.HasCommit(ctx, sha) {
			t.Fatalf("%.12s not held", sha)
		}
	}
	// Only main's first commit, never asked about, fetched as a head or
	// written here, took a look, once.
	if n := log.count("cat-file") - before; n != 1 {
		t.Fatalf("%d cat-file runs for five asks, want 1", n)
	}
	missing := strings.Repeat("ab", 20)
	for range 2 {
		if w.mirror.HasCommit(ctx, missing) {
			t.Fatal("a commit the mirror lacks is held")
		}
	}
	if n := log.count("cat-file") - before; n != 3 {
		t.Fatalf("%d cat-file runs after two asks for a missing commit, want 3", n)
	}
}

// TestFetchMaintainsNowAndThen: fetches leave git's maintenance to one run
// every maintainEvery of them.
func TestFetchMaintainsNowAndThen(t *testing.T) {
	w := newWorld(t)
	log := &gitLog{}
	w.mirror.run.ran = log.record
	w.mirror.fetches = 0 // the world's own fetches
	ctx := context.Background()
	for range maintainEvery - 1 {
		if _, err := w.mirror.FetchBranch(ctx, "main"); err != nil {
			t.Fatal(err)
		}
	}
	if n := log.count("maintenance"); n != 0 {
		t.Fatalf("%d maintenance runs after %d fetches, want none", n, maintainEvery-1)
	}
	for _, r := range log.runs {
		if r[0] == "fetch" && !strings.Contains(strings.Join(r, " "), "--no-auto-maintenance") {
			t.Fatalf("fetch %q leaves maintenance to git", r)
		}
	}
	if _, err := w.mirror.FetchBranch(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if n := log.count("maintenance"); n != 1 {
		t.Fatalf("%d maintenance runs after %d fetches, want 1", n, maintainEvery)
	}
}
