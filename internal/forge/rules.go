package forge

import (
	"strings"
	"time"
)

// Rules is what a forge's merge rules say of an MR, apart from CI and a
// stale base, which the train itself takes care of: approvals, requested
// changes, unresolved discussions, drafts and the like. Trainyard pushes
// the target branch itself, so it must refuse what the forge would.
type Rules struct {
	// Pending: the forge has not finished working out whether the MR may
	// merge (GitLab's checking, unchecked, preparing); read again shortly.
	Pending bool
	// Unmet lists what the forge would refuse the merge for, in the order
	// to tell the author. Empty (and not Pending): nothing stands in the way.
	Unmet []Unmet
	// MR is the MR as read with its rules, when the forge gives both in
	// one answer (GitLab, and GitHub's GraphQL); nil otherwise. It saves a
	// read of the MR.
	MR *MR
}

// Met reports whether the rules allow the merge.
func (r Rules) Met() bool { return !r.Pending && len(r.Unmet) == 0 }

// Unmet is one rule an MR does not meet.
type Unmet struct {
	// Code is stable, for machines and tests: one of the Unmet* constants.
	Code string
	// Message is a clause for the author, in the forge's own words: "it
	// needs 2 more approvals", "@bob requested changes".
	Message string
}

// Codes of unmet rules, GitLab's detailed_merge_status names where GitLab
// has one.
const (
	UnmetNotApproved      = "not_approved"
	UnmetRequestedChanges = "requested_changes"
	UnmetDiscussions      = "discussions_not_resolved"
	UnmetDraft            = "draft_status"
	UnmetBlocked          = "blocked_status"
	UnmetExternalChecks   = "external_status_checks"
	UnmetJira             = "jira_association_missing"
	UnmetMRBlocked        = "merge_request_blocked"
	UnmetPolicies         = "policies_denied"
	UnmetNotOpen          = "not_open"
	// UnmetChecks: a check the target branch requires has not passed on
	// the MR's head, where only the MR's own pipelines run it.
	UnmetChecks = "checks_not_passed"
	// UnmetUnreadable: the rules could not be read (a token without the
	// permission to), so nothing may merge until they can.
	UnmetUnreadable = "rules_unreadable"
	// UnmetUnknown: a status this version of Trainyard does not know; it
	// fails closed.
	UnmetUnknown = "unknown"
)

// Sentence joins the unmet rules' messages into one clause list:
// "it needs 1 more approval; @bob requested changes".
func (r Rules) Sentence() string {
	parts := make([]string, 0, len(r.Unmet))
	for _, u := range r.Unmet {
		parts = append(parts, u.Message)
	}
	return strings.Join(parts, "; ")
}

// Comment is a comment on an MR, as the catch-up for missed commands reads
// it.
type Comment struct {
	// ID is the forge's id of the comment (a note id, an issue comment
	// id), unique on the forge.
	ID       int64
	MR       int64
	Body     string
	AuthorID int64
	Author   string // username
	// Created and Updated are the forge's times; Updated moves with edits.
	Created time.Time
	Updated time.Time
}
