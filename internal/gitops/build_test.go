package gitops

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantMergedFiles is the tree every method must produce for the world's MR.
var wantMergedFiles = map[string]string{
	"a.txt":     "a1\na2 edited\na3\n",
	"b.txt":     "b1\nb2\n",
	"dir/c.txt": "c1\n",
	"new.txt":   "new\n",
	"old.txt":   deleted,
}

func assertFiles(t *testing.T, w *world, commit string, want map[string]string) {
	t.Helper()
	for path, content := range want {
		if got := fileAt(t, w.mirror.Dir(), commit, path); got != content {
			t.Errorf("%s in %s = %q, want %q", path, commit, got, content)
		}
	}
}

func TestBuildMerge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.build(t, nil)
	if res.Conflicted() || res.UpToDate || res.Commit == "" {
		t.Fatalf("result = %+v, want a clean commit", res)
	}
	c := rawCommit(t, w.mirror.Dir(), res.Commit)
	if !slices.Equal(c.parents, []string{w.base, w.mrHead}) {
		t.Errorf("parents = %v, want [base head] = [%s %s]", c.parents, w.base, w.mrHead)
	}
	wantMsg := "Merge branch 'feature' into 'main'\n\nAdd the new file\n\nSee merge request group/project!12\n"
	if c.message != wantMsg {
		t.Errorf("message = %q, want %q", c.message, wantMsg)
	}
	if c.author != ourSignature() || c.committer != ourSignature() {
		t.Errorf("author = %q, committer = %q, want both %q", c.author, c.committer, ourSignature())
	}
	assertFiles(t, w, res.Commit, wantMergedFiles)
}

func TestBuildSquash(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.build(t, method(MethodSquash))
	if res.Conflicted() || res.UpToDate || res.Commit == "" {
		t.Fatalf("result = %+v, want a clean commit", res)
	}
	c := rawCommit(t, w.mirror.Dir(), res.Commit)
	if !slices.Equal(c.parents, []string{w.base}) {
		t.Errorf("parents = %v, want [%s]", c.parents, w.base)
	}
	if want := "Add the new file\n\nSee merge request group/project!12\n"; c.message != want {
		t.Errorf("message = %q, want %q", c.message, want)
	}
	// The MR head was written by Alice; the date is the build's.
	if want := "Alice Example <alice@example.com> 1714972089 +0200"; c.author != want {
		t.Errorf("author = %q, want %q", c.author, want)
	}
	if c.committer != ourSignature() {
		t.Errorf("committer = %q, want %q", c.committer, ourSignature())
	}
	assertFiles(t, w, res.Commit, wantMergedFiles)
}

func TestBuildRebase(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.build(t, method(MethodRebase))
	if res.Conflicted() || res.UpToDate || res.Commit == "" {
		t.Fatalf("result = %+v, want a clean commit", res)
	}
	assertFiles(t, w, res.Commit, wantMergedFiles)
	// Walk back: three replayed commits, each with one parent, then Base.
	sha := res.Commit
	for i := len(w.mrShas) - 1; i >= 0; i-- {
		got, orig := rawCommit(t, w.mirror.Dir(), sha), rawCommit(t, w.mirror.Dir(), w.mrShas[i])
		if len(got.parents) != 1 {
			t.Fatalf("replayed commit %d has parents %v, want one", i, got.parents)
		}
		if got.author != orig.author || got.message != orig.message {
			t.Errorf("commit %d: author %q message %q, want %q %q", i, got.author, got.message, orig.author, orig.message)
		}
		if got.committer != ourSignature() {
			t.Errorf("commit %d: committer %q, want %q", i, got.committer, ourSignature())
		}
		if sha == orig.sha {
			t.Errorf("commit %d was not replayed", i)
		}
		sha = got.parents[0]
	}
	if sha != w.base {
		t.Errorf("replayed history starts at %s, want base %s", sha, w.base)
	}
}

func TestBuildRebaseAlreadyOnBaseKeepsHead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.build(t, func(r *BuildRequest) { r.Method, r.Base = MethodRebase, w.root })
	if res.Commit != w.mrHead || res.UpToDate {
		t.Errorf("result = %+v, want the MR head %s itself", res, w.mrHead)
	}
}

