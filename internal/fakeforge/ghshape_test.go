package fakeforge

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
)

// The GitHub API's JSON is decoded with go-github's types, and compared
// with GitHub's own payloads in testdata/github (the objects webhooks
// embed are the REST API's) both ways: no key of GitHub's is missing, and
// none is invented.

func ghGet(t *testing.T, f *Forge, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v3"+path, nil)
	req.Header.Set("Authorization", "token "+botToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// at walks a decoded document along keys (a number indexes an array).
func at(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	if v == nil {
		t.Fatalf("nothing at %v", keys)
	}
	return v
}

// only keeps the given keys of an object.
func only(v any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = v.(map[string]any)[k]
	}
	return out
}

func TestGitHubShapesMatchGitHub(t *testing.T) {
	f := ghForge(t, func(o *Options) { o.CI.Duration = time.Millisecond })
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c := ghClient(t, f, botToken)
	if _, err := f.AddNote(t.Context(), project1, mr.IID, "carol", "/train add"); err != nil {
		t.Fatal(err)
	}
	sha := pushCar(t, f, "trainyard/main/1", map[string]string{"ok": "ok"})
	waitRun(t, f, sha, CheckCompleted)
	if _, _, err := c.Repositories.CreateStatus(t.Context(), "acme", "widgets", sha, github.RepoStatus{
		State: github.Ptr("success"), Context: github.Ptr("ext/ci"), Description: github.Ptr("ok"), TargetURL: github.Ptr("https://ci.example.com/1"),
	}); err != nil {
		t.Fatal(err)
	}
	statusKeys := []string{"id", "state", "description", "target_url", "context", "created_at", "updated_at", "avatar_url"}
	if err := f.Review(t.Context(), project1, mr.IID, "carol", ReviewApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchProtection(project1, "main", BranchProtection{RequiredApprovingReviews: 2, RequireCodeOwnerReviews: true,
		DismissStaleReviews: true, RequireConversationResolution: true, RequiredStatusChecks: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchRules(project1, "main", PullRequestRule{RequiredApprovingReviewCount: 1, RequiredReviewThreadResolution: true}); err != nil {
		t.Fatal(err)
	}
	ruleKeys := []string{"type", "ruleset_source_type", "ruleset_source", "ruleset_id", "parameters"}

	for _, tc := range []struct {
		name    string
		path    string
		into    any // go-github's type for the answer
		ours    func(any) any
		fixture string
		theirs  func(any) any
		// skip: paths compared with neither side, and why.
		skip []string
	}{
		{"pull request", "/repos/acme/widgets/pulls/1", &github.PullRequest{}, nil, "pull_request_opened.json", func(v any) any { return at(t, v, "pull_request") }, nil},
		// No example of GitHub's pull request list is in the fixtures:
		// its items are compared with the single pull request, which
		// they equal here (see ghpulls_test.go).
		{"pull request list", "/repos/acme/widgets/pulls", &[]github.PullRequest{}, func(v any) any { return at(t, v, 0) },
			"pull_request_opened.json", func(v any) any { return at(t, v, "pull_request") }, nil},
		{"repository", "/repos/acme/widgets", &github.Repository{}, nil, "pull_request_opened.json", func(v any) any { return at(t, v, "repository") }, nil},
		{"comment", "/repos/acme/widgets/issues/1/comments", &[]github.IssueComment{}, func(v any) any { return at(t, v, 0) },
			"issue_comment_created_on_pull_request.atlantis.json", func(v any) any { return at(t, v, "comment") },
			// GitHub added performed_via_github_app, pin and minimized
			// after 2018, when Atlantis captured its payload.
			[]string{".performed_via_github_app", ".pin", ".minimized"}},
		// The REST API's check_suite is {"id": ...}; the webhook's is
		// the whole suite. An app's permissions are its own, and the
		// webhook's example app has no slug: the app is compared with
		// the REST example's next.
		{"check run", "/repos/acme/widgets/commits/" + sha + "/check-runs", &github.ListCheckRunsResults{}, func(v any) any { return at(t, v, "check_runs", 0) },
			"check_run_completed_success.json", func(v any) any { return at(t, v, "check_run") }, []string{".check_suite", ".app.permissions", ".app.slug"}},
		{"check run's app", "/repos/acme/widgets/commits/" + sha + "/check-runs", &github.ListCheckRunsResults{}, func(v any) any { return at(t, v, "check_runs", 0, "app") },
			"create_check_run.json", func(v any) any { return at(t, v, "app") }, []string{".permissions"}},
		{"workflow run", "/repos/acme/widgets/actions/runs?head_sha=" + sha, &github.WorkflowRuns{}, func(v any) any { return at(t, v, "workflow_runs", 0) },
			"workflow_run_completed.json", func(v any) any { return at(t, v, "workflow_run") }, nil},
		{"commit status", "/repos/acme/widgets/commits/" + sha + "/status", &github.CombinedStatus{}, func(v any) any { return only(at(t, v, "statuses", 0), statusKeys...) },
			"status.json", func(v any) any { return only(v, statusKeys...) }, nil},
		{"review", "/repos/acme/widgets/pulls/1/reviews", &[]github.PullRequestReview{}, func(v any) any { return at(t, v, 0) },
			"list_pull_request_reviews.json", func(v any) any { return at(t, v, 0) }, nil},
		// GitHub leaves out dismissal and push restrictions when there
		// are none, and the fake has none.
		{"branch protection", "/repos/acme/widgets/branches/main/protection", &github.Protection{}, nil,
			"get_branch_protection.json", func(v any) any { return v }, []string{".required_pull_request_reviews.dismissal_restrictions", ".restrictions"}},
		// GitHub's example has no pull_request rule: the envelope is
		// compared here, the parameters below.
		{"rule", "/repos/acme/widgets/rules/branches/main", &github.BranchRules{}, func(v any) any { return only(at(t, v, 0), ruleKeys...) },
			"get_rules_for_branch.json", func(v any) any { return only(at(t, v, 0), ruleKeys...) }, []string{".parameters"}},
	} {
		body := ghGet(t, f, tc.path)
		if err := json.Unmarshal(body, tc.into); err != nil {
			t.Errorf("%s: go-github's %T cannot read it: %v", tc.name, tc.into, err)
		}
		ours := decodeJSON(t, body)
		if tc.ours != nil {
			ours = tc.ours(ours)
		}
		theirs := tc.theirs(loadJSON(t, "github/"+tc.fixture))
		if d := shapeDiff("", theirs, ours, tc.skip); len(d) > 0 {
			t.Errorf("%s vs %s, missing here or of another type:\n%s", tc.name, tc.fixture, strings.Join(d, "\n"))
		}
		if d := shapeDiff("", ours, theirs, tc.skip); len(d) > 0 {
			t.Errorf("%s vs %s, keys GitHub does not send:\n%s", tc.name, tc.fixture, strings.Join(d, "\n"))
		}
	}
}

// TestGitHubPullRequestRuleParameters checks the parameters of a
// pull_request rule against the names and types GitHub documents for it,
// which its example of the rules for a branch does not show.
func TestGitHubPullRequestRuleParameters(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	if err := f.SetBranchRules(project1, "main", PullRequestRule{RequiredApprovingReviewCount: 2, DismissStaleReviewsOnPush: true}); err != nil {
		t.Fatal(err)
	}
	rule := at(t, decodeJSON(t, ghGet(t, f, "/repos/acme/widgets/rules/branches/main")), 0).(map[string]any)
	if rule["type"] != "pull_request" || rule["ruleset_source"] != project1 || rule["ruleset_source_type"] != "Repository" {
		t.Fatalf("rule = %v", rule)
	}
	params := rule["parameters"].(map[string]any)
	want := map[string]string{
		"required_approving_review_count": "number", "dismiss_stale_reviews_on_push": "bool", "require_code_owner_review": "bool",
		"require_last_push_approval": "bool", "required_review_thread_resolution": "bool",
	}
	got := map[string]string{}
	for k, v := range params {
		got[k] = kind(v)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("pull_request parameters = %v, want %v", got, want)
	}
	if params["required_approving_review_count"] != 2.0 || params["dismiss_stale_reviews_on_push"] != true || params["require_code_owner_review"] != false {
		t.Fatalf("pull_request parameters = %v", params)
	}
}
