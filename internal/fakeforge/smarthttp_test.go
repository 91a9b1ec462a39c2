package fakeforge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func TestCloneAndPushWithToken(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, map[string]string{"README.md": "hello\n"})
	hooks := newSink(t, f, "s3cret")
	dir := t.TempDir()

	mustGit(t, dir, authed(botToken, "clone", "--quiet", f.CloneURL(project1), "w")...)
	work := filepath.Join(dir, "w")
	if b, err := os.ReadFile(filepath.Join(work, "README.md")); err != nil || string(b) != "hello\n" {
		t.Fatalf("cloned README = %q, %v", b, err)
	}

	if err := os.WriteFile(filepath.Join(work, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", "a.txt")
	mustGit(t, work, "commit", "--quiet", "-m", "Add a")
	sha := mustGit(t, work, "rev-parse", "HEAD")
	mustGit(t, work, authed(botToken, "push", "--quiet", "origin", "HEAD:refs/heads/feature")...)

	head, err := f.BranchHead(context.Background(), project1, "feature")
	if err != nil || head != sha {
		t.Fatalf("BranchHead(feature) = %q, %v; want %s", head, err, sha)
	}
	if refs := mustGit(t, work, authed(botToken, "ls-remote", "origin")...); strings.Contains(refs, "refs/fakeforge") || !strings.Contains(refs, sha+"\trefs/heads/feature") {
		t.Fatalf("ls-remote:\n%s", refs)
	}
	evs, _ := hooks.events(t, f, EventPush)
	if len(evs) != 1 {
		t.Fatalf("got %d push events, want 1", len(evs))
	}
	push := evs[0].(*gitlab.PushEvent)
	if push.Ref != "refs/heads/feature" || push.Before != zeroSHA || push.After != sha ||
		push.UserUsername != botName || push.TotalCommitsCount != 1 || len(push.Commits) != 1 ||
		push.Commits[0].ID != sha || push.Commits[0].Added[0] != "a.txt" || push.Project.PathWithNamespace != project1 {
		t.Fatalf("push event = %+v", push)
	}
}

func TestGitRefusedWithoutValidToken(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no token":  {"clone", f.CloneURL(project1), "a"},
		"bad token": authed("wrong", "clone", f.CloneURL(project1), "b"),
	} {
		out, err := git(t, dir, args...)
		if err == nil {
			t.Fatalf("%s: clone succeeded", name)
		}
		if !strings.Contains(out, "401") && !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "could not read Username") {
			t.Fatalf("%s: clone failed for another reason: %s", name, out)
		}
	}
	if _, err := git(t, dir, authed(botToken, "ls-remote", f.URL()+"/acme/nothing.git")...); err == nil {
		t.Fatal("ls-remote of a missing project succeeded")
	}
}

func TestPushNeedsDeveloperAccess(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	f.AddToken("rita", "rita-token")
	if err := f.SetAccess(project1, "rita", Reporter); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustGit(t, dir, authed("rita-token", "clone", "--quiet", f.CloneURL(project1), "w")...)
	work := filepath.Join(dir, "w")
	mustGit(t, work, "commit", "--quiet", "--allow-empty", "-m", "x")
	if out, err := git(t, work, authed("rita-token", "push", "origin", "HEAD:refs/heads/x")...); err == nil {
		t.Fatalf("reporter push succeeded: %s", out)
	}
	if err := f.SetAccess(project1, "rita", Developer); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, authed("rita-token", "push", "--quiet", "origin", "HEAD:refs/heads/x")...)
	if _, err := f.BranchHead(context.Background(), project1, "x"); err != nil {
		t.Fatalf("branch x after developer push: %v", err)
	}
}

