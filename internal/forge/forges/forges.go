// Package forges builds the forges a configuration enables: each one's
// profile, API client and git access. It is the one place that lists the
// forges Trainyard knows; the service's wiring (internal/app) ranges over
// what it returns and never names a forge.
package forges

import (
	"context"
	"fmt"
	"net/http"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/httpcache"
	"github.com/trainyard/trainyard/internal/ratelimit"
	"github.com/trainyard/trainyard/internal/webhook"
)

// Forge is one configured forge, ready for an engine.
type Forge struct {
	Profile forge.Profile
	// Client is the forge's API client. It may also be a
	// forge.PipelineNamer and a forge.Forwarder.
	Client Client
	Git    Git
}

// Client is what an engine reads and writes through a forge's API.
type Client interface {
	engine.Forge
	engine.Rules
	engine.Comments
}

// Git is how the mirrors reach the forge's repositories.
type Git struct {
	// CloneURL gives a project's clone URL, without credentials.
	CloneURL func(project string) string
	// Token is a fixed token; TokenSource one renewed as it expires.
	Token       string
	TokenSource func(context.Context) (string, error)
	// User goes with the token in git's basic auth.
	User string
}

// Options shape every forge's client.
type Options struct {
	// Transport wraps a forge's HTTP transport, for metrics; route names
	// a request's operation. Nil: the default transport. It sees every
	// request as sent: the conditional GETs of the clients' cache and
	// the forge's 304s to them.
	Transport func(forgeName string, route func(*http.Request) string) http.RoundTripper
	// Redis, if set, keeps the clients' rate-limit budgets, under
	// Prefix, so that every replica using a token shares its budget
	// as the forge does. Nil: each process keeps its own.
	Redis  redis.UniversalClient
	Prefix string
	Logger *zap.Logger
}

// transport is a forge client's transport: conditional GETs (package
// httpcache) above Options.Transport, so the metrics count what the
// forge answered.
func (o Options) transport(name string, route func(*http.Request) string) http.RoundTripper {
	var next http.RoundTripper
	if o.Transport != nil {
		next = o.Transport(name, route)
	}
	return httpcache.New(next, httpcache.Options{})
}

// budgets keeps a client's budgets in Redis, at a key of the forge's
// name and identity (what the forge limits by: a token, an app
// installation); without Redis, the client keeps them in process memory.
func (o Options) budgets(name string, identity ...string) ratelimit.Store {
	if o.Redis == nil {
		return nil
	}
	return ratelimit.InRedis(o.Redis, ratelimit.Key(o.Prefix, name, identity...))
}

func (o Options) logger(name string) *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger.Named(name)
}

// kind is one forge Trainyard knows: how to build it and its webhook
// listener from the configuration.
type kind struct {
	name    string
	profile func(baseURL string) forge.Profile
	open    func(cfg *config.Config, o Options) (Forge, error)
	webhook func(cfg *config.Config, w *webhook.Options)
}

// kinds are the forges Trainyard knows. A new forge adds itself here.
func kinds() []kind {
	return []kind{gitlabKind(), githubKind()}
}

// Open builds every forge cfg enables.
func Open(cfg *config.Config, o Options) ([]Forge, error) {
	var out []Forge
	for _, k := range kinds() {
		if !cfg.Enabled(k.name) {
			continue
		}
		f, err := k.open(cfg, o)
		if err != nil {
			return nil, fmt.Errorf("%s client: %w", k.name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// ProfileOf is the profile of the forge named name, with links to the
// instance at baseURL.
func ProfileOf(name, baseURL string) (forge.Profile, error) {
	for _, k := range kinds() {
		if k.name == name {
			return k.profile(baseURL), nil
		}
	}
	return forge.Profile{}, fmt.Errorf("forge %q: not one Trainyard knows", name)
}

// Webhooks sets each forge's listener in w from cfg: its secrets, or off
// when the forge is not enabled.
func Webhooks(cfg *config.Config, w *webhook.Options) {
	for _, k := range kinds() {
		k.webhook(cfg, w)
	}
}
