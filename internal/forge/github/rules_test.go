package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shurcooL/githubv4"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

const devToken = "ghp_dev0Maintainer1NoAdmin2Xy7Qp4Lr9Tb"

// requests counts the forge's API calls, of any route, since the last
// time it was asked.
type requests struct {
	f    *fakeforge.Forge
	seen map[string]int
}

func counting(f *fakeforge.Forge) *requests { return &requests{f: f, seen: f.Calls()} }

// since returns the calls made since the last look, by route.
func (r *requests) since() map[string]int {
	now := r.f.Calls()
	out := map[string]int{}
	for route, n := range now {
		if d := n - r.seen[route]; d > 0 {
			out[route] = d
		}
	}
	r.seen = now
	return out
}

// rulesForge is a forge with writers bob, carol and dan, and pull
// request #1 by alice.
func rulesForge(t *testing.T) (*fakeforge.Forge, fakeforge.MR) {
	t.Helper()
	f := newForge(t, nil)
	for _, who := range []string{"alice", "bob", "carol", "dan"} {
		if err := f.SetAccess(project, who, fakeforge.Developer); err != nil {
			t.Fatal(err)
		}
	}
	return f, openMR(t, f, "feature", map[string]string{"a": "a"})
}

func mergeRules(t *testing.T, c *Client, number int64) forge.Rules {
	t.Helper()
	rules, err := c.MergeRules(context.Background(), project, number, "")
	if err != nil {
		t.Fatalf("MergeRules(#%d): %v", number, err)
	}
	return rules
}

// expect checks the rules have exactly the unmet ones, in order.
func expect(t *testing.T, when string, got forge.Rules, want ...forge.Unmet) {
	t.Helper()
	if got.Pending || !reflect.DeepEqual(got.Unmet, want) || got.Met() != (len(want) == 0) {
		t.Fatalf("%s: %+v\nwant %+v", when, got, want)
	}
}

func review(t *testing.T, f *fakeforge.Forge, number int64, who, state string) {
	t.Helper()
	if err := f.Review(context.Background(), project, number, who, state, "x"); err != nil {
		t.Fatal(err)
	}
}

// With nothing required, the rules cost one GraphQL query, which also
// reads the rulesets of the branch (the checks it requires, and what it
// asks of reviews), remembered for a few minutes and shared with its
// cars' checks.
func TestMergeRulesWithNothingRequiredCostOneRequest(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	calls := counting(f)
	expect(t, "nothing required", mergeRules(t, c, mr.IID))
	if got := calls.since(); !reflect.DeepEqual(got, map[string]int{"POST /api/graphql": 1}) {
		t.Fatalf("requests: %v, want the rules with the branch's rulesets", got)
	}
	expect(t, "nothing required, again", mergeRules(t, c, mr.IID))
	if got := calls.since(); !reflect.DeepEqual(got, map[string]int{"POST /api/graphql": 1}) {
		t.Fatalf("requests: %v, want one GraphQL query", got)
	}
	// Reviews count for nothing when nothing requires them.
	review(t, f, mr.IID, "carol", fakeforge.ReviewChangesRequested)
	expect(t, "changes requested, nothing required", mergeRules(t, c, mr.IID))
}

