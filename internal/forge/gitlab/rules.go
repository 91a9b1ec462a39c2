package gitlab

import (
	"context"
	"errors"
	"fmt"
	"slices"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/forge"
)

// MergeRules reads what GitLab's merge checks say of MR iid, apart from
// CI and a stale base, which the train sees to itself.
//
// GitLab names one reason at a time in detailed_merge_status, the first
// check that fails, so a reason the train resolves (need_rebase, a
// pipeline still running) can hide one it must not merge past. For any
// status but mergeable, the pending ones and not_open, MergeRules
// therefore also reads the approvals: two requests then, one otherwise.
// The MR's own draft and blocking_discussions_resolved are checked
// whatever the status, as they cost nothing.
//
// into, the branch the train merges the MR into, changes nothing here:
// GitLab judges an MR by the branch it targets, and its project-wide
// approval rules apply to every branch. An MR stacked on another's
// branch is therefore not held to approval rules scoped to into alone,
// or to into's code owners (docs/security.md).
func (c *Client) MergeRules(ctx context.Context, project string, iid int64, into string) (forge.Rules, error) {
	var mr *gl.MergeRequest
	err := c.do(ctx, fmt.Sprintf("read merge status of %s!%d", project, iid), true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		mr, r, err = c.gl.MergeRequests.GetMergeRequest(project, iid, nil, o...)
		return r, err
	})
	if err != nil {
		return forge.Rules{}, err
	}
	s := mergeState{
		status: mr.DetailedMergeStatus, state: mr.State, draft: mr.Draft,
		discussionsResolved: mr.BlockingDiscussionsResolved,
	}
	read := mrOf(project, &mr.BasicMergeRequest)
	if !s.needsApprovals() {
		return s.withMR(read), nil
	}
	var a *gl.MergeRequestApprovals
	err = c.do(ctx, fmt.Sprintf("read approvals of %s!%d", project, iid), true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		a, r, err = c.gl.MergeRequestApprovals.GetConfiguration(project, iid, o...)
		return r, err
	})
	switch {
	case errors.Is(err, forge.ErrRejected):
		// A token that may read the MR but not its approvals: nothing can
		// be known to be approved, so nothing merges.
		s.approvalsUnreadable = true
	case err != nil:
		return forge.Rules{}, err
	default:
		s.approvalsLeft = a.ApprovalsLeft
	}
	return s.withMR(read), nil
}

// withMR is the rules with the MR they were read with.
func (s mergeState) withMR(mr forge.MR) forge.Rules {
	r := s.rules()
	r.MR = &mr
	return r
}

// mergeState is what MergeRules reads of an MR.
type mergeState struct {
	status              string // detailed_merge_status
	state               string
	draft               bool
	discussionsResolved bool // blocking_discussions_resolved
	// approvalsLeft is read only when needsApprovals says so.
	approvalsLeft       int64
	approvalsUnreadable bool
}

// Statuses GitLab reports while it is still working the answer out.
var pendingStatuses = []string{"checking", "unchecked", "preparing", "approvals_syncing", "security_policy_evaluation"}

// Statuses the train resolves itself: it runs the pipeline on the merged
// result and builds on the current target, so a conflict shows up there.
var trainStatuses = []string{"mergeable", "ci_must_pass", "ci_still_running", "need_rebase", "conflict"}

// blockingStatuses maps each status that stops a merge, but not_approved
// (whose clause needs the count), to what the author is told.
var blockingStatuses = map[string]forge.Unmet{
	"requested_changes":          {Code: forge.UnmetRequestedChanges, Message: "a reviewer requested changes"},
	"discussions_not_resolved":   {Code: forge.UnmetDiscussions, Message: "it has unresolved threads"},
	"draft_status":               {Code: forge.UnmetDraft, Message: "it is a draft"},
	"blocked_status":             {Code: forge.UnmetBlocked, Message: "it depends on merge requests that are not merged yet"},
	"merge_request_blocked":      {Code: forge.UnmetMRBlocked, Message: "it depends on merge requests that are not merged yet"},
	"external_status_checks":     {Code: forge.UnmetExternalChecks, Message: "its external status checks have not passed"},
	"status_checks_must_pass":    {Code: forge.UnmetExternalChecks, Message: "its external status checks have not passed"},
	"jira_association_missing":   {Code: forge.UnmetJira, Message: "its title or description must name a Jira issue"},
	"policies_denied":            {Code: forge.UnmetPolicies, Message: "a policy of the project denies it"},
	"security_policy_violations": {Code: forge.UnmetPolicies, Message: "it violates a security policy of the project"},
	"not_open":                   {Code: forge.UnmetNotOpen, Message: "it is not open"},
}

func (s mergeState) open() bool { return s.state == forge.StateOpened && s.status != "not_open" }

// needsApprovals: the status may hide missing approvals, so they must be
// read too.
func (s mergeState) needsApprovals() bool {
	return s.open() && s.status != "mergeable" && !slices.Contains(pendingStatuses, s.status)
}

// rules maps the state onto forge.Rules: the status's own rule first, then
// what it may have hidden. A status this code does not know fails closed.
func (s mergeState) rules() forge.Rules {
	if !s.open() {
		return forge.Rules{Unmet: []forge.Unmet{blockingStatuses["not_open"]}}
	}
	if slices.Contains(pendingStatuses, s.status) {
		return forge.Rules{Pending: true}
	}
	var out []forge.Unmet
	add := func(u forge.Unmet) {
		if !slices.ContainsFunc(out, func(o forge.Unmet) bool { return o.Code == u.Code }) {
			out = append(out, u)
		}
	}
	switch u, blocking := blockingStatuses[s.status]; {
	case blocking:
		add(u)
	case s.status == "not_approved":
		add(notApproved(s.approvalsLeft))
	case s.status == "":
		add(forge.Unmet{Code: forge.UnmetUnknown, Message: "GitLab reports no merge status"})
	case !slices.Contains(trainStatuses, s.status):
		add(forge.Unmet{Code: forge.UnmetUnknown, Message: fmt.Sprintf("GitLab reports `%s`", s.status)})
	}
	if s.draft {
		add(blockingStatuses["draft_status"])
	}
	if !s.discussionsResolved {
		add(blockingStatuses["discussions_not_resolved"])
	}
	switch {
	case s.approvalsUnreadable:
		add(forge.Unmet{Code: forge.UnmetUnreadable, Message: "Trainyard may not read its approvals"})
	case s.approvalsLeft > 0:
		add(notApproved(s.approvalsLeft))
	}
	return forge.Rules{Unmet: out}
}

// notApproved says how many approvals are missing; left is zero when
// GitLab said not_approved but the approvals, read just after, have none
// missing: the status is believed, and the next read settles it.
func notApproved(left int64) forge.Unmet {
	msg := "it is not approved yet"
	switch {
	case left == 1:
		msg = "it needs 1 more approval"
	case left > 1:
		msg = fmt.Sprintf("it needs %d more approvals", left)
	}
	return forge.Unmet{Code: forge.UnmetNotApproved, Message: msg}
}
