package fakeforge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	graphql "github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"
)

// GitHub's GraphQL API, as far as a merge train reads it: a pull
// request's state, its review decision, merge state, review threads and
// reviewers' latest opinions. The schema is a subset of GitHub's, with
// its type and field names, so a client's queries validate here as they
// would there. It takes the REST API's tokens.

// ghGraphQLPath is where GitHub Enterprise Server serves GraphQL.
const ghGraphQLPath = "/api/graphql"

// ghMergeInfoPreview is the media type without which GitHub hides
// mergeStateStatus: the field is still a schema preview.
const ghMergeInfoPreview = "application/vnd.github.merge-info-preview+json"

const ghGraphQLDocs = "https://docs.github.com/graphql"

// ghSchema is the schema; %s is where the preview's fields go.
const ghSchema = `
schema { query: Query }

type Query {
	repository(owner: String!, name: String!): Repository
}

type Repository {
	nameWithOwner: String!
	pullRequest(number: Int!): PullRequest
	ref(qualifiedName: String!): Ref
}

type Ref {
	name: String!
	prefix: String!
	refUpdateRule: RefUpdateRule
	rules(first: Int, last: Int): RepositoryRuleConnection
}

type RefUpdateRule {
	pattern: String!
	requiredApprovingReviewCount: Int
	requiredStatusCheckContexts: [String]
	requiresCodeOwnerReviews: Boolean!
	requiresConversationResolution: Boolean!
}

type RepositoryRuleConnection {
	totalCount: Int!
	nodes: [RepositoryRule]
	pageInfo: PageInfo!
}

type PageInfo {
	hasNextPage: Boolean!
	hasPreviousPage: Boolean!
}

enum RepositoryRuleType { CREATION UPDATE DELETION REQUIRED_LINEAR_HISTORY REQUIRED_SIGNATURES PULL_REQUEST REQUIRED_STATUS_CHECKS NON_FAST_FORWARD }

type RepositoryRule {
	id: ID!
	type: RepositoryRuleType!
	parameters: RuleParameters
}

union RuleParameters = PullRequestParameters | RequiredStatusChecksParameters

type PullRequestParameters {
	requiredApprovingReviewCount: Int!
	dismissStaleReviewsOnPush: Boolean!
	requireCodeOwnerReview: Boolean!
	requireLastPushApproval: Boolean!
	requiredReviewThreadResolution: Boolean!
}

type RequiredStatusChecksParameters {
	requiredStatusChecks: [StatusCheckConfiguration!]!
	strictRequiredStatusChecksPolicy: Boolean!
}

type StatusCheckConfiguration {
	context: String!
	integrationId: Int
}

scalar GitObjectID
scalar URI

enum PullRequestState { OPEN CLOSED MERGED }
enum PullRequestReviewDecision { CHANGES_REQUESTED APPROVED REVIEW_REQUIRED }
enum MergeStateStatus { BEHIND BLOCKED CLEAN DIRTY DRAFT HAS_HOOKS UNKNOWN UNSTABLE }
enum PullRequestReviewState { PENDING COMMENTED APPROVED CHANGES_REQUESTED DISMISSED }

type PullRequest {
	number: Int!
	title: String!
	body: String!
	url: URI!
	author: Actor
	state: PullRequestState!
	isDraft: Boolean!
	headRefOid: GitObjectID!
	headRefName: String!
	baseRefName: String!
	baseRef: Ref
	reviewDecision: PullRequestReviewDecision
	%s
	reviewThreads(first: Int, last: Int): PullRequestReviewThreadConnection!
	latestOpinionatedReviews(first: Int, last: Int, writersOnly: Boolean = false): PullRequestReviewConnection
}

type PullRequestReviewThreadConnection {
	totalCount: Int!
	nodes: [PullRequestReviewThread]
}

type PullRequestReviewThread {
	id: ID!
	isResolved: Boolean!
}

type PullRequestReviewConnection {
	totalCount: Int!
	nodes: [PullRequestReview]
}

type PullRequestReview {
	id: ID!
	state: PullRequestReviewState!
	author: Actor
}

interface Actor {
	login: String!
}

type User implements Actor {
	login: String!
}
`

// ghGraphQL serves POST /api/graphql. Like GitHub, it answers 200 with
// GraphQL's {"errors": [...]} for anything wrong with the query itself.
func (f *Forge) ghGraphQL() http.HandlerFunc {
	root := &gqlQuery{f: f}
	plain := graphql.MustParseSchema(fmt.Sprintf(ghSchema, ""), root)
	preview := graphql.MustParseSchema(fmt.Sprintf(ghSchema, "mergeStateStatus: MergeStateStatus!"), root)
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query         string         `json:"query"`
			OperationName string         `json:"operationName"`
			Variables     map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeGH(w, http.StatusBadRequest, ghMessage{Message: "Problems parsing JSON", DocumentationURL: ghGraphQLDocs})
			return
		}
		schema := plain
		if strings.Contains(r.Header.Get("Accept"), ghMergeInfoPreview) {
			schema = preview
		}
		writeJSON(w, http.StatusOK, gqlAnswerOf(schema.Exec(r.Context(), req.Query, req.OperationName, req.Variables)))
	}
}

