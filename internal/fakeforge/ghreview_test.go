package fakeforge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v82/github"
)

const (
	bobToken   = "bob-token-1f3e"
	aliceToken = "alice-token-9a0b"
)

func TestGitHubReviews(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	addUser(t, f, "bob", bobToken, Developer)
	addUser(t, f, "alice", aliceToken, Developer)
	ctx := context.Background()

	bob := ghClient(t, f, bobToken)
	got, _, err := bob.PullRequests.CreateReview(ctx, "acme", "widgets", int(mr.IID), &github.PullRequestReviewRequest{Event: github.Ptr("APPROVE")})
	if err != nil || got.GetState() != ReviewApproved || got.GetCommitID() != mr.SHA || got.GetUser().GetLogin() != "bob" ||
		got.GetHTMLURL() != f.URL()+"/acme/widgets/pull/1#pullrequestreview-"+itoa(got.GetID()) {
		t.Fatalf("approve: %v, %v", got, err)
	}
	_, resp, err := bob.PullRequests.CreateReview(ctx, "acme", "widgets", int(mr.IID), &github.PullRequestReviewRequest{Event: github.Ptr("REQUEST_CHANGES")})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("changes requested without a body: %v", err)
	}
	_, resp, err = ghClient(t, f, aliceToken).PullRequests.CreateReview(ctx, "acme", "widgets", int(mr.IID), &github.PullRequestReviewRequest{Event: github.Ptr("APPROVE")})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || resp.StatusCode != http.StatusUnprocessableEntity || len(er.Errors) != 1 || er.Errors[0].Message != "Can not approve your own pull request" {
		t.Fatalf("the author approving: %v", err)
	}
	if err := f.Review(ctx, project1, mr.IID, "carol", ReviewChangesRequested, "rename it"); err != nil {
		t.Fatal(err)
	}
	if err := f.Review(ctx, project1, mr.IID, "alice", ReviewCommented, "done"); err != nil {
		t.Fatalf("the author commenting: %v", err)
	}
	if err := f.Review(ctx, project1, mr.IID, "alice", ReviewChangesRequested, "no"); err == nil || !strings.Contains(err.Error(), "Can not request changes on your own pull request") {
		t.Fatalf("the author requesting changes: %v", err)
	}
	if err := f.DismissReview(ctx, project1, mr.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.DismissReview(ctx, project1, mr.IID, "alice"); err == nil {
		t.Fatal("dismissed a comment")
	}
	list, _, err := bob.PullRequests.ListReviews(ctx, "acme", "widgets", int(mr.IID), nil)
	if err != nil || len(list) != 3 {
		t.Fatalf("%d reviews, %v", len(list), err)
	}
	var states []string
	for _, rv := range list {
		states = append(states, rv.GetUser().GetLogin()+" "+rv.GetState()+" "+rv.GetBody())
	}
	if want := "bob DISMISSED |carol CHANGES_REQUESTED rename it|alice COMMENTED done"; strings.Join(states, "|") != want {
		t.Fatalf("reviews = %q, want %q", strings.Join(states, "|"), want)
	}
	if reviews, err := f.Reviews(project1, mr.IID); err != nil || len(reviews) != 3 || reviews[1].Author != "carol" || reviews[1].CommitID != mr.SHA {
		t.Fatalf("Reviews = %+v, %v", reviews, err)
	}
}

func TestGitHubStaleApprovalsAreDismissedOnPush(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(f *Forge) error
		state string
	}{
		{"unprotected", func(*Forge) error { return nil }, ReviewApproved},
		{"protection without dismissal", func(f *Forge) error {
			return f.SetBranchProtection(project1, "main", BranchProtection{RequiredApprovingReviews: 1})
		}, ReviewApproved},
		{"protection", func(f *Forge) error {
			return f.SetBranchProtection(project1, "main", BranchProtection{RequiredApprovingReviews: 1, DismissStaleReviews: true})
		}, ReviewDismissed},
		{"rules", func(f *Forge) error {
			return f.SetBranchRules(project1, "main", PullRequestRule{DismissStaleReviewsOnPush: true})
		}, ReviewDismissed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ghForge(t, nil)
			mustProject(t, f, project1, nil)
			mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
			ctx := context.Background()
			if err := tc.set(f); err != nil {
				t.Fatal(err)
			}
			for _, who := range []string{"bob", "carol"} {
				state := map[string]string{"bob": ReviewApproved, "carol": ReviewChangesRequested}[who]
				if err := f.Review(ctx, project1, mr.IID, who, state, "x"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.PushToMR(ctx, project1, mr.IID, Commit{Files: map[string]string{"b": "b"}}); err != nil {
				t.Fatal(err)
			}
			reviews, _ := f.Reviews(project1, mr.IID)
			// A change request is not an approval: it stays.
			if reviews[0].State != tc.state || reviews[1].State != ReviewChangesRequested {
				t.Fatalf("after a push: %+v", reviews)
			}
		})
	}
}

