package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v82/github"
)

func TestGitHubPullRequests(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Title: "Add a", Description: "why", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	main, _ := f.BranchHead(ctx, project1, "main")

	pr, _, err := c.PullRequests.Get(ctx, "acme", "widgets", int(mr.IID))
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != int(mr.IID) || pr.GetState() != "open" || pr.GetDraft() || pr.GetTitle() != "Add a" || pr.GetBody() != "why" ||
		pr.GetHead().GetRef() != "feature" || pr.GetHead().GetSHA() != mr.SHA || pr.GetBase().GetRef() != "main" ||
		pr.GetBase().GetSHA() != main || pr.GetUser().GetLogin() != "alice" || pr.GetHTMLURL() != f.URL()+"/acme/widgets/pull/1" ||
		pr.GetBase().GetRepo().GetFullName() != project1 || pr.GetMerged() {
		t.Fatalf("pull request = %s", pr)
	}
	closed, _, err := c.PullRequests.Edit(ctx, "acme", "widgets", int(mr.IID), &github.PullRequest{State: github.Ptr("closed")})
	if err != nil || closed.GetState() != "closed" || closed.GetClosedAt().IsZero() {
		t.Fatalf("close: %v, %v", closed, err)
	}
	if again, _, err := c.PullRequests.Edit(ctx, "acme", "widgets", int(mr.IID), &github.PullRequest{State: github.Ptr("closed")}); err != nil || again.GetState() != "closed" {
		t.Fatalf("closing a closed pull request: %v, %v", again, err)
	}
	if got, _ := f.MR(project1, mr.IID); got.State != StateClosed {
		t.Fatalf("MR after close: %+v", got)
	}
	_, resp, err := c.PullRequests.Get(ctx, "acme", "widgets", 99)
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing pull request: %v", err)
	}
	merged := mustMR(t, f, MRSpec{Source: "m", Commits: []Commit{{Files: map[string]string{"m": "m"}}}})
	if _, err := f.MergeMR(ctx, project1, merged.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	if pr, _, err := c.PullRequests.Get(ctx, "acme", "widgets", int(merged.IID)); err != nil || !pr.GetMerged() || pr.GetState() != "closed" || pr.GetMergedBy().GetLogin() != "carol" {
		t.Fatalf("merged pull request = %v, %v", pr, err)
	}
}

func TestGitHubComments(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	for i := range 35 {
		if _, _, err := c.Issues.CreateComment(ctx, "acme", "widgets", int(mr.IID), &github.IssueComment{Body: github.Ptr(fmt.Sprint("n", i))}); err != nil {
			t.Fatal(err)
		}
	}
	page1, resp, err := c.Issues.ListComments(ctx, "acme", "widgets", int(mr.IID), nil)
	if err != nil || len(page1) != 30 || resp.NextPage != 2 || page1[0].GetBody() != "n0" || page1[0].GetUser().GetLogin() != botName {
		t.Fatalf("page 1: %d comments, next %d, %v", len(page1), resp.NextPage, err)
	}
	page2, resp, err := c.Issues.ListComments(ctx, "acme", "widgets", int(mr.IID), &github.IssueListCommentsOptions{ListOptions: github.ListOptions{Page: 2}})
	if err != nil || len(page2) != 5 || resp.NextPage != 0 || page2[4].GetBody() != "n34" {
		t.Fatalf("page 2: %d comments, next %d, %v", len(page2), resp.NextPage, err)
	}
	notes, _ := f.Notes(project1, mr.IID)
	if len(notes) != 35 || notes[34].Body != "n34" || notes[34].ID != page2[4].GetID() {
		t.Fatalf("notes: %d", len(notes))
	}
	_, resp, err = c.Issues.CreateComment(ctx, "acme", "widgets", int(mr.IID), &github.IssueComment{Body: github.Ptr(" ")})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("empty comment: %v", err)
	}
	_, resp, err = c.Issues.CreateComment(ctx, "acme", "widgets", int(mr.IID), &github.IssueComment{Body: github.Ptr(strings.Repeat("é", 65537))})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "Body is too long (maximum is 65536 characters)") {
		t.Fatalf("long comment: %v", err)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "acme", "widgets", int(mr.IID), &github.IssueComment{Body: github.Ptr(strings.Repeat("é", 65536))}); err != nil {
		t.Fatalf("comment of the largest size: %v", err)
	}
}

