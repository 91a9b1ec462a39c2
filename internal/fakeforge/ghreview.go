package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// GitHub's merge rules: reviews, review threads, branch protection,
// rulesets and code owners, and how GitHub decides from them whether a
// pull request may merge. Branches have no protection and no rules until
// a test sets them, so everything merges as before unless it asks.

// BranchProtection is the part of a branch's classic protection that
// concerns pull requests into it. The zero value is no protection.
type BranchProtection struct {
	// RequiredApprovingReviews is how many approvals from users with
	// write access a pull request needs.
	RequiredApprovingReviews int
	// RequireCodeOwnerReviews asks for an approval from a code owner
	// (see SetCodeOwners); without code owners it asks nothing.
	RequireCodeOwnerReviews bool
	// DismissStaleReviews dismisses approvals when new commits are
	// pushed to the pull request.
	DismissStaleReviews bool
	// RequireConversationResolution blocks a pull request with an
	// unresolved review thread.
	RequireConversationResolution bool
	// RequiredStatusChecks are reported, never enforced: the fake merges
	// nothing on its own.
	RequiredStatusChecks []string
}

func (b BranchProtection) isZero() bool {
	return b.RequiredApprovingReviews == 0 && !b.RequireCodeOwnerReviews && !b.DismissStaleReviews &&
		!b.RequireConversationResolution && len(b.RequiredStatusChecks) == 0
}

// PullRequestRule is a ruleset's pull_request rule on a branch, with
// GitHub's parameters. The zero value is no rule.
type PullRequestRule struct {
	RequiredApprovingReviewCount   int
	DismissStaleReviewsOnPush      bool
	RequireCodeOwnerReview         bool
	RequiredReviewThreadResolution bool
}

// RuleStatusCheck is a status check a ruleset's required_status_checks
// rule asks for: a context and, when IntegrationID is not zero, the
// GitHub App expected to report it.
type RuleStatusCheck struct {
	Context       string
	IntegrationID int64
}

// PullReview is a review as the control API reports it.
type PullReview struct {
	ID       int64
	Author   string
	State    string // ReviewApproved, ReviewChangesRequested, ReviewCommented or ReviewDismissed
	Body     string
	CommitID string
	// SubmittedAt is when it was given.
	SubmittedAt time.Time
}

// SetBranchProtection protects branch of project; the zero value removes
// the protection.
func (f *Forge) SetBranchProtection(project, branch string, bp BranchProtection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return fmt.Errorf("protect %s of %s: %w", branch, project, err)
	}
	k := branchKey{p.ID, branch}
	if bp.isZero() {
		delete(f.st.gh.protection, k)
		return nil
	}
	bp.RequiredStatusChecks = slices.Clone(bp.RequiredStatusChecks)
	f.st.gh.protection[k] = bp
	return nil
}

// SetBranchRules sets the pull_request rule of a repository ruleset that
// targets branch of project; the zero value removes it.
func (f *Forge) SetBranchRules(project, branch string, rule PullRequestRule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return fmt.Errorf("set rules of %s of %s: %w", branch, project, err)
	}
	k := branchKey{p.ID, branch}
	if rule == (PullRequestRule{}) {
		delete(f.st.gh.rules, k)
		return nil
	}
	if _, ok := f.st.gh.rulesIDs[k]; !ok {
		f.st.gh.rulesIDs[k] = f.st.nextID()
	}
	f.st.gh.rules[k] = rule
	return nil
}

// SetCodeOwners makes owners (usernames) the code owners of every path
// of project, as a CODEOWNERS line "* @a @b" would; none clears them.
func (f *Forge) SetCodeOwners(project string, owners ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return fmt.Errorf("set code owners of %s: %w", project, err)
	}
	f.st.gh.codeOwners[p.ID] = slices.Clone(owners)
	return nil
}

// Review reviews pull request number as username (created if unknown):
// state is ReviewApproved, ReviewChangesRequested or ReviewCommented, on
// the pull request's head as it is now. As on GitHub, an author may
// comment on their own pull request but not approve it or request
// changes.
func (f *Forge) Review(ctx context.Context, project string, number int64, username, state, body string) error {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return fmt.Errorf("review %s#%d: %w", project, number, err)
	}
	rv, err := f.addReview(p, number, u, state, body, "")
	if err == nil {
		err = f.sendGHReview(ctx, p, number, u, rv)
	}
	if err != nil {
		return fmt.Errorf("review %s#%d: %w", project, number, err)
	}
	return nil
}

