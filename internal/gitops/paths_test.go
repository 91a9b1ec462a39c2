package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// pathsWorld is a mirror holding main, which moved on after an MR branched
// off it, the MR's commits, and a merge of main back into the MR.
type pathsWorld struct {
	repo                  *Repo
	root, main            string // the fork point and main's head
	mrHead, mrMerged      string // the MR's head, and a later head that merged main in
	unrelated             string
	wantMR, wantMainSince []string
}

func newPathsWorld(t *testing.T) *pathsWorld {
	t.Helper()
	repo := openMirror(t, "file:///nowhere.git")
	// Rename detection must not depend on the mirror's configuration.
	testGit(t, repo.Dir(), "", nil, "config", "diff.renames", "true")
	mainFiles := map[string]string{"main-only.txt": "main\n", "services/web/x.go": "package web\n"}
	shas := importCommits(t, repo.Dir(), []seedCommit{
		{author: bob, msg: "Initial\n", files: map[string]string{
			"keep.txt": "keep\n", "modify.txt": "v1\n", "delete.txt": "gone soon\n",
			"old name.txt": "rename me, I am long enough to be detected\n", "services/api/main.go": "package main\n",
		}},
		{author: bob, msg: "Main moves on\n", files: mainFiles, parents: []string{":1"}},
		{author: alice, msg: "The MR\n", parents: []string{":1"}, files: map[string]string{
			"modify.txt":         "v2\n",
			"delete.txt":         deleted,
			"old name.txt":       deleted,
			"renamed/name.txt":   "rename me, I am long enough to be detected\n",
			"new dir/a file.txt": "spaces\n",
			"docs/café.md":       "unicode\n",
			"tab\tname.txt":      "tab\n",
			`quote "x".txt`:      "quote\n",
			"tmp.txt":            "added, then removed\n",
		}},
		{author: alice, msg: "More of the MR\n", parents: []string{":3"}, files: map[string]string{
			"services/api/main.go": "package main // edited\n",
			"tmp.txt":              deleted,
		}},
		{author: alice, msg: "Merge main into the MR\n", parents: []string{":4", ":2"}, files: mainFiles},
		{author: bob, msg: "Unrelated\n", files: map[string]string{"keep.txt": "keep\n"}},
	})
	return &pathsWorld{
		repo: repo, root: shas[0], main: shas[1], mrHead: shas[3], mrMerged: shas[4], unrelated: shas[5],
		wantMR: []string{
			"delete.txt", "docs/café.md", "modify.txt", "new dir/a file.txt", "old name.txt",
			`quote "x".txt`, "renamed/name.txt", "services/api/main.go", "tab\tname.txt",
		},
		wantMainSince: []string{"main-only.txt", "services/web/x.go"},
	}
}

