// Package fakeforge is a GitLab- and GitHub-compatible forge for tests and
// the demo: real bare repositories served over git's smart HTTP protocol,
// the REST v4 endpoints the GitLab Go client calls and the REST v3
// endpoints go-github calls, a simulated CI runner (GitLab pipelines, and
// GitHub Actions workflow runs with their check runs), GitHub App
// installation tokens, and webhooks in GitLab's own payload formats.
//
// Everything that is random (injected faults, flaky pipelines, lost
// webhooks) is drawn from a generator seeded by Options.Seed, so a failing
// test can be replayed.
package fakeforge

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Defaults applied by New.
const (
	DefaultAddr        = "127.0.0.1:0"
	DefaultVersion     = "17.6.0"
	DefaultFailMarker  = "BROKEN"
	DefaultQueueSize   = 1024
	DefaultHookTimeout = 10 * time.Second
	DefaultBranch      = "main"

	DefaultCheck                = "ci/test"
	DefaultWorkflow             = "CI"
	DefaultInstallationID       = 1
	DefaultAppSlug              = "trainyard"
	DefaultInstallationTokenTTL = time.Hour
)

// Options configure a Forge.
type Options struct {
	// Dir holds the forge's data: bare repositories under Dir/repos and the
	// pipeline log. Required.
	Dir string
	// Addr is the listen address; DefaultAddr (a free loopback port) if empty.
	Addr string
	// Tokens maps API tokens to usernames. Each such user is created as an
	// administrator, as a service account for a bot would be.
	Tokens map[string]string
	// Projects are created by Start, for a forge run on its own.
	Projects []ProjectSpec
	// Webhook is where and how events are delivered; it may be set later
	// with SetWebhook.
	Webhook Webhook
	// CI tunes the simulated pipelines.
	CI CI
	// Faults injected into REST API calls; may be changed with SetFaults.
	Faults Faults
	// Seed makes every random draw repeatable.
	Seed uint64
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Now is the forge's clock; time.Now if nil.
	Now func() time.Time
	// Version is the GitLab version announced in webhook User-Agent headers.
	Version string
	// GitHub tunes the GitHub side of the forge: its simulated Actions and
	// its GitHub App.
	GitHub GitHub
	// OnBranchMoved, when set, is told of every branch a push (over git,
	// through the API or the control API) moved, with the forge's time as
	// it takes the push in, before any webhook about it is sent: scale
	// benchmarks time target pushes with it. It must not block.
	OnBranchMoved func(BranchMoved)
}

// BranchMoved is one branch move as OnBranchMoved is told of it. Old is
// empty for a new branch, New for a deleted one.
type BranchMoved struct {
	Project, Branch string
	Old, New        string
	At              time.Time
}

// GitHub configures the GitHub REST v3 side, served under /api/v3 as
// GitHub Enterprise Server serves it. Repositories, pull requests (the
// merge requests), comments and users are the ones the GitLab side has.
type GitHub struct {
	// Actions simulates GitHub Actions on pushed branches.
	Actions Actions
	// App, when its ID is set, lets a GitHub App get installation tokens.
	App App
	// Webhook is where GitHub's webhooks go, signed with its Secret as
	// X-Hub-Signature-256; it may be set later with SetGitHubWebhook.
	// GitLab's go to Options.Webhook: a forge may send both.
	Webhook Webhook
	// RulesetsWithoutDecision leaves a pull request's reviewDecision
	// null when only a ruleset, not branch protection, asks for reviews,
	// as GitHub has been reported to for rulesets that name reviewers.
	RulesetsWithoutDecision bool
}

// Actions simulates one workflow. A push to a branch matching one of
// Branches starts a workflow run with one check run per name in Checks;
// they queue, run and finish as CI says (its delays, failure rules and
// Manual), each check run flaking on its own.
type Actions struct {
	// Branches are patterns as workflow files write them: * matches
	// within a path segment, ** across segments ("trainyard/**"). No
	// workflow runs when empty.
	Branches []string
	// Checks names the jobs, and so the check runs; DefaultCheck if
	// empty.
	Checks []string
	// Workflow is the workflow's name; DefaultWorkflow if empty. Its file
	// is .github/workflows/<lower-case name>.yml, which workflow_dispatch
	// names it by.
	Workflow string
}

// App is a GitHub App installed on every repository of the forge.
type App struct {
	ID int64
	// Slug names the app in URLs and in the check runs it makes;
	// DefaultAppSlug if empty.
	Slug string
	// InstallationID is the one installation; DefaultInstallationID if 0.
	InstallationID int64
	// PublicKey verifies the app's RS256 JWTs.
	PublicKey *rsa.PublicKey
	// TokenTTL is how long an installation token lives;
	// DefaultInstallationTokenTTL if zero, as on GitHub.
	TokenTTL time.Duration
}

// ProjectSpec describes a project to create at Start.
type ProjectSpec struct {
	Path string
	// Files of the first commit; a README if empty.
	Files map[string]string
	// Members maps usernames to access levels.
	Members map[string]int
}