// The query that reads the rules gives the pull request too, as the
// REST read would: the engine then reads it no more.
func TestMergeRulesGiveThePullRequest(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	for _, step := range []string{"open", "closed"} {
		if step == "closed" {
			if err := f.CloseMR(ctx, project, mr.IID, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		rules := mergeRules(t, c, mr.IID)
		want, err := c.MergeRequest(ctx, project, mr.IID)
		if err != nil {
			t.Fatal(err)
		}
		if rules.MR == nil || *rules.MR != want {
			t.Fatalf("%s: rules give %+v\nthe pull request is %+v", step, rules.MR, want)
		}
		if want.Title != "Add feature" || want.Author != "alice" || want.HeadSHA != mr.SHA || want.SourceBranch != "feature" || want.TargetBranch != "main" || want.WebURL == "" {
			t.Fatalf("%s: pull request read as %+v", step, want)
		}
	}
	if got := mergeRules(t, c, mr.IID); got.MR.State != forge.StateClosed || got.Met() {
		t.Fatalf("closed: %+v", got)
	}
}

func TestMergeRulesApprovals(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1, DismissStaleReviews: true}); err != nil {
		t.Fatal(err)
	}
	calls := counting(f)
	expect(t, "1 approval required, none given", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"})
	if got := calls.since(); len(got) != 3 || got["GET /repos/{owner}/{repo}/branches/{branch}/protection"] != 1 || got["GET /repos/{owner}/{repo}/rules/branches/{branch...}"] != 1 {
		t.Fatalf("requests: %v, want the query, the rules and the protection", got)
	}

	review(t, f, mr.IID, "bob", fakeforge.ReviewApproved)
	expect(t, "approved", mergeRules(t, c, mr.IID))
	if got := calls.since(); len(got) != 1 {
		t.Fatalf("requests for an approved pull request: %v, want one", got)
	}

	if _, err := f.PushToMR(ctx, project, mr.IID, fakeforge.Commit{Files: map[string]string{"b": "b"}}); err != nil {
		t.Fatal(err)
	}
	expect(t, "approval dismissed by a push", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"})

	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 2}); err != nil {
		t.Fatal(err)
	}
	review(t, f, mr.IID, "bob", fakeforge.ReviewApproved)
	expect(t, "2 approvals required, 1 given", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 2 approving reviews and has 1"})
}

func TestMergeRulesRequestedChanges(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	if err := f.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1}); err != nil {
		t.Fatal(err)
	}
	review(t, f, mr.IID, "bob", fakeforge.ReviewApproved)
	review(t, f, mr.IID, "carol", fakeforge.ReviewChangesRequested)
	expect(t, "changes requested", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetRequestedChanges, Message: "@carol requested changes"})
	review(t, f, mr.IID, "dan", fakeforge.ReviewChangesRequested)
	expect(t, "changes requested twice", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetRequestedChanges, Message: "@carol and @dan requested changes"})
}

func TestMergeRulesCodeOwners(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	if err := f.SetCodeOwners(project, "dan"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1, RequireCodeOwnerReviews: true}); err != nil {
		t.Fatal(err)
	}
	review(t, f, mr.IID, "bob", fakeforge.ReviewApproved)
	expect(t, "a non-owner's approval only", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs an approving review from a code owner"})
	review(t, f, mr.IID, "dan", fakeforge.ReviewApproved)
	expect(t, "a code owner's approval", mergeRules(t, c, mr.IID))
}

func TestMergeRulesConversations(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	thread, err := f.StartReviewThread(ctx, project, mr.IID, "bob", "why?")
	if err != nil {
		t.Fatal(err)
	}
	calls := counting(f)
	expect(t, "an unresolved thread, resolution not required", mergeRules(t, c, mr.IID))
	if got := calls.since(); len(got) != 3 {
		t.Fatalf("requests: %v, want the query, the rules and the protection", got)
	}

	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequireConversationResolution: true}); err != nil {
		t.Fatal(err)
	}
	second, err := f.StartReviewThread(ctx, project, mr.IID, "carol", "and this?")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "unresolved threads, resolution required by protection", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetDiscussions, Message: "it has 2 unresolved conversations"})
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredReviewThreadResolution: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.ResolveReviewThread(ctx, project, mr.IID, thread, true); err != nil {
		t.Fatal(err)
	}
	calls.since()
	expect(t, "an unresolved thread, resolution required by a ruleset", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetDiscussions, Message: "it has 1 unresolved conversation"})
	// The rules answered; protection was not needed.
	if got := calls.since(); len(got) != 2 || got["GET /repos/{owner}/{repo}/branches/{branch}/protection"] != 0 {
		t.Fatalf("requests: %v, want the query and the rules", got)
	}
	if err := f.ResolveReviewThread(ctx, project, mr.IID, second, true); err != nil {
		t.Fatal(err)
	}
	expect(t, "threads resolved", mergeRules(t, c, mr.IID))
}

func TestMergeRulesFailClosedWhenProtectionIsUnreadable(t *testing.T) {
	f, mr := rulesForge(t)
	f.AddToken("dev", devToken)
	if err := f.SetAccess(project, "dev", fakeforge.Maintainer); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, func(o *Options) { o.Token = devToken })
	if _, err := f.StartReviewThread(context.Background(), project, mr.IID, "bob", "why?"); err != nil {
		t.Fatal(err)
	}
	got := mergeRules(t, c, mr.IID)
	if len(got.Unmet) != 1 || got.Unmet[0].Code != forge.UnmetUnreadable || got.Met() ||
		!strings.Contains(got.Unmet[0].Message, "branch protection of `main` in acme/widgets (GitHub answered 403)") ||
		!strings.Contains(got.Unmet[0].Message, "needs admin access") || !strings.Contains(got.Unmet[0].Message, "Administration: read") {
		t.Fatalf("unreadable protection: %+v", got)
	}
	// Once the rules require what matters, the protection that cannot
	// be read hides nothing more.
	if err := f.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1, RequiredReviewThreadResolution: true}); err != nil {
		t.Fatal(err)
	}
	expect(t, "rules readable, protection not", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"},
		forge.Unmet{Code: forge.UnmetDiscussions, Message: "it has 1 unresolved conversation"})
}

