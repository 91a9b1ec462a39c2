package github

import (
	"context"
	"slices"
	"strings"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// With branch_checks off (Repository.IgnoreBranchChecks) a car does not
// wait for the checks its target branch requires: they run on pull
// requests only, such as a CLA or DCO check, and would never report on a
// car's commit. GitHub still refuses to merge a pull request until they
// passed on its head, and so does Trainyard: headChecksUnmet reads them
// there, and one that has not passed is unmet. A check the branch pins to
// an app counts only as that app's check run, as on GitHub.

// headChecksUnmet is what the checks branch requires say of the pull
// request whose head is sha.
func (c *Client) headChecksUnmet(ctx context.Context, r repoRef, branch, sha string) ([]forge.Unmet, error) {
	b, err := c.requiredChecks(ctx, r, branch)
	if err != nil || len(b.checks) == 0 {
		return nil, err
	}
	runs, err := c.checkRuns(ctx, r, sha)
	if err != nil {
		return nil, err
	}
	// An app's newest run of a check is the one that counts: a re-run
	// that passed clears the failure before it.
	var kept []grouped
	for _, run := range runs {
		g := checkGroup{app: run.GetApp().GetID(), name: run.GetName()}
		if apps := b.apps[g.name]; len(apps) == 0 || slices.Contains(apps, g.app) {
			kept = append(kept, grouped{run, g})
		}
	}
	cs := checks{}
	cs.addRuns(newest(kept))
	if slices.ContainsFunc(b.checks, func(n string) bool { _, ok := cs[n]; return !ok }) {
		statuses, err := c.statuses(ctx, r, sha)
		if err != nil {
			return nil, err
		}
		statuses = slices.DeleteFunc(statuses, func(s *gh.RepoStatus) bool { return len(b.apps[s.GetContext()]) > 0 })
		cs.addStatuses(statuses)
	}
	var failed, waiting []string
	for _, name := range b.checks {
		switch s, ok := cs[name]; {
		case !ok || s == checkQueued || s == checkRunning:
			waiting = append(waiting, train.Quote(name))
		case s != checkPassed:
			failed = append(failed, train.Quote(name))
		}
	}
	var unmet []forge.Unmet
	if len(failed) > 0 {
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetChecks, Message: checksSentence(failed, true)})
	}
	if len(waiting) > 0 {
		unmet = append(unmet, forge.Unmet{Code: forge.UnmetChecks, Message: checksSentence(waiting, false)})
	}
	return unmet, nil
}

// checksSentence says what of the required checks names: "its required
// check `cla` failed on its head".
func checksSentence(names []string, failed bool) string {
	subject := "its required check " + names[0]
	if n := len(names); n > 1 {
		subject = "its required checks " + strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	}
	switch {
	case failed:
		return subject + " failed on its head"
	case len(names) == 1:
		return subject + " has not passed on its head yet"
	}
	return subject + " have not passed on its head yet"
}
