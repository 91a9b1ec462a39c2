// Package github is the engine's GitHub client: go-github behind forge's
// normalised types, authenticated with a personal access token or as a
// GitHub App installation, with a deadline on every request, retries
// with backoff (package internal/retry), GitHub's rate limits honoured,
// and a client-side budget for its secondary limits on content creation.
//
// GitHub has no pipeline to create: a car's pipeline is the set of
// required checks (check runs and commit statuses, by name) on the car's
// exact commit. See pipeline.go for how that maps onto the engine's
// pipeline calls.
//
// A pull request's merge rules (reviews, conversations, drafts) are read
// through GitHub's GraphQL API, on the same credentials and retry loop;
// see rules.go.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v82/github"
	"github.com/shurcooL/githubv4"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/ratelimit"
	"github.com/trainyard/trainyard/internal/retry"
)

// Defaults applied by New.
const (
	DefaultBaseURL     = "https://github.com"
	DefaultTimeout     = 30 * time.Second
	DefaultMaxWait     = 2 * time.Minute
	DefaultBackoffBase = 250 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
	DefaultCarPrefix   = "trainyard"
	// GitHub's secondary rate limits on requests that create content.
	DefaultWritesPerMinute = 80
	DefaultWritesPerHour   = 500
)

// Options configure a Client.
type Options struct {
	// BaseURL is github.com (DefaultBaseURL if empty) or a GitHub
	// Enterprise Server, e.g. https://ghe.example.com; a trailing /api/v3
	// is accepted.
	BaseURL string
	// Token is a personal access token (classic or fine-grained) with
	// read and write access to contents, pull requests, issues, checks
	// and actions. It is sent in a header and never logged. Set Token or
	// App, not both.
	Token string
	// App authenticates as a GitHub App installation instead.
	App *App
	// RequiredChecks name the check runs and commit statuses a car's
	// commit must pass. Empty: every check reported on it, at least one, once the car's workflow runs have completed (checks from outside Actions are not waited for: name them).
	RequiredChecks []string
	// Workflows are workflow files (ci.yml) to start with
	// workflow_dispatch on a car branch when no run of them exists for
	// its commit, for workflows that do not run on push.
	Workflows []string
	// CheckApps and StatusCreators say whose checks count (see
	// Repository).
	CheckApps      []string
	StatusCreators []string
	// IgnoreBranchChecks: a car does not wait for the checks its target
	// branch's protection and rulesets require (see branchChecks).
	IgnoreBranchChecks bool
	// Repositories override RequiredChecks, Workflows, CheckApps and
	// StatusCreators for single repositories, by "owner/repo" (in any
	// case).
	Repositories map[string]Repository
	// CarPrefix starts car branch names; only workflow runs on car
	// branches are ever cancelled. DefaultCarPrefix if empty.
	CarPrefix string
	// Timeout bounds each HTTP request; MaxWait a whole call, retries and
	// waits for rate limits included.
	Timeout time.Duration
	MaxWait time.Duration
	// BackoffBase and BackoffMax shape the backoff between retries.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// WritesPerMinute and WritesPerHour bound content-creating requests
	// (everything but GET), below GitHub's secondary rate limits.
	WritesPerMinute int
	WritesPerHour   int
	// Budget keeps those bounds. GitHub counts them per token, so
	// replicas sharing a token should share a budget too
	// (ratelimit.InRedis). Nil: one in process memory.
	Budget ratelimit.Store
	// Transport makes every HTTP request of the client, REST, GraphQL
	// and an app's token requests alike, for metrics; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
}

// App is a GitHub App installation's credentials. ghinstallation signs
// the app's JWTs and keeps the installation token fresh, renewing it a
// minute before it expires.
type App struct {
	ID             int64
	InstallationID int64
	// PrivateKey is the app's PEM-encoded RSA private key.
	PrivateKey []byte
}

// Repository is what a car's pipeline is in one repository.
type Repository struct {
	RequiredChecks []string
	Workflows      []string
	// CheckApps are the GitHub Apps, each by slug or numeric id, whose
	// check runs count; DefaultCheckApp alone when empty. Any app with checks
	// permission can report a check run of any name on any commit: one
	// from another app says nothing of the car's CI.
	CheckApps []string
	// StatusCreators are the users, by login, whose commit statuses
	// count; none when empty, and then statuses are not read at all.
	// Anyone with write access can set a status of any context.
	StatusCreators []string
	// IgnoreBranchChecks: only RequiredChecks count, not the target
	// branch's required checks.
	IgnoreBranchChecks bool
	// branch are the checks the car's target branch requires, and
	// expected, for those its rulesets require of given apps, those apps'
	// ids (see branchChecks): only their check runs count for them.
	branch   []string
	expected map[string][]int64
}

