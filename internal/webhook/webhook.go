// Package webhook receives forge webhooks: it verifies each delivery (the
// GitLab token, the GitHub HMAC signature), decodes it with the forge's own
// client library, normalises it to an event.Event, drops repeated deliveries
// and queues the event for the workers. It never calls the forge or git while
// a request is open, so the forge gets its answer in milliseconds.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Paths the Handler serves.
const (
	GitLabPath = "/webhooks/gitlab"
	GitHubPath = "/webhooks/github"
)

// Path is where a forge's webhooks are served: /webhooks/<forge>.
func Path(forgeName string) string { return "/webhooks/" + forgeName }

// Defaults applied by New to zero Options fields.
const (
	DefaultMaxBody      = 5 << 20
	DefaultDedupTTL     = 24 * time.Hour
	DefaultQueueTimeout = 5 * time.Second
)

// Outcomes passed to Counter.Count, one per request.
const (
	OutcomeQueued       = "queued"
	OutcomeDuplicate    = "duplicate"
	OutcomeIgnored      = "ignored"
	OutcomeUnauthorized = "unauthorized"
	OutcomeBadRequest   = "bad_request"
	OutcomeTooLarge     = "too_large"
	OutcomeError        = "error"
	// OutcomeUnknownProject: a genuine delivery for a project Trainyard
	// does not run trains for, answered 202 and dropped.
	OutcomeUnknownProject = "unknown_project"
)

// ErrNoSecret: an endpoint was asked for without a secret to verify its
// deliveries with.
var ErrNoSecret = errors.New("webhook secret is empty")

// Queue de-duplicates deliveries and queues events; *store.Store is one.
type Queue interface {
	// EnqueueDelivery queues one encoded event.Event unless delivery id
	// was queued within ttl, and reports whether it queued it. Marking the
	// id and queueing the event happen together or not at all.
	EnqueueDelivery(ctx context.Context, id string, ttl time.Duration, data []byte) (bool, error)
	// MarkCommandQueued notes that the command of a comment is on the
	// stream, so the catch-up of missed commands leaves it alone.
	MarkCommandQueued(ctx context.Context, id string, ttl time.Duration) error
}

// Counter counts requests, for metrics. forge is "gitlab" or "github",
// event the name of an event type Trainyard uses, "other" for any other
// type and "unknown" before the request is authenticated, so no sender
// can mint label values; outcome is one of the Outcome constants.
type Counter interface {
	Count(forge, event, outcome string)
}

type nopCounter struct{}

func (nopCounter) Count(string, string, string) {}

// Options configure a Handler.
type Options struct {
	// GitLabSecret is the secret token configured on the GitLab webhook.
	// Empty is refused unless DisableGitLab is set.
	GitLabSecret  string
	DisableGitLab bool
	// GitHubSecret is the HMAC secret configured on the GitHub webhook.
	// Empty is refused unless DisableGitHub is set.
	GitHubSecret  string
	DisableGitHub bool
	// GitLabProjects and GitHubProjects are the secrets of projects whose
	// webhooks have their own, by path: a delivery verified by one is
	// accepted for that project only. With them, the forge's secret may
	// be empty.
	GitLabProjects map[string]string
	GitHubProjects map[string]string
	// Known reports whether Trainyard runs trains for a project; the
	// deliveries of others are answered 202, counted as
	// OutcomeUnknownProject and logged once per project. Nil knows every
	// project.
	Known func(forge, project string) bool

	// MaxBody caps a request body; larger ones get 413.
	MaxBody int64
	// DedupTTL is how long a delivery id is remembered.
	DedupTTL time.Duration
	// QueueTimeout bounds the queue calls of one request, so a stalled
	// Redis yields a 503 the forge retries rather than the forge's timeout.
	QueueTimeout time.Duration

	Queue   Queue
	Logger  *zap.Logger
	Counter Counter
}

