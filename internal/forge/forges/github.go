package forges

import (
	"strconv"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/webhook"
)

func githubKind() kind {
	return kind{name: github.Name, profile: github.Profile, open: openGitHub, webhook: func(cfg *config.Config, w *webhook.Options) {
		w.GitHubSecret, w.GitHubProjects = cfg.WebhookSecrets(github.Name)
		w.DisableGitHub = !cfg.Enabled(github.Name)
	}}
}

func openGitHub(cfg *config.Config, o Options) (Forge, error) {
	opts := github.Options{
		BaseURL: string(cfg.GitHub.URL), CarPrefix: cfg.Train.CarPrefix, Logger: o.logger(github.Name),
		RequiredChecks: cfg.GitHub.RequiredChecks, Workflows: cfg.GitHub.Workflows,
		CheckApps: cfg.GitHub.CheckApps, StatusCreators: cfg.GitHub.StatusCreators, IgnoreBranchChecks: !cfg.GitHub.BranchChecks,
		Repositories: map[string]github.Repository{}, Transport: o.transport(github.Name, github.Route),
	}
	// GitHub's secondary limits hold per token, or per app installation.
	if cfg.GitHub.App() {
		opts.App = &github.App{ID: cfg.GitHub.AppID, InstallationID: cfg.GitHub.InstallationID, PrivateKey: []byte(cfg.GitHub.PrivateKey.Reveal())}
		opts.Budget = o.budgets(github.Name, "app", strconv.FormatInt(opts.App.ID, 10), strconv.FormatInt(opts.App.InstallationID, 10))
	} else {
		opts.Token = cfg.GitHub.Token.Reveal()
		opts.Budget = o.budgets(github.Name, "token", opts.Token)
	}
	for _, p := range cfg.Projects {
		if p.Forge == github.Name {
			r := cfg.Repo(p.Path)
			opts.Repositories[p.Path] = github.Repository{RequiredChecks: r.RequiredChecks, Workflows: r.Workflows, CheckApps: r.CheckApps, StatusCreators: r.StatusCreators, IgnoreBranchChecks: !r.BranchChecks}
		}
	}
	client, err := github.New(opts)
	if err != nil {
		return Forge{}, err
	}
	// An installation token expires within the hour; a personal token
	// is given back as it is.
	return Forge{
		Profile: github.Profile(string(cfg.GitHub.URL)), Client: client,
		Git: Git{CloneURL: client.CloneURL, TokenSource: client.GitToken, User: "x-access-token"},
	}, nil
}
