package forges

import (
	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/webhook"
)

func gitlabKind() kind {
	return kind{name: gitlab.Name, profile: gitlab.Profile, open: openGitLab, webhook: func(cfg *config.Config, w *webhook.Options) {
		w.GitLabSecret, w.GitLabProjects = cfg.WebhookSecrets(gitlab.Name)
		w.DisableGitLab = !cfg.Enabled(gitlab.Name)
	}}
}

func openGitLab(cfg *config.Config, o Options) (Forge, error) {
	token := cfg.GitLab.Token.Reveal()
	client, err := gitlab.New(gitlab.Options{
		BaseURL: string(cfg.GitLab.URL), Token: token, Logger: o.logger(gitlab.Name),
		Transport:         o.transport(gitlab.Name, gitlab.Route),
		RequestsPerMinute: cfg.GitLab.RequestsPerMinute, Budget: o.budgets(gitlab.Name, "token", token),
	})
	if err != nil {
		return Forge{}, err
	}
	return Forge{
		Profile: gitlab.Profile(string(cfg.GitLab.URL)), Client: client,
		Git: Git{CloneURL: client.CloneURL, Token: token},
	}, nil
}
