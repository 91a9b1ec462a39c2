package demo

import (
	"fmt"
	"slices"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/forges"
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

// check is the one check the demo's simulated CI runs where the forge
// has checks.
const check = "ci/test"

// kit is the forge the demo runs on: its profile, for names, and its side
// of the fake forge, for CI and webhooks.
type kit struct {
	name    string
	profile forge.Profile
	side    fakeforge.Side
}

func kitFor(forgeName string) (kit, error) {
	if forgeName == "" {
		forgeName = ForgeGitLab
	}
	p, err := forges.ProfileOf(forgeName, "")
	if err != nil {
		return kit{}, fmt.Errorf("demo: %w", err)
	}
	side, err := fakeforge.SideOf(forgeName)
	if err != nil {
		return kit{}, fmt.Errorf("demo: %w", err)
	}
	return kit{name: forgeName, profile: p, side: side}, nil
}

// title is the forge's name for people: "GitLab".
func (k kit) title() string { return k.profile.Title }

// ref is how the forge writes an MR: !12 or #12.
func (k kit) ref(iid int64) string { return k.profile.Label(iid) }

// pipe names a pipeline as the forge's readers know it: GitLab's
// number, or on GitHub the commit whose checks it is.
func (k kit) pipe(id int64) string { return k.profile.PipelineLabel(id) }

// reason renders a reason the planner wrote with the kit's pipeline names.
func (k kit) reason(why train.Text) string { return why.Render(k.pipe) }

// forgeOptions adds the kit's CI to the forge's options: checks on every
// car branch push, where the forge has checks.
func (k kit) forgeOptions(o fakeforge.Options) fakeforge.Options {
	return k.side.WithChecks(o, []string{"trainyard/**"}, []string{check})
}

// checks are the required checks of the kit's CI.
func (k kit) checks() []string { return k.side.RequiredChecks([]string{check}) }

// hookTo points the forge's webhook of the kit at the listener.
func (k kit) hookTo(ff *fakeforge.Forge, addr, secret string) {
	k.side.Hook(ff, fakeforge.Webhook{URL: "http://" + addr + webhook.Path(k.name), Secret: secret})
}

// pipelines are the finished pipelines, by the ids the train knows them
// by: where Trainyard makes up the ids (GitHub's check sets), each
// attempt's id packs its commit and attempt.
func (k kit) pipelines(ff *fakeforge.Forge) []fakeforge.PipelineRecord {
	log := ff.PipelineLog()
	ids, ok := k.profile.Names.(forge.PipelineIDs)
	if !ok {
		return log
	}
	out := slices.Clone(log)
	for i, r := range out {
		if id, err := ids.PipelineID(r.SHA, r.Attempt); err == nil {
			out[i].ID = id
		}
	}
	return out
}

// running counts the pipelines that have not finished.
func (k kit) running(ff *fakeforge.Forge) int { return k.side.Running(ff, project) }
