package fakeforge

import (
	"net/http"
)

// GitHub REST handlers for reviews, branch protection and the rules for
// a branch.

// ghListReviews lists a pull request's reviews, oldest first.
func (f *Forge) ghListReviews(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.ghPullFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []ghReview{}
	for _, rv := range f.st.gh.reviews[m.ID] {
		out = append(out, f.ghReviewOf(p, m, rv))
	}
	writeGH(w, http.StatusOK, ghPaginate(w, r, out))
	return nil
}

// ghReviewEvents maps the events a review is submitted with to the
// states it then has.
var ghReviewEvents = map[string]string{
	"APPROVE": ReviewApproved, "REQUEST_CHANGES": ReviewChangesRequested, "COMMENT": ReviewCommented,
}

// ghCreateReview submits a review as the token's user. A review without
// an event would stay pending, which the fake does not keep.
func (f *Forge) ghCreateReview(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.ghPullFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	var body struct {
		CommitID string `json:"commit_id"`
		Body     string `json:"body"`
		Event    string `json:"event"`
	}
	if err := decodeGHBody(r, &body); err != nil {
		return err
	}
	state, ok := ghReviewEvents[body.Event]
	switch {
	case !ok:
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "PullRequestReview", Field: "event", Code: "invalid"})
	case state != ReviewApproved && body.Body == "":
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "PullRequestReview", Field: "body", Code: "missing_field"})
	}
	rv, err := f.addReview(p, m.IID, u, state, body.Body, body.CommitID)
	if err != nil {
		return err
	}
	if err := f.sendGHReview(r.Context(), p, m.IID, u, rv); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.ghReviewOf(p, m, rv))
	return nil
}

// ghGetProtection answers a branch's protection. GitHub shows it only to
// administrators of the repository, and answers 404 "Branch not
// protected" for a branch without.
func (f *Forge) ghGetProtection(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, Owner)
	if err != nil {
		return err
	}
	branch := r.PathValue("branch")
	sha, err := f.repo(p.Path).resolve(r.Context(), "refs/heads/"+branch)
	if err != nil {
		return err
	}
	if sha == "" {
		return &ghError{http.StatusNotFound, ghMessage{Message: "Branch not found", DocumentationURL: ghDocs}}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	bp, ok := f.st.gh.protection[branchKey{p.ID, branch}]
	if !ok {
		return &ghError{http.StatusNotFound, ghMessage{Message: "Branch not protected", DocumentationURL: ghDocs + "/branches/branch-protection#get-branch-protection"}}
	}
	writeGH(w, http.StatusOK, f.ghProtectionOf(p, branch, bp))
	return nil
}

// ghRulesForBranch answers the active rules on a branch, which anyone
// who can read the repository may see: the pull_request and the
// required_status_checks rules the repository's rulesets have.
func (f *Forge) ghRulesForBranch(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	k := branchKey{p.ID, r.PathValue("branch")}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []ghRule{}
	if rule, ok := f.st.gh.rules[k]; ok {
		out = append(out, ghRule{
			Type: "pull_request", RulesetSourceType: "Repository", RulesetSource: p.Path, RulesetID: f.st.gh.rulesIDs[k],
			Parameters: ghPullRequestParams{
				RequiredApprovingReviewCount: rule.RequiredApprovingReviewCount, DismissStaleReviewsOnPush: rule.DismissStaleReviewsOnPush,
				RequireCodeOwnerReview: rule.RequireCodeOwnerReview, RequiredReviewThreadResolution: rule.RequiredReviewThreadResolution,
			},
		})
	}
	if checks, ok := f.st.gh.statusRules[k]; ok {
		params := ghStatusChecksParams{RequiredStatusChecks: []ghRuleStatusCheck{}}
		for _, c := range checks {
			rc := ghRuleStatusCheck{Context: c.Context}
			if c.IntegrationID != 0 {
				rc.IntegrationID = &c.IntegrationID
			}
			params.RequiredStatusChecks = append(params.RequiredStatusChecks, rc)
		}
		out = append(out, ghRule{
			Type: "required_status_checks", RulesetSourceType: "Repository", RulesetSource: p.Path, RulesetID: f.st.gh.rulesIDs[k],
			Parameters: params,
		})
	}
	writeGH(w, http.StatusOK, ghPaginate(w, r, out))
	return nil
}