// Webhook configures the project webhook all projects share.
type Webhook struct {
	URL    string
	Secret string
	// DropRate is the fraction of deliveries silently lost.
	DropRate float64
	// DropFirst deliveries after the webhook is set are lost, whatever
	// DropRate draws: a test of lost deliveries then always loses some.
	DropFirst int
	// DuplicateRate is the fraction of deliveries sent twice.
	DuplicateRate float64
	// QueueSize bounds the delivery queue; events beyond it are dropped and
	// counted. DefaultQueueSize if zero.
	QueueSize int
	// Timeout bounds one delivery; DefaultHookTimeout if zero.
	Timeout time.Duration
}

// CI configures the simulated runner. A pipeline fails when its commit's
// tree holds a file named FailMarker in any directory, or one of FailPaths;
// otherwise it succeeds, unless it flakes.
type CI struct {
	// QueueDelay is how long a pipeline stays pending before it runs.
	QueueDelay time.Duration
	// Duration is how long a pipeline runs.
	Duration time.Duration
	// FailMarker is a file name that fails any tree containing it;
	// DefaultFailMarker if empty.
	FailMarker string
	// FailPaths are full paths that fail any tree containing them.
	FailPaths []string
	// FlakeRate is the fraction of otherwise passing pipelines that fail,
	// decided per pipeline from the seed.
	FlakeRate float64
	// Manual keeps every pipeline running until FinishPipeline is called.
	Manual bool
	// OnPush starts a pipeline for every branch push, as a project with a
	// CI configuration does.
	OnPush bool
	// APIOnly models a project whose CI rules run only pipelines created
	// through the API (as `if: $CI_PIPELINE_SOURCE == "api"`): a push
	// never starts one, whatever its options. Without it a git push with
	// ci.variable push options starts a pipeline with those variables for
	// each branch it creates or moves, as a project whose rules follow
	// Trainyard's docs does, and one with ci.skip starts none; other
	// pushes start one only with OnPush.
	APIOnly bool
	// LogPath is the JSONL log of finished pipelines; Dir/pipelines.jsonl
	// if empty.
	LogPath string
}

// Faults are injected into REST API calls (never into git traffic). Rates
// are fractions of calls in [0, 1].
type Faults struct {
	// ServerErrorRate answers 500 Internal Server Error.
	ServerErrorRate float64
	// RateLimitRate answers 429 Too Many Requests with Retry-After.
	RateLimitRate float64
	// RetryAfter is the Retry-After value in whole seconds, as HTTP defines
	// it. Zero keeps tests fast; real GitLab sends at least 1.
	RetryAfter int
	// Latency is added to every API call.
	Latency time.Duration
	// PrimaryRateLimitRate answers GitHub API calls 403 with
	// X-RateLimit-Remaining: 0 and X-RateLimit-Reset RetryAfter seconds
	// ahead, as GitHub does when the hourly quota is spent.
	PrimaryRateLimitRate float64
	// SecondaryRateLimitRate answers GitHub API calls 403 with Retry-After
	// and the secondary rate limit's documentation_url, as GitHub does to
	// a client that creates content too fast. (RateLimitRate gives the
	// 429 GitHub also uses for it.)
	SecondaryRateLimitRate float64
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("fakeforge options: Dir is empty")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.CI.FailMarker == "" {
		o.CI.FailMarker = DefaultFailMarker
	}
	if o.Webhook.QueueSize <= 0 {
		o.Webhook.QueueSize = DefaultQueueSize
	}
	if o.Webhook.Timeout <= 0 {
		o.Webhook.Timeout = DefaultHookTimeout
	}
	o.GitHub = o.GitHub.withDefaults()
	for _, r := range []float64{o.CI.FlakeRate, o.Webhook.DropRate, o.Webhook.DuplicateRate, o.GitHub.Webhook.DropRate, o.GitHub.Webhook.DuplicateRate, o.Faults.ServerErrorRate, o.Faults.RateLimitRate,
		o.Faults.PrimaryRateLimitRate, o.Faults.SecondaryRateLimitRate} {
		if r < 0 || r > 1 {
			return o, fmt.Errorf("fakeforge options: rate %v outside [0, 1]", r)
		}
	}
	if o.GitHub.App.ID != 0 && o.GitHub.App.PublicKey == nil {
		return o, errors.New("fakeforge options: GitHub app has no public key")
	}
	return o, nil
}

func (g GitHub) withDefaults() GitHub {
	if len(g.Actions.Checks) == 0 {
		g.Actions.Checks = []string{DefaultCheck}
	}
	if g.Actions.Workflow == "" {
		g.Actions.Workflow = DefaultWorkflow
	}
	if g.App.InstallationID == 0 {
		g.App.InstallationID = DefaultInstallationID
	}
	if g.App.Slug == "" {
		g.App.Slug = DefaultAppSlug
	}
	if g.App.TokenTTL <= 0 {
		g.App.TokenTTL = DefaultInstallationTokenTTL
	}
	if g.Webhook.Timeout <= 0 {
		g.Webhook.Timeout = DefaultHookTimeout
	}
	return g
}
