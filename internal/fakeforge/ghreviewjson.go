package fakeforge

import (
	"encoding/json"
	"strings"
)

// GitHub REST bodies of reviews, branch protection and rulesets, shaped
// like GitHub's (compare testdata/github/list_pull_request_reviews.json,
// get_branch_protection.json and get_rules_for_branch.json).

type ghReview struct {
	ID                int64             `json:"id"`
	NodeID            string            `json:"node_id"`
	User              obj               `json:"user"`
	Body              string            `json:"body"`
	State             string            `json:"state"`
	HTMLURL           string            `json:"html_url"`
	PullRequestURL    string            `json:"pull_request_url"`
	Links             map[string]ghHref `json:"_links"`
	SubmittedAt       string            `json:"submitted_at"`
	CommitID          string            `json:"commit_id"`
	AuthorAssociation string            `json:"author_association"`
}

// ghReviewOf renders review rv of MR m; call with f.mu held.
func (f *Forge) ghReviewOf(p *project, m *mergeRequest, rv *review) ghReview {
	l := f.ghURLs()
	web := l.web(p.Path+"/pull/"+itoa(m.IID)) + "#pullrequestreview-" + itoa(rv.ID)
	pull := l.api("repos/" + p.Path + "/pulls/" + itoa(m.IID))
	author := f.st.users[rv.AuthorID]
	return ghReview{
		ID: rv.ID, NodeID: nodeID("PRR", rv.ID), User: f.ghUserOf(author), Body: rv.Body, State: rv.State,
		HTMLURL: web, PullRequestURL: pull, Links: map[string]ghHref{"html": {web}, "pull_request": {pull}},
		SubmittedAt: ghTimeStr(rv.Submitted), CommitID: rv.CommitID, AuthorAssociation: f.association(p, author),
	}
}

type ghEnabled struct {
	Enabled bool `json:"enabled"`
}

type ghURLEnabled struct {
	URL     string `json:"url"`
	Enabled bool   `json:"enabled"`
}

type ghRequiredChecks struct {
	URL              string   `json:"url"`
	Contexts         []string `json:"contexts"`
	ContextsURL      string   `json:"contexts_url"`
	EnforcementLevel string   `json:"enforcement_level"`
}

type ghRequiredReviews struct {
	URL                          string `json:"url"`
	DismissStaleReviews          bool   `json:"dismiss_stale_reviews"`
	RequireCodeOwnerReviews      bool   `json:"require_code_owner_reviews"`
	RequiredApprovingReviewCount int    `json:"required_approving_review_count"`
	RequireLastPushApproval      bool   `json:"require_last_push_approval"`
}

// ghBranchProtection is a branch's protection. GitHub leaves out the
// parts that are off (required checks, required reviews, dismissal and
// push restrictions); the fake has no restrictions at all.
type ghBranchProtection struct {
	URL                            string             `json:"url"`
	RequiredStatusChecks           *ghRequiredChecks  `json:"required_status_checks,omitempty"`
	EnforceAdmins                  ghURLEnabled       `json:"enforce_admins"`
	RequiredPullRequestReviews     *ghRequiredReviews `json:"required_pull_request_reviews,omitempty"`
	RequiredLinearHistory          ghEnabled          `json:"required_linear_history"`
	AllowForcePushes               ghEnabled          `json:"allow_force_pushes"`
	AllowDeletions                 ghEnabled          `json:"allow_deletions"`
	RequiredConversationResolution ghEnabled          `json:"required_conversation_resolution"`
	LockBranch                     ghEnabled          `json:"lock_branch"`
	AllowForkSyncing               ghEnabled          `json:"allow_fork_syncing"`
}

