package github

import (
	"slices"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// checkState is how far one check on a commit got, in order of how much
// it weighs when several report under one name: any failure outweighs
// everything.
type checkState int

const (
	checkPassed checkState = iota
	checkQueued
	checkRunning
	checkCanceled
	checkFailed
)

// checks holds the state of each check on a commit, by name: check runs
// by their name, commit statuses by their context.
type checks map[string]checkState

func (cs checks) add(name string, s checkState) {
	if name == forge.StatusName {
		// Trainyard's own status on an MR's head says what the train
		// decided, not what CI found.
		return
	}
	if cur, ok := cs[name]; !ok || s > cur {
		cs[name] = s
	}
}

func (cs checks) addRuns(runs []*gh.CheckRun) {
	for _, r := range runs {
		cs.add(r.GetName(), runState(r))
	}
}

// addStatuses adds the newest status of each context; statuses come
// newest first.
func (cs checks) addStatuses(statuses []*gh.RepoStatus) {
	seen := map[string]bool{}
	for _, s := range statuses {
		if !seen[s.GetContext()] {
			seen[s.GetContext()] = true
			cs.add(s.GetContext(), statusState(s.GetState()))
		}
	}
}

// trustedRuns keeps the check runs of the apps r trusts: for a check the
// branch expects of one app, that app's alone, whether r names it or not
// (the repository's admins chose it); for any other, those of the apps r
// names.
func (r Repository) trustedRuns(runs []*gh.CheckRun) []*gh.CheckRun {
	apps := r.CheckApps
	if len(apps) == 0 {
		apps = []string{DefaultCheckApp}
	}
	return slices.DeleteFunc(runs, func(run *gh.CheckRun) bool {
		app := run.GetApp()
		if want, ok := r.expected[run.GetName()]; ok {
			return !slices.Contains(want, app.GetID())
		}
		id := strconv.FormatInt(app.GetID(), 10)
		return !slices.ContainsFunc(apps, func(a string) bool {
			return (app.GetSlug() != "" && strings.EqualFold(a, app.GetSlug())) || (app.GetID() != 0 && a == id)
		})
	})
}

// trustedStatuses keeps the commit statuses set by the users r trusts,
// but for the checks the branch expects of an app: a status is no app's
// check run.
func (r Repository) trustedStatuses(statuses []*gh.RepoStatus) []*gh.RepoStatus {
	return slices.DeleteFunc(statuses, func(s *gh.RepoStatus) bool {
		if _, ok := r.expected[s.GetContext()]; ok {
			return true
		}
		login := s.GetCreator().GetLogin()
		return login == "" || !slices.ContainsFunc(r.StatusCreators, func(u string) bool { return strings.EqualFold(u, login) })
	})
}

// runState reads a check run. Neutral and skipped pass, as GitHub's
// required checks count them; a conclusion this code does not know
// fails, so that nothing unknown ever lets a car through.
func runState(r *gh.CheckRun) checkState {
	switch r.GetStatus() {
	case "completed":
	case "in_progress":
		return checkRunning
	default: // queued, waiting, requested, pending
		return checkQueued
	}
	switch r.GetConclusion() {
	case "success", "neutral", "skipped":
		return checkPassed
	case "cancelled":
		return checkCanceled
	}
	return checkFailed // failure, timed_out, action_required, startup_failure, stale
}

// statusState reads a commit status: pending means its CI runs.
func statusState(state string) checkState {
	switch state {
	case "success":
		return checkPassed
	case "pending":
		return checkRunning
	}
	return checkFailed // failure, error
}

// needs is what a car's checks are judged by: the checks named, by the
// configuration and the target branch, and whether every check reported
// counts too, as it does when the configuration names none.
func (r Repository) needs() (names []string, every bool) {
	names = slices.Concat(r.RequiredChecks, r.branch)
	slices.Sort(names)
	return slices.Compact(names), len(r.RequiredChecks) == 0
}

// verdict is verdict of what r needs.
func (r Repository) verdict(cs checks) train.PipelineState {
	names, every := r.needs()
	return verdict(names, every, cs)
}

// complete is complete of what r needs.
func (r Repository) complete(cs checks) bool {
	names, every := r.needs()
	return complete(names, every, cs)
}

// verdict is the state of a car's pipeline: failed (or cancelled) as soon
// as one required check is, passed when every required check passed, and
// otherwise running once one has started, pending before. With every,
// each check reported is required too, and there must be one.
func verdict(required []string, every bool, cs checks) train.PipelineState {
	names := slices.Clone(required)
	if every {
		for n := range cs {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
	}
	if len(names) == 0 {
		return train.PipelinePending
	}
	worst, missing, started := checkPassed, false, false
	for _, n := range names {
		s, ok := cs[n]
		if !ok {
			missing = true
			continue
		}
		worst = max(worst, s)
		started = started || s != checkQueued
	}
	switch {
	case worst == checkFailed:
		return train.PipelineFailed
	case worst == checkCanceled:
		return train.PipelineCanceled
	case !missing && worst == checkPassed:
		return train.PipelineSuccess
	case started:
		return train.PipelineRunning
	}
	return train.PipelinePending
}

// complete reports whether the check runs alone settle the verdict, so
// the commit statuses need not be read: a failure, or every required
// check seen (never, when every check reported counts).
func complete(required []string, every bool, cs checks) bool {
	if s := verdict(required, every, cs); s == train.PipelineFailed || s == train.PipelineCanceled {
		return true
	}
	if every || len(required) == 0 {
		return false
	}
	for _, n := range required {
		if _, ok := cs[n]; !ok {
			return false
		}
	}
	return true
}
