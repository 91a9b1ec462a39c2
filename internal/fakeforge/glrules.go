package fakeforge

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Merge rules as GitLab checks them before its merge button works:
// required approvals, requested changes, unresolved threads, drafts. They
// stop nothing here, pushes to the target included; they shape
// detailed_merge_status and what the approvals and discussions endpoints
// report, which is all a merge train that pushes the target itself can go
// by.

// mergeSettings are a project's merge checks. The zero value is GitLab's
// default, but for resetting approvals on push, which the fake does unless
// told not to.
type mergeSettings struct {
	approvalsRequired int
	// keepApprovalsOnPush turns off "reset approvals on push".
	keepApprovalsOnPush bool
	// requireResolved is only_allow_merge_if_all_discussions_are_resolved.
	requireResolved bool
	// ruleID names the one approval rule ("All Members") the fake has,
	// given an id when approvals are first required.
	ruleID int64
}

type glApproval struct {
	UserID int64
	At     time.Time
}

// glThread is the resolution of a resolvable discussion; every note of the
// discussion shares it.
type glThread struct {
	Resolved   bool
	ResolvedBy int64
	ResolvedAt time.Time
}

// glReview is what people decided about an MR besides their notes.
type glReview struct {
	approvals []glApproval
	// changesRequested lists the users whose request for changes stands.
	changesRequested []int64
	threads          map[string]*glThread
	// status, when set, is the detailed_merge_status SetMergeStatus
	// forces; reads counts the single-MR reads left before it lapses, or
	// is negative to keep it until cleared.
	status string
	reads  int
}

func (r *glReview) approvedBy(id int64) bool {
	return slices.ContainsFunc(r.approvals, func(a glApproval) bool { return a.UserID == id })
}

func (r *glReview) unresolved() int {
	n := 0
	for _, t := range r.threads {
		if !t.Resolved {
			n++
		}
	}
	return n
}

// errNotModified: the request asked for what already is (approving twice);
// GitLab answers 304.
var errNotModified = errors.New("not modified")

// Detailed merge statuses the fake computes; SetMergeStatus can force any
// other.
const (
	statusMergeable        = "mergeable"
	statusNotOpen          = "not_open"
	statusDraft            = "draft_status"
	statusRequestedChanges = "requested_changes"
	statusDiscussions      = "discussions_not_resolved"
	statusNotApproved      = "not_approved"
)

// detailedMergeStatus is what GitLab would say of m now: like GitLab, one
// reason only, the first of a fixed order that applies; call with f.mu
// held.
func detailedMergeStatus(p *project, m *mergeRequest) string {
	switch {
	case m.State != StateOpened:
		return statusNotOpen
	case m.review.status != "":
		return m.review.status
	case m.Draft:
		return statusDraft
	case len(m.review.changesRequested) > 0:
		return statusRequestedChanges
	case !blockingDiscussionsResolved(p, m):
		return statusDiscussions
	case len(m.review.approvals) < p.rules.approvalsRequired:
		return statusNotApproved
	}
	return statusMergeable
}

// mergeStatus is the older merge_status field that goes with a detailed
// status: whether git can merge the branches, which says nothing of
// approvals or threads.
func mergeStatus(detailed string) string {
	switch detailed {
	case "checking", "unchecked", "preparing":
		return detailed
	case "conflict":
		return "cannot_be_merged"
	}
	return "can_be_merged"
}

// blockingDiscussionsResolved is true when the project does not require
// resolved threads, as on GitLab, whatever the threads.
func blockingDiscussionsResolved(p *project, m *mergeRequest) bool {
	return !p.rules.requireResolved || m.review.unresolved() == 0
}

// readMR counts one read of m through the REST API against a forced
// status; call with f.mu held.
func readMR(m *mergeRequest) {
	if m.review.status == "" || m.review.reads <= 0 {
		return
	}
	m.review.reads--
	if m.review.reads == 0 {
		m.review.status = ""
	}
}

// discussionID makes a discussion id shaped like GitLab's (40 hex
// digits) from the id of the note that starts it.
func discussionID(noteID int64) string {
	sum := sha1.Sum([]byte("discussion:" + itoa(noteID)))
	return hex.EncodeToString(sum[:])
}

// withSettings changes project's merge settings.
func (f *Forge) withSettings(project string, change func(*mergeSettings)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return err
	}
	change(&p.rules)
	return nil
}