// addReview records a review on commit, the pull request's head if "".
func (f *Forge) addReview(p *project, number int64, u *user, state, body, commit string) (*review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[number]
	if !ok {
		return nil, ErrNoMR
	}
	switch state {
	case ReviewApproved, ReviewChangesRequested:
		if m.AuthorID == u.ID {
			verb := map[string]string{ReviewApproved: "approve", ReviewChangesRequested: "request changes on"}[state]
			return nil, ghRefused("Can not " + verb + " your own pull request")
		}
	case ReviewCommented:
	default:
		return nil, fmt.Errorf("review state %q: want %s, %s or %s", state, ReviewApproved, ReviewChangesRequested, ReviewCommented)
	}
	if commit == "" {
		commit = m.SHA
	}
	rv := &review{ID: f.st.nextID(), AuthorID: u.ID, State: state, Body: body, CommitID: commit, Submitted: f.opts.Now()}
	f.st.gh.reviews[m.ID] = append(f.st.gh.reviews[m.ID], rv)
	return rv, nil
}

// DismissReview dismisses the latest approval or change request of
// username on pull request number, as a maintainer would.
func (f *Forge) DismissReview(ctx context.Context, project string, number int64, username string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, m, err := f.st.mr(project, number)
	if err != nil {
		return fmt.Errorf("dismiss review of %s on %s#%d: %w", username, project, number, err)
	}
	u, ok := f.st.usersByName[username]
	if ok {
		list := f.st.gh.reviews[m.ID]
		for i := len(list) - 1; i >= 0; i-- {
			if rv := list[i]; rv.AuthorID == u.ID && (rv.State == ReviewApproved || rv.State == ReviewChangesRequested) {
				rv.State = ReviewDismissed
				return nil
			}
		}
	}
	return fmt.Errorf("dismiss review of %s on %s#%d: %w", username, p.Path, number, errNoReview)
}

var errNoReview = errors.New("no approval or change request to dismiss")

// Reviews lists the reviews of pull request number, oldest first.
func (f *Forge) Reviews(project string, number int64) ([]PullReview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, m, err := f.st.mr(project, number)
	if err != nil {
		return nil, err
	}
	var out []PullReview
	for _, rv := range f.st.gh.reviews[m.ID] {
		out = append(out, PullReview{ID: rv.ID, Author: f.st.users[rv.AuthorID].Username, State: rv.State, Body: rv.Body,
			CommitID: rv.CommitID, SubmittedAt: rv.Submitted})
	}
	return out, nil
}

// StartReviewThread opens a conversation on the diff of pull request
// number as username and returns its node id.
func (f *Forge) StartReviewThread(ctx context.Context, project string, number int64, username, body string) (string, error) {
	_, u, err := f.lookup(project, username)
	if err != nil {
		return "", fmt.Errorf("start a review thread on %s#%d: %w", project, number, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, m, err := f.st.mr(project, number)
	if err != nil {
		return "", fmt.Errorf("start a review thread on %s#%d: %w", project, number, err)
	}
	t := &reviewThread{ID: nodeID("PRRT", f.st.nextID()), AuthorID: u.ID, Body: body, Created: f.opts.Now()}
	f.st.gh.threads[m.ID] = append(f.st.gh.threads[m.ID], t)
	return t.ID, nil
}

// ResolveReviewThread resolves (or, with resolved false, unresolves) the
// review thread id of pull request number.
func (f *Forge) ResolveReviewThread(ctx context.Context, project string, number int64, id string, resolved bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, m, err := f.st.mr(project, number)
	if err != nil {
		return fmt.Errorf("resolve review thread %s of %s#%d: %w", id, project, number, err)
	}
	for _, t := range f.st.gh.threads[m.ID] {
		if t.ID == id {
			t.Resolved = resolved
			return nil
		}
	}
	return fmt.Errorf("resolve review thread %s of %s#%d: no such thread", id, project, number)
}

// dismissStale dismisses the approvals of MR iid given before its head
// moved, when the protection or the rules of its target ask for it, as
// GitHub does on every push to a pull request.
func (f *Forge) dismissStale(p *project, iid int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[iid]
	if !ok || !f.ghRequirementOf(p, m.Target).dismissStale {
		return
	}
	for _, rv := range f.st.gh.reviews[m.ID] {
		if rv.State == ReviewApproved && rv.CommitID != m.SHA {
			rv.State = ReviewDismissed
		}
	}
}

// SetBranchStatusChecks sets the required_status_checks rule of a
// repository ruleset that targets branch of project; none removes it.
// Like classic protection's required checks, they are reported, never
// enforced.
func (f *Forge) SetBranchStatusChecks(project, branch string, checks []RuleStatusCheck) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return fmt.Errorf("set required checks of %s of %s: %w", branch, project, err)
	}
	k := branchKey{p.ID, branch}
	if len(checks) == 0 {
		delete(f.st.gh.statusRules, k)
		return nil
	}
	if _, ok := f.st.gh.rulesIDs[k]; !ok {
		f.st.gh.rulesIDs[k] = f.st.nextID()
	}
	f.st.gh.statusRules[k] = slices.Clone(checks)
	return nil
}