// Handler serves the webhook endpoints. It is safe for concurrent use.
type Handler struct {
	queue        Queue
	log          *zap.Logger
	counter      Counter
	maxBody      int64
	dedupTTL     time.Duration
	queueTimeout time.Duration
	bodies       bodyPool
	gitlabKeys   keyring
	githubKeys   keyring
	known        func(forge, project string) bool
	strangers    *onceSet
	gitlab       http.Handler
	github       http.Handler
}

// New builds a Handler. It fails when an enabled endpoint has no secret:
// serving unverified webhooks must be asked for, never fallen into.
func New(opts Options) (*Handler, error) {
	if opts.Queue == nil {
		return nil, errors.New("webhook: no queue")
	}
	if opts.MaxBody < 0 || opts.DedupTTL < 0 || opts.QueueTimeout < 0 {
		return nil, fmt.Errorf("webhook: negative limit (max body %d, dedup ttl %s, queue timeout %s)",
			opts.MaxBody, opts.DedupTTL, opts.QueueTimeout)
	}
	h := &Handler{
		queue:        opts.Queue,
		log:          opts.Logger,
		counter:      opts.Counter,
		maxBody:      orDefault(opts.MaxBody, DefaultMaxBody),
		dedupTTL:     orDefault(opts.DedupTTL, DefaultDedupTTL),
		queueTimeout: orDefault(opts.QueueTimeout, DefaultQueueTimeout),
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.counter == nil {
		h.counter = nopCounter{}
	}
	h.gitlabKeys = newKeyring(opts.GitLabSecret, opts.GitLabProjects)
	h.githubKeys = newKeyring(opts.GitHubSecret, opts.GitHubProjects)
	h.known = opts.Known
	if h.known == nil {
		h.known = func(string, string) bool { return true }
	}
	h.strangers = newOnceSet(maxStrangers)
	var err error
	if h.gitlab, err = h.endpoint(forgeGitLab, h.gitlabKeys, opts.DisableGitLab, h.serveGitLab); err != nil {
		return nil, err
	}
	if h.github, err = h.endpoint(forgeGitHub, h.githubKeys, opts.DisableGitHub, h.serveGitHub); err != nil {
		return nil, err
	}
	return h, nil
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// serveFunc handles one POST to a forge's endpoint and returns the event
// label to count and the answer to send.
type serveFunc func(w http.ResponseWriter, r *http.Request) (string, answer)

func (h *Handler) endpoint(forge string, keys keyring, disabled bool, serve serveFunc) (http.Handler, error) {
	if disabled {
		msg := forge + " webhooks are disabled"
		return h.counted(forge, func(http.ResponseWriter, *http.Request) (string, answer) {
			return eventUnknown, failure(http.StatusNotFound, OutcomeBadRequest, msg)
		}), nil
	}
	if keys.empty() {
		return nil, fmt.Errorf("webhook: %s endpoint: %w (set the secret, or disable the endpoint)", forge, ErrNoSecret)
	}
	return h.counted(forge, func(w http.ResponseWriter, r *http.Request) (string, answer) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return eventUnknown, failure(http.StatusMethodNotAllowed, OutcomeBadRequest, "method "+r.Method+" not allowed, use POST")
		}
		return serve(w, r)
	}), nil
}

// counted writes the answer of handle and counts it.
func (h *Handler) counted(forge string, handle func(http.ResponseWriter, *http.Request) (string, answer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, a := handle(w, r)
		h.counter.Count(forge, ev, a.outcome)
		a.write(w)
	})
}

// GitLab returns the handler of GitLabPath.
func (h *Handler) GitLab() http.Handler { return h.gitlab }

// GitHub returns the handler of GitHubPath.
func (h *Handler) GitHub() http.Handler { return h.github }

// ServeHTTP routes GitLabPath and GitHubPath; any other path is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case GitLabPath:
		h.gitlab.ServeHTTP(w, r)
	case GitHubPath:
		h.github.ServeHTTP(w, r)
	default:
		failure(http.StatusNotFound, OutcomeBadRequest, "no webhook endpoint at "+r.URL.Path).write(w)
	}
}