// SetApprovalsRequired sets how many approvals the MRs of project need;
// zero, the default, needs none.
func (f *Forge) SetApprovalsRequired(project string, n int) error {
	if n < 0 {
		return fmt.Errorf("approvals required for %s: %d is negative", project, n)
	}
	return f.withSettings(project, func(s *mergeSettings) {
		s.approvalsRequired = n
		if s.ruleID == 0 {
			s.ruleID = f.st.nextID()
		}
	})
}

// SetResetApprovalsOnPush turns GitLab's "reset approvals on push" on (the
// fake's default) or off: when on, new commits on an MR drop its
// approvals.
func (f *Forge) SetResetApprovalsOnPush(project string, on bool) error {
	return f.withSettings(project, func(s *mergeSettings) { s.keepApprovalsOnPush = !on })
}

// SetRequireResolvedDiscussions sets "all threads must be resolved"
// (only_allow_merge_if_all_discussions_are_resolved), off by default as on
// GitLab.
func (f *Forge) SetRequireResolvedDiscussions(project string, on bool) error {
	return f.withSettings(project, func(s *mergeSettings) { s.requireResolved = on })
}

// SetMergeStatus makes MR iid report status as its detailed_merge_status
// (checking, need_rebase, conflict, ...) for its next reads reads through
// GET /projects/:id/merge_requests/:iid, or until cleared with status ""
// when reads <= 0. Lists and webhooks show the status without using up a
// read. A closed or merged MR is not_open whatever is set.
func (f *Forge) SetMergeStatus(project string, iid int64, status string, reads int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, m, err := f.st.mr(project, iid)
	if err != nil {
		return fmt.Errorf("set merge status of %s!%d: %w", project, iid, err)
	}
	if reads <= 0 {
		reads = -1
	}
	m.review.status, m.review.reads = status, reads
	return nil
}

// Approve approves MR iid as username, as the approve button does, and
// withdraws any changes the user requested. Approving twice is an error,
// as GitLab answers 304.
func (f *Forge) Approve(ctx context.Context, project string, iid int64, username string) error {
	p, u, err := f.lookup(project, username)
	if err == nil {
		err = f.approve(ctx, p, iid, u, "")
	}
	if err != nil {
		return fmt.Errorf("approve %s!%d as %s: %w", project, iid, username, err)
	}
	return nil
}

// Unapprove withdraws username's approval of MR iid.
func (f *Forge) Unapprove(ctx context.Context, project string, iid int64, username string) error {
	p, u, err := f.lookup(project, username)
	if err == nil {
		err = f.unapprove(ctx, p, iid, u)
	}
	if err != nil {
		return fmt.Errorf("unapprove %s!%d as %s: %w", project, iid, username, err)
	}
	return nil
}

// approve records u's approval; sha, when set, must be the MR's head.
func (f *Forge) approve(ctx context.Context, p *project, iid int64, u *user, sha string) error {
	f.mu.Lock()
	m, ok := p.mrs[iid]
	var err error
	switch {
	case !ok:
		err = ErrNoMR
	case m.State != StateOpened:
		err = errMRNotOpen
	case sha != "" && sha != m.SHA:
		err = &apiError{409, "SHA does not match HEAD of source branch: " + m.SHA}
	case m.review.approvedBy(u.ID):
		err = errNotModified
	}
	if err != nil {
		f.mu.Unlock()
		return err
	}
	now := f.opts.Now()
	m.review.approvals = append(m.review.approvals, glApproval{UserID: u.ID, At: now})
	m.review.changesRequested = slices.DeleteFunc(m.review.changesRequested, func(id int64) bool { return id == u.ID })
	f.addSystemNote(m, u, "approved this merge request", now)
	action := "approval"
	if len(m.review.approvals) >= p.rules.approvalsRequired {
		action = "approved"
	}
	f.mu.Unlock()
	return f.sendGLMRHook(ctx, p, iid, u, action, "", nil)
}

func (f *Forge) unapprove(ctx context.Context, p *project, iid int64, u *user) error {
	f.mu.Lock()
	m, ok := p.mrs[iid]
	if !ok || !m.review.approvedBy(u.ID) {
		f.mu.Unlock()
		if !ok {
			return ErrNoMR
		}
		return errNotModified
	}
	was := len(m.review.approvals) >= p.rules.approvalsRequired
	m.review.approvals = slices.DeleteFunc(m.review.approvals, func(a glApproval) bool { return a.UserID == u.ID })
	now := f.opts.Now()
	f.addSystemNote(m, u, "unapproved this merge request", now)
	action := "unapproval"
	if was && len(m.review.approvals) < p.rules.approvalsRequired {
		action = "unapproved"
	}
	f.mu.Unlock()
	return f.sendGLMRHook(ctx, p, iid, u, action, "", nil)
}

