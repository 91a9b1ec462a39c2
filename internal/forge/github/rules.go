package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v82/github"
	"github.com/shurcooL/githubv4"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// GitHub refuses to merge a pull request that its branch protection or
// rulesets block; Trainyard pushes the target branch itself, so it must
// refuse the same pull requests. GitHub sums most of it up in a pull
// request's reviewDecision, which one GraphQL query reads; the branch's
// requirements are read only to explain a missing review, and to know
// whether unresolved conversations block.

// RulesPR is what MergeRules reads of a pull request.
type RulesPR struct {
	Number           int64
	Title            string
	Body             string
	URL              string
	Author           struct{ Login string }
	State            githubv4.PullRequestState
	IsDraft          bool
	BaseRefName      string
	HeadRefName      string
	HeadRefOid       string
	ReviewDecision   *githubv4.PullRequestReviewDecision
	MergeStateStatus githubv4.MergeStateStatus
	ReviewThreads    struct {
		TotalCount int
		Nodes      []struct{ IsResolved bool }
	} `graphql:"reviewThreads(first: 100)"`
	LatestOpinionatedReviews struct {
		Nodes []struct {
			State  githubv4.PullRequestReviewState
			Author struct{ Login string }
		}
	} `graphql:"latestOpinionatedReviews(first: 100, writersOnly: true)"`
}

// rulesQuery is the one query of MergeRules.
type rulesQuery struct {
	Repository struct {
		PullRequest *RulesPR `graphql:"pullRequest(number: $number)"`
	} `graphql:"repository(owner: $owner, name: $name)"`
}

// rulesRefQuery is rulesQuery with what the pull request's base branch
// requires (see requiredChecks), asked in the same request while that is
// not known: a train's first pull request costs one request, not two.
type rulesRefQuery struct {
	Repository struct {
		PullRequest *struct {
			RulesPR
			BaseRef *refRules
		} `graphql:"pullRequest(number: $number)"`
	} `graphql:"repository(owner: $owner, name: $name)"`
}

// rulesIntoQuery is rulesQuery with what branch $ref (the one the train
// merges the pull request into) requires, for a train whose branch's
// rules are not known: a stacked pull request's base is not the branch
// its cars are judged by.
type rulesIntoQuery struct {
	Repository struct {
		PullRequest *RulesPR  `graphql:"pullRequest(number: $number)"`
		Ref         *refRules `graphql:"ref(qualifiedName: $ref)"`
	} `graphql:"repository(owner: $owner, name: $name)"`
}

// readRules reads pull request number, with what into requires unless
// that is known: into is the branch the train merges it into, and ""
// when that is not known yet (a pull request being added), which reads
// its base's. A server whose schema lacks the rules' fields is asked
// without them, then and from then on. The branch's part refused never
// fails the rules, as with requiredChecks: they are read without it, and
// what was read of the branch before is kept and tried again a minute
// later.
func (c *Client) readRules(ctx context.Context, op string, r repoRef, number int64, into string) (*RulesPR, error) {
	vars := map[string]any{"owner": githubv4.String(r.owner), "name": githubv4.String(r.repo), "number": githubv4.Int(number)}
	if !c.noRefRules.Load() && (into == "" || !c.branchKnown(r, into)) {
		pr, err := c.readRulesWithBranch(ctx, op, r, vars, into)
		switch {
		case err == nil:
			return pr, nil
		case ctx.Err() != nil:
			return nil, err
		case unknownField(err):
			c.noRefRules.Store(true)
		case !errors.Is(err, forge.ErrRejected):
			// Not found, or the forge out of reach or limiting: the
			// rules alone would meet the same.
			return nil, err
		default:
			// GitHub refused a field of the branch's (FORBIDDEN).
			c.log.Warn("read a pull request's rules with its branch's; reading them alone",
				zap.String("project", r.project), zap.Int64("number", number), zap.Error(err))
			if into != "" {
				key := branchKey(r.project, into)
				if last, known := c.branches.get(key); known {
					last.at = time.Now().Add(branchRetry - c.branchTTL)
					c.branches.put(key, last)
				}
			}
		}
	}
	var q rulesQuery
	if err := c.query(ctx, op, &q, vars); err != nil {
		return nil, err
	}
	return q.Repository.PullRequest, nil
}