func TestGitHubBranchProtectionAndRules(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	addUser(t, f, "bob", bobToken, Maintainer)
	c, bob := ghClient(t, f, botToken), ghClient(t, f, bobToken)
	ctx := context.Background()

	if _, _, err := c.Repositories.GetBranchProtection(ctx, "acme", "widgets", "main"); !errors.Is(err, github.ErrBranchNotProtected) {
		t.Fatalf("unprotected branch: %v", err)
	}
	if _, resp, err := c.Repositories.GetBranchProtection(ctx, "acme", "widgets", "gone"); err == nil || resp.StatusCode != http.StatusNotFound || errors.Is(err, github.ErrBranchNotProtected) {
		t.Fatalf("missing branch: %v", err)
	}
	if err := f.SetBranchProtection(project1, "main", BranchProtection{RequiredApprovingReviews: 2, RequireCodeOwnerReviews: true, RequireConversationResolution: true}); err != nil {
		t.Fatal(err)
	}
	p, _, err := c.Repositories.GetBranchProtection(ctx, "acme", "widgets", "main")
	if err != nil || p.GetRequiredPullRequestReviews().RequiredApprovingReviewCount != 2 || !p.GetRequiredPullRequestReviews().RequireCodeOwnerReviews ||
		p.GetRequiredPullRequestReviews().DismissStaleReviews || !p.GetRequiredConversationResolution().Enabled || p.RequiredStatusChecks != nil {
		t.Fatalf("protection = %+v, %v", p, err)
	}
	// Reading protection takes admin; a maintainer is refused.
	if _, resp, err := bob.Repositories.GetBranchProtection(ctx, "acme", "widgets", "main"); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("protection read by a maintainer: %v", err)
	}
	if b, _, err := c.Repositories.GetBranch(ctx, "acme", "widgets", "main", 0); err != nil || !b.GetProtected() {
		t.Fatalf("branch: %v, %v", b, err)
	}

	rules, _, err := bob.Repositories.GetRulesForBranch(ctx, "acme", "widgets", "main", nil)
	if err != nil || len(rules.PullRequest) != 0 {
		t.Fatalf("rules before any: %+v, %v", rules, err)
	}
	if err := f.SetBranchRules(project1, "release/1", PullRequestRule{RequiredApprovingReviewCount: 1, RequireCodeOwnerReview: true, RequiredReviewThreadResolution: true}); err != nil {
		t.Fatal(err)
	}
	rules, _, err = bob.Repositories.GetRulesForBranch(ctx, "acme", "widgets", "release/1", nil)
	if err != nil || len(rules.PullRequest) != 1 {
		t.Fatalf("rules: %+v, %v", rules, err)
	}
	if got, want := rules.PullRequest[0].Parameters, (github.PullRequestRuleParameters{RequiredApprovingReviewCount: 1, RequireCodeOwnerReview: true, RequiredReviewThreadResolution: true}); got.RequiredApprovingReviewCount != want.RequiredApprovingReviewCount ||
		got.RequireCodeOwnerReview != want.RequireCodeOwnerReview || got.RequiredReviewThreadResolution != want.RequiredReviewThreadResolution || got.DismissStaleReviewsOnPush {
		t.Fatalf("pull_request rule = %+v", got)
	}
	if rules.PullRequest[0].RulesetSource != project1 || rules.PullRequest[0].RulesetID == 0 {
		t.Fatalf("ruleset = %+v", rules.PullRequest[0].BranchRuleMetadata)
	}

	// A required_status_checks rule beside it, one check bound to an app.
	if err := f.SetBranchStatusChecks(project1, "release/1", []RuleStatusCheck{{Context: "ci/test"}, {Context: "ext/scan", IntegrationID: 4242}}); err != nil {
		t.Fatal(err)
	}
	rules, _, err = bob.Repositories.GetRulesForBranch(ctx, "acme", "widgets", "release/1", nil)
	if err != nil || len(rules.PullRequest) != 1 || len(rules.RequiredStatusChecks) != 1 {
		t.Fatalf("rules with required checks: %+v, %v", rules, err)
	}
	checks := rules.RequiredStatusChecks[0].Parameters.RequiredStatusChecks
	if len(checks) != 2 || checks[0].Context != "ci/test" || checks[0].IntegrationID != nil ||
		checks[1].Context != "ext/scan" || checks[1].IntegrationID == nil || *checks[1].IntegrationID != 4242 {
		t.Fatalf("required_status_checks rule = %+v", rules.RequiredStatusChecks[0])
	}
	if rules.RequiredStatusChecks[0].RulesetID != rules.PullRequest[0].RulesetID {
		t.Fatalf("two rulesets for one branch's rules: %d, %d", rules.RequiredStatusChecks[0].RulesetID, rules.PullRequest[0].RulesetID)
	}

	for _, clear := range []func() error{
		func() error { return f.SetBranchProtection(project1, "main", BranchProtection{}) },
		func() error { return f.SetBranchRules(project1, "release/1", PullRequestRule{}) },
		func() error { return f.SetBranchStatusChecks(project1, "release/1", nil) },
	} {
		if err := clear(); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.Repositories.GetBranchProtection(ctx, "acme", "widgets", "main"); !errors.Is(err, github.ErrBranchNotProtected) {
		t.Fatalf("protection removed: %v", err)
	}
	if rules, _, err := bob.Repositories.GetRulesForBranch(ctx, "acme", "widgets", "release/1", nil); err != nil || len(rules.PullRequest) != 0 || len(rules.RequiredStatusChecks) != 0 {
		t.Fatalf("rules removed: %+v, %v", rules, err)
	}
	if err := f.SetBranchProtection("acme/nope", "main", BranchProtection{RequiredApprovingReviews: 1}); !errors.Is(err, ErrNoProject) {
		t.Fatalf("protecting a missing project: %v", err)
	}
}