func (f *Forge) ghProtectionOf(p *project, branch string, bp BranchProtection) ghBranchProtection {
	api := f.ghURLs().api("repos/" + p.Path + "/branches/" + branch + "/protection")
	out := ghBranchProtection{
		URL: api, EnforceAdmins: ghURLEnabled{URL: api + "/enforce_admins"},
		RequiredConversationResolution: ghEnabled{bp.RequireConversationResolution},
	}
	if len(bp.RequiredStatusChecks) > 0 {
		out.RequiredStatusChecks = &ghRequiredChecks{URL: api + "/required_status_checks", Contexts: bp.RequiredStatusChecks,
			ContextsURL: api + "/required_status_checks/contexts", EnforcementLevel: "non_admins"}
	}
	if bp.RequiredApprovingReviews > 0 || bp.RequireCodeOwnerReviews || bp.DismissStaleReviews {
		out.RequiredPullRequestReviews = &ghRequiredReviews{URL: api + "/required_pull_request_reviews",
			DismissStaleReviews: bp.DismissStaleReviews, RequireCodeOwnerReviews: bp.RequireCodeOwnerReviews,
			RequiredApprovingReviewCount: bp.RequiredApprovingReviews}
	}
	return out
}

// ghRule is one rule that applies to a branch, with the ruleset it comes
// from.
type ghRule struct {
	Type              string `json:"type"`
	RulesetSourceType string `json:"ruleset_source_type"`
	RulesetSource     string `json:"ruleset_source"`
	RulesetID         int64  `json:"ruleset_id"`
	Parameters        any    `json:"parameters"`
}

// ghPullRequestParams are the parameters of a pull_request rule, by
// GitHub's documented names.
type ghPullRequestParams struct {
	RequiredApprovingReviewCount   int  `json:"required_approving_review_count"`
	DismissStaleReviewsOnPush      bool `json:"dismiss_stale_reviews_on_push"`
	RequireCodeOwnerReview         bool `json:"require_code_owner_review"`
	RequireLastPushApproval        bool `json:"require_last_push_approval"`
	RequiredReviewThreadResolution bool `json:"required_review_thread_resolution"`
}

// ghStatusChecksParams are the parameters of a required_status_checks
// rule; integration_id is left out where any source will do.
type ghStatusChecksParams struct {
	RequiredStatusChecks             []ghRuleStatusCheck `json:"required_status_checks"`
	StrictRequiredStatusChecksPolicy bool                `json:"strict_required_status_checks_policy"`
}

type ghRuleStatusCheck struct {
	Context       string `json:"context"`
	IntegrationID *int64 `json:"integration_id,omitempty"`
}

// ghHookReviewOf renders review rv as pull_request_review events carry
// it: its state in lower case, and a null body when it has none. Call
// with f.mu held.
func (f *Forge) ghHookReviewOf(p *project, m *mergeRequest, rv *review) obj {
	r := f.ghReviewOf(p, m, rv)
	var body any
	if r.Body != "" {
		body = r.Body
	}
	return obj{
		"id": r.ID, "node_id": r.NodeID, "user": r.User, "body": body, "commit_id": r.CommitID, "submitted_at": r.SubmittedAt,
		"state": strings.ToLower(r.State), "html_url": r.HTMLURL, "pull_request_url": r.PullRequestURL,
		"author_association": r.AuthorAssociation, "_links": r.Links,
	}
}

// ghMergeInfoKeys are the keys of a pull request that review events
// leave out: what GitHub works out about merging, and counts.
var ghMergeInfoKeys = []string{
	"merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments", "review_comments",
	"maintainer_can_modify", "commits", "additions", "deletions", "changed_files",
}

// ghReviewedPullOf renders MR m as pull_request_review events carry it;
// call with f.mu held.
func (f *Forge) ghReviewedPullOf(p *project, m *mergeRequest, base string) (obj, error) {
	b, err := json.Marshal(f.ghPullOf(p, m, base))
	if err != nil {
		return nil, err
	}
	var o obj
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, err
	}
	for _, k := range ghMergeInfoKeys {
		delete(o, k)
	}
	return o, nil
}
