// Package fakeforge is a GitLab-compatible forge for tests and the demo: real
// bare repositories served over git's smart HTTP protocol, the REST v4
// endpoints the GitLab Go client calls, a simulated CI runner, and webhooks
// in GitLab's own payload formats.
//
// Everything that is random (injected faults, flaky pipelines, lost
// webhooks) is drawn from a generator seeded by Options.Seed, so a failing
// test can be replayed.
package fakeforge

import (
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
	for _, r := range []float64{o.CI.FlakeRate, o.Webhook.DropRate, o.Webhook.DuplicateRate, o.Faults.ServerErrorRate, o.Faults.RateLimitRate} {
		if r < 0 || r > 1 {
			return o, fmt.Errorf("fakeforge options: rate %v outside [0, 1]", r)
		}
	}
	return o, nil
}
