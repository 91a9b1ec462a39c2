package fakeforge

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shurcooL/githubv4"
)

// prQuery is what a merge train asks GitHub's GraphQL API of a pull
// request.
type prQuery struct {
	Repository struct {
		PullRequest *struct {
			Number           githubv4.Int
			State            githubv4.PullRequestState
			IsDraft          githubv4.Boolean
			HeadRefOid       githubv4.GitObjectID
			BaseRefName      githubv4.String
			ReviewDecision   *githubv4.PullRequestReviewDecision
			MergeStateStatus githubv4.MergeStateStatus
			ReviewThreads    struct {
				TotalCount githubv4.Int
				Nodes      []struct{ IsResolved githubv4.Boolean }
			} `graphql:"reviewThreads(first: 100)"`
			Writers struct {
				Nodes []review4
			} `graphql:"writers: latestOpinionatedReviews(first: 100, writersOnly: true)"`
			Everyone struct {
				TotalCount githubv4.Int
				Nodes      []review4
			} `graphql:"everyone: latestOpinionatedReviews(last: 100)"`
		} `graphql:"pullRequest(number: $number)"`
	} `graphql:"repository(owner: $owner, name: $name)"`
}

type review4 struct {
	State  githubv4.PullRequestReviewState
	Author struct{ Login githubv4.String }
}

func (q prQuery) opinions(writers bool) string {
	nodes := q.Repository.PullRequest.Everyone.Nodes
	if writers {
		nodes = q.Repository.PullRequest.Writers.Nodes
	}
	var out []string
	for _, n := range nodes {
		out = append(out, string(n.Author.Login)+" "+string(n.State))
	}
	return strings.Join(out, ", ")
}

func queryPR(t *testing.T, c *githubv4.Client, number int64) prQuery {
	t.Helper()
	var q prQuery
	err := c.Query(context.Background(), &q, map[string]any{
		"owner": githubv4.String("acme"), "name": githubv4.String("widgets"), "number": githubv4.Int(number),
	})
	if err != nil {
		t.Fatalf("query #%d: %v", number, err)
	}
	return q
}

// decision reads reviewDecision and mergeStateStatus, "null" for none.
func (q prQuery) decision() string {
	pr := q.Repository.PullRequest
	d := "null"
	if pr.ReviewDecision != nil {
		d = string(*pr.ReviewDecision)
	}
	return d + " " + string(pr.MergeStateStatus)
}

