package gitops

import (
	"context"
	"path/filepath"
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

// TestFetchMaintainsNowAndThen: git's maintenance runs on the first fetch
// of a mirror, then once every maintainEvery fetches, and forgets the
// commits known, which it may prune.
func TestFetchMaintainsNowAndThen(t *testing.T) {
	remote := newBareRepo(t, filepath.Join(t.TempDir(), "remote.git"))
	head := commitFiles(t, remote, bob, "Initial\n", map[string]string{"a.txt": "a\n"})
	setRef(t, remote, "refs/heads/main", head)
	repo := openMirror(t, fileURL(remote))
	log := &gitLog{}
	repo.run.ran = log.record
	ctx := context.Background()
	fetch := func() {
		t.Helper()
		if _, err := repo.FetchBranch(ctx, "main"); err != nil {
			t.Fatal(err)
		}
	}
	fetch()
	if n := log.count("maintenance"); n != 1 {
		t.Fatalf("%d maintenance runs after the first fetch, want 1", n)
	}
	for range maintainEvery - 1 {
		fetch()
	}
	if n := log.count("maintenance"); n != 1 {
		t.Fatalf("%d maintenance runs after %d fetches, want 1", n, maintainEvery)
	}
	for _, r := range log.runs {
		if r[0] == "fetch" && !strings.Contains(strings.Join(r, " "), "--no-auto-maintenance") {
			t.Fatalf("fetch %q leaves maintenance to git", r)
		}
	}
	// Known now: the head just fetched.
	before := log.count("cat-file")
	if !repo.HasCommit(ctx, head) || log.count("cat-file") != before {
		t.Fatal("the head just fetched is looked for")
	}
	// The next fetch, of another branch, is the one that maintains: the
	// head known before is looked for again.
	other := commitFiles(t, remote, bob, "Other\n", map[string]string{"b.txt": "b\n"})
	setRef(t, remote, "refs/heads/other", other)
	if _, err := repo.FetchBranch(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if n := log.count("maintenance"); n != 2 {
		t.Fatalf("%d maintenance runs after %d fetches, want 2", n, maintainEvery+1)
	}
	before = log.count("cat-file")
	if !repo.HasCommit(ctx, head) {
		t.Fatal("head not held")
	}
	if n := log.count("cat-file") - before; n != 1 {
		t.Fatalf("%d looks for a commit known before the maintenance, want 1", n)
	}
}
