package fakeforge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
)

func TestGitHubRepositoryComments(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := ghForge(t, func(o *Options) { o.Now = func() time.Time { return now } })
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := ghClient(t, f, botToken)
	ctx := context.Background()

	first, err := f.AddNote(ctx, project1, mr.IID, "carol", "first")
	if err != nil {
		t.Fatal(err)
	}
	issue, err := f.CreateIssue(ctx, project1, "dan", "a bug")
	if err != nil || issue != mr.IID+1 {
		t.Fatalf("issue #%d, %v; want the number after the pull request's", issue, err)
	}
	if _, err := f.CommentOnIssue(ctx, project1, issue, "dan", "on the issue"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CommentOnIssue(ctx, project1, issue+1, "dan", "x"); err == nil {
		t.Fatal("commented on a missing issue")
	}
	// Later comments, and an edit that moves the first one's updated_at
	// past them.
	now = now.Add(time.Minute)
	for i := range 3 {
		if _, err := f.AddNote(ctx, project1, mr.IID, "carol", fmt.Sprint("later ", i)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	if _, err := f.EditNote(ctx, project1, mr.IID, first.ID, "first, edited"); err != nil {
		t.Fatal(err)
	}

	bodies := func(opts *github.IssueListCommentsOptions) string {
		t.Helper()
		list, _, err := c.Issues.ListComments(ctx, "acme", "widgets", 0, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, cm := range list {
			out = append(out, cm.GetBody())
		}
		return strings.Join(out, "|")
	}
	since := now.Add(-time.Minute)
	for _, tc := range []struct {
		name string
		opts *github.IssueListCommentsOptions
		want string
	}{
		{"all, by creation", nil, "first, edited|on the issue|later 0|later 1|later 2"},
		{"by update", &github.IssueListCommentsOptions{Sort: github.Ptr("updated"), Direction: github.Ptr("asc")}, "on the issue|later 0|later 1|later 2|first, edited"},
		{"by update, newest first", &github.IssueListCommentsOptions{Sort: github.Ptr("updated"), Direction: github.Ptr("desc")}, "first, edited|later 2|later 1|later 0|on the issue"},
		{"since", &github.IssueListCommentsOptions{Since: &since, Sort: github.Ptr("updated")}, "later 0|later 1|later 2|first, edited"},
		{"a page", &github.IssueListCommentsOptions{Sort: github.Ptr("updated"), ListOptions: github.ListOptions{Page: 2, PerPage: 2}}, "later 1|later 2"},
	} {
		if got := bodies(tc.opts); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	list, resp, err := c.Issues.ListComments(ctx, "acme", "widgets", 0, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 2}})
	if err != nil || resp.NextPage != 2 || resp.LastPage != 3 {
		t.Fatalf("first page: next %d, last %d, %v", resp.NextPage, resp.LastPage, err)
	}
	if pr, plain := list[0].GetHTMLURL(), list[1].GetHTMLURL(); pr != fmt.Sprintf("%s/acme/widgets/pull/%d#issuecomment-%d", f.URL(), mr.IID, first.ID) ||
		!strings.HasPrefix(plain, fmt.Sprintf("%s/acme/widgets/issues/%d#issuecomment-", f.URL(), issue)) ||
		list[1].GetIssueURL() != fmt.Sprintf("%s/api/v3/repos/acme/widgets/issues/%d", f.URL(), issue) {
		t.Fatalf("html_url: %s, %s", pr, plain)
	}
	if list[0].GetUpdatedAt().Time.Equal(list[0].GetCreatedAt().Time) {
		t.Fatalf("edited comment: created %v, updated %v", list[0].GetCreatedAt(), list[0].GetUpdatedAt())
	}
}

// getWith gets path with extra headers, and returns the status, the
// ETag and the body.
func getWith(t *testing.T, f *Forge, path string, header map[string]string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v3"+path, nil)
	req.Header.Set("Authorization", "token "+botToken)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), string(b)
}

func TestGitHubRepositoryCommentsETag(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	ctx := context.Background()
	if _, err := f.AddNote(ctx, project1, mr.IID, "carol", "one"); err != nil {
		t.Fatal(err)
	}
	const path = "/repos/acme/widgets/issues/comments?sort=updated&direction=asc"
	status, etag, body := getWith(t, f, path, nil)
	if status != http.StatusOK || !strings.HasPrefix(etag, `W/"`) || !strings.Contains(body, `"body":"one"`) {
		t.Fatalf("first: %d %q %s", status, etag, body)
	}
	for _, match := range []string{etag, strings.TrimPrefix(etag, "W/"), `"nope", ` + etag, "*"} {
		if status, again, body := getWith(t, f, path, map[string]string{"If-None-Match": match}); status != http.StatusNotModified || body != "" || again != etag {
			t.Fatalf("If-None-Match %s: %d %q %q", match, status, again, body)
		}
	}
	if status, _, _ := getWith(t, f, path+"&page=2", map[string]string{"If-None-Match": etag}); status != http.StatusOK {
		t.Fatalf("another page with the first's ETag: %d", status)
	}
	if _, err := f.AddNote(ctx, project1, mr.IID, "carol", "two"); err != nil {
		t.Fatal(err)
	}
	status, changed, body := getWith(t, f, path, map[string]string{"If-None-Match": etag})
	if status != http.StatusOK || changed == etag || !strings.Contains(body, `"body":"two"`) {
		t.Fatalf("after a new comment: %d %q %s", status, changed, body)
	}
	if status, _, _ := getWith(t, f, "/repos/acme/widgets/issues/comments?since=yesterday", nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad since: %d", status)
	}
}
