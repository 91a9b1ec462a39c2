package engine

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/train"
)

// oneRepo opens the same mirror for every project.
type oneRepo struct{ r *gitops.Repo }

func (o oneRepo) Repo(context.Context, string) (Repo, error) { return o.r, nil }

// A head read from the forge that is older than the train's (a read that
// lags a fast-forward) is kept from taking the train back; a newer one, or
// one the mirror does not hold, is taken.
func TestBehindKeepsTheTrainFromGoingBack(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "init", "-q", "-b", "main", work).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	git("commit", "-q", "--allow-empty", "-m", "one")
	old := git("rev-parse", "HEAD")
	git("commit", "-q", "--allow-empty", "-m", "two")
	cur := git("rev-parse", "HEAD")
	git("checkout", "-q", "-b", "side", old)
	git("commit", "-q", "--allow-empty", "-m", "side")
	side := git("rev-parse", "HEAD")

	repo, err := gitops.Open(ctx, gitops.Options{Dir: filepath.Join(dir, "mirrors"), Project: "g/a", RemoteURL: work, Identity: gitops.Identity{Name: "t", Email: "t@x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Fetch(ctx, "+refs/heads/*:refs/heads/*"); err != nil {
		t.Fatal(err)
	}
	e := &Engine{repos: oneRepo{repo}}
	tr := train.Train{Key: train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}, TargetHead: cur}
	for _, tc := range []struct {
		head string
		want bool
	}{
		{old, true},                      // an ancestor: a stale read
		{cur, false},                     // the same head
		{side, false},                    // moved elsewhere: taken
		{strings.Repeat("a", 40), false}, // not in the mirror: taken
		{"", false},
	} {
		if got := e.behind(ctx, tr, tc.head); got != tc.want {
			t.Errorf("behind(%.8s) = %v, want %v", tc.head, got, tc.want)
		}
	}
	tr.TargetHead = old
	if e.behind(ctx, tr, cur) {
		t.Error("a head ahead of the train's counts as behind")
	}
}
