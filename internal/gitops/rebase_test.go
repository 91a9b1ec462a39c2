package gitops

import (
	"context"
	"errors"
	"testing"
)

// An MR that carries a cherry-pick of a commit already on main and a merge
// of main rebases to its two real commits, linear on Base.
func TestBuildRebaseDropsMergesAndEmptiedCommits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	shas := importCommits(t, w.remote, []seedCommit{
		{author: alice, msg: "Cherry-picked change b\n", files: map[string]string{"b.txt": "b1\nb2\n"}, parents: []string{w.root}},
		{author: alice, msg: "Edit c\n", files: map[string]string{"dir/c.txt": "c2\n"}, parents: []string{":1"}},
		{author: alice, msg: "Merge main into topic\n", parents: []string{":2", w.base}},
		{author: bob, msg: "Add new2\n", files: map[string]string{"new2.txt": "2\n"}, parents: []string{":3"},
			refs: []string{"refs/merge-requests/13/head"}},
	})
	if _, err := w.mirror.FetchMR(context.Background(), "refs/merge-requests/13/head"); err != nil {
		t.Fatal(err)
	}
	res := w.build(t, func(r *BuildRequest) { r.Method, r.Head = MethodRebase, shas[3] })
	second := rawCommit(t, w.mirror.Dir(), res.Commit)
	if second.message != "Add new2\n" || len(second.parents) != 1 {
		t.Fatalf("tip = %+v, want the replayed Add new2 with one parent", second)
	}
	first := rawCommit(t, w.mirror.Dir(), second.parents[0])
	if first.message != "Edit c\n" || len(first.parents) != 1 || first.parents[0] != w.base {
		t.Fatalf("tip^ = %+v, want the replayed Edit c on base %s", first, w.base)
	}
	assertFiles(t, w, res.Commit, map[string]string{
		"a.txt": "a1\na2\na3\n", "b.txt": "b1\nb2\n", "dir/c.txt": "c2\n", "new2.txt": "2\n", "old.txt": "old\n",
	})
}

// A root commit in the MR (an unrelated history) is replayed over the
// empty tree.
func TestBuildRebaseRootCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	orphan := importCommits(t, w.remote, []seedCommit{
		{author: alice, msg: "Orphan\n", files: map[string]string{"orphan.txt": "o\n"}, refs: []string{"refs/merge-requests/14/head"}},
	})[0]
	if _, err := w.mirror.FetchMR(context.Background(), "refs/merge-requests/14/head"); err != nil {
		t.Fatal(err)
	}
	res := w.build(t, func(r *BuildRequest) { r.Method, r.Head = MethodRebase, orphan })
	c := rawCommit(t, w.mirror.Dir(), res.Commit)
	if len(c.parents) != 1 || c.parents[0] != w.base || c.message != "Orphan\n" {
		t.Errorf("replayed orphan = %+v, want one commit on %s", c, w.base)
	}
	assertFiles(t, w, res.Commit, map[string]string{"orphan.txt": "o\n", "b.txt": "b1\nb2\n"})
	// The merge method refuses unrelated histories outright.
	_, err := w.mirror.Build(context.Background(), BuildRequest{Base: w.base, Head: orphan, Time: testTime})
	if err == nil {
		t.Errorf("merge of an unrelated history succeeded")
	}
}

func TestBuildHonoursCancellation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := w.request
	if _, err := w.mirror.Build(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("build with a cancelled context: err = %v, want context.Canceled", err)
	}
}
