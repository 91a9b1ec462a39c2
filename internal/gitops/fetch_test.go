package gitops

import (
	"context"
	"errors"
	"os"
	"testing"
)

func writeExecutable(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFetchMR(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, ref := range []string{"refs/merge-requests/12/head", "refs/pull/12/head"} {
		setRef(t, w.remote, ref, w.mrHead)
		got, err := w.mirror.FetchMR(ctx, ref)
		if err != nil || got != w.mrHead {
			t.Fatalf("FetchMR(%s) = %q, %v; want %s", ref, got, err, w.mrHead)
		}
		if local, err := w.mirror.Head(ctx, LocalMRRef(ref)); err != nil || local != w.mrHead {
			t.Errorf("Head(%s) = %q, %v; want %s", LocalMRRef(ref), local, err, w.mrHead)
		}
	}
	if !w.mirror.HasCommit(ctx, w.mrShas[0]) {
		t.Errorf("HasCommit(first MR commit) = false after fetch")
	}
	// A force-pushed MR replaces the fetched head.
	amended := commitFiles(t, w.remote, alice, "Amended\n", map[string]string{"new.txt": "v2\n"}, w.root)
	setRef(t, w.remote, "refs/merge-requests/12/head", amended)
	if got, err := w.mirror.FetchMR(ctx, "refs/merge-requests/12/head"); err != nil || got != amended {
		t.Errorf("FetchMR after force-push = %q, %v; want %s", got, err, amended)
	}
}

func TestFetchMissingRef(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.mirror.FetchMR(ctx, "refs/merge-requests/99/head"); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("FetchMR(missing) err = %v, want ErrRefNotFound", err)
	}
	if _, err := w.mirror.FetchBranch(ctx, "gone"); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("FetchBranch(missing) err = %v, want ErrRefNotFound", err)
	}
	if _, err := w.mirror.Head(ctx, LocalBranchRef("gone")); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("Head(missing) err = %v, want ErrRefNotFound", err)
	}
	if w.mirror.HasCommit(ctx, "0123456789012345678901234567890123456789") {
		t.Errorf("HasCommit(unknown) = true")
	}
	if w.mirror.HasCommit(ctx, "--all") {
		t.Errorf("HasCommit(option) = true")
	}
}

// An inherited GIT_DIR (as inside a git hook) must not redirect the mirror.
func TestInheritedGitEnvironmentIsIgnored(t *testing.T) {
	w := newWorld(t)
	t.Setenv("GIT_DIR", w.remote)
	t.Setenv("GIT_INDEX_FILE", "/nonexistent/index")
	t.Setenv("GIT_AUTHOR_NAME", "Intruder")
	res := w.build(t, nil)
	if c := rawCommit(t, w.mirror.Dir(), res.Commit); c.author != ourSignature() {
		t.Errorf("author = %q, want %q", c.author, ourSignature())
	}
	if hasObject(t, w.remote, res.Commit) {
		t.Errorf("the build wrote into the inherited GIT_DIR")
	}
}

func TestOpenIsIdempotentAndValidates(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	dir := w.mirror.Dir()
	again, err := Open(ctx, Options{Dir: dir[:len(dir)-len("/group/project.git")], Project: "group/project",
		RemoteURL: fileURL(w.remote), Identity: testIdentity})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if got, err := again.Head(ctx, LocalBranchRef("main")); err != nil || got != w.base {
		t.Errorf("reopened mirror lost main: %q, %v", got, err)
	}
	for name, o := range map[string]Options{
		"dot-dot project": {Dir: t.TempDir(), Project: "../x", RemoteURL: "file:///x", Identity: testIdentity},
		"empty segment":   {Dir: t.TempDir(), Project: "a//b", RemoteURL: "file:///x", Identity: testIdentity},
		"no identity":     {Dir: t.TempDir(), Project: "a/b", RemoteURL: "file:///x"},
		"angle brackets":  {Dir: t.TempDir(), Project: "a/b", RemoteURL: "file:///x", Identity: Identity{Name: "a<b", Email: "e"}},
		"password in URL": {Dir: t.TempDir(), Project: "a/b", RemoteURL: "https://u:secret@host/a/b.git", Identity: testIdentity},
		"no remote":       {Dir: t.TempDir(), Project: "a/b", Identity: testIdentity},
	} {
		if _, err := Open(ctx, o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: Open err = %v, want ErrInvalidArgument", name, err)
		}
	}
}
