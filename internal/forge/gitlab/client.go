// Package gitlab is the engine's GitLab client: the GitLab Go client
// (gitlab.com/gitlab-org/api/client-go) behind forge's normalised types,
// with a deadline on every request, retries with backoff, and 404s mapped
// to forge.ErrNotFound.
package gitlab

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/ratelimit"
	"github.com/trainyard/trainyard/internal/retry"
)

// Defaults applied by New.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxWait     = 2 * time.Minute
	DefaultBackoffBase = 250 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
)

// Options configure a Client.
type Options struct {
	// BaseURL is the GitLab instance, e.g. https://gitlab.example.com; a
	// trailing /api/v4 is accepted.
	BaseURL string
	// Token is a personal, project or group access token with the api
	// scope. It is sent in a header and never logged.
	Token string
	// Timeout bounds each HTTP request. DefaultTimeout if zero.
	Timeout time.Duration
	// MaxWait bounds a whole call, retries included: a call that has not
	// succeeded by then gives up with retry.ErrGaveUp. DefaultMaxWait if
	// zero.
	MaxWait time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff between
	// retries: failed attempt n is followed by a random wait of up to
	// min(BackoffMax, BackoffBase*2^(n-1)), or longer if the server asks
	// with Retry-After.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RequestsPerMinute bounds the client's requests, retries included,
	// below the instance's rate limits; 0: no bound.
	RequestsPerMinute int
	// Budget keeps that bound. GitLab limits by user, so replicas
	// sharing a token should share a budget too (ratelimit.InRedis).
	// Nil: one in process memory.
	Budget ratelimit.Store
	// Transport makes every HTTP request of the client, for metrics;
	// nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
}

// Client talks to one GitLab instance. It is safe for concurrent use.
type Client struct {
	gl    *gl.Client
	web   string // instance URL without /api/v4
	retry retry.Policy
	// budget is nil when requests are not bounded.
	budget ratelimit.Limiter
	log    *zap.Logger
	// self is the token's username, read once: see PipelinesFor.
	selfMu sync.Mutex
	self   string
}

// New returns a client for opts.BaseURL. It makes no request.
func New(opts Options) (*Client, error) {
	web, err := instanceURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Token == "" {
		return nil, errors.New("gitlab client: token is empty")
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	c := &Client{web: web, log: log, retry: retry.Policy{
		Timeout: orDefault(opts.Timeout, DefaultTimeout),
		Budget:  orDefault(opts.MaxWait, DefaultMaxWait),
		Base:    orDefault(opts.BackoffBase, DefaultBackoffBase),
		Max:     orDefault(opts.BackoffMax, DefaultBackoffMax),
	}}
	if opts.RequestsPerMinute > 0 {
		c.budget = opts.Budget.Budget(ratelimit.Window{N: opts.RequestsPerMinute, Per: time.Minute})
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	// Retries are ours (see retry.go): go-retryablehttp's Backoff hook
	// cannot see how long a call has already waited, so it cannot bound
	// the total.
	c.gl, err = gl.NewClient(opts.Token, gl.WithBaseURL(web+"/api/v4"), gl.WithoutRetries(),
		gl.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		return nil, fmt.Errorf("gitlab client for %s: %w", web, err)
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// instanceURL checks a base URL and strips any /api/v4 from it.
func instanceURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("gitlab base URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("gitlab base URL %q: want http(s)://host", raw)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v4")
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimSuffix(u.String(), "/"), nil
}

// CloneURL is the HTTPS (or HTTP) clone URL of project.
func (c *Client) CloneURL(project string) string { return c.web + "/" + project + ".git" }

// TokenFromEnvOrFile reads a token from the environment variable envName,
// or else from the file at path, trimmed of surrounding space. Errors name
// the variable or file, never the token.
func TokenFromEnvOrFile(envName, path string) (string, error) {
	if envName != "" {
		if t := strings.TrimSpace(os.Getenv(envName)); t != "" {
			return t, nil
		}
	}
	if path == "" {
		if envName == "" {
			return "", errors.New("gitlab token: no environment variable or token file is set")
		}
		return "", fmt.Errorf("gitlab token: $%s is empty and no token file is set", envName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once, below
		}
		return "", fmt.Errorf("gitlab token file %s: %w", path, err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("gitlab token file %s is empty", path)
	}
	return t, nil
}
