package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

func TestMergeRequest(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	want := openMR(t, f, "feature", map[string]string{"a": "a"})
	got, err := c.MergeRequest(ctx, project, want.IID)
	if err != nil {
		t.Fatal(err)
	}
	exp := forge.MR{Project: project, IID: want.IID, State: forge.StateOpened, SourceBranch: "feature", TargetBranch: "main",
		HeadSHA: want.SHA, Title: "Add feature", Author: "alice", WebURL: f.URL() + "/acme/widgets/pull/1"}
	if got != exp {
		t.Fatalf("MergeRequest = %+v\nwant %+v", got, exp)
	}
	draft, err := f.CreateMR(ctx, project, fakeforge.MRSpec{Source: "wip", Author: "bob", Draft: true, Commits: []fakeforge.Commit{{Files: map[string]string{"w": "w"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.MergeRequest(ctx, project, draft.IID); err != nil || !got.Draft || got.Author != "bob" {
		t.Fatalf("draft = %+v, %v", got, err)
	}
	f.CloseMR(ctx, project, draft.IID, "bob")
	if got, _ := c.MergeRequest(ctx, project, draft.IID); got.State != forge.StateClosed {
		t.Fatalf("closed pull request is %q", got.State)
	}
	if _, err := f.MergeMR(ctx, project, want.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.MergeRequest(ctx, project, want.IID); got.State != forge.StateMerged {
		t.Fatalf("merged pull request is %q", got.State)
	}
	_, err = c.MergeRequest(ctx, project, 42)
	if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "get pull request acme/widgets#42") {
		t.Fatalf("missing pull request: %v", err)
	}
	if _, err := c.MergeRequest(ctx, "widgets", 1); err == nil || !strings.Contains(err.Error(), "owner/repo") {
		t.Fatalf("repository without an owner: %v", err)
	}
}

func TestAccessLevel(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	for level, want := range map[int]forge.AccessLevel{
		fakeforge.Owner: forge.Owner, fakeforge.Maintainer: forge.Maintainer, fakeforge.Developer: forge.Developer,
		fakeforge.Reporter: forge.Reporter, fakeforge.Guest: forge.Guest,
	} {
		name := fmt.Sprint("user", level)
		u := f.AddUser(name)
		if err := f.SetAccess(project, name, level); err != nil {
			t.Fatal(err)
		}
		if got, err := c.AccessLevel(ctx, project, u.ID); err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
	stranger := f.AddUser("stranger")
	if got, err := c.AccessLevel(ctx, project, stranger.ID); err != nil || got != forge.NoAccess {
		t.Fatalf("stranger: %v, %v", got, err)
	}
	if got, err := c.AccessLevel(ctx, project, 999999); err != nil || got != forge.NoAccess {
		t.Fatalf("unknown user: %v, %v", got, err)
	}
}

func TestCommentsAndNotes(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	for i := range 120 {
		if _, err := f.AddNote(ctx, project, mr.IID, "carol", fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Comment(ctx, project, mr.IID, "from the train"); err != nil {
		t.Fatal(err)
	}
	notes, err := c.Notes(ctx, project, mr.IID)
	if err != nil || len(notes) != 121 {
		t.Fatalf("%d notes, %v", len(notes), err)
	}
	if notes[0].Body != "n0" || notes[119].Body != "n119" || notes[120].Body != "from the train" || notes[120].Author != "trainbot" || notes[0].Author != "carol" {
		t.Fatalf("notes out of order: %+v %+v %+v", notes[0], notes[119], notes[120])
	}
	if calls := f.Calls()["GET /repos/{owner}/{repo}/issues/{issue_number}/comments"]; calls != 2 {
		t.Fatalf("%d list calls for 121 comments, want 2 pages of 100", calls)
	}
	if err := c.Comment(ctx, project, 77, "x"); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "acme/widgets#77") {
		t.Fatalf("comment on a missing pull request: %v", err)
	}
	if _, err := c.Notes(ctx, project, 77); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("notes of a missing pull request: %v", err)
	}
}

func TestCloseMR(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "squashed", map[string]string{"s": "s"})
	for range 2 { // closing a closed pull request changes nothing
		if err := c.CloseMR(ctx, project, mr.IID); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := f.MR(project, mr.IID); err != nil || got.State != fakeforge.StateClosed {
		t.Fatalf("after CloseMR: %+v, %v", got, err)
	}
	if err := c.CloseMR(ctx, project, 99); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("closing a missing pull request: %v", err)
	}
}

func TestBranchHead(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	main, _ := f.BranchHead(ctx, project, "main")
	sha := pushCar(t, f, car, map[string]string{"c": "c"})
	for branch, want := range map[string]string{"main": main, car: sha} {
		if got, err := c.BranchHead(ctx, project, branch); err != nil || got != want {
			t.Fatalf("BranchHead(%s) = %s, %v; want %s", branch, got, err, want)
		}
	}
	if _, err := c.BranchHead(ctx, project, "gone"); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "branch gone of acme/widgets") {
		t.Fatalf("missing branch: %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		bad  string
	}{
		{Options{}, "neither"},
		{Options{Token: "t", App: &App{ID: 1}}, "not both"},
		{Options{Token: "t", BaseURL: "ftp://x"}, "http(s)"},
		{Options{App: &App{ID: 1, InstallationID: 2, PrivateKey: []byte("not a key")}}, "app 1"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("New(%+v) = %v, want an error about %q", tc.opts, err, tc.bad)
		}
	}
	for in, want := range map[string][2]string{
		"":                               {"https://github.com", "https://api.github.com"},
		"https://api.github.com/":        {"https://github.com", "https://api.github.com"},
		"https://ghe.example.com/":       {"https://ghe.example.com", "https://ghe.example.com/api/v3"},
		"https://ghe.example.com/api/v3": {"https://ghe.example.com", "https://ghe.example.com/api/v3"},
	} {
		web, api, err := instanceURLs(in)
		if err != nil || web != want[0] || api != want[1] {
			t.Errorf("instanceURLs(%q) = %s, %s, %v; want %v", in, web, api, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                               "https://api.github.com/graphql",
		"https://ghe.example.com/api/v3": "https://ghe.example.com/api/graphql",
	} {
		web, api, _ := instanceURLs(in)
		if got := graphQLURL(web, api); got != want {
			t.Errorf("graphQLURL for %q = %s, want %s", in, got, want)
		}
	}
	c, err := New(Options{Token: "t", BaseURL: "https://ghe.example.com"})
	if err != nil || c.CloneURL(project) != "https://ghe.example.com/acme/widgets.git" || c.gh.BaseURL.String() != "https://ghe.example.com/api/v3/" {
		t.Fatalf("enterprise client: %v", err)
	}
}
