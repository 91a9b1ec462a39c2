package app

import (
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/notify"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/webhook"
)

// buildEngines builds an engine for every forge a project uses, with the
// forge's client and mirrors behind it. They run side by side on one
// store, each train on its own forge's engine.
func (a *App) buildEngines(owner string) (engine.Router, error) {
	out := engine.Router{}
	for name, build := range map[string]func(string) (*engine.Engine, error){
		config.ForgeGitLab: a.gitlabEngine, config.ForgeGitHub: a.githubEngine,
	} {
		if !a.cfg.Enabled(name) {
			continue
		}
		e, err := build(owner)
		if err != nil {
			return nil, err
		}
		out[name] = e
	}
	return out, nil
}

func (a *App) gitlabEngine(owner string) (*engine.Engine, error) {
	cfg := a.cfg
	client, err := gitlab.New(gitlab.Options{BaseURL: string(cfg.GitLab.URL), Token: cfg.GitLab.Token.Reveal(), Logger: a.log.Named("gitlab")})
	if err != nil {
		return nil, fmt.Errorf("gitlab client: %w", err)
	}
	repos := a.mirrors(config.ForgeGitLab, client.CloneURL)
	repos.Token = cfg.GitLab.Token.Reveal()
	return a.newEngine(config.ForgeGitLab, owner, client, repos, func(*engine.Config) {}, engine.WithRules(client), engine.WithComments(client)), nil
}

func (a *App) githubEngine(owner string) (*engine.Engine, error) {
	client, err := github.New(a.githubOptions())
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	repos := a.mirrors(config.ForgeGitHub, client.CloneURL)
	// An installation token expires within the hour; a personal token
	// is given back as it is.
	repos.TokenSource, repos.TokenUser = client.GitToken, "x-access-token"
	return a.newEngine(config.ForgeGitHub, owner, client, repos, func(c *engine.Config) {
		*c = c.ForGitHub(client.PipelineName)
		c.ForwarderFor = func(project string) engine.Forwarder {
			if a.cfg.Repo(project).FastForward == config.FastForwardAPI {
				return client
			}
			return nil
		}
	}, engine.WithRules(client), engine.WithComments(client)), nil
}

// githubOptions turns the github section and its projects into the
// client's options.
func (a *App) githubOptions() github.Options {
	cfg := a.cfg
	opts := github.Options{
		BaseURL: string(cfg.GitHub.URL), CarPrefix: cfg.Train.CarPrefix, Logger: a.log.Named("github"),
		RequiredChecks: cfg.GitHub.RequiredChecks, Workflows: cfg.GitHub.Workflows,
		Repositories: map[string]github.Repository{},
	}
	if cfg.GitHub.App() {
		opts.App = &github.App{ID: cfg.GitHub.AppID, InstallationID: cfg.GitHub.InstallationID, PrivateKey: []byte(cfg.GitHub.PrivateKey.Reveal())}
	} else {
		opts.Token = cfg.GitHub.Token.Reveal()
	}
	for _, p := range cfg.Projects {
		if p.Forge == config.ForgeGitHub {
			r := cfg.Repo(p.Path)
			opts.Repositories[p.Path] = github.Repository{RequiredChecks: r.RequiredChecks, Workflows: r.Workflows}
		}
	}
	return opts
}

// mirrors are a forge's git mirrors, under a directory of its own.
func (a *App) mirrors(forgeName string, cloneURL func(string) string) *engine.GitRepos {
	return &engine.GitRepos{
		Dir: filepath.Join(a.cfg.DataDir, "mirrors", forgeName), CloneURL: cloneURL,
		Identity: gitops.Identity{Name: a.cfg.Bot.Name, Email: a.cfg.Bot.Email}, Logger: a.log.Named("git"),
	}
}

