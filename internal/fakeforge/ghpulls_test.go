package fakeforge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
)

// numbers are the pull requests' numbers, in the order listed.
func numbers(prs []*github.PullRequest) string {
	var out []string
	for _, pr := range prs {
		out = append(out, fmt.Sprint(pr.GetNumber()))
	}
	return strings.Join(out, ",")
}

// TestGitHubListPulls: GET /repos/{owner}/{repo}/pulls filters by state,
// head (owner:branch, telling a fork's branch of the same name apart)
// and base, and sorts as GitHub does.
func TestGitHubListPulls(t *testing.T) {
	clock := newTick(time.Second)
	f := ghForge(t, func(o *Options) { o.Now = clock.now })
	mustProject(t, f, project1, nil)
	mustProject(t, f, "mallory/widgets", nil)
	ctx := context.Background()
	if _, err := f.PushBranch(ctx, project1, "release", "alice", Commit{Files: map[string]string{"r": "r"}}); err != nil {
		t.Fatal(err)
	}
	files := func(name string) []Commit { return []Commit{{Files: map[string]string{name: name}}} }
	feature := mustMR(t, f, MRSpec{Source: "feature", Description: "the feature", Commits: files("a")})              // #1
	mustMR(t, f, MRSpec{Source: "other", Commits: files("b")})                                                       // #2
	fork := mustMR(t, f, MRSpec{Source: "feature", Fork: "mallory/widgets", Author: "mallory", Commits: files("c")}) // #3
	mustMR(t, f, MRSpec{Source: "backport", Target: "release", Commits: files("d")})                                 // #4
	closed := mustMR(t, f, MRSpec{Source: "old", Commits: files("e")})                                               // #5
	if err := f.CloseMR(ctx, project1, closed.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	merged := mustMR(t, f, MRSpec{Source: "done", Commits: files("f")}) // #6
	if _, err := f.MergeMR(ctx, project1, merged.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	// The oldest pull request becomes the most recently updated.
	if _, err := f.PushToMR(ctx, project1, feature.IID, Commit{Files: map[string]string{"a": "a2"}}); err != nil {
		t.Fatal(err)
	}
	c := ghClient(t, f, botToken)
	list := func(opts *github.PullRequestListOptions) string {
		t.Helper()
		prs, _, err := c.PullRequests.List(ctx, "acme", "widgets", opts)
		if err != nil {
			t.Fatalf("list %+v: %v", opts, err)
		}
		return numbers(prs)
	}
	for _, tc := range []struct {
		name string
		opts *github.PullRequestListOptions
		want string
	}{
		{"open, newest first by default", nil, "4,3,2,1"},
		{"closed and merged", &github.PullRequestListOptions{State: "closed"}, "6,5"},
		{"all", &github.PullRequestListOptions{State: "all"}, "6,5,4,3,2,1"},
		{"head of the repository", &github.PullRequestListOptions{Head: "acme:feature"}, "1"},
		{"head's owner in another case", &github.PullRequestListOptions{Head: "ACME:feature"}, "1"},
		{"head of the fork", &github.PullRequestListOptions{Head: "mallory:feature"}, "3"},
		{"head without an owner is ignored", &github.PullRequestListOptions{Head: "feature"}, "4,3,2,1"},
		{"head of a closed pull request", &github.PullRequestListOptions{Head: "acme:old"}, ""},
		{"closed head", &github.PullRequestListOptions{Head: "acme:old", State: "closed"}, "5"},
		{"head with no pull request", &github.PullRequestListOptions{Head: "acme:nothing"}, ""},
		{"base", &github.PullRequestListOptions{Base: "release"}, "4"},
		{"base and head", &github.PullRequestListOptions{Base: "main", Head: "acme:backport"}, ""},
		{"created, oldest first", &github.PullRequestListOptions{Sort: "created", Direction: "asc"}, "1,2,3,4"},
		{"updated, least recently first by default", &github.PullRequestListOptions{Sort: "updated"}, "2,3,4,1"},
		{"updated, most recently first", &github.PullRequestListOptions{Sort: "updated", Direction: "desc"}, "1,4,3,2"},
	} {
		if got := list(tc.opts); got != tc.want {
			t.Errorf("%s: pull requests %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, opts := range []*github.PullRequestListOptions{{State: "merged"}, {Sort: "popularity"}, {Direction: "up"}} {
		_, resp, err := c.PullRequests.List(ctx, "acme", "widgets", opts)
		var ge *github.ErrorResponse
		if !errors.As(err, &ge) || resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("list %+v: %v, want 422", opts, err)
		}
	}
	if _, resp, err := c.PullRequests.List(ctx, "acme", "nothing", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("list of a missing repository: %v", err)
	}

	prs, _, err := c.PullRequests.List(ctx, "acme", "widgets", &github.PullRequestListOptions{Head: "acme:feature"})
	if err != nil || len(prs) != 1 {
		t.Fatalf("list: %v, %v", prs, err)
	}
	if pr := prs[0]; pr.GetBody() != "the feature" || pr.GetHead().GetRepo().GetFullName() != project1 || pr.GetBase().GetRef() != "main" {
		t.Errorf("listed pull request = %s", pr)
	}
	prs, _, err = c.PullRequests.List(ctx, "acme", "widgets", &github.PullRequestListOptions{Head: "mallory:feature"})
	if err != nil || len(prs) != 1 || prs[0].GetHead().GetRepo().GetFullName() != "mallory/widgets" || prs[0].GetNumber() != int(fork.IID) {
		t.Errorf("fork's pull request = %v, %v", prs, err)
	}
}

// TestGitHubListPullsItemsAreSinglePulls: each item of the list is the
// pull request as GET .../pulls/{number} answers it, base SHA included.
func TestGitHubListPullsItemsAreSinglePulls(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	if _, err := f.PushBranch(context.Background(), project1, "release", "alice", Commit{Files: map[string]string{"r": "r"}}); err != nil {
		t.Fatal(err)
	}
	mustMR(t, f, MRSpec{Source: "feature", Description: "why", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	mustMR(t, f, MRSpec{Source: "fix", Target: "release", Commits: []Commit{{Files: map[string]string{"b": "b"}}}})
	var list []any
	if err := json.Unmarshal(ghGet(t, f, "/repos/acme/widgets/pulls?direction=asc"), &list); err != nil || len(list) != 2 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	for i, item := range list {
		single := decodeJSON(t, ghGet(t, f, fmt.Sprintf("/repos/acme/widgets/pulls/%d", i+1)))
		if !reflect.DeepEqual(item, single) {
			t.Errorf("item %d differs from the single pull request:\n%v\n%v", i, item, single)
		}
	}
}

// TestGitHubListPullsPages: per_page and page, with GitHub's Link header,
// which keeps the filters.
func TestGitHubListPullsPages(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	for i := range 5 {
		mustMR(t, f, MRSpec{Source: fmt.Sprint("b", i), Commits: []Commit{{Files: map[string]string{fmt.Sprint(i): "x"}}}})
	}
	closed := mustMR(t, f, MRSpec{Source: "gone", Commits: []Commit{{Files: map[string]string{"gone": "x"}}}})
	if err := f.CloseMR(context.Background(), project1, closed.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	c := ghClient(t, f, botToken)
	ctx := context.Background()
	opts := &github.PullRequestListOptions{Direction: "asc", ListOptions: github.ListOptions{PerPage: 2}}
	var got []string
	pages := 0
	for {
		prs, resp, err := c.PullRequests.List(ctx, "acme", "widgets", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, numbers(prs))
		if pages == 1 && (resp.NextPage != 2 || resp.LastPage != 3 || resp.PrevPage != 0) {
			t.Errorf("first page: next %d, last %d, prev %d", resp.NextPage, resp.LastPage, resp.PrevPage)
		}
		if resp.NextPage == 0 {
			if resp.PrevPage != 2 || resp.FirstPage != 1 {
				t.Errorf("last page: prev %d, first %d", resp.PrevPage, resp.FirstPage)
			}
			break
		}
		opts.Page = resp.NextPage
	}
	if want := []string{"1,2", "3,4", "5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pages %q, want %q", got, want)
	}
	_, resp, err := c.PullRequests.List(ctx, "acme", "widgets", &github.PullRequestListOptions{State: "all", Head: "acme:b1", ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if link := resp.Header.Get("Link"); link != "" {
		t.Errorf("one page has a Link header: %s", link)
	}
	_, resp, err = c.PullRequests.List(ctx, "acme", "widgets", &github.PullRequestListOptions{State: "closed", Base: "main", ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil || resp.NextPage != 0 {
		t.Fatalf("closed: next %d, %v", resp.NextPage, err)
	}
	_, resp, err = c.PullRequests.List(ctx, "acme", "widgets", &github.PullRequestListOptions{State: "all", Base: "main", ListOptions: github.ListOptions{PerPage: 4}})
	if err != nil || resp.NextPage != 2 {
		t.Fatalf("all: next %d, %v", resp.NextPage, err)
	}
	if link := resp.Header.Get("Link"); !strings.Contains(link, "state=all") || !strings.Contains(link, "base=main") || !strings.Contains(link, "per_page=4") {
		t.Errorf("Link %s does not keep the filters", link)
	}
}