func TestMergeRequestRefsAndMergeOnPush(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	ctx := context.Background()
	mr := mustMR(t, f, MRSpec{Source: "feat", Title: "Add feature", Commits: []Commit{{Message: "feat", Files: map[string]string{"f.txt": "1\n"}}}})
	dir := t.TempDir()
	mustGit(t, dir, authed(botToken, "clone", "--quiet", f.CloneURL(project1), "w")...)
	work := filepath.Join(dir, "w")

	// GitLab's ref and GitHub's, which the same MR has.
	mrRefs := []string{"refs/merge-requests/1/head", "refs/pull/1/head"}
	lsMR := func() string {
		var shas []string
		for _, ref := range mrRefs {
			out := mustGit(t, work, authed(botToken, "ls-remote", "origin", ref)...)
			sha, _, _ := strings.Cut(out, "\t")
			shas = append(shas, sha)
		}
		if shas[0] != shas[1] {
			t.Fatalf("MR refs disagree: %v", shas)
		}
		return shas[0]
	}
	if got := lsMR(); got != mr.SHA {
		t.Fatalf("MR head refs at %q, want %s", got, mr.SHA)
	}

	// New commits move the MR's head and its ref.
	head2, err := f.PushToMR(ctx, project1, mr.IID, Commit{Message: "more", Files: map[string]string{"g.txt": "2\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lsMR(); got != head2 {
		t.Fatalf("after push refs/merge-requests/1/head = %q, want %s", got, head2)
	}
	for _, ref := range mrRefs {
		if _, err := git(t, work, authed(botToken, "push", "origin", head2+":"+ref)...); err == nil {
			t.Fatalf("push to %s succeeded", ref)
		}
	}

	// Another MR on main, not in what main is pushed to: it stays open.
	other := mustMR(t, f, MRSpec{Source: "other", Title: "Other", Commits: []Commit{{Message: "other", Files: map[string]string{"o.txt": "1\n"}}}})

	// Fast-forward main to the MR head over HTTP: GitLab marks it merged.
	mustGit(t, work, authed(botToken, "fetch", "--quiet", "origin", "refs/merge-requests/1/head")...)
	mustGit(t, work, authed(botToken, "push", "--quiet", "origin", head2+":refs/heads/main")...)
	c := client(t, f, botToken)
	got, _, err := c.MergeRequests.GetMergeRequest(project1, mr.IID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateMerged || got.MergedAt == nil || got.SHA != head2 {
		t.Fatalf("MR after fast-forward: state %q merged_at %v sha %s", got.State, got.MergedAt, got.SHA)
	}

	if got, _, err := c.MergeRequests.GetMergeRequest(project1, other.IID, nil); err != nil || got.State != StateOpened {
		t.Fatalf("the other MR after main moved: %v, %v; want it open", got, err)
	}

	all, _ := hooks.events(t, f, EventMergeRequest)
	var evs []any
	for _, e := range all {
		if e.(*gitlab.MergeEvent).ObjectAttributes.IID != other.IID {
			evs = append(evs, e)
		}
	}
	var actions []string
	for _, e := range evs {
		m := e.(*gitlab.MergeEvent)
		actions = append(actions, m.ObjectAttributes.Action)
		if m.ObjectAttributes.IID != mr.IID || m.Project.PathWithNamespace != project1 {
			t.Fatalf("MR event for %d in %s", m.ObjectAttributes.IID, m.Project.PathWithNamespace)
		}
	}
	if strings.Join(actions, ",") != "open,update,merge" {
		t.Fatalf("MR event actions = %v, want open,update,merge", actions)
	}
	update := evs[1].(*gitlab.MergeEvent).ObjectAttributes
	if update.OldRev != mr.SHA || update.LastCommit.ID != head2 {
		t.Fatalf("update event oldrev %s last commit %s; want %s, %s", update.OldRev, update.LastCommit.ID, mr.SHA, head2)
	}
	merged := evs[2].(*gitlab.MergeEvent).ObjectAttributes
	if merged.State != StateMerged || merged.StateID != 3 {
		t.Fatalf("merge event state %q id %d", merged.State, merged.StateID)
	}
}

func TestLargeChunkedPush(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	dir := t.TempDir()
	mustGit(t, dir, authed(botToken, "clone", "--quiet", f.CloneURL(project1), "w")...)
	work := filepath.Join(dir, "w")
	// Incompressible content larger than http.postBuffer makes git send
	// the pack chunked.
	big := make([]byte, 2<<20)
	seed := uint64(1)
	for i := range big {
		seed = seed*6364136223846793005 + 1442695040888963407
		big[i] = byte(seed >> 56)
	}
	if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", "big.bin")
	mustGit(t, work, "commit", "--quiet", "-m", "big")
	sha := mustGit(t, work, "rev-parse", "HEAD")
	mustGit(t, work, authed(botToken, "-c", "http.postBuffer=65536", "push", "--quiet", "origin", "HEAD:refs/heads/big")...)
	if head, err := f.BranchHead(context.Background(), project1, "big"); err != nil || head != sha {
		t.Fatalf("BranchHead(big) = %q, %v; want %s", head, err, sha)
	}
}
