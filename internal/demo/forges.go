package demo

import (
	"fmt"
	"slices"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/webhook"
)

// Forges the demo runs on, as Options.Forge names them.
const (
	ForgeGitLab = gitlab.Name
	ForgeGitHub = github.Name
)

// check is the one check of the GitHub demo's simulated Actions.
const check = "ci/test"

// kit is what differs between the demo on GitLab and on GitHub: the
// forge's profile and options, the client and engine on it, and where its
// webhooks go.
type kit struct {
	name    string
	title   string
	profile forge.Profile
}

func kitFor(forgeName string) (kit, error) {
	switch forgeName {
	case ForgeGitLab, "":
		return kit{ForgeGitLab, "GitLab", gitlab.Profile("")}, nil
	case ForgeGitHub:
		return kit{ForgeGitHub, "GitHub", github.Profile("")}, nil
	}
	return kit{}, fmt.Errorf("demo: forge %q: want gitlab or github", forgeName)
}

// ref is how the forge writes an MR: !12 or #12.
func (k kit) ref(iid int64) string { return k.profile.Label(iid) }

// pipe names a pipeline as the forge's readers know it: GitLab's
// number, or on GitHub the commit whose checks it is.
func (k kit) pipe(id int64) string { return k.profile.PipelineLabel(id) }

// reason renders a reason the planner wrote with the kit's pipeline names.
func (k kit) reason(why train.Text) string { return why.Render(k.pipe) }

// forgeOptions adds the kit's CI to the forge's options: on GitHub,
// Actions that run the check on every car branch push.
func (k kit) forgeOptions(o fakeforge.Options) fakeforge.Options {
	if k.name == ForgeGitHub {
		o.GitHub.Actions = fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{check}}
	}
	return o
}

// checks are the required checks of the kit's CI, where the forge has
// them.
func (k kit) checks() []string {
	if k.name == ForgeGitHub {
		return []string{check}
	}
	return nil
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