func TestMergeRulesStates(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	ctx := context.Background()
	draft, err := f.CreateMR(ctx, project, fakeforge.MRSpec{Source: "wip", Author: "alice", Draft: true, Commits: []fakeforge.Commit{{Files: map[string]string{"w": "w"}}}})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "a draft", mergeRules(t, c, draft.IID), forge.Unmet{Code: forge.UnmetDraft, Message: "it is a draft"})
	if err := f.CloseMR(ctx, project, draft.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	expect(t, "closed", mergeRules(t, c, draft.IID), forge.Unmet{Code: forge.UnmetNotOpen, Message: "it is closed"})
	if _, err := f.MergeMR(ctx, project, mr.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	expect(t, "merged", mergeRules(t, c, mr.IID), forge.Unmet{Code: forge.UnmetNotOpen, Message: "it is merged"})
	_, err = c.MergeRules(ctx, project, 42, "")
	if !errors.Is(err, forge.ErrNotFound) || !strings.HasPrefix(err.Error(), "read merge rules of acme/widgets#42: ") {
		t.Fatalf("missing pull request: %v", err)
	}
	if _, err := c.MergeRules(ctx, "acme/nope", 1, ""); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("missing repository: %v", err)
	}
}

func TestMergeRulesRetryThroughFaults(t *testing.T) {
	f, mr := rulesForge(t)
	c := newClient(t, f, nil)
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1}); err != nil {
		t.Fatal(err)
	}
	f.SetFaults(fakeforge.Faults{ServerErrorRate: 0.3, RateLimitRate: 0.1, SecondaryRateLimitRate: 0.1, RetryAfter: 1})
	for range 4 {
		expect(t, "under faults", mergeRules(t, c, mr.IID),
			forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"})
	}
	f.SetFaults(fakeforge.Faults{})
	if faults := f.FaultCounts(); faults[fakeforge.FaultServerError] == 0 || faults[fakeforge.FaultRateLimited]+faults[fakeforge.FaultSecondaryRateLimit] == 0 {
		t.Fatalf("faults injected: %v", faults)
	}
}

