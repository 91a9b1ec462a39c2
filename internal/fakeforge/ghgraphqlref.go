package fakeforge

import (
	"context"
	"strings"

	graphql "github.com/graph-gophers/graphql-go"
)

// A branch's Ref in GitHub's GraphQL API, as far as its rules go: the
// classic protection as refUpdateRule shows it to anyone who can read
// the repository (required check contexts, without the app expected to
// report each), and the rules of its rulesets.

// Ref answers repository.ref: null for a branch that does not exist.
func (r *gqlRepository) Ref(ctx context.Context, args struct{ QualifiedName string }) (*gqlRef, error) {
	name := strings.TrimPrefix(args.QualifiedName, "refs/heads/")
	if name == args.QualifiedName && strings.HasPrefix(name, "refs/") {
		return nil, nil // a tag or another namespace: no branch rules
	}
	sha, err := r.f.repo(r.p.Path).resolve(ctx, "refs/heads/"+name)
	if err != nil || sha == "" {
		return nil, err
	}
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.f.gqlRefOf(r.p, name), nil
}

// gqlRefOf takes a snapshot of branch's rules; call with f.mu held.
func (f *Forge) gqlRefOf(p *project, branch string) *gqlRef {
	k := branchKey{p.ID, branch}
	ref := &gqlRef{name: branch}
	if bp, ok := f.st.gh.protection[k]; ok {
		ref.update = &gqlRefUpdateRule{pattern: branch, bp: bp}
	}
	id := f.st.gh.rulesIDs[k]
	if rule, ok := f.st.gh.rules[k]; ok {
		ref.rules = append(ref.rules, &gqlRule{id: nodeID("RRS", id) + "-pr", typ: "PULL_REQUEST", pr: &rule})
	}
	if checks, ok := f.st.gh.statusRules[k]; ok {
		ref.rules = append(ref.rules, &gqlRule{id: nodeID("RRS", id) + "-checks", typ: "REQUIRED_STATUS_CHECKS", checks: append([]RuleStatusCheck(nil), checks...)})
	}
	return ref
}

type gqlRef struct {
	name   string
	update *gqlRefUpdateRule
	rules  []*gqlRule
}

func (r *gqlRef) Name() string                     { return r.name }
func (r *gqlRef) Prefix() string                   { return "refs/heads/" }
func (r *gqlRef) RefUpdateRule() *gqlRefUpdateRule { return r.update }

func (r *gqlRef) Rules(args gqlPage) (*gqlRuleConnection, error) {
	nodes, err := window("rules", args, r.rules)
	if err != nil {
		return nil, err
	}
	return &gqlRuleConnection{total: int32(len(r.rules)), nodes: nodes, more: args.First != nil && len(nodes) < len(r.rules)}, nil
}

type gqlRefUpdateRule struct {
	pattern string
	bp      BranchProtection
}

func (u *gqlRefUpdateRule) Pattern() string { return u.pattern }

func (u *gqlRefUpdateRule) RequiredApprovingReviewCount() *int32 {
	n := int32(u.bp.RequiredApprovingReviews)
	return &n
}

func (u *gqlRefUpdateRule) RequiredStatusCheckContexts() *[]*string {
	out := []*string{}
	for _, c := range u.bp.RequiredStatusChecks {
		out = append(out, &c)
	}
	return &out
}

func (u *gqlRefUpdateRule) RequiresCodeOwnerReviews() bool { return u.bp.RequireCodeOwnerReviews }
func (u *gqlRefUpdateRule) RequiresConversationResolution() bool {
	return u.bp.RequireConversationResolution
}

type gqlRuleConnection struct {
	total int32
	nodes []*gqlRule
	more  bool // a first page with rules past it
}

func (c *gqlRuleConnection) TotalCount() int32      { return c.total }
func (c *gqlRuleConnection) Nodes() *[]*gqlRule     { return &c.nodes }
func (c *gqlRuleConnection) PageInfo() *gqlPageInfo { return &gqlPageInfo{next: c.more} }

// gqlPageInfo pages forward only.
type gqlPageInfo struct{ next bool }

func (p *gqlPageInfo) HasNextPage() bool     { return p.next }
func (p *gqlPageInfo) HasPreviousPage() bool { return false }

type gqlRule struct {
	id     string
	typ    string
	pr     *PullRequestRule
	checks []RuleStatusCheck
}

func (r *gqlRule) ID() graphql.ID { return graphql.ID(r.id) }
func (r *gqlRule) Type() string   { return r.typ }

func (r *gqlRule) Parameters() *gqlRuleParameters { return &gqlRuleParameters{r} }

// gqlRuleParameters is the RuleParameters union.
type gqlRuleParameters struct{ r *gqlRule }

func (p *gqlRuleParameters) ToPullRequestParameters() (*gqlPullRequestParameters, bool) {
	if p.r.pr == nil {
		return nil, false
	}
	return &gqlPullRequestParameters{*p.r.pr}, true
}

func (p *gqlRuleParameters) ToRequiredStatusChecksParameters() (*gqlStatusChecksParameters, bool) {
	if p.r.checks == nil {
		return nil, false
	}
	return &gqlStatusChecksParameters{p.r.checks}, true
}

type gqlPullRequestParameters struct{ rule PullRequestRule }

func (p *gqlPullRequestParameters) RequiredApprovingReviewCount() int32 {
	return int32(p.rule.RequiredApprovingReviewCount)
}
func (p *gqlPullRequestParameters) DismissStaleReviewsOnPush() bool {
	return p.rule.DismissStaleReviewsOnPush
}
func (p *gqlPullRequestParameters) RequireCodeOwnerReview() bool {
	return p.rule.RequireCodeOwnerReview
}
func (p *gqlPullRequestParameters) RequireLastPushApproval() bool { return false }
func (p *gqlPullRequestParameters) RequiredReviewThreadResolution() bool {
	return p.rule.RequiredReviewThreadResolution
}

type gqlStatusChecksParameters struct{ checks []RuleStatusCheck }

func (p *gqlStatusChecksParameters) RequiredStatusChecks() []*gqlStatusCheck {
	out := make([]*gqlStatusCheck, len(p.checks))
	for i, c := range p.checks {
		out[i] = &gqlStatusCheck{c}
	}
	return out
}
func (p *gqlStatusChecksParameters) StrictRequiredStatusChecksPolicy() bool { return false }

type gqlStatusCheck struct{ c RuleStatusCheck }

func (s *gqlStatusCheck) Context() string { return s.c.Context }

// IntegrationID is null where any source will do.
func (s *gqlStatusCheck) IntegrationID() *int32 {
	if s.c.IntegrationID == 0 {
		return nil
	}
	id := int32(s.c.IntegrationID)
	return &id
}
