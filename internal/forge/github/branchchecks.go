package github

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shurcooL/githubv4"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
)

// A branch whose protection or rulesets require status checks takes a
// push only once they passed on the pushed commit (unless the pusher may
// bypass them), and GitHub's own merge queue waits for them: a car waits
// for them too, beside the configured ones. A ruleset may say which app
// must report a check; only that app's check runs count for it then, as
// on GitHub.
//
// They are read through GraphQL as anyone who can read the repository
// sees them (classic protection's refUpdateRule names the contexts, not
// the apps, which only its admins see), with a pull request's merge rules
// when those are read first (readRules), else in a query of their own; a
// server without these fields costs the train nothing but them.

// DefaultBranchTTL is how long what a branch requires is trusted before
// it is read again.
const DefaultBranchTTL = 5 * time.Minute

// branchRetry is how soon a branch whose rules could not be read is
// tried again.
const branchRetry = time.Minute

// refRules is the part of a Ref that says which checks it requires.
type refRules struct {
	RefUpdateRule *struct {
		RequiredStatusCheckContexts []string
	}
	Rules struct {
		PageInfo struct{ HasNextPage bool }
		Nodes    []struct {
			Parameters *struct {
				StatusChecks struct {
					RequiredStatusChecks []struct {
						Context       string
						IntegrationID *int64 `graphql:"integrationId"`
					}
				} `graphql:"... on RequiredStatusChecksParameters"`
				PullRequest struct {
					RequiredApprovingReviewCount int
					RequireCodeOwnerReview       bool
					RequireLastPushApproval      bool
				} `graphql:"... on PullRequestParameters"`
			}
		}
	} `graphql:"rules(first: 100)"`
}

// branchRules is what a branch requires: check contexts, and for some
// the apps that must report them; at is when it was read (or, after a
// failed read, when to try again less branchTTL).
type branchRules struct {
	checks []string
	apps   map[string][]int64
	// reviews are what the branch's rulesets ask of reviews: the
	// approvals, and whether a code owner's or an approval of the last
	// push is asked for.
	reviews requirements
	at      time.Time
}

func (q *refRules) branchRules(now time.Time) branchRules {
	b := branchRules{apps: map[string][]int64{}, at: now}
	if q == nil {
		return b
	}
	if u := q.RefUpdateRule; u != nil {
		b.checks = append(b.checks, u.RequiredStatusCheckContexts...)
	}
	for _, n := range q.Rules.Nodes {
		if n.Parameters == nil {
			continue
		}
		pr := n.Parameters.PullRequest
		b.reviews.approvals = max(b.reviews.approvals, pr.RequiredApprovingReviewCount)
		b.reviews.codeOwners = b.reviews.codeOwners || pr.RequireCodeOwnerReview
		b.reviews.lastPush = b.reviews.lastPush || pr.RequireLastPushApproval
		for _, c := range n.Parameters.StatusChecks.RequiredStatusChecks {
			b.checks = append(b.checks, c.Context)
			if id := c.IntegrationID; id != nil && *id > 0 && c.Context != "" && !slices.Contains(b.apps[c.Context], *id) {
				b.apps[c.Context] = append(b.apps[c.Context], *id)
			}
		}
	}
	// A null context in the list decodes as "": no check has that name.
	b.checks = slices.DeleteFunc(b.checks, func(c string) bool { return c == "" })
	slices.Sort(b.checks)
	b.checks = slices.Compact(b.checks)
	return b
}

// refQuery reads one branch's rules.
type refQuery struct {
	Repository struct {
		Ref *refRules `graphql:"ref(qualifiedName: $ref)"`
	} `graphql:"repository(owner: $owner, name: $name)"`
}

// branchChecks is what the branch ctx names (forge.ForBranch) requires,
// read again when older than branchTTL; nothing without a branch. A read
// that fails keeps what was last read, tried again a minute later. With
// nothing read yet, a server whose schema lacks the fields (an older
// GitHub Enterprise Server) leaves cars to their configured checks, and
// any other failure is returned, so that no car is judged without the
// branch's checks on a passing error.
func (c *Client) branchChecks(ctx context.Context, r repoRef) (branchRules, error) {
	branch, ok := forge.BranchOf(ctx)
	if !ok || r.IgnoreBranchChecks {
		return branchRules{}, nil
	}
	return c.requiredChecks(ctx, r, branch)
}

// requiredChecks is what branch requires, as branchChecks reads it.
func (c *Client) requiredChecks(ctx context.Context, r repoRef, branch string) (branchRules, error) {
	key := branchKey(r.project, branch)
	last, known := c.branches.get(key)
	if known && time.Since(last.at) < c.branchTTL {
		return last, nil
	}
	var q refQuery
	vars := map[string]any{"owner": githubv4.String(r.owner), "name": githubv4.String(r.repo), "ref": githubv4.String("refs/heads/" + branch)}
	op := fmt.Sprintf("read required checks of branch %s of %s", branch, r.project)
	if err := c.query(ctx, op, &q, vars); err != nil {
		switch {
		case ctx.Err() != nil:
			return branchRules{}, err
		case !known && !unknownField(err):
			return branchRules{}, err
		}
		c.log.Warn("read the checks a branch requires; going on with those read before, if any",
			zap.String("project", r.project), zap.String("branch", branch), zap.Error(err))
		last.at = time.Now().Add(branchRetry - c.branchTTL)
		c.branches.put(key, last)
		return last, nil
	}
	return c.keepBranchRules(r, branch, q.Repository.Ref), nil
}

// branchKnown reports whether what branch requires was read within
// branchTTL.
func (c *Client) branchKnown(r repoRef, branch string) bool {
	last, known := c.branches.get(branchKey(r.project, branch))
	return known && time.Since(last.at) < c.branchTTL
}

// keepBranchRules remembers what branch requires, as read in ref (nil:
// no such branch, which requires nothing), and returns it.
func (c *Client) keepBranchRules(r repoRef, branch string, ref *refRules) branchRules {
	if ref != nil && ref.Rules.PageInfo.HasNextPage {
		c.log.Warn("a branch has over 100 rules; only the first 100 are read",
			zap.String("project", r.project), zap.String("branch", branch))
	}
	b := ref.branchRules(time.Now())
	c.branches.put(branchKey(r.project, branch), b)
	return b
}

// unknownField reports a GraphQL answer that the query asks for a field
// the server's schema lacks, as GitHub words it.
func unknownField(err error) bool {
	return strings.Contains(err.Error(), "doesn't exist on type")
}

// carRepo is the repository as a car's checks are judged in it: the
// configured required checks and those of the car's target branch.
func (c *Client) carRepo(ctx context.Context, project string) (repoRef, error) {
	r, err := c.repoOf(ctx, project)
	if err != nil {
		return r, err
	}
	b, err := c.branchChecks(ctx, r)
	if err != nil {
		return r, err
	}
	r.branch = b.checks
	if len(b.apps) > 0 {
		r.expected = b.apps
	}
	return r, nil
}
