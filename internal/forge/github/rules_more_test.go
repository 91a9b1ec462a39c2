package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shurcooL/githubv4"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

// A failure of the branch's part of the combined query (GitHub answers
// a field it will not resolve with null and an error beside the data)
// does not fail the merge rules: they are read alone, and what was read
// of the branch is kept, as requiredChecks keeps it. Here the branch's
// rules are known but stale, as every five minutes.
func TestMergeRulesOutliveTheBranchsPartFailing(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.GitHub.RulesetsWithoutDecision = true })
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1}); err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	c := newClient(t, f, func(o *Options) {
		o.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			var body []byte
			if r.Body != nil {
				var err error
				if body, err = io.ReadAll(r.Body); err != nil {
					return nil, err
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err != nil || !broken.Load() || !bytes.Contains(body, []byte("refUpdateRule")) || !bytes.Contains(body, []byte("pullRequest(")) {
				return resp, err
			}
			var ans map[string]any
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(raw, &ans); err != nil {
				return nil, err
			}
			pr := ans["data"].(map[string]any)["repository"].(map[string]any)["pullRequest"].(map[string]any)
			if _, ok := pr["baseRef"]; ok {
				pr["baseRef"] = nil
			} else {
				ans["data"].(map[string]any)["repository"].(map[string]any)["ref"] = nil
			}
			ans["errors"] = []any{map[string]any{"type": "FORBIDDEN", "path": []any{"repository", "ref", "rules"},
				"message": "Resource not accessible by integration"}}
			raw, _ = json.Marshal(ans)
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			resp.ContentLength = int64(len(raw))
			resp.Header.Del("Content-Length")
			return resp, nil
		})
	})
	notApproved := forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"}
	rules, err := c.MergeRules(context.Background(), project, mr.IID, "main")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "first read", rules, notApproved)
	// Stale: the next read asks for the branch again, and that part fails.
	c.branches.put(branchKey(project, "main"), branchRules{reviews: requirements{approvals: 1}, at: time.Now().Add(-c.branchTTL)})
	broken.Store(true)
	rules, err = c.MergeRules(context.Background(), project, mr.IID, "main")
	if err != nil {
		t.Fatalf("merge rules with the branch's part of the query refused: %v; want the pull request's rules, the branch's last read kept", err)
	}
	expect(t, "branch part refused", rules, notApproved)
}

// A stacked pull request (base stack-a) whose train merges into main: the
// rules' query asks for main's rules, the branch its cars are judged by,
// so the first read makes them known and the next two ask for none.
func TestAStackedPullRequestsRulesReadTheTrainsBranch(t *testing.T) {
	f := newForge(t, nil)
	if _, err := f.PushBranch(context.Background(), project, "stack-a", "alice", fakeforge.Commit{Files: map[string]string{"s": "s"}}); err != nil {
		t.Fatal(err)
	}
	pr, err := f.CreateMR(context.Background(), project, fakeforge.MRSpec{Source: "stack-b", Target: "stack-a", Title: "b", Author: "alice",
		Commits: []fakeforge.Commit{{Files: map[string]string{"b": "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var withBranch atomic.Int32
	c := newClient(t, f, func(o *Options) {
		o.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			var body []byte
			if r.Body != nil {
				var err error
				if body, err = io.ReadAll(r.Body); err != nil {
					return nil, err
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			if bytes.Contains(body, []byte("pullRequest(")) && bytes.Contains(body, []byte("refUpdateRule")) {
				withBranch.Add(1)
			}
			return http.DefaultTransport.RoundTrip(r)
		})
	})
	for i := 0; i < 3; i++ {
		if _, err := c.MergeRules(context.Background(), project, pr.IID, "main"); err != nil {
			t.Fatal(err)
		}
	}
	known := c.branchKnown(repoRef{project: project}, "main")
	if n := withBranch.Load(); n != 1 || !known {
		t.Fatalf("3 reads of a stacked pull request's rules into main: %d asked for a branch's rules, main's known: %v; want 1 and true", n, known)
	}
}

// GitHub's PullRequest.baseRef is null once the base branch is deleted,
// as repository.ref is, and so is the fake forge's.
func TestBaseRefOfADeletedBranchIsNull(t *testing.T) {
	f := newForge(t, nil)
	if _, err := f.PushBranch(context.Background(), project, "release", "alice", fakeforge.Commit{Files: map[string]string{"r": "r"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchRules(project, "release", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1}); err != nil {
		t.Fatal(err)
	}
	pr, err := f.CreateMR(context.Background(), project, fakeforge.MRSpec{Source: "feature", Target: "release", Title: "f", Author: "alice",
		Commits: []fakeforge.Commit{{Files: map[string]string{"f": "f"}}}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, f.URL()+"/api/v4/projects/"+url.PathEscape(project)+"/repository/branches/release", nil)
	req.Header.Set("PRIVATE-TOKEN", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("delete release: %s", resp.Status)
	}
	c := newClient(t, f, nil)
	var q struct {
		Repository struct {
			Ref         *struct{ Name string } `graphql:"ref(qualifiedName: \"refs/heads/release\")"`
			PullRequest *struct {
				State   string
				BaseRef *struct{ Name string }
			} `graphql:"pullRequest(number: $number)"`
		} `graphql:"repository(owner: $owner, name: $name)"`
	}
	owner, name, _ := strings.Cut(project, "/")
	if err := c.query(context.Background(), "probe", &q, map[string]any{"owner": githubv4.String(owner), "name": githubv4.String(name), "number": githubv4.Int(pr.IID)}); err != nil {
		t.Fatal(err)
	}
	if q.Repository.Ref != nil {
		t.Fatalf("ref of the deleted branch: %+v", q.Repository.Ref)
	}
	if q.Repository.PullRequest.BaseRef != nil {
		t.Fatalf("baseRef of a pull request (%s) whose base was deleted: %+v, want null as GitHub answers", q.Repository.PullRequest.State, q.Repository.PullRequest.BaseRef)
	}
}

// A pull request that does not exist is not asked for twice: only a
// refusal of the branch's part has the rules read alone.
func TestMergeRulesOfAMissingPullRequestAskOnce(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	calls := counting(f)
	if _, err := c.MergeRules(context.Background(), project, 999, ""); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("merge rules of a missing pull request: %v, want not found", err)
	}
	if got := calls.since()["POST /api/graphql"]; got != 1 {
		t.Fatalf("%d GraphQL queries for a missing pull request, want 1", got)
	}
}
