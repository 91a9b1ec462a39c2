package app

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/forges"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/web"
	"github.com/trainyard/trainyard/internal/webhook"
)

// openForges builds the client of every enabled forge, its requests
// counted by the metrics and its rate-limit budgets in Redis, shared by
// every replica.
func (a *App) openForges() ([]forges.Forge, error) {
	return forges.Open(a.cfg, forges.Options{
		Logger: a.log, Redis: a.rdb, Prefix: a.cfg.Redis.Prefix,
		Transport: func(name string, route func(*http.Request) string) http.RoundTripper {
			return a.metrics.ForgeTransport(name, route, a.transport)
		},
	})
}

// buildEngines builds an engine for every forge, with the forge's client
// and mirrors behind it. They run side by side on one store, each train
// on its own forge's engine.
func (a *App) buildEngines(all []forges.Forge) *engine.Router {
	var es []*engine.Engine
	for _, f := range all {
		es = append(es, a.newEngine(a.owner, f))
	}
	return engine.NewRouter(es...)
}

// newEngine builds a forge's engine on the settings every forge shares.
func (a *App) newEngine(owner string, f forges.Forge) *engine.Engine {
	cfg, name := a.cfg, f.Profile.Name
	var projects []string
	for _, p := range cfg.Projects {
		if p.Forge == name {
			projects = append(projects, p.Path)
		}
	}
	ec := engine.Config{
		Profile:       f.Profile,
		Owner:         owner,
		CarPrefix:     cfg.Train.CarPrefix,
		LeaseTTL:      cfg.LeaseTTL,
		ActionTimeout: cfg.ActionTimeout,
		Policy:        newPolicy(cfg, name, f.Client),
		Projects:      projects,
		SweepEvery:    cfg.SweepInterval,
		DedupTTL:      cfg.Webhook.DedupTTL,
		// GitHub's checks start on the push whatever this says.
		PipelinesByAPI: cfg.GitLab.Pipelines == config.PipelinesAPI,
	}
	if base := strings.TrimSuffix(string(cfg.UI.URL), "/"); base != "" && cfg.UI.Enabled {
		ec.StatusLink = func(k train.Key, mr int64) string { return base + web.MRPath(k.Forge, k.Project, mr) }
	}
	repos := &engine.GitRepos{
		Dir: filepath.Join(cfg.DataDir, "mirrors", name), CloneURL: f.Git.CloneURL,
		Token: f.Git.Token, TokenSource: f.Git.TokenSource, TokenUser: f.Git.User,
		Identity: gitops.Identity{Name: cfg.Bot.Name, Email: cfg.Bot.Email}, Logger: a.log.Named("git"),
	}
	opts := append([]engine.Option{engine.WithRules(f.Client), engine.WithComments(f.Client),
		engine.WithLogger(a.log.Named("engine").With(zap.String("forge", name))),
		engine.WithNotifier(a.notifier), engine.WithTrace(a.metrics.Trace()),
		// Read when called: the workers are made after the engines.
		engine.WithWaker(func(k train.Key) { a.workers.Enqueue(engine.Job{Key: k}) })}, a.engineOpts...)
	return engine.New(ec, a.store, f.Client, repos, opts...)
}

// policy is one forge's projects as the configuration sets them, with
// the repositories' own settings files on top.
type policy struct {
	cfg   *config.Config
	forge string
	files *repoFiles
	// checks, on GitHub, sets the required checks of a branch's cars
	// from the branch's file.
	checks func(project, branch string, checks []string)
}

func newPolicy(cfg *config.Config, name string, client any) policy {
	p := policy{cfg: cfg, forge: name, files: &repoFiles{parsed: map[string]repoFileResult{}}}
	if s, ok := client.(interface {
		SetRequiredChecks(string, string, []string)
	}); ok {
		p.checks = s.SetRequiredChecks
	}
	return p
}

// repoFiles keeps repository files parsed, by forge and content: every
// load of a train applies its file again.
type repoFiles struct {
	mu     sync.Mutex
	parsed map[string]repoFileResult
}

type repoFileResult struct {
	file *config.RepoFile
	err  error
}

// maxParsedFiles bounds the parsed files kept: about one per project.
const maxParsedFiles = 256

func (r *repoFiles) parse(forgeName, data string) (*config.RepoFile, error) {
	sum := sha256.Sum256([]byte(data))
	k := forgeName + ":" + hex.EncodeToString(sum[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	if got, ok := r.parsed[k]; ok {
		return got.file, got.err
	}
	f, err := config.ParseRepoFile([]byte(data), forgeName)
	if len(r.parsed) >= maxParsedFiles {
		clear(r.parsed)
	}
	r.parsed[k] = repoFileResult{f, err}
	return f, err
}

func (p policy) RepoFile(k train.Key) (string, int64) {
	if !p.cfg.RepoFileAllowed(p.forge, k.Project) {
		return "", 0
	}
	return config.RepoFileName, config.MaxRepoFile
}

func (p policy) RepoSettings(k train.Key, data string) (train.Settings, error) {
	f, err := p.files.parse(p.forge, data)
	if err != nil {
		return train.Settings{}, err
	}
	if p.checks != nil {
		p.checks(k.Project, k.Branch, f.RequiredChecks())
	}
	return p.cfg.RepoSettings(p.forge, k.Project, f), nil
}

func (p policy) Settings(k train.Key) train.Settings { return p.cfg.Settings(p.forge, k.Project) }
func (p policy) MinAccess(project string) forge.AccessLevel {
	return p.cfg.MinAccess(p.forge, project)
}
func (p policy) PauseRole(project string) forge.AccessLevel {
	return p.cfg.PauseRole(p.forge, project)
}
func (p policy) PriorityRole(project string) forge.AccessLevel {
	return p.cfg.PriorityRole(p.forge, project)
}
func (p policy) BranchListed(project, branch string) bool {
	return p.cfg.BranchListed(p.forge, project, branch)
}
func (p policy) BranchAllowed(project, branch string) bool {
	return p.cfg.BranchAllowed(p.forge, project, branch)
}
func (p policy) EnforceRules(project string) bool { return p.cfg.EnforceMergeRules(p.forge, project) }
func (p policy) ForgeFastForward(project string) bool {
	return p.cfg.Repo(project).FastForward == config.FastForwardAPI
}

// webhooks is the listener of every enabled forge: the forge's secret and
// the projects' own, and which projects are configured at all.
func (a *App) webhooks() (*webhook.Handler, error) {
	cfg := a.cfg
	opts := webhook.Options{
		Known: func(forgeName, project string) bool {
			_, ok := cfg.Project(forgeName, project)
			return ok
		},
		MaxBody:  cfg.Webhook.MaxBody,
		DedupTTL: cfg.Webhook.DedupTTL,
		Queue:    a.store,
		Logger:   a.log.Named("webhook"),
		Counter:  a.metrics.WebhookCounter(),
	}
	forges.Webhooks(cfg, &opts)
	return webhook.New(opts)
}