// gqlAnswer is a GraphQL answer as GitHub writes it: an error's type
// (NOT_FOUND, ...) beside its message rather than in its extensions.
type gqlAnswer struct {
	Data   json.RawMessage `json:"data,omitempty"`
	Errors []gqlErrorOut   `json:"errors,omitempty"`
}

type gqlErrorOut struct {
	Type       string               `json:"type,omitempty"`
	Path       []any                `json:"path,omitempty"`
	Extensions map[string]any       `json:"extensions,omitempty"`
	Locations  []gqlerrors.Location `json:"locations,omitempty"`
	Message    string               `json:"message"`
}

func gqlAnswerOf(res *graphql.Response) gqlAnswer {
	out := gqlAnswer{Data: res.Data}
	for _, e := range res.Errors {
		o := gqlErrorOut{Path: e.Path, Locations: e.Locations, Message: e.Message}
		if t, ok := e.Extensions["type"].(string); ok {
			o.Type = t
		} else {
			o.Extensions = e.Extensions
		}
		out.Errors = append(out.Errors, o)
	}
	return out
}

// gqlError is a resolver's error with GitHub's error type.
type gqlError struct{ typ, msg string }

func (e gqlError) Error() string              { return e.msg }
func (e gqlError) Extensions() map[string]any { return map[string]any{"type": e.typ} }
func gqlNotFound(format string, a ...any) gqlError {
	return gqlError{"NOT_FOUND", fmt.Sprintf(format, a...)}
}

type gqlQuery struct{ f *Forge }

func (q *gqlQuery) Repository(ctx context.Context, args struct{ Owner, Name string }) (*gqlRepository, error) {
	path := args.Owner + "/" + args.Name
	q.f.mu.Lock()
	defer q.f.mu.Unlock()
	p, ok := q.f.st.byPath[path]
	if !ok {
		return nil, gqlNotFound("Could not resolve to a Repository with the name '%s'.", path)
	}
	return &gqlRepository{f: q.f, p: p}, nil
}

type gqlRepository struct {
	f *Forge
	p *project
}

func (r *gqlRepository) NameWithOwner() string { return r.p.Path }

// PullRequest takes a snapshot of the pull request, so that every field
// of one answer tells of the same moment.
func (r *gqlRepository) PullRequest(ctx context.Context, args struct{ Number int32 }) (*gqlPullRequest, error) {
	pr, err := r.pullRequest(args)
	if err != nil {
		return nil, err
	}
	// GitHub's baseRef is null once the base branch is gone, as
	// repository.ref is.
	sha, err := r.f.repo(r.p.Path).resolve(ctx, "refs/heads/"+pr.baseRef)
	if err != nil {
		return nil, err
	}
	if sha == "" {
		pr.base = nil
	}
	return pr, nil
}

