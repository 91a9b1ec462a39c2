package fakeforge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Forge is a running fake GitLab and GitHub. Its zero value is not usable:
// call New.
type Forge struct {
	opts Options
	log  *zap.Logger
	git  string // path of the git binary

	mu       sync.Mutex // guards st, faults, hook and ghHook
	createMu sync.Mutex // serialises CreateProject
	st       state
	// faults, hook and ghHook are the live settings, changed by
	// SetFaults, SetWebhook and SetGitHubWebhook.
	faults Faults
	hook   Webhook
	ghHook Webhook

	rngMu sync.Mutex
	rng   *rand.Rand

	commits commitCache

	calls   counters
	hooks   *sender
	ciLog   *pipelineLog
	api     *http.ServeMux
	gh      *http.ServeMux
	srv     *http.Server
	ln      net.Listener
	baseURL string

	// ctx is cancelled by Close; every goroutine the forge starts watches
	// it and is tracked by wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// New creates a forge whose data lives in opts.Dir. It listens only after
// Start.
func New(opts Options) (*Forge, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("fakeforge: git binary not found in PATH: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "repos"), 0o755); err != nil {
		return nil, fmt.Errorf("fakeforge: create data dir: %w", err)
	}
	logPath := opts.CI.LogPath
	if logPath == "" {
		logPath = filepath.Join(opts.Dir, "pipelines.jsonl")
	}
	ciLog, err := openPipelineLog(logPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forge{
		opts:   opts,
		log:    opts.Logger.With(zap.String("component", "fakeforge")),
		git:    bin,
		st:     newState(),
		faults: opts.Faults,
		hook:   opts.Webhook,
		ghHook: opts.GitHub.Webhook,
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		ciLog:  ciLog,
		ctx:    ctx,
		cancel: cancel,
	}
	f.calls.init()
	f.hooks = newSender(f, opts.Webhook.QueueSize)
	now := opts.Now()
	for token, name := range opts.Tokens {
		u := f.st.addUser(name, true, now)
		f.st.tokens[token] = u.ID
	}
	f.api = f.routes()
	f.gh = f.ghRoutes()
	return f, nil
}

// Start listens on Options.Addr and starts the webhook sender. The forge
// runs until Close; ctx only bounds starting.
func (f *Forge) Start(ctx context.Context) error {
	return f.startWith(ctx, f)
}

func (f *Forge) createFromSpec(ctx context.Context, spec ProjectSpec) error {
	if _, err := f.CreateProject(ctx, spec.Path, spec.Files); err != nil {
		return fmt.Errorf("fakeforge: %w", err)
	}
	for name, level := range spec.Members {
		if err := f.SetAccess(spec.Path, name, level); err != nil {
			return fmt.Errorf("fakeforge: project %s: %w", spec.Path, err)
		}
	}
	return nil
}

// URL is the forge's base URL, e.g. http://127.0.0.1:38211. GitLab's REST
// API is under URL()+"/api/v4", GitHub's under URL()+"/api/v3".
func (f *Forge) URL() string { return f.baseURL }

// Close stops the server, the CI runners and the webhook sender, and waits
// for all of them.
func (f *Forge) Close() error {
	var err error
	f.closed.Do(func() {
		if f.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = f.srv.Shutdown(ctx)
			cancel()
		}
		// Under mu, so goTracked either sees the cancel or has already
		// registered its goroutine before Wait.
		f.mu.Lock()
		f.cancel()
		f.mu.Unlock()
		f.wg.Wait()
		if cerr := f.ciLog.close(); err == nil {
			err = cerr
		}
	})
	return err
}

// Run starts a forge and serves until ctx is done.
func Run(ctx context.Context, opts Options) error {
	f, err := New(opts)
	if err != nil {
		return err
	}
	if err := f.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return f.Close()
}

// ServeHTTP routes git traffic to git http-backend and the rest to the
// GitLab or the GitHub API, whose GETs may be conditional.
func (f *Forge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, apiPrefix+"/"):
		conditional(w, r, f.serveAPI)
	case strings.HasPrefix(r.URL.Path, ghPrefix+"/"), r.URL.Path == ghGraphQLPath:
		conditional(w, r, f.serveGitHub)
	case strings.Contains(r.URL.Path, ".git/"):
		f.serveGit(w, r)
	default:
		writeMessage(w, http.StatusNotFound, "404 Not found")
	}
}

// chance draws from the seeded generator.
func (f *Forge) chance(rate float64) bool {
	if rate <= 0 {
		return false
	}
	f.rngMu.Lock()
	defer f.rngMu.Unlock()
	return f.rng.Float64() < rate
}

// repo returns the git runner for a project path.
func (f *Forge) repo(path string) repo {
	return repo{bin: f.git, dir: repoDir(f.opts.Dir, path), env: gitEnv(f.opts.Dir)}
}

// goTracked runs fn on a goroutine the forge owns.
func (f *Forge) goTracked(fn func(ctx context.Context)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return false
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn(f.ctx)
	}()
	return true
}

// commit returns what events say about a commit; commits never change,
// so answers are cached.
func (f *Forge) commit(ctx context.Context, project, sha string) (commitInfo, error) {
	if c, ok := f.commits.get(sha); ok {
		return c, nil
	}
	c, err := f.repo(project).commitInfo(ctx, sha)
	if err != nil {
		return c, err
	}
	f.commits.put(sha, c)
	return c, nil
}

// commitCache maps commit ids to their info, emptied when full.
type commitCache struct {
	mu sync.Mutex
	m  map[string]commitInfo
}

const commitCacheSize = 4096

func (c *commitCache) get(sha string) (commitInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci, ok := c.m[sha]
	return ci, ok
}

func (c *commitCache) put(sha string, ci commitInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= commitCacheSize {
		c.m = map[string]commitInfo{}
	}
	c.m[sha] = ci
}

// hookFor returns the forge's webhook settings: GitLab's or GitHub's.
func (f *Forge) hookFor(forge string) Webhook {
	f.mu.Lock()
	defer f.mu.Unlock()
	if forge == HookGitHub {
		return f.ghHook
	}
	return f.hook
}

// dropNext reports whether the next delivery of the forge is one of its
// webhook's DropFirst, counting it.
func (f *Forge) dropNext(forge string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	hook := &f.hook
	if forge == HookGitHub {
		hook = &f.ghHook
	}
	if hook.DropFirst <= 0 {
		return false
	}
	hook.DropFirst--
	return true
}

// hooksOn reports whether a webhook of the forge is set; without one,
// its events are not built at all.
func (f *Forge) hooksOn(forge string) bool { return f.hookFor(forge).URL != "" }

// tokenUser returns the user a token belongs to.
func (f *Forge) tokenUser(token string) (*user, bool) {
	if token == "" {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.st.tokens[token]
	if !ok {
		return nil, false
	}
	if exp, ok := f.st.gh.tokenExpiry[token]; ok && !f.opts.Now().Before(exp) {
		return nil, false
	}
	return f.st.users[id], true
}

// requestToken extracts an API or git token: PRIVATE-TOKEN, a bearer token,
// GitHub's "Authorization: token", or (git only) the password of HTTP
// basic auth.
func requestToken(r *http.Request, allowBasic bool) string {
	if t := r.Header.Get("PRIVATE-TOKEN"); t != "" {
		return t
	}
	auth := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "token "} {
		if t, ok := strings.CutPrefix(auth, scheme); ok {
			return strings.TrimSpace(t)
		}
	}
	if allowBasic {
		if _, pw, ok := r.BasicAuth(); ok {
			return pw
		}
	}
	return ""
}
