package demo

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/webhook"
)

// Forges the demo runs on, as Options.Forge names them.
const (
	ForgeGitLab = "gitlab"
	ForgeGitHub = "github"
)

// check is the one check of the GitHub demo's simulated Actions.
const check = "ci/test"

// kit is what differs between the demo on GitLab and on GitHub: the
// forge's options, the client and engine on it, where its webhooks go,
// and how its pipelines are logged.
type kit struct {
	name  string
	title string
	ref   func(int64) string
	// pipe names a pipeline as the forge's readers know it: GitLab's
	// number, or on GitHub the commit whose checks it is.
	pipe func(int64) string
}

func kitFor(forgeName string) (kit, error) {
	switch forgeName {
	case ForgeGitLab, "":
		return kit{ForgeGitLab, "GitLab", func(n int64) string { return fmt.Sprintf("!%d", n) },
			func(id int64) string { return fmt.Sprintf("pipeline #%d", id) }}, nil
	case ForgeGitHub:
		return kit{ForgeGitHub, "GitHub", func(n int64) string { return fmt.Sprintf("#%d", n) }, github.PipelineRef}, nil
	}
	return kit{}, fmt.Errorf("demo: forge %q: want gitlab or github", forgeName)
}

// reason renders a reason the planner wrote with the kit's pipeline names.
func (k kit) reason(msg string) string { return forge.PipelineRefs(msg, k.pipe) }

// forgeOptions adds the kit's CI to the forge's options: on GitHub,
// Actions that run the check on every car branch push.
func (k kit) forgeOptions(o fakeforge.Options) fakeforge.Options {
	if k.name == ForgeGitHub {
		o.GitHub.Actions = fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{check}}
	}
	return o
}

// engine builds the engine on the forge through the forge's own client.
func (k kit) engine(ff *fakeforge.Forge, dir string, cfg engine.Config, st *store.Store, opts ...engine.Option) (*engine.Engine, api.Links, error) {
	repos := &engine.GitRepos{Dir: filepath.Join(dir, "mirrors"), Token: botToken,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@localhost"}}
	if k.name == ForgeGitHub {
		client, err := github.New(github.Options{BaseURL: ff.URL(), Token: botToken, RequiredChecks: []string{check}})
		if err != nil {
			return nil, nil, fmt.Errorf("demo: %w", err)
		}
		repos.CloneURL, repos.TokenUser = client.CloneURL, "x-access-token"
		cfg.Forge = ForgeGitHub
		opts = append(opts, engine.WithRules(client), engine.WithComments(client))
		return engine.New(cfg.ForGitHub(client.PipelineName), st, client, repos, opts...), api.GitHubLinks{WebURL: ff.URL()}, nil
	}
	client, err := gitlab.New(gitlab.Options{BaseURL: ff.URL(), Token: botToken})
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	repos.CloneURL = client.CloneURL
	cfg.Forge = ForgeGitLab
	opts = append(opts, engine.WithRules(client), engine.WithComments(client))
	return engine.New(cfg, st, client, repos, opts...), api.GitLabLinks{BaseURL: ff.URL()}, nil
}

// webhooks is the listener's options: the kit's endpoint alone.
func (k kit) webhooks(secret string) webhook.Options {
	if k.name == ForgeGitHub {
		return webhook.Options{GitHubSecret: secret, DisableGitLab: true}
	}
	return webhook.Options{GitLabSecret: secret, DisableGitHub: true}
}

// hookTo points the forge's webhook of the kit at the listener.
func (k kit) hookTo(ff *fakeforge.Forge, addr, secret string) {
	if k.name == ForgeGitHub {
		ff.SetGitHubWebhook(fakeforge.Webhook{URL: "http://" + addr + webhook.GitHubPath, Secret: secret})
		return
	}
	ff.SetWebhook(fakeforge.Webhook{URL: "http://" + addr + webhook.GitLabPath, Secret: secret})
}

// pipelines are the finished pipelines, by the ids the train knows them
// by: on GitHub, each attempt of a workflow run is the pipeline whose id
// packs its commit and attempt.
func (k kit) pipelines(ff *fakeforge.Forge) []fakeforge.PipelineRecord {
	log := ff.PipelineLog()
	if k.name != ForgeGitHub {
		return log
	}
	out := slices.Clone(log)
	for i, r := range out {
		if id, err := github.PipelineID(r.SHA, r.Attempt); err == nil {
			out[i].ID = id
		}
	}
	return out
}

// running counts the pipelines that have not finished.
func (k kit) running(ff *fakeforge.Forge) int {
	if k.name == ForgeGitHub {
		runs, _ := ff.WorkflowRuns(project, "")
		n := 0
		for _, r := range runs {
			if r.Status != fakeforge.CheckCompleted {
				n++
			}
		}
		return n
	}
	ps, _ := ff.Pipelines(project)
	return len(ps) - len(ff.PipelineLog())
}