// resetApprovals drops m's approvals after new commits, unless the project
// keeps them; call with f.mu held.
func resetApprovals(p *project, m *mergeRequest) {
	if !p.rules.keepApprovalsOnPush {
		m.review.approvals = nil
	}
}

// RequestChanges records that username, reviewing MR iid, requested
// changes; it withdraws the user's approval, if any. The request stands
// until the user approves or ClearRequestedChanges.
func (f *Forge) RequestChanges(ctx context.Context, project string, iid int64, username string) error {
	return f.reviewMR(project, iid, username, "request changes on", func(m *mergeRequest, u *user, now time.Time) {
		if !slices.Contains(m.review.changesRequested, u.ID) {
			m.review.changesRequested = append(m.review.changesRequested, u.ID)
		}
		m.review.approvals = slices.DeleteFunc(m.review.approvals, func(a glApproval) bool { return a.UserID == u.ID })
		f.addSystemNote(m, u, "requested changes", now)
	})
}

// ClearRequestedChanges withdraws username's request for changes on MR
// iid, as a reviewer does by re-reviewing; clearing none is no error.
func (f *Forge) ClearRequestedChanges(ctx context.Context, project string, iid int64, username string) error {
	return f.reviewMR(project, iid, username, "clear requested changes on", func(m *mergeRequest, u *user, now time.Time) {
		if slices.Contains(m.review.changesRequested, u.ID) {
			m.review.changesRequested = slices.DeleteFunc(m.review.changesRequested, func(id int64) bool { return id == u.ID })
			m.Updated = now
		}
	})
}

// reviewMR applies a reviewer's change to an open MR under f.mu.
func (f *Forge) reviewMR(project string, iid int64, username, what string, change func(*mergeRequest, *user, time.Time)) error {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return fmt.Errorf("%s %s!%d as %s: %w", what, project, iid, username, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[iid]
	if !ok || m.State != StateOpened {
		return fmt.Errorf("%s %s!%d as %s: %w", what, project, iid, username, errNotOpen(ok))
	}
	change(m, u, f.opts.Now())
	return nil
}

// addSystemNote records a note GitLab writes itself about an event, which
// touches the MR as every note does; call with f.mu held.
func (f *Forge) addSystemNote(m *mergeRequest, u *user, body string, now time.Time) {
	n := &note{ID: f.st.nextID(), Body: body, AuthorID: u.ID, Created: now, Updated: now, System: true}
	n.Discussion = discussionID(n.ID)
	m.system = append(m.system, n)
	m.Updated = now
}

// StartDiscussion opens a resolvable thread on MR iid as username and
// returns its id; its first note is a note like any other, hooks included.
func (f *Forge) StartDiscussion(ctx context.Context, project string, iid int64, username, body string) (string, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return "", fmt.Errorf("start a thread on %s!%d: %w", project, iid, err)
	}
	n, err := f.postNote(ctx, p, iid, u, body, true)
	if err != nil {
		return "", fmt.Errorf("start a thread on %s!%d: %w", project, iid, err)
	}
	return n.Discussion, nil
}

// ResolveDiscussion resolves thread id of MR iid as username, or reopens
// it when resolved is false.
func (f *Forge) ResolveDiscussion(ctx context.Context, project string, iid int64, id, username string, resolved bool) error {
	p, u, err := f.lookup(project, username)
	if err == nil {
		err = f.resolve(p, iid, id, u, resolved)
	}
	if err != nil {
		return fmt.Errorf("resolve thread %s of %s!%d: %w", id, project, iid, err)
	}
	return nil
}

// errNoDiscussion: the MR has no discussion by that id.
var errNoDiscussion = errors.New("discussion not found")

// errNotResolvable: the discussion is a lone note, which cannot be
// resolved.
var errNotResolvable = errors.New("discussion is not resolvable")

func (f *Forge) resolve(p *project, iid int64, id string, u *user, resolved bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[iid]
	if !ok {
		return ErrNoMR
	}
	t, ok := m.review.threads[id]
	if !ok {
		if slices.ContainsFunc(m.notes, func(n *note) bool { return n.Discussion == id }) ||
			slices.ContainsFunc(m.system, func(n *note) bool { return n.Discussion == id }) {
			return errNotResolvable
		}
		return errNoDiscussion
	}
	if t.Resolved == resolved {
		return nil
	}
	now := f.opts.Now()
	*t = glThread{Resolved: resolved}
	if resolved {
		t.ResolvedBy, t.ResolvedAt = u.ID, now
	}
	m.Updated = now
	return nil
}