// readRulesWithBranch is readRules' query with the branch's rules: into's
// or, for "", the pull request's base's.
func (c *Client) readRulesWithBranch(ctx context.Context, op string, r repoRef, vars map[string]any, into string) (*RulesPR, error) {
	if into == "" {
		var q rulesRefQuery
		if err := c.query(ctx, op, &q, vars); err != nil {
			return nil, err
		}
		pr := q.Repository.PullRequest
		if pr == nil {
			return nil, nil
		}
		c.keepBranchRules(r, pr.BaseRefName, pr.BaseRef)
		return &pr.RulesPR, nil
	}
	with := maps.Clone(vars)
	with["ref"] = githubv4.String("refs/heads/" + into)
	var q rulesIntoQuery
	if err := c.query(ctx, op, &q, with); err != nil {
		return nil, err
	}
	if q.Repository.PullRequest != nil {
		c.keepBranchRules(r, into, q.Repository.Ref)
	}
	return q.Repository.PullRequest, nil
}

// MergeRules reads what GitHub's merge rules say of pull request number
// of repo: whether it is open, a draft, approved as its branch requires,
// without requested changes, and, where the branch requires it, without
// unresolved conversations. When nothing is required of it, that costs
// one request, which also gives the pull request itself. Rules that cannot be read (branch protection, for a token
// without admin access) are unmet: Trainyard must never merge what it
// cannot check.
//
// into is the branch the train merges it into. GitHub judges a pull
// request by the branch it targets; one stacked on another's branch
// merges into into all the same, so into's requirements are checked too
// (intoUnmet).
func (c *Client) MergeRules(ctx context.Context, repo string, number int64, into string) (forge.Rules, error) {
	r, err := c.repoOf(ctx, repo)
	if err != nil {
		return forge.Rules{}, err
	}
	op := fmt.Sprintf("read merge rules of %s#%d", repo, number)
	pr, err := c.readRules(ctx, op, r, number, into)
	if err != nil {
		return forge.Rules{}, err
	}
	if pr == nil {
		return forge.Rules{}, fmt.Errorf("%s: %w", op, forge.ErrNotFound)
	}
	mr := &forge.MR{
		Project: repo, IID: pr.Number, State: stateOf(pr.State), Draft: pr.IsDraft,
		SourceBranch: pr.HeadRefName, TargetBranch: pr.BaseRefName, HeadSHA: pr.HeadRefOid,
		Title: pr.Title, Description: pr.Body, Author: pr.Author.Login, WebURL: pr.URL,
	}
	if pr.State != githubv4.PullRequestStateOpen {
		return forge.Rules{MR: mr, Unmet: []forge.Unmet{{Code: forge.UnmetNotOpen, Message: notOpen(pr.State)}}}, nil
	}
	var unmet []forge.Unmet
	if pr.IsDraft || pr.MergeStateStatus == githubv4.MergeStateStatusDraft {
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetDraft, Message: "it is a draft"})
	}
	// Threads past the first page are not read: they count as
	// unresolved, so a long review fails closed.
	unresolved := pr.ReviewThreads.TotalCount - len(pr.ReviewThreads.Nodes)
	for _, t := range pr.ReviewThreads.Nodes {
		if !t.IsResolved {
			unresolved++
		}
	}
	decision := ""
	if pr.ReviewDecision != nil {
		decision = string(*pr.ReviewDecision)
	}
	var approvals int
	var requesting []string
	for _, rv := range pr.LatestOpinionatedReviews.Nodes {
		switch rv.State {
		case githubv4.PullRequestReviewStateApproved:
			approvals++
		case githubv4.PullRequestReviewStateChangesRequested:
			requesting = append(requesting, "@"+rv.Author.Login)
		}
	}
	req := requirements{}
	reviewRequired := decision == string(githubv4.PullRequestReviewDecisionReviewRequired)
	if reviewRequired || unresolved > 0 {
		if req, err = c.requirements(ctx, r, pr.BaseRefName, reviewRequired); err != nil {
			return forge.Rules{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	if decision == "" {
		more, err := c.undecidedUnmet(ctx, r, pr.BaseRefName, approvals)
		if err != nil {
			return forge.Rules{}, fmt.Errorf("%s: %w", op, err)
		}
		unmet = append(unmet, more...)
	}
	switch githubv4.PullRequestReviewDecision(decision) {
	case "", githubv4.PullRequestReviewDecisionApproved:
	case githubv4.PullRequestReviewDecisionChangesRequested:
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetRequestedChanges, Message: changesRequested(requesting)})
	case githubv4.PullRequestReviewDecisionReviewRequired:
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetNotApproved, Message: req.notApproved(approvals)})
	default:
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetUnknown, Message: "GitHub's review decision is " + decision})
	}
	switch {
	case unresolved > 0 && req.threads:
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetDiscussions, Message: "it has " + plural(unresolved, "unresolved conversation")})
	case unresolved > 0 && req.unreadable != "":
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetUnreadable, Message: req.unreadable})
	}
	if r.IgnoreBranchChecks {
		// Those of the branch it merges into: a stacked pull request's
		// own base may require none.
		more, err := c.headChecksUnmet(ctx, r, cmp.Or(into, pr.BaseRefName), pr.HeadRefOid)
		if err != nil {
			return forge.Rules{}, fmt.Errorf("%s: %w", op, err)
		}
		unmet = append(unmet, more...)
	}
	if into != "" && into != pr.BaseRefName {
		more, err := c.intoUnmet(ctx, r, into, approvals, requesting, unresolved)
		if err != nil {
			return forge.Rules{}, fmt.Errorf("%s: %w", op, err)
		}
		for _, u := range more {
			if !slices.ContainsFunc(unmet, func(x forge.Unmet) bool { return x.Code == u.Code }) {
				unmet = append(unmet, u)
			}
		}
	}
	// mergeStateStatus BLOCKED alone stops nothing: it also stands for
	// required status checks, which are what the train itself runs on
	// the pull request merged with those before it.
	return forge.Rules{MR: mr, Unmet: unmet}, nil
}