// newEngine builds a forge's engine with the settings both forges share;
// forgeSpecific sets what differs, and opts give the client's merge rules
// and comments, which every engine must read.
func (a *App) newEngine(forgeName, owner string, client engine.Forge, repos engine.Repos, forgeSpecific func(*engine.Config), opts ...engine.Option) *engine.Engine {
	cfg := a.cfg
	var projects []string
	for _, p := range cfg.Projects {
		if p.Forge == forgeName {
			projects = append(projects, p.Path)
		}
	}
	ec := engine.Config{
		Forge:         forgeName,
		Owner:         owner,
		CarPrefix:     cfg.Train.CarPrefix,
		LeaseTTL:      cfg.LeaseTTL,
		ActionTimeout: cfg.ActionTimeout,
		SettingsFor: func(k train.Key) train.Settings {
			return cfg.Settings(k.Forge, k.Project)
		},
		MinAccessFor:  cfg.MinAccess,
		BranchAllowed: cfg.BranchAllowed,
		EnforceRules:  cfg.EnforceMergeRules,
		PauseRoleFor:  cfg.PauseRole,
		Projects:      projects,
		CatchUpEvery:  cfg.SweepInterval,
		DedupTTL:      cfg.Webhook.DedupTTL,
	}
	forgeSpecific(&ec)
	log := a.log.Named("engine").With(zapForge(forgeName))
	opts = append(opts, engine.WithLogger(log), engine.WithNotifier(a.notifier), engine.WithTrace(a.metrics.Trace()))
	return engine.New(ec, a.store, a.metrics.InstrumentForge(client, forgeName), repos, opts...)
}

// webURLs are the web addresses of the enabled forges, for links.
func (a *App) webURLs() map[string]string {
	out := map[string]string{}
	if a.cfg.Enabled(config.ForgeGitLab) {
		out[config.ForgeGitLab] = string(a.cfg.GitLab.URL)
	}
	if a.cfg.Enabled(config.ForgeGitHub) {
		out[config.ForgeGitHub] = github.WebURLOf(string(a.cfg.GitHub.URL))
	}
	return out
}

func apiLinks(web map[string]string) map[string]api.Links {
	links := map[string]api.Links{}
	if u, ok := web[config.ForgeGitLab]; ok {
		links[config.ForgeGitLab] = api.GitLabLinks{BaseURL: u}
	}
	if u, ok := web[config.ForgeGitHub]; ok {
		links[config.ForgeGitHub] = api.GitHubLinks{WebURL: u}
	}
	return links
}

func notifyLinks(web map[string]string) notify.LinksByForge {
	links := notify.LinksByForge{}
	if u, ok := web[config.ForgeGitLab]; ok {
		links[config.ForgeGitLab] = notify.GitLabLinks{BaseURL: u}
	}
	if u, ok := web[config.ForgeGitHub]; ok {
		links[config.ForgeGitHub] = notify.GitHubLinks{WebURL: u}
	}
	return links
}

// webhooks is the listener of every enabled forge: the forge's secret and
// the projects' own, and which projects are configured at all.
func (a *App) webhooks() (*webhook.Handler, error) {
	cfg := a.cfg
	glDefault, glOwn := cfg.WebhookSecrets(config.ForgeGitLab)
	ghDefault, ghOwn := cfg.WebhookSecrets(config.ForgeGitHub)
	return webhook.New(webhook.Options{
		GitLabSecret: glDefault, GitLabProjects: glOwn, DisableGitLab: !cfg.Enabled(config.ForgeGitLab),
		GitHubSecret: ghDefault, GitHubProjects: ghOwn, DisableGitHub: !cfg.Enabled(config.ForgeGitHub),
		Known: func(forgeName, project string) bool {
			_, ok := cfg.Project(forgeName, project)
			return ok
		},
		MaxBody:  cfg.Webhook.MaxBody,
		DedupTTL: cfg.Webhook.DedupTTL,
		Queue:    a.store,
		Logger:   a.log.Named("webhook"),
		Counter:  a.metrics.WebhookCounter(),
	})
}

func zapForge(name string) zap.Field { return zap.String("forge", name) }