func TestGitHubPermissionsAndUsers(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	for level, want := range map[int][2]string{
		Owner: {"admin", "admin"}, Maintainer: {"maintain", "write"}, Developer: {"write", "write"},
		Reporter: {"triage", "read"}, Guest: {"read", "read"}, NoAccess: {"none", "none"},
	} {
		name := fmt.Sprint("user", level)
		if err := f.SetAccess(project1, name, level); err != nil {
			t.Fatal(err)
		}
		p, _, err := c.Repositories.GetPermissionLevel(ctx, "acme", "widgets", name)
		if err != nil || p.GetRoleName() != want[0] || p.GetPermission() != want[1] || p.GetUser().GetLogin() != name {
			t.Errorf("level %d: %v, %v; want %v", level, p, err, want)
		}
	}
	if _, resp, err := c.Repositories.GetPermissionLevel(ctx, "acme", "widgets", "ghost"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown user: %v", err)
	}
	dev := f.AddUser("dev")
	if u, _, err := c.Users.GetByID(ctx, dev.ID); err != nil || u.GetLogin() != "dev" || u.GetType() != "User" {
		t.Fatalf("user by id: %v, %v", u, err)
	}
	if u, _, err := c.Users.Get(ctx, "acme"); err != nil || u.GetType() != "Organization" {
		t.Fatalf("owner: %v, %v", u, err)
	}
	if me, _, err := c.Users.Get(ctx, ""); err != nil || me.GetLogin() != botName || !me.GetSiteAdmin() {
		t.Fatalf("current user: %v, %v", me, err)
	}
	repo, _, err := c.Repositories.Get(ctx, "acme", "widgets")
	if err != nil || repo.GetFullName() != project1 || repo.GetDefaultBranch() != "main" || repo.GetCloneURL() != f.CloneURL(project1) || repo.GetOwner().GetLogin() != "acme" {
		t.Fatalf("repo: %v, %v", repo, err)
	}
}

func TestGitHubAuthentication(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	for name, auth := range map[string]string{"token": "token " + botToken, "bearer": "Bearer " + botToken} {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v3/user", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}
	_, _, err := ghClient(t, f, "nope").Repositories.Get(context.Background(), "acme", "widgets")
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized || er.Message != "Bad credentials" {
		t.Fatalf("bad token: %v", err)
	}
	outsider := "outsider-token"
	f.AddToken("outsider", outsider)
	_, _, err = ghClient(t, f, outsider).Issues.CreateComment(context.Background(), "acme", "widgets", 1, &github.IssueComment{Body: github.Ptr("x")})
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusNotFound {
		t.Fatalf("comment on a missing pull request: %v", err)
	}
}

func TestGitHubBranchesRefsAndCommits(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	main, _ := f.BranchHead(ctx, project1, "main")
	b, _, err := c.Repositories.GetBranch(ctx, "acme", "widgets", "main", 0)
	if err != nil || b.GetName() != "main" || b.GetCommit().GetSHA() != main || !b.GetProtected() || b.GetCommit().GetCommit().GetTree().GetSHA() == "" {
		t.Fatalf("branch: %v, %v", b, err)
	}
	next := pushCar(t, f, "trainyard/main/1", map[string]string{"n": "n"})
	if b, _, err := c.Repositories.GetBranch(ctx, "acme", "widgets", "trainyard/main/1", 0); err != nil || b.GetCommit().GetSHA() != next {
		t.Fatalf("branch with slashes: %v, %v", b, err)
	}
	if _, resp, err := c.Repositories.GetBranch(ctx, "acme", "widgets", "none", 0); err == nil || resp.StatusCode != 404 {
		t.Fatalf("missing branch: %v", err)
	}
	ref, _, err := c.Git.GetRef(ctx, "acme", "widgets", "heads/main")
	if err != nil || ref.GetRef() != "refs/heads/main" || ref.GetObject().GetSHA() != main {
		t.Fatalf("ref: %v, %v", ref, err)
	}
	// Moving main to the car is a fast-forward; moving it back is not.
	if ref, _, err = c.Git.UpdateRef(ctx, "acme", "widgets", "heads/main", github.UpdateRef{SHA: next, Force: github.Ptr(false)}); err != nil || ref.GetObject().GetSHA() != next {
		t.Fatalf("fast-forward: %v, %v", ref, err)
	}
	_, resp, err := c.Git.UpdateRef(ctx, "acme", "widgets", "heads/main", github.UpdateRef{SHA: main, Force: github.Ptr(false)})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || resp.StatusCode != http.StatusUnprocessableEntity || er.Message != "Update is not a fast forward" {
		t.Fatalf("rewind: %v", err)
	}
	if head, _ := f.BranchHead(ctx, project1, "main"); head != next {
		t.Fatalf("main at %s after a refused rewind, want %s", head, next)
	}
	for _, ref := range []string{next, next[:12], "main"} {
		if sha, _, err := c.Repositories.GetCommitSHA1(ctx, "acme", "widgets", ref, ""); err != nil || sha != next {
			t.Fatalf("commit %s: %q, %v", ref, sha, err)
		}
	}
	if _, resp, err := c.Repositories.GetCommitSHA1(ctx, "acme", "widgets", "0123456789abc", ""); err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown commit: %v", err)
	}
	commit, _, err := c.Repositories.GetCommit(ctx, "acme", "widgets", next, nil)
	if err != nil || commit.GetSHA() != next || len(commit.Parents) != 1 || commit.Parents[0].GetSHA() != main {
		t.Fatalf("commit: %v, %v", commit, err)
	}
}