// ghRequirement is what protection and rules together ask of pull
// requests into a branch: the strictest of each.
type ghRequirement struct {
	approvals    int
	codeOwners   bool
	dismissStale bool
	threads      bool
}

// ghRequirementOf reads the requirement on branch of p; call with f.mu
// held. Code owner reviews are asked only of a project with code owners.
func (f *Forge) ghRequirementOf(p *project, branch string) ghRequirement {
	k := branchKey{p.ID, branch}
	bp, rule := f.st.gh.protection[k], f.st.gh.rules[k]
	return ghRequirement{
		approvals:    max(bp.RequiredApprovingReviews, rule.RequiredApprovingReviewCount),
		codeOwners:   (bp.RequireCodeOwnerReviews || rule.RequireCodeOwnerReview) && len(f.st.gh.codeOwners[p.ID]) > 0,
		dismissStale: bp.DismissStaleReviews || rule.DismissStaleReviewsOnPush,
		threads:      bp.RequireConversationResolution || rule.RequiredReviewThreadResolution,
	}
}

func (r ghRequirement) reviews() bool { return r.approvals > 0 || r.codeOwners }

// ghProtected reports whether a branch has protection or rules, as the
// branches API says; the default branch always counts as protected.
// Call with f.mu held.
func (f *Forge) ghProtected(p *project, branch string) bool {
	k := branchKey{p.ID, branch}
	_, protected := f.st.gh.protection[k]
	_, ruled := f.st.gh.rules[k]
	_, checked := f.st.gh.statusRules[k]
	return branch == p.DefaultBranch || protected || ruled || checked
}

// latestOpinions is each reviewer's latest opinionated review (an
// approval or a change request, dismissed or not) of MR m, by whom
// reviewed first; with writersOnly, only those of users with write
// access. Call with f.mu held.
func (f *Forge) latestOpinions(p *project, m *mergeRequest, writersOnly bool) []*review {
	var order []int64
	latest := map[int64]*review{}
	for _, rv := range f.st.gh.reviews[m.ID] {
		if rv.State == ReviewCommented {
			continue
		}
		if writersOnly && f.st.access(p, f.st.users[rv.AuthorID]) < Developer {
			continue
		}
		if _, ok := latest[rv.AuthorID]; !ok {
			order = append(order, rv.AuthorID)
		}
		latest[rv.AuthorID] = rv
	}
	out := make([]*review, 0, len(order))
	for _, id := range order {
		out = append(out, latest[id])
	}
	return out
}

// reviewDecision is GitHub's reviewDecision of MR m: "" (null) when
// nothing requires reviews; else CHANGES_REQUESTED while a writer's
// latest opinion requests changes, APPROVED with enough approvals (one
// of them a code owner's, if asked), REVIEW_REQUIRED otherwise. Call
// with f.mu held.
func (f *Forge) reviewDecision(p *project, m *mergeRequest) string {
	req := f.ghRequirementOf(p, m.Target)
	if !req.reviews() {
		return ""
	}
	if bp := f.st.gh.protection[branchKey{p.ID, m.Target}]; f.opts.GitHub.RulesetsWithoutDecision &&
		bp.RequiredApprovingReviews == 0 && !bp.RequireCodeOwnerReviews {
		return ""
	}
	approvals, owner := 0, false
	for _, rv := range f.latestOpinions(p, m, true) {
		switch rv.State {
		case ReviewChangesRequested:
			return ReviewChangesRequested
		case ReviewApproved:
			approvals++
			owner = owner || slices.Contains(f.st.gh.codeOwners[p.ID], f.st.users[rv.AuthorID].Username)
		}
	}
	if approvals >= req.approvals && (!req.codeOwners || owner) {
		return ReviewApproved
	}
	return "REVIEW_REQUIRED"
}

// mergeStateStatus is GitHub's mergeStateStatus of MR m, as far as the
// fake models it: checks and conflicts are the train's business. Call
// with f.mu held.
func (f *Forge) mergeStateStatus(p *project, m *mergeRequest) string {
	switch {
	case m.State != StateOpened:
		return "UNKNOWN"
	case m.Draft:
		return "DRAFT"
	}
	req := f.ghRequirementOf(p, m.Target)
	if req.reviews() && f.reviewDecision(p, m) != ReviewApproved {
		return "BLOCKED"
	}
	if req.threads {
		for _, t := range f.st.gh.threads[m.ID] {
			if !t.Resolved {
				return "BLOCKED"
			}
		}
	}
	return "CLEAN"
}