func TestBuildConflict(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// main moves on: a.txt line 2 edited differently, old.txt modified (the
	// MR deletes it), new.txt added with other content.
	conflicting := commitFiles(t, w.remote, bob, "Conflicting\n", map[string]string{
		"a.txt": "a1\na2 main\na3\n", "old.txt": "old changed\n", "new.txt": "other\n",
	}, w.base)
	setRef(t, w.remote, "refs/heads/main", conflicting)
	w.fetch(t)
	for _, tc := range []struct {
		method       string
		want         []string
		wantCommitAt int // rebase: index of the commit that fails
	}{
		{MethodMerge, []string{"a.txt", "new.txt", "old.txt"}, -1},
		{MethodSquash, []string{"a.txt", "new.txt", "old.txt"}, -1},
		{MethodRebase, []string{"new.txt"}, 0},
	} {
		t.Run(tc.method, func(t *testing.T) {
			res := w.build(t, func(r *BuildRequest) { r.Method, r.Base = tc.method, conflicting })
			if !slices.Equal(res.Conflict, tc.want) || res.Commit != "" {
				t.Errorf("result = %+v, want conflict on %v", res, tc.want)
			}
			wantCommit := ""
			if tc.wantCommitAt >= 0 {
				wantCommit = w.mrShas[tc.wantCommitAt]
			}
			if res.ConflictCommit != wantCommit {
				t.Errorf("conflict commit = %q, want %q", res.ConflictCommit, wantCommit)
			}
		})
	}
}

func TestBuildRebaseConflictOnLaterCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Only the second MR commit (Edit a) conflicts, and old.txt is deleted
	// the other way round: the third commit would conflict only on content.
	conflicting := commitFiles(t, w.remote, bob, "Conflicting\n", map[string]string{
		"a.txt": "a1\na2 main\na3\n",
	}, w.base)
	setRef(t, w.remote, "refs/heads/main", conflicting)
	w.fetch(t)
	res := w.build(t, func(r *BuildRequest) { r.Method, r.Base = MethodRebase, conflicting })
	if !slices.Equal(res.Conflict, []string{"a.txt"}) || res.ConflictCommit != w.mrShas[1] {
		t.Errorf("result = %+v, want conflict on a.txt in %s", res, w.mrShas[1])
	}
}

func TestBuildIsIdempotent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, m := range []string{MethodMerge, MethodSquash, MethodRebase} {
		t.Run(m, func(t *testing.T) {
			first, second := w.build(t, method(m)), w.build(t, method(m))
			if first.Commit == "" || first.Commit != second.Commit {
				t.Errorf("builds gave %q then %q, want the same commit", first.Commit, second.Commit)
			}
			later := w.build(t, func(r *BuildRequest) { r.Method, r.Time = m, testTime.Add(time.Second) })
			if later.Commit == first.Commit {
				t.Errorf("a different time gave the same commit %s", later.Commit)
			}
		})
	}
}

func TestBuildUpToDate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	merged := w.build(t, nil).Commit
	for _, m := range []string{MethodMerge, MethodSquash, MethodRebase} {
		t.Run(m, func(t *testing.T) {
			res := w.build(t, func(r *BuildRequest) { r.Method, r.Base = m, merged })
			if !res.UpToDate || res.Commit != merged || res.Conflicted() {
				t.Errorf("result = %+v, want up to date at %s", res, merged)
			}
		})
	}
}

func TestBuildMissingCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	missing := strings.Repeat("ab", 20)
	for _, m := range []string{MethodMerge, MethodSquash, MethodRebase} {
		_, err := w.mirror.Build(context.Background(), BuildRequest{Base: w.base, Head: missing, Method: m, Time: testTime})
		var mce *MissingCommitError
		if !errors.Is(err, ErrMissingCommit) || !errors.As(err, &mce) || mce.SHA != missing {
			t.Errorf("%s: err = %v, want ErrMissingCommit for %s", m, err, missing)
		}
	}
}

func TestBuildRejectsBadRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for name, edit := range map[string]func(*BuildRequest){
		"short sha":      func(r *BuildRequest) { r.Head = w.mrHead[:12] },
		"option as base": func(r *BuildRequest) { r.Base = "--output=/tmp/x" },
		"unknown method": func(r *BuildRequest) { r.Method = "octopus" },
		"zero time":      func(r *BuildRequest) { r.Time = time.Time{} },
		"tree not commit": func(r *BuildRequest) {
			r.Head = rawCommit(t, w.mirror.Dir(), w.mrHead).tree
		},
	} {
		req := w.request
		edit(&req)
		if _, err := w.mirror.Build(context.Background(), req); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}

// An MR title is one line of the commit message, however it is written:
// its line breaks cannot add trailers to a commit the bot authors.
func TestBuildKeepsTheTitleOnOneLine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	title := "Fix it\n\nSigned-off-by: Maintainer <m@example.com>\r\nCo-authored-by: X <x@example.com>"
	for _, m := range []string{MethodMerge, MethodSquash} {
		res := w.build(t, func(r *BuildRequest) { r.Method, r.Title = m, title })
		msg := rawCommit(t, w.mirror.Dir(), res.Commit).message
		for _, line := range strings.Split(msg, "\n") {
			if strings.HasPrefix(line, "Signed-off-by:") || strings.HasPrefix(line, "Co-authored-by:") {
				t.Errorf("%s: the title made a trailer line %q in:\n%s", m, line, msg)
			}
		}
		if !strings.Contains(msg, "Fix it Signed-off-by: Maintainer <m@example.com> Co-authored-by: X <x@example.com>") {
			t.Errorf("%s: the title is not kept on one line:\n%s", m, msg)
		}
	}
}