// DefaultCheckApp is the app whose check runs count unless a repository
// names others: GitHub Actions, by its slug, which GitHub Enterprise
// Server shares.
const DefaultCheckApp = "github-actions"

// Client talks to one GitHub instance. It is safe for concurrent use.
type Client struct {
	gh    *gh.Client
	gql   *githubv4.Client
	web   string // the instance's web URL, for clone and check URLs
	api   string // the REST API's URL, without a trailing slash
	token func(context.Context) (string, error)
	// checks is the default Repository, repos the ones configured apart,
	// by lower-case path.
	checks Repository
	repos  map[string]Repository
	// required are the required checks a repository's own settings file
	// sets on a branch, by lower-case path and branch, over checks and
	// repos.
	mu       sync.Mutex
	required map[string][]string
	cars     string // car branch prefix, with its trailing slash
	retry    retry.Policy
	gate     *gate
	budget   ratelimit.Limiter
	shas     *memo[string]
	// carSuites are the check suites known to be, or not to be, a car's
	// workflow run, with the run's workflow, by project and suite id (see
	// carChecks).
	carSuites *memo[carSuite]
	// branches remembers the checks each target branch requires, by
	// project and branch, for branchTTL.
	branches  *memo[branchRules]
	branchTTL time.Duration
	// noRefRules: the server's schema lacks what a branch requires, so
	// merge rules are read without it (readRules).
	noRefRules atomic.Bool
	// commentPages keeps the last answer to each repository's comment
	// list.
	commentPages *pageCache
	// checkRuns: Trainyard's status on an MR's head is a check run, which
	// only a GitHub App may create; with a token it is a commit status.
	asApp bool
	// apps reaches the app's own endpoints, with its JWT; nil with a
	// token. self is the login Trainyard acts as, read once (see login).
	apps   *gh.Client
	selfMu sync.Mutex
	self   string
	log    *zap.Logger
}