func TestChangedPaths(t *testing.T) {
	t.Parallel()
	w := newPathsWorld(t)
	for _, tc := range []struct {
		name       string
		base, head string
		want       []string
	}{
		{"against the fork point", w.root, w.mrHead, w.wantMR},
		{"target moved on", w.main, w.mrHead, w.wantMR},
		{"target merged into the MR", w.main, w.mrMerged, w.wantMR},
		{"the target's side", w.mrHead, w.main, w.wantMainSince},
		{"head already in base", w.mrMerged, w.mrHead, nil},
		{"same commit", w.main, w.main, nil},
	} {
		got, err := w.repo.ChangedPaths(context.Background(), tc.base, tc.head)
		if err != nil {
			t.Errorf("%s: ChangedPaths: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: ChangedPaths = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestChangedPathsErrors(t *testing.T) {
	t.Parallel()
	w := newPathsWorld(t)
	ctx := context.Background()
	missing := strings.Repeat("ab", 20)
	for _, tc := range []struct{ base, head string }{{w.main, missing}, {missing, w.mrHead}} {
		_, err := w.repo.ChangedPaths(ctx, tc.base, tc.head)
		var mce *MissingCommitError
		if !errors.Is(err, ErrMissingCommit) || !errors.As(err, &mce) || mce.SHA != missing {
			t.Errorf("ChangedPaths(%.7s, %.7s) err = %v, want ErrMissingCommit for %s", tc.base, tc.head, err, missing)
		}
	}
	if _, err := w.repo.ChangedPaths(ctx, w.main, w.unrelated); !errors.Is(err, ErrNoMergeBase) {
		t.Errorf("unrelated histories: err = %v, want ErrNoMergeBase", err)
	}
	tree := testGit(t, w.repo.Dir(), "", nil, "rev-parse", w.main+"^{tree}")
	for name, args := range map[string][2]string{
		"ref for a commit":  {"main", w.mrHead},
		"short sha":         {w.main, w.mrHead[:12]},
		"option as head":    {w.main, "--output=/tmp/x"},
		"tree for a commit": {w.main, tree},
	} {
		if _, err := w.repo.ChangedPaths(ctx, args[0], args[1]); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestChangedPathsCap(t *testing.T) {
	t.Parallel()
	repo := openMirror(t, "file:///nowhere.git")
	many := func(n int) map[string]string {
		files := make(map[string]string, n)
		for i := range n {
			files[fmt.Sprintf("f/%05d", i)] = "x\n"
		}
		return files
	}
	shas := importCommits(t, repo.Dir(), []seedCommit{
		{author: bob, msg: "Initial\n", files: map[string]string{"README": "hi\n"}},
		{author: alice, msg: "At the cap\n", parents: []string{":1"}, files: many(MaxChangedPaths)},
		{author: alice, msg: "Over the cap\n", parents: []string{":1"}, files: many(MaxChangedPaths + 1)},
	})
	ctx := context.Background()
	got, err := repo.ChangedPaths(ctx, shas[0], shas[1])
	if err != nil || len(got) != MaxChangedPaths {
		t.Errorf("at the cap: %d paths, err = %v; want %d and no error", len(got), err, MaxChangedPaths)
	}
	if _, err := repo.ChangedPaths(ctx, shas[0], shas[2]); !errors.Is(err, ErrTooManyPaths) {
		t.Errorf("over the cap: err = %v, want ErrTooManyPaths", err)
	}
}

// Names are read up to a size, not only a count: fewer than the allowed
// paths, but with long names, are refused before they fill memory.
func TestChangedPathsCapsTheNamesSize(t *testing.T) {
	t.Parallel()
	repo := openMirror(t, "file:///nowhere.git")
	long := make(map[string]string, 9000)
	dir := strings.Repeat("deep/", 200) // 1000 bytes
	for i := range 9000 {
		long[fmt.Sprintf("%s%05d", dir, i)] = "x\n"
	}
	shas := importCommits(t, repo.Dir(), []seedCommit{
		{author: bob, msg: "Initial\n", files: map[string]string{"README": "hi\n"}},
		{author: alice, msg: "Long names\n", parents: []string{":1"}, files: long},
	})
	if got, err := repo.ChangedPaths(context.Background(), shas[0], shas[1]); !errors.Is(err, ErrTooManyPaths) {
		t.Errorf("9000 names of 1000 bytes: %d paths, err = %v, want ErrTooManyPaths", len(got), err)
	}
}

func TestParseNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		out  string
		want []string
	}{
		{"", nil},
		{"a\x00", []string{"a"}},
		{"b\x00a\x00b\x00", []string{"a", "b"}},
		{"new\nline\x00 lead space\x00", []string{" lead space", "new\nline"}},
	} {
		got, err := parseNames([]byte(tc.out))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseNames(%q) = %q, %v, want %q", tc.out, got, err, tc.want)
		}
	}
}

// An MR that shares no history with its base cannot be merged or
// squashed onto it however often it is tried: Build says so with
// ErrNoMergeBase, which the train turns into an eviction, rather than a
// failure it would retry forever. Rebase replays it whole, as git
// rebase --root does.
func TestBuildUnrelatedHistories(t *testing.T) {
	t.Parallel()
	w := newPathsWorld(t)
	ctx := context.Background()
	for _, m := range []string{MethodMerge, MethodSquash} {
		_, err := w.repo.Build(ctx, BuildRequest{Base: w.main, Head: w.unrelated, Method: m, Time: testTime})
		if !errors.Is(err, ErrNoMergeBase) {
			t.Errorf("%s of unrelated histories: err = %v, want ErrNoMergeBase", m, err)
		}
	}
	res, err := w.repo.Build(ctx, BuildRequest{Base: w.main, Head: w.unrelated, Method: MethodRebase, Time: testTime})
	if err != nil || res.Commit == "" {
		t.Errorf("rebase of unrelated histories: %+v, %v; want a commit", res, err)
	}
}