// undecidedUnmet checks a pull request GitHub gives no review decision
// (null: nothing requires reviews) against the rulesets of its branch,
// which GitHub has been reported to leave out of the decision. What they
// ask is read with the branch's required checks (requiredChecks, cached
// for a few minutes), so this costs no request of its own most of the
// time. Approvals are counted from writers' latest reviews; a code
// owner's review or the last push's approval cannot be judged outside
// GitHub, and so is unmet.
func (c *Client) undecidedUnmet(ctx context.Context, r repoRef, branch string, approvals int) ([]forge.Unmet, error) {
	b, err := c.requiredChecks(ctx, r, branch)
	if err != nil {
		return nil, err
	}
	if u, ok := b.reviews.counted(approvals, "", func(asked string) string {
		return fmt.Sprintf("a ruleset of %s asks for reviews (%s) that GitHub gives no decision on for it", train.Quote(branch), asked)
	}); ok {
		return []forge.Unmet{u}, nil
	}
	return nil, nil
}

// counted judges r by approvals, counted from writers' latest reviews,
// where GitHub's decision does not speak for r. A code owner's review or
// the last push's approval only GitHub can judge: asking for one is
// unmet, in the words unjudged gives for what is asked. Too few
// approvals are unmet as notApproved says, then suffix.
func (r requirements) counted(approvals int, suffix string, unjudged func(asked string) string) (forge.Unmet, bool) {
	switch {
	case r.codeOwners || r.lastPush:
		return forge.Unmet{Code: forge.UnmetNotApproved, Message: unjudged(strings.TrimPrefix(r.notApproved(0), "it needs "))}, true
	case r.approvals > approvals:
		return forge.Unmet{Code: forge.UnmetNotApproved, Message: r.notApproved(approvals) + suffix}, true
	}
	return forge.Unmet{}, false
}

// intoUnmet is what branch into requires of a pull request that targets
// another branch (one stacked on another's) and it lacks: GitHub's
// review decision speaks of the branch it targets only. Approvals and
// requested changes are counted from the latest reviews of writers, as
// GitHub counts them; a code owner's review and the last push's approval
// cannot be judged outside GitHub, so they are unmet, and the author is
// told to target into instead.
func (c *Client) intoUnmet(ctx context.Context, r repoRef, into string, approvals int, requesting []string, unresolved int) ([]forge.Unmet, error) {
	req, err := c.requirements(ctx, r, into, true)
	if err != nil {
		return nil, err
	}
	var unmet []forge.Unmet
	if req.unreadable != "" {
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetUnreadable, Message: req.unreadable})
	}
	if len(requesting) > 0 {
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetRequestedChanges, Message: changesRequested(requesting)})
	}
	if u, ok := req.counted(approvals, " for "+train.Quote(into), func(asked string) string {
		return fmt.Sprintf("%s asks for reviews GitHub judges only for pull requests that target it (%s); retarget it to %s",
			train.Quote(into), asked, train.Quote(into))
	}); ok {
		unmet = append(unmet, u)
	}
	if unresolved > 0 && req.threads {
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetDiscussions, Message: "it has " + plural(unresolved, "unresolved conversation")})
	}
	return unmet, nil
}

