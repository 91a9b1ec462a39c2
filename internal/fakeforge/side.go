package fakeforge

import "fmt"

// Side is one forge the fake forge plays, by the name Trainyard's
// configuration gives it: its CI, its webhook and its pipelines. Drivers
// such as the demo use it so that they need not know which forge is which.
type Side struct{ name string }

// SideOf is the side named forgeName: "gitlab" or "github".
func SideOf(forgeName string) (Side, error) {
	switch forgeName {
	case HookGitLab, HookGitHub:
		return Side{forgeName}, nil
	}
	return Side{}, fmt.Errorf("fake forge: no %q side: want %s or %s", forgeName, HookGitLab, HookGitHub)
}

// Name is the side's forge name.
func (s Side) Name() string { return s.name }

// WithChecks sets the side's CI in o: on GitHub, Actions that run the
// checks on every push to a branch matching branches; GitLab runs its
// pipelines anyway.
func (s Side) WithChecks(o Options, branches, checks []string) Options {
	if s.name == HookGitHub {
		o.GitHub.Actions = Actions{Branches: branches, Checks: checks}
	}
	return o
}

// RequiredChecks are the checks a client must wait for on this side:
// the given checks on GitHub, none on GitLab, whose pipelines carry their
// own status.
func (s Side) RequiredChecks(checks []string) []string {
	if s.name == HookGitHub {
		return checks
	}
	return nil
}

// Hook points the side's webhook at w.
func (s Side) Hook(f *Forge, w Webhook) {
	if s.name == HookGitHub {
		f.SetGitHubWebhook(w)
		return
	}
	f.SetWebhook(w)
}

// Running counts the side's CI runs of project that have not finished.
func (s Side) Running(f *Forge, project string) int {
	if s.name == HookGitHub {
		runs, _ := f.WorkflowRuns(project, "")
		n := 0
		for _, r := range runs {
			if r.Status != CheckCompleted {
				n++
			}
		}
		return n
	}
	ps, _ := f.Pipelines(project)
	return len(ps) - len(f.PipelineLog())
}