func TestGraphQLAnswers(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	failed := errors.New("failed")
	for _, tc := range []struct {
		name string
		seen seen
		want string
	}{
		{"not found", seen{status: 200, header: header(), types: []string{"NOT_FOUND"}}, "404 false 0s"},
		{"forbidden", seen{status: 200, header: header(), types: []string{"FORBIDDEN"}}, "403 false 0s"},
		{"primary limit", seen{status: 200, header: header("X-RateLimit-Remaining", "0", "X-Ratelimit-Reset", "1700000010"), types: []string{"RATE_LIMITED"}}, "200 true 11s"},
		{"secondary limit", seen{status: 403, header: header("Retry-After", "7"), secondary: true}, "403 true 7s"},
		{"secondary limit without a wait", seen{status: 403, header: header(), secondary: true}, "403 true 1m0s"},
		{"too many requests", seen{status: 429, header: header("Retry-After", "3")}, "429 true 3s"},
		{"too many requests without a wait", seen{status: 429, header: header()}, "429 true 0s"},
		{"a bad query", seen{status: 200, header: header(), types: []string{""}}, "200 false 0s"},
		{"server error", seen{status: 502, header: header()}, "502 false 0s"},
	} {
		ans := tc.seen.answer(failed, now)
		if got := fmt.Sprintf("%d %t %v", ans.Status, ans.Throttled, ans.RetryAfter); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// A pull request into another branch (stacked on another's) is held to
// what the branch it merges into requires as well: GitHub's decision
// speaks of its own base only. What only GitHub can judge is unmet.
func TestMergeRulesIntoAnotherBranch(t *testing.T) {
	f, base := rulesForge(t)
	ctx := context.Background()
	stacked, err := f.CreateMR(ctx, project, fakeforge.MRSpec{Source: "stacked", Target: base.Source, Title: "Stacked", Author: "alice",
		Commits: []fakeforge.Commit{{Files: map[string]string{"b": "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 2}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, nil)
	into := func(n int64, branch string) forge.Rules {
		t.Helper()
		r, err := c.MergeRules(ctx, project, n, branch)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	expect(t, "judged by its own base", into(stacked.IID, ""))
	expect(t, "into its own base", into(stacked.IID, base.Source))
	expect(t, "into main", into(stacked.IID, "main"),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 2 approving reviews for `main`"})
	review(t, f, stacked.IID, "bob", fakeforge.ReviewApproved)
	review(t, f, stacked.IID, "carol", fakeforge.ReviewChangesRequested)
	expect(t, "one approval, changes requested", into(stacked.IID, "main"),
		forge.Unmet{Code: forge.UnmetRequestedChanges, Message: "@carol requested changes"},
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 2 approving reviews and has 1 for `main`"})
	review(t, f, stacked.IID, "carol", fakeforge.ReviewApproved)
	expect(t, "two approvals", into(stacked.IID, "main"))
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredApprovingReviews: 1, RequireCodeOwnerReviews: true}); err != nil {
		t.Fatal(err)
	}
	expect(t, "code owners", into(stacked.IID, "main"),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "`main` asks for reviews GitHub judges only for pull requests that target it (1 approving review, one of them from a code owner); retarget it to `main`"})
}

// With branch checks off, a check the branch requires runs on pull
// requests only: it must have passed on the pull request's head, as a
// check run or a commit status, as GitHub asks before it merges one.
func TestMergeRulesWantTheBranchsChecksOnTheHead(t *testing.T) {
	f, mr := rulesForge(t)
	if err := f.SetBranchProtection(project, "main", fakeforge.BranchProtection{RequiredStatusChecks: []string{"cla/check", "dco"}}); err != nil {
		t.Fatal(err)
	}
	off := newClient(t, f, func(o *Options) { o.IgnoreBranchChecks = true })
	expect(t, "nothing reported", mergeRules(t, off, mr.IID),
		forge.Unmet{Code: forge.UnmetChecks, Message: "its required checks `cla/check` and `dco` have not passed on its head yet"})
	if _, err := f.SetCheckRun(project, mr.SHA, "cla-app", "cla/check", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCommitStatus(project, mr.SHA, "dco", "pending", "bob"); err != nil {
		t.Fatal(err)
	}
	expect(t, "one failed, one pending", mergeRules(t, off, mr.IID),
		forge.Unmet{Code: forge.UnmetChecks, Message: "its required check `cla/check` failed on its head"},
		forge.Unmet{Code: forge.UnmetChecks, Message: "its required check `dco` has not passed on its head yet"})
	if _, err := f.SetCheckRun(project, mr.SHA, "cla-app", "cla/check", fakeforge.CheckCompleted, fakeforge.ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCommitStatus(project, mr.SHA, "dco", "success", "bob"); err != nil {
		t.Fatal(err)
	}
	expect(t, "both passed", mergeRules(t, off, mr.IID))
	// A check a ruleset pins to an app counts only as that app's run (a
	// new client: what the branch requires is remembered for minutes).
	if err := f.SetBranchStatusChecks(project, "main", []fakeforge.RuleStatusCheck{{Context: "cla/check", IntegrationID: f.AppID("cla-app")}}); err != nil {
		t.Fatal(err)
	}
	pinned := newClient(t, f, func(o *Options) { o.IgnoreBranchChecks = true })
	if _, err := f.SetCheckRun(project, mr.SHA, "other-app", "cla/check", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	expect(t, "another app's failure", mergeRules(t, pinned, mr.IID))
	if _, err := f.SetCheckRun(project, mr.SHA, "cla-app", "cla/check", fakeforge.CheckCompleted, fakeforge.ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	expect(t, "the pinned app's failure", mergeRules(t, pinned, mr.IID),
		forge.Unmet{Code: forge.UnmetChecks, Message: "its required check `cla/check` failed on its head"})
	// With branch checks on, cars wait for them: the head is not read.
	on := newClient(t, f, nil)
	if err := f.SetCommitStatus(project, mr.SHA, "dco", "failure", "bob"); err != nil {
		t.Fatal(err)
	}
	expect(t, "branch checks on", mergeRules(t, on, mr.IID))
}

// A pull request GitHub gives no review decision is still held to what
// the rulesets of its branch ask of reviews, read with the branch's
// required checks: GitHub has been reported to leave rulesets out of the
// decision.
func TestMergeRulesWithoutADecisionReadTheRulesets(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.GitHub.RulesetsWithoutDecision = true })
	for _, who := range []string{"alice", "bob", "carol"} {
		if err := f.SetAccess(project, who, fakeforge.Developer); err != nil {
			t.Fatal(err)
		}
	}
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, nil)
	expect(t, "no review", mergeRules(t, c, mr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"})
	review(t, f, mr.IID, "bob", fakeforge.ReviewApproved)
	expect(t, "approved by a writer", mergeRules(t, c, mr.IID))

	owners := newForge(t, func(o *fakeforge.Options) { o.GitHub.RulesetsWithoutDecision = true })
	pr := openMR(t, owners, "feature", map[string]string{"a": "a"})
	if err := owners.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1, RequireCodeOwnerReview: true}); err != nil {
		t.Fatal(err)
	}
	expect(t, "code owners asked", mergeRules(t, newClient(t, owners, nil), pr.IID),
		forge.Unmet{Code: forge.UnmetNotApproved, Message: "a ruleset of `main` asks for reviews (1 approving review, one of them from a code owner) that GitHub gives no decision on for it"})
}

// The merge rules of a train's first pull request are read with what its
// branch requires, in one request, and that is then known for the car's
// checks and the next pull request. A server whose schema lacks those
// fields is asked without them, once it said so, and its rules are still
// read.
func TestMergeRulesReadTheBranchInTheSameRequest(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.GitHub.RulesetsWithoutDecision = true })
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.SetBranchRules(project, "main", fakeforge.PullRequestRule{RequiredApprovingReviewCount: 1}); err != nil {
		t.Fatal(err)
	}
	notApproved := forge.Unmet{Code: forge.UnmetNotApproved, Message: "it needs 1 approving review"}
	rulesOf := func(c *Client) forge.Rules {
		t.Helper()
		rules, err := c.MergeRules(context.Background(), project, mr.IID, "main")
		if err != nil {
			t.Fatal(err)
		}
		return rules
	}
	c := newClient(t, f, nil)
	calls := counting(f)
	expect(t, "first read", rulesOf(c), notApproved)
	if got := calls.since()["POST /api/graphql"]; got != 1 {
		t.Fatalf("%d GraphQL queries for a pull request and its branch, want 1", got)
	}
	if !c.branchKnown(repoRef{project: project}, "main") {
		t.Fatal("the branch's rules were not kept")
	}
	expect(t, "second read", rulesOf(c), notApproved)
	if got := calls.since()["POST /api/graphql"]; got != 1 {
		t.Fatalf("%d GraphQL queries with the branch known, want 1", got)
	}
	// A pull request being added, whose branch is not known yet, is
	// read with it too, and that read serves the next.
	fresh := newClient(t, f, nil)
	expect(t, "an added pull request", mergeRules(t, fresh, mr.IID), notApproved)
	if !fresh.branchKnown(repoRef{project: project}, "main") {
		t.Fatal("the branch's rules were not kept from the read of an added pull request")
	}
	expect(t, "then for its train", rulesOf(fresh), notApproved)
	if got := calls.since()["POST /api/graphql"]; got != 2 {
		t.Fatalf("%d GraphQL queries for an added pull request, then for its train; want 2", got)
	}

	var refused atomic.Int32
	old := newClient(t, f, func(o *Options) {
		o.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			with, err := asksRulesWithBranch(r)
			if err != nil {
				return nil, err
			}
			if with {
				refused.Add(1)
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(`{"errors":[{"message":"Field 'baseRef' doesn't exist on type 'PullRequest'"}]}`)), Request: r}, nil
			}
			return http.DefaultTransport.RoundTrip(r)
		})
	})
	calls.since()
	expect(t, "an older server", rulesOf(old), notApproved)
	old.branches.put(branchKey(project, "main"), branchRules{at: time.Now().Add(-old.branchTTL)})
	expect(t, "an older server, the branch to read again", rulesOf(old), notApproved)
	if got, n := calls.since()["POST /api/graphql"], refused.Load(); n != 1 || got != 4 {
		t.Fatalf("an older server: asked with the branch %d times, %d queries answered; want 1 and 4", n, got)
	}
}

// asksRulesWithBranch reports whether r is a GraphQL query of a pull
// request's merge rules that asks for a branch's rules too, leaving r's
// body to be sent.
func asksRulesWithBranch(r *http.Request) (bool, error) {
	if r.Body == nil || !strings.HasSuffix(r.URL.Path, "/graphql") {
		return false, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return bytes.Contains(body, []byte("pullRequest(")) && bytes.Contains(body, []byte("refUpdateRule")), nil
}

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
			with, err := asksRulesWithBranch(r)
			if err != nil {
				return nil, err
			}
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err != nil || !broken.Load() || !with {
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
			with, err := asksRulesWithBranch(r)
			if err != nil {
				return nil, err
			}
			if with {
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
