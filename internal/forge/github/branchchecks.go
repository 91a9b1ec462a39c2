package github

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shurcooL/githubv4"

	"github.com/trainyard/trainyard/internal/forge"
)

// A push to a branch whose protection or rulesets require status checks
// is refused until they passed on the pushed commit, so a car must wait
// for them, whatever the configuration names: otherwise its move of the
// target is refused, or it never waits for the checks GitHub's own merge
// would. A ruleset may also say which app must report a check; only that
// app's check runs count for it then, as on GitHub.
//
// Both are read through GraphQL as anyone who can read the repository
// sees them (classic protection's refUpdateRule names the contexts, not
// the apps, which only its admins see), in the merge rules' query of the
// pull request, so that they cost no request of their own while pull
// requests are added and merged.

// DefaultBranchTTL is how long what a branch requires is trusted before
// it is read again.
const DefaultBranchTTL = 5 * time.Minute

// refRules is the part of a Ref that says which checks it requires.
type refRules struct {
	RefUpdateRule *struct {
		RequiredStatusCheckContexts []string
	}
	Rules struct {
		Nodes []struct {
			Parameters *struct {
				StatusChecks struct {
					RequiredStatusChecks []struct {
						Context       string
						IntegrationID *int64 `graphql:"integrationId"`
					}
				} `graphql:"... on RequiredStatusChecksParameters"`
			}
		}
	} `graphql:"rules(first: 100)"`
}

// branchRules is what a branch requires: check contexts, and for some
// the app that must report them.
type branchRules struct {
	checks []string
	apps   map[string]int64
	at     time.Time
}

func (q *refRules) branchRules(now time.Time) branchRules {
	b := branchRules{apps: map[string]int64{}, at: now}
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
		for _, c := range n.Parameters.StatusChecks.RequiredStatusChecks {
			b.checks = append(b.checks, c.Context)
			if c.IntegrationID != nil && *c.IntegrationID > 0 {
				if _, ok := b.apps[c.Context]; !ok {
					b.apps[c.Context] = *c.IntegrationID
				}
			}
		}
	}
	slices.Sort(b.checks)
	b.checks = slices.Compact(b.checks)
	return b
}

func branchKey(project, branch string) string { return forge.ProjectKey(project) + "\x00" + branch }

// rememberBranch keeps what the merge rules' query found of branch.
func (c *Client) rememberBranch(project, branch string, q *refRules) {
	c.branches.put(branchKey(project, branch), q.branchRules(time.Now()))
}

// refQuery reads one branch's rules alone.
type refQuery struct {
	Repository struct {
		Ref *refRules `graphql:"ref(qualifiedName: $ref)"`
	} `graphql:"repository(owner: $owner, name: $name)"`
}

// branchChecks is what the branch ctx names (forge.ForBranch) requires,
// read again when older than branchTTL; nothing without a branch.
func (c *Client) branchChecks(ctx context.Context, r repoRef) (branchRules, error) {
	branch, ok := forge.BranchOf(ctx)
	if !ok {
		return branchRules{}, nil
	}
	key := branchKey(r.project, branch)
	if b, ok := c.branches.get(key); ok && time.Since(b.at) < c.branchTTL {
		return b, nil
	}
	var q refQuery
	vars := map[string]any{"owner": githubv4.String(r.owner), "name": githubv4.String(r.repo), "ref": githubv4.String("refs/heads/" + branch)}
	if err := c.query(ctx, fmt.Sprintf("read required checks of branch %s of %s", branch, r.project), &q, vars); err != nil {
		return branchRules{}, err
	}
	b := q.Repository.Ref.branchRules(time.Now())
	c.branches.put(key, b)
	return b, nil
}

// carRepo is the repository as a car's checks are judged in it: the
// configured required checks and those of the car's target branch.
func (c *Client) carRepo(ctx context.Context, project string) (repoRef, error) {
	r, err := c.repoOf(ctx, project)
	if err != nil {
		return r, err
	}
	b, err := c.branchChecks(ctx, r)
	if err != nil || len(b.checks) == 0 {
		return r, err
	}
	r.RequiredChecks = slices.Concat(r.RequiredChecks, b.checks)
	slices.Sort(r.RequiredChecks)
	r.RequiredChecks = slices.Compact(r.RequiredChecks)
	if len(b.apps) > 0 {
		r.expected = b.apps
	}
	return r, nil
}