func (r *gqlRepository) pullRequest(args struct{ Number int32 }) (*gqlPullRequest, error) {
	f, p := r.f, r.p
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[int64(args.Number)]
	if !ok {
		return nil, gqlNotFound("Could not resolve to a PullRequest with the number of %d.", args.Number)
	}
	pr := &gqlPullRequest{
		number: args.Number, title: m.Title, body: m.Description, url: uri(f.ghURLs().web(p.Path + "/pull/" + itoa(m.IID))),
		author: &gqlActor{f.st.users[m.AuthorID].Username}, state: map[string]string{StateOpened: "OPEN", StateMerged: "MERGED"}[m.State],
		draft: m.Draft, head: gitObjectID(m.SHA), headRef: m.Source, baseRef: m.Target, base: f.gqlRefOf(p, m.Target),
		decision: f.reviewDecision(p, m), mergeState: f.mergeStateStatus(p, m),
	}
	if pr.state == "" {
		pr.state = "CLOSED"
	}
	for _, t := range f.st.gh.threads[m.ID] {
		pr.threads = append(pr.threads, &gqlThread{id: t.ID, resolved: t.Resolved})
	}
	for _, writers := range []bool{false, true} {
		var list []*gqlReview
		for _, rv := range f.latestOpinions(p, m, writers) {
			list = append(list, &gqlReview{id: nodeID("PRR", rv.ID), state: rv.State, author: &gqlActor{f.st.users[rv.AuthorID].Username}})
		}
		pr.opinions[btoi(writers)] = list
	}
	return pr, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

type gqlPullRequest struct {
	number           int32
	title            string
	body             string
	url              uri
	author           *gqlActor
	state            string
	draft            bool
	head             gitObjectID
	headRef, baseRef string
	base             *gqlRef
	decision         string
	mergeState       string
	threads          []*gqlThread
	// opinions are the latest opinionated reviews: everyone's, then
	// writers' only.
	opinions [2][]*gqlReview
}

func (pr *gqlPullRequest) Number() int32            { return pr.number }
func (pr *gqlPullRequest) Title() string            { return pr.title }
func (pr *gqlPullRequest) Body() string             { return pr.body }
func (pr *gqlPullRequest) URL() uri                 { return pr.url }
func (pr *gqlPullRequest) Author() *gqlActor        { return pr.author }
func (pr *gqlPullRequest) State() string            { return pr.state }
func (pr *gqlPullRequest) IsDraft() bool            { return pr.draft }
func (pr *gqlPullRequest) HeadRefOid() gitObjectID  { return pr.head }
func (pr *gqlPullRequest) HeadRefName() string      { return pr.headRef }
func (pr *gqlPullRequest) BaseRefName() string      { return pr.baseRef }
func (pr *gqlPullRequest) BaseRef() *gqlRef         { return pr.base }
func (pr *gqlPullRequest) MergeStateStatus() string { return pr.mergeState }

func (pr *gqlPullRequest) ReviewDecision() *string {
	if pr.decision == "" {
		return nil
	}
	return &pr.decision
}

// gqlPage is a connection's first or last arguments.
type gqlPage struct{ First, Last *int32 }

// maxGQLPage is the most nodes GitHub gives in one page of a connection.
const maxGQLPage = 100

// window picks the nodes a page asks for, with GitHub's errors for a
// page without bounds or beyond 100.
func window[T any](connection string, pg gqlPage, nodes []T) ([]T, error) {
	switch {
	case pg.First == nil && pg.Last == nil:
		return nil, gqlError{"MISSING_PAGINATION_BOUNDARIES", fmt.Sprintf("You must provide a `first` or `last` value to properly paginate the `%s` connection.", connection)}
	case pg.First != nil && (*pg.First > maxGQLPage || *pg.First < 0):
		return nil, gqlError{"EXCESSIVE_PAGINATION", fmt.Sprintf("Requesting %d records on the `%s` connection exceeds the `first` limit of %d records.", *pg.First, connection, maxGQLPage)}
	case pg.Last != nil && (*pg.Last > maxGQLPage || *pg.Last < 0):
		return nil, gqlError{"EXCESSIVE_PAGINATION", fmt.Sprintf("Requesting %d records on the `%s` connection exceeds the `last` limit of %d records.", *pg.Last, connection, maxGQLPage)}
	}
	if pg.First != nil {
		nodes = nodes[:min(int(*pg.First), len(nodes))]
	}
	if pg.Last != nil {
		nodes = nodes[len(nodes)-min(int(*pg.Last), len(nodes)):]
	}
	return nodes, nil
}

func (pr *gqlPullRequest) ReviewThreads(args gqlPage) (*gqlThreadConnection, error) {
	nodes, err := window("reviewThreads", args, pr.threads)
	if err != nil {
		return nil, err
	}
	return &gqlThreadConnection{total: int32(len(pr.threads)), nodes: nodes}, nil
}

func (pr *gqlPullRequest) LatestOpinionatedReviews(args struct {
	First, Last *int32
	WritersOnly bool
}) (*gqlReviewConnection, error) {
	all := pr.opinions[btoi(args.WritersOnly)]
	nodes, err := window("latestOpinionatedReviews", gqlPage{args.First, args.Last}, all)
	if err != nil {
		return nil, err
	}
	return &gqlReviewConnection{total: int32(len(all)), nodes: nodes}, nil
}

type gqlThreadConnection struct {
	total int32
	nodes []*gqlThread
}

func (c *gqlThreadConnection) TotalCount() int32    { return c.total }
func (c *gqlThreadConnection) Nodes() *[]*gqlThread { return &c.nodes }

type gqlThread struct {
	id       string
	resolved bool
}

func (t *gqlThread) ID() graphql.ID   { return graphql.ID(t.id) }
func (t *gqlThread) IsResolved() bool { return t.resolved }

type gqlReviewConnection struct {
	total int32
	nodes []*gqlReview
}

func (c *gqlReviewConnection) TotalCount() int32    { return c.total }
func (c *gqlReviewConnection) Nodes() *[]*gqlReview { return &c.nodes }

type gqlReview struct {
	id, state string
	author    *gqlActor
}

func (r *gqlReview) ID() graphql.ID    { return graphql.ID(r.id) }
func (r *gqlReview) State() string     { return r.state }
func (r *gqlReview) Author() *gqlActor { return r.author }

// gqlActor is the Actor interface; every actor here is a User.
type gqlActor struct{ login string }

func (a *gqlActor) Login() string             { return a.login }
func (a *gqlActor) ToUser() (*gqlActor, bool) { return a, true }

// gitObjectID is GitHub's GitObjectID scalar: a commit id.
type gitObjectID string

func (gitObjectID) ImplementsGraphQLType(name string) bool { return name == "GitObjectID" }

func (g *gitObjectID) UnmarshalGraphQL(input any) error {
	s, ok := input.(string)
	if !ok {
		return fmt.Errorf("GitObjectID: want a string, not %T", input)
	}
	*g = gitObjectID(s)
	return nil
}

// uri is GitHub's URI scalar: an absolute address, as a string.
type uri string

func (uri) ImplementsGraphQLType(name string) bool { return name == "URI" }

func (u *uri) UnmarshalGraphQL(input any) error {
	s, ok := input.(string)
	if !ok {
		return fmt.Errorf("URI: want a string, got %T", input)
	}
	*u = uri(s)
	return nil
}