// New returns a client. It makes no request.
func New(opts Options) (*Client, error) {
	web, api, err := instanceURLs(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	c := &Client{
		web: web, api: api, checks: Repository{RequiredChecks: opts.RequiredChecks, Workflows: opts.Workflows, CheckApps: opts.CheckApps, StatusCreators: opts.StatusCreators, IgnoreBranchChecks: opts.IgnoreBranchChecks}, repos: map[string]Repository{},
		cars: orString(opts.CarPrefix, DefaultCarPrefix) + "/", gate: &gate{},
		budget: opts.Budget.Budget(
			ratelimit.Window{N: orInt(opts.WritesPerMinute, DefaultWritesPerMinute), Per: time.Minute},
			ratelimit.Window{N: orInt(opts.WritesPerHour, DefaultWritesPerHour), Per: time.Hour}),
		shas: newMemo[string](), carSuites: newMemo[carSuite](), branches: newMemo[branchRules](), branchTTL: DefaultBranchTTL, commentPages: newPageCache(), log: log,
		retry: retry.Policy{
			Timeout: orDuration(opts.Timeout, DefaultTimeout),
			Budget:  orDuration(opts.MaxWait, DefaultMaxWait),
			Base:    orDuration(opts.BackoffBase, DefaultBackoffBase),
			Max:     orDuration(opts.BackoffMax, DefaultBackoffMax),
		},
	}
	for path, r := range opts.Repositories {
		c.repos[strings.ToLower(path)] = r
	}
	if c.gh, err = c.authenticate(opts); err != nil {
		return nil, err
	}
	if web != DefaultBaseURL {
		if c.gh, err = c.gh.WithEnterpriseURLs(api+"/", web+"/api/uploads/"); err != nil {
			return nil, fmt.Errorf("github client for %s: %w", web, err)
		}
		if c.apps != nil {
			if c.apps, err = c.apps.WithEnterpriseURLs(api+"/", web+"/api/uploads/"); err != nil {
				return nil, fmt.Errorf("github client for %s: %w", web, err)
			}
		}
	}
	c.gql = newGraphQL(graphQLURL(web, api), c.gh.Client())
	return c, nil
}

// authenticate returns go-github with the credentials on its transport,
// itself on opts.Transport, which the GraphQL client shares.
func (c *Client) authenticate(opts Options) (*gh.Client, error) {
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	switch {
	case opts.Token != "" && opts.App != nil:
		return nil, errors.New("github client: set a token or an app, not both")
	case opts.Token != "":
		token := opts.Token
		c.token = func(context.Context) (string, error) { return token, nil }
		return gh.NewClient(&http.Client{Transport: base}).WithAuthToken(token), nil
	case opts.App != nil:
		// The installation's token requests go through base too.
		tr, err := ghinstallation.New(base, opts.App.ID, opts.App.InstallationID, opts.App.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github app %d: %w", opts.App.ID, err)
		}
		tr.BaseURL = c.api
		c.token = tr.Token
		c.asApp = true
		appTr, err := ghinstallation.NewAppsTransport(base, opts.App.ID, opts.App.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github app %d: %w", opts.App.ID, err)
		}
		appTr.BaseURL = c.api
		c.apps = gh.NewClient(&http.Client{Transport: appTr})
		return gh.NewClient(&http.Client{Transport: tr}), nil
	}
	return nil, errors.New("github client: neither a token nor an app is set")
}

// instanceURLs checks a base URL and returns the web and API URLs.
func instanceURLs(raw string) (web, api string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("github base URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("github base URL %q: want http(s)://host", raw)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
	u.RawQuery, u.Fragment = "", ""
	web = strings.TrimSuffix(u.String(), "/")
	if web == DefaultBaseURL || u.Host == "api.github.com" {
		return DefaultBaseURL, "https://api.github.com", nil
	}
	return web, web + "/api/v3", nil
}

// repository is what a car's pipeline is in project, for the train of
// the branch ctx names (forge.ForBranch): a branch's settings file holds
// for that branch's cars alone, whichever train was read last.
func (c *Client) repository(ctx context.Context, project string) Repository {
	r, ok := c.repos[forge.ProjectKey(project)]
	if !ok {
		r = c.checks
	}
	branch, ok := forge.BranchOf(ctx)
	if !ok {
		return r
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if checks, ok := c.required[branchKey(project, branch)]; ok {
		r.RequiredChecks = checks
	}
	return r
}

// branchKey names a project's branch in the client's maps.
func branchKey(project, branch string) string { return forge.ProjectKey(project) + "\x00" + branch }

// SetRequiredChecks makes checks the required checks of project's cars
// for branch from now on, over the configured ones; nil goes back to
// those.
func (c *Client) SetRequiredChecks(project, branch string, checks []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if checks == nil {
		delete(c.required, branchKey(project, branch))
		return
	}
	if c.required == nil {
		c.required = map[string][]string{}
	}
	c.required[branchKey(project, branch)] = slices.Clone(checks)
}

// CloneURL is the HTTPS (or HTTP) clone URL of a repository.
func (c *Client) CloneURL(project string) string { return c.web + "/" + project + ".git" }

// GitToken is the token git authenticates with (as x-access-token): the
// personal token, or the installation token, renewed when near expiry.
func (c *Client) GitToken(ctx context.Context) (string, error) { return c.token(ctx) }

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitProject reads "owner/repo".
func splitProject(project string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(project, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("github repository %q: want owner/repo", project)
	}
	return owner, repo, nil
}

// login returns the login Trainyard acts as on GitHub: the token's user,
// or an app's bot, <slug>[bot]. It never changes for a client: read
// once, and again only after a failure.
func (c *Client) login(ctx context.Context) (string, error) {
	c.selfMu.Lock()
	defer c.selfMu.Unlock()
	if c.self != "" {
		return c.self, nil
	}
	var login string
	err := c.do(ctx, "read who Trainyard is", read, func(try context.Context) (*gh.Response, error) {
		if c.apps != nil {
			app, resp, err := c.apps.Apps.Get(try, "")
			if app.GetSlug() != "" {
				login = app.GetSlug() + "[bot]"
			}
			return resp, err
		}
		u, resp, err := c.gh.Users.Get(try, "")
		login = u.GetLogin()
		return resp, err
	})
	if err != nil {
		return "", err
	}
	if login == "" {
		return "", errors.New("read who Trainyard is: GitHub answered without a login")
	}
	c.self = login
	return login, nil
}

// Self is the login Trainyard writes as: the token's user, or the app's
// bot.
func (c *Client) Self(ctx context.Context) (string, error) { return c.login(ctx) }