// stateOf maps GitHub's pull request states onto the forge's.
func stateOf(s githubv4.PullRequestState) string {
	switch s {
	case githubv4.PullRequestStateOpen:
		return forge.StateOpened
	case githubv4.PullRequestStateMerged:
		return forge.StateMerged
	}
	return forge.StateClosed
}

func notOpen(state githubv4.PullRequestState) string {
	switch state {
	case githubv4.PullRequestStateMerged:
		return "it is merged"
	case githubv4.PullRequestStateClosed:
		return "it is closed"
	}
	return "it is not open"
}

// changesRequested names who requested changes: "@bob and @carol
// requested changes".
func changesRequested(who []string) string {
	switch len(who) {
	case 0:
		return "changes were requested"
	case 1:
		return who[0] + " requested changes"
	}
	return strings.Join(who[:len(who)-1], ", ") + " and " + who[len(who)-1] + " requested changes"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// requirements are what a branch's rulesets and protection together
// require of pull requests into it: the strictest of each.
type requirements struct {
	approvals  int
	codeOwners bool
	lastPush   bool
	threads    bool
	// unreadable says why the protection could not be read, and what the
	// token needs to read it; "" when it was read, or not needed.
	unreadable string
}

// notApproved says what a pull request GitHub finds not approved lacks,
// given its approvals from writers.
func (r requirements) notApproved(approvals int) string {
	needs := ""
	switch {
	case r.approvals > approvals && r.codeOwners:
		needs = plural(r.approvals, "approving review") + ", one of them from a code owner"
	case r.approvals > approvals:
		needs = plural(r.approvals, "approving review")
	case r.codeOwners:
		return "it needs an approving review from a code owner"
	case r.lastPush:
		return "it needs its last push approved by someone other than who pushed it"
	default:
		return "it needs an approving review"
	}
	if approvals > 0 {
		return fmt.Sprintf("it needs %s and has %d", needs, approvals)
	}
	return "it needs " + needs
}

// requirements reads the rules for branch, which any reader may, then,
// when they leave a question open, its protection. Reading protection
// takes admin access; without it GitHub answers 403, or 404 as for an
// unprotected branch but without "Branch not protected", and the
// requirements say they are unreadable.
func (c *Client) requirements(ctx context.Context, r repoRef, branch string, reviews bool) (requirements, error) {
	var req requirements
	err := c.pages(ctx, fmt.Sprintf("read rules for branch %s of %s", branch, r.project), func(try context.Context, page int) (*gh.Response, error) {
		rules, resp, err := c.gh.Repositories.GetRulesForBranch(try, r.owner, r.repo, branch, &gh.ListOptions{Page: page, PerPage: perPage})
		if rules != nil {
			for _, rule := range rules.PullRequest {
				p := rule.Parameters
				req.approvals = max(req.approvals, p.RequiredApprovingReviewCount)
				req.codeOwners = req.codeOwners || p.RequireCodeOwnerReview
				req.lastPush = req.lastPush || p.RequireLastPushApproval
				req.threads = req.threads || p.RequiredReviewThreadResolution
			}
		}
		return resp, err
	})
	if err != nil || (!reviews && req.threads) {
		return req, err
	}
	op := fmt.Sprintf("read protection of branch %s of %s", branch, r.project)
	var p *gh.Protection
	var status int
	unprotected := false
	err = c.do(ctx, op, read, func(try context.Context) (resp *gh.Response, err error) {
		p, resp, err = c.gh.Repositories.GetBranchProtection(try, r.owner, r.repo, branch)
		if resp != nil {
			status = resp.StatusCode
		}
		unprotected = errors.Is(err, gh.ErrBranchNotProtected)
		return resp, err
	})
	switch {
	case unprotected:
		return req, nil
	case errors.Is(err, forge.ErrNotFound), errors.Is(err, forge.ErrRejected) && status == http.StatusForbidden:
		req.unreadable = fmt.Sprintf("Trainyard cannot read the branch protection of %s in %s (GitHub answered %d): its token needs admin access to the repository, or the Administration: read permission for a GitHub App or a fine-grained token",
			train.Quote(branch), r.project, status)
		return req, nil
	case err != nil:
		return req, err
	}
	if rv := p.GetRequiredPullRequestReviews(); rv != nil {
		req.approvals = max(req.approvals, rv.RequiredApprovingReviewCount)
		req.codeOwners = req.codeOwners || rv.RequireCodeOwnerReviews
		req.lastPush = req.lastPush || rv.RequireLastPushApproval
	}
	if cr := p.GetRequiredConversationResolution(); cr != nil {
		req.threads = req.threads || cr.Enabled
	}
	return req, nil
}
