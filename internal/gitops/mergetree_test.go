package gitops

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergeTreesPastTheOutputBound: a merge whose list of conflicting
// paths is longer than what is read of it still reports a conflict, with
// the whole paths read before the bound and none cut in half.
func TestMergeTreesPastTheOutputBound(t *testing.T) {
	remote := newBareRepo(t, filepath.Join(t.TempDir(), "remote.git"))
	// Long names, so that a few thousand conflicts pass the bound.
	name := func(i int) string { return fmt.Sprintf("dir/%s-%05d.txt", strings.Repeat("p", 200), i) }
	n := maxMergeTreeOutput/len(name(0)) + 500
	files := func(content string) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[name(i)] = content
		}
		return m
	}
	shas := importCommits(t, remote, []seedCommit{
		{author: bob, msg: "Base\n", files: files("base\n")},
		{author: bob, msg: "Ours\n", files: files("ours\n"), parents: []string{":1"}, refs: []string{"refs/heads/main"}},
		{author: alice, msg: "Theirs\n", files: files("theirs\n"), parents: []string{":1"}, refs: []string{"refs/merge-requests/1/head"}},
	})
	ours, theirs := shas[1], shas[2]
	repo := openMirror(t, fileURL(remote))
	ctx := context.Background()
	if _, err := repo.FetchBranch(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.FetchMR(ctx, "refs/merge-requests/1/head"); err != nil {
		t.Fatal(err)
	}
	m, err := repo.mergeTrees(ctx, ours, theirs, false)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	if len(m.conflicts) == 0 || len(m.conflicts) >= n {
		t.Fatalf("%d conflicts reported of %d; want some, cut at the bound", len(m.conflicts), n)
	}
	for _, c := range m.conflicts {
		if len(c) != len(name(0)) || !strings.HasPrefix(c, "dir/") || !strings.HasSuffix(c, ".txt") {
			t.Fatalf("conflict %q is not a whole path", c)
		}
	}
	if checkSHA(m.tree) != nil {
		t.Fatalf("tree %q", m.tree)
	}
}