func TestGitHubGraphQLReviewDecision(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := gqlClient(t, f, botToken, true)
	ctx := context.Background()
	for name, level := range map[string]int{"bob": Developer, "carol": Maintainer, "dan": Developer, "rita": Reporter} {
		if err := f.SetAccess(project1, name, level); err != nil {
			t.Fatal(err)
		}
	}
	review := func(who, state string) {
		t.Helper()
		if err := f.Review(ctx, project1, mr.IID, who, state, "x"); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when, want string) {
		t.Helper()
		if got := queryPR(t, c, mr.IID).decision(); got != want {
			t.Fatalf("%s: %s, want %s", when, got, want)
		}
	}

	q := queryPR(t, c, mr.IID)
	pr := q.Repository.PullRequest
	if pr.Number != githubv4.Int(mr.IID) || pr.State != githubv4.PullRequestStateOpen || pr.IsDraft || string(pr.HeadRefOid) != mr.SHA || pr.BaseRefName != "main" {
		t.Fatalf("pull request = %+v", pr)
	}
	check("nothing required", "null CLEAN")
	review("rita", ReviewApproved) // a reader's approval counts for nothing
	check("nothing required, approved by a reader", "null CLEAN")

	if err := f.SetBranchProtection(project1, "main", BranchProtection{RequiredApprovingReviews: 1}); err != nil {
		t.Fatal(err)
	}
	check("1 approval required, a reader's given", "REVIEW_REQUIRED BLOCKED")
	review("bob", ReviewApproved)
	check("approved by a writer", "APPROVED CLEAN")
	review("carol", ReviewChangesRequested)
	check("changes requested", "CHANGES_REQUESTED BLOCKED")
	review("carol", ReviewCommented) // a comment does not withdraw the request
	check("changes requested, then a comment", "CHANGES_REQUESTED BLOCKED")
	if got := queryPR(t, c, mr.IID); got.opinions(true) != "bob APPROVED, carol CHANGES_REQUESTED" ||
		got.opinions(false) != "rita APPROVED, bob APPROVED, carol CHANGES_REQUESTED" || got.Repository.PullRequest.Everyone.TotalCount != 3 {
		t.Fatalf("latest opinions: writers %q, everyone %q", got.opinions(true), got.opinions(false))
	}
	if err := f.DismissReview(ctx, project1, mr.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	check("change request dismissed", "APPROVED CLEAN")

	if err := f.SetCodeOwners(project1, "dan"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchRules(project1, "main", PullRequestRule{RequireCodeOwnerReview: true}); err != nil {
		t.Fatal(err)
	}
	check("a code owner's review required", "REVIEW_REQUIRED BLOCKED")
	review("dan", ReviewApproved)
	check("approved by a code owner", "APPROVED CLEAN")
}

func TestGitHubGraphQLThreadsAndStates(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := gqlClient(t, f, botToken, true)
	ctx := context.Background()

	var ids []string
	for range 2 {
		id, err := f.StartReviewThread(ctx, project1, mr.IID, "bob", "why?")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := f.ResolveReviewThread(ctx, project1, mr.IID, ids[0], true); err != nil {
		t.Fatal(err)
	}
	q := queryPR(t, c, mr.IID)
	if th := q.Repository.PullRequest.ReviewThreads; th.TotalCount != 2 || len(th.Nodes) != 2 || !th.Nodes[0].IsResolved || th.Nodes[1].IsResolved {
		t.Fatalf("threads = %+v", th)
	}
	if got := q.decision(); got != "null CLEAN" {
		t.Fatalf("unresolved thread, resolution not required: %s", got)
	}
	if err := f.SetBranchProtection(project1, "main", BranchProtection{RequireConversationResolution: true}); err != nil {
		t.Fatal(err)
	}
	if got := queryPR(t, c, mr.IID).decision(); got != "null BLOCKED" {
		t.Fatalf("unresolved thread, resolution required: %s", got)
	}
	if err := f.ResolveReviewThread(ctx, project1, mr.IID, ids[1], true); err != nil {
		t.Fatal(err)
	}
	if got := queryPR(t, c, mr.IID).decision(); got != "null CLEAN" {
		t.Fatalf("threads resolved: %s", got)
	}
	if err := f.ResolveReviewThread(ctx, project1, mr.IID, "PRRT_nope", true); err == nil {
		t.Fatal("resolved a missing thread")
	}

	draft := mustMR(t, f, MRSpec{Source: "wip", Draft: true, Commits: []Commit{{Files: map[string]string{"w": "w"}}}})
	if q := queryPR(t, c, draft.IID); !q.Repository.PullRequest.IsDraft || q.decision() != "null DRAFT" {
		t.Fatalf("draft: %v %s", q.Repository.PullRequest.IsDraft, q.decision())
	}
	if err := f.CloseMR(ctx, project1, draft.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	if q := queryPR(t, c, draft.IID); q.Repository.PullRequest.State != githubv4.PullRequestStateClosed {
		t.Fatalf("closed: %s", q.Repository.PullRequest.State)
	}
	if _, err := f.MergeMR(ctx, project1, mr.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	if q := queryPR(t, c, mr.IID); q.Repository.PullRequest.State != githubv4.PullRequestStateMerged {
		t.Fatalf("merged: %s", q.Repository.PullRequest.State)
	}
}

// gqlPost posts a raw GraphQL query and returns the status and body.
func gqlPost(t *testing.T, f *Forge, token, accept, query string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/api/graphql", strings.NewReader(query))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGitHubGraphQLErrors(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	if _, err := f.CreateIssue(context.Background(), project1, "alice", "a bug"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, accept, query string
		status                     int
		want                       string
	}{
		{"missing repository", botToken, ghMergeInfoPreview, `{"query":"{ repository(owner: \"acme\", name: \"nope\") { nameWithOwner } }"}`, 200,
			`{"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["repository"],"message":"Could not resolve to a Repository with the name 'acme/nope'."}]}`},
		{"an issue's number", botToken, ghMergeInfoPreview, `{"query":"{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 2) { number } } }"}`, 200,
			`{"data":{"repository":{"pullRequest":null}},"errors":[{"type":"NOT_FOUND","path":["repository","pullRequest"],"message":"Could not resolve to a PullRequest with the number of 2."}]}`},
		{"a connection without bounds", botToken, ghMergeInfoPreview, `{"query":"{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 1) { reviewThreads { totalCount } } } }"}`, 200,
			"You must provide a `first` or `last` value to properly paginate the `reviewThreads` connection."},
		{"a page over 100", botToken, ghMergeInfoPreview, `{"query":"{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 1) { reviewThreads(first: 101) { totalCount } } } }"}`, 200,
			`"type":"EXCESSIVE_PAGINATION"`},
		{"mergeStateStatus without its preview", botToken, "application/json", `{"query":"{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 1) { mergeStateStatus } } }"}`, 200,
			`mergeStateStatus`},
		{"mergeStateStatus with its preview", botToken, ghMergeInfoPreview, `{"query":"{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 1) { mergeStateStatus } } }"}`, 200,
			`{"data":{"repository":{"pullRequest":{"mergeStateStatus":"CLEAN"}}}}`},
		{"no token", "", ghMergeInfoPreview, `{"query":"{ repository(owner: \"acme\", name: \"widgets\") { nameWithOwner } }"}`, 401, `"message":"Bad credentials"`},
		{"not JSON", botToken, ghMergeInfoPreview, `query { }`, 400, `"message":"Problems parsing JSON"`},
	} {
		status, body := gqlPost(t, f, tc.token, tc.accept, tc.query)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s\nwant %d with %s", tc.name, status, body, tc.status, tc.want)
		}
		if tc.status == 200 && tc.want[0] != '{' && !strings.HasPrefix(body, `{"errors":[`) && !strings.Contains(body, `"errors":[`) {
			t.Errorf("%s: no errors in %s", tc.name, body)
		}
	}
	if calls := f.Calls()["POST /api/graphql"]; calls != 8 {
		t.Fatalf("%d GraphQL calls counted, want 8", calls)
	}
}
