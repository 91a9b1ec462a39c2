package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Merge requests and their notes, as people on the forge work with them.

// CreateMR opens a merge request and sends its "open" event.
func (f *Forge) CreateMR(ctx context.Context, project string, spec MRSpec) (MR, error) {
	p, u, err := f.lookup(project, spec.Author)
	if err != nil {
		return MR{}, fmt.Errorf("create MR in %s: %w", project, err)
	}
	if spec.Target == "" {
		spec.Target = p.DefaultBranch
	}
	if spec.Source == "" || (spec.Source == spec.Target && spec.Fork == "") {
		return MR{}, fmt.Errorf("create MR in %s: bad source branch %q", project, spec.Source)
	}
	if spec.Fork != "" {
		return f.createForkMR(ctx, p, u, spec)
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	base, ok := p.heads[spec.Target]
	if !ok {
		return MR{}, fmt.Errorf("create MR in %s: target %s: %w", project, spec.Target, ErrNoBranch)
	}
	head, err := f.advanceLocked(ctx, p, spec.Source, base, u, spec.Commits)
	if err != nil {
		return MR{}, fmt.Errorf("create MR in %s: %w", project, err)
	}
	m := f.newMR(p, u, spec, head)
	if err := f.setMRRef(ctx, p, m.IID, head); err != nil {
		return MR{}, fmt.Errorf("create MR in %s: %w", project, err)
	}
	if err := f.sendMRHook(ctx, p, m.IID, u, "open", "", nil); err != nil {
		return MR{}, fmt.Errorf("create MR in %s: %w", project, err)
	}
	return f.MR(project, m.IID)
}

// createForkMR opens a pull request from a branch of the fork, another
// project of the forge. Its head stays in the fork: the base repository
// gets no refs/pull/<n>/head, as when the fork's commits are not shared
// with whoever reads the base, so a bot cannot fetch the head.
func (f *Forge) createForkMR(ctx context.Context, p *project, u *user, spec MRSpec) (MR, error) {
	f.mu.Lock()
	fork, err := f.st.project(spec.Fork)
	f.mu.Unlock()
	if err != nil {
		return MR{}, fmt.Errorf("create MR in %s from %s: %w", p.Path, spec.Fork, err)
	}
	fork.gitMu.Lock()
	head, err := f.advanceLocked(ctx, fork, spec.Source, fork.heads[fork.DefaultBranch], u, spec.Commits)
	fork.gitMu.Unlock()
	if err != nil {
		return MR{}, fmt.Errorf("create MR in %s from %s: %w", p.Path, spec.Fork, err)
	}
	m := f.newMR(p, u, spec, head)
	f.mu.Lock()
	m.ForkID = fork.ID
	f.mu.Unlock()
	if err := f.sendMRHook(ctx, p, m.IID, u, "open", "", nil); err != nil {
		return MR{}, fmt.Errorf("create MR in %s: %w", p.Path, err)
	}
	return f.MR(p.Path, m.IID)
}

func (f *Forge) newMR(p *project, u *user, spec MRSpec, head string) *mergeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.nextMRIID++
	now := f.opts.Now()
	title := spec.Title
	if title == "" {
		title = spec.Source
	}
	m := &mergeRequest{
		ID: f.st.nextID(), IID: p.nextMRIID, Title: title, Description: spec.Description,
		Source: spec.Source, Target: spec.Target, AuthorID: u.ID, State: StateOpened,
		Draft: spec.Draft, SHA: head, Created: now, Updated: now,
	}
	p.mrs[m.IID] = m
	return m
}

// PushToMR pushes commits to the MR's source branch as its author.
func (f *Forge) PushToMR(ctx context.Context, project string, iid int64, commits ...Commit) (string, error) {
	f.mu.Lock()
	p, m, err := f.st.mr(project, iid)
	var source, author string
	if err == nil {
		source, author = m.Source, f.st.users[m.AuthorID].Username
	}
	f.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("push to MR: %w", err)
	}
	head, err := f.PushBranch(ctx, p.Path, source, author, commits...)
	if err != nil {
		return "", fmt.Errorf("push to %s!%d: %w", project, iid, err)
	}
	return head, nil
}

// CloseMR closes an open MR as username.
func (f *Forge) CloseMR(ctx context.Context, project string, iid int64, username string) error {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return fmt.Errorf("close %s!%d: %w", project, iid, err)
	}
	f.mu.Lock()
	m, ok := p.mrs[iid]
	if !ok || m.State != StateOpened {
		f.mu.Unlock()
		return fmt.Errorf("close %s!%d: %w", project, iid, errNotOpen(ok))
	}
	now := f.opts.Now()
	m.State, m.ClosedAt, m.ClosedBy, m.Updated = StateClosed, now, u.ID, now
	f.mu.Unlock()
	if err := f.sendMRHook(ctx, p, iid, u, "close", "", stateChange(StateOpened, StateClosed)); err != nil {
		return fmt.Errorf("close %s!%d: %w", project, iid, err)
	}
	return nil
}

// errMRNotOpen: the MR was closed or merged.
var errMRNotOpen = errors.New("merge request is not open")

func errNotOpen(exists bool) error {
	if !exists {
		return ErrNoMR
	}
	return errMRNotOpen
}

// MergeMR merges an open MR with a merge commit on its target, as GitLab's
// merge button does, and returns the merge commit.
func (f *Forge) MergeMR(ctx context.Context, project string, iid int64, username string) (string, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return "", fmt.Errorf("merge %s!%d: %w", project, iid, err)
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	f.mu.Lock()
	m, ok := p.mrs[iid]
	var mr mergeRequest
	if ok {
		mr = *m
	}
	f.mu.Unlock()
	if !ok || mr.State != StateOpened {
		return "", fmt.Errorf("merge %s!%d: %w", project, iid, errNotOpen(ok))
	}
	g := f.repo(p.Path)
	target := p.heads[mr.Target]
	msg := fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nSee merge request %s!%d\n", mr.Source, mr.Target, mr.Title, p.Path, iid)
	commit, err := g.mergeCommit(ctx, target, mr.SHA, msg, f.sig(u))
	if err != nil {
		return "", fmt.Errorf("merge %s!%d: %w", project, iid, err)
	}
	if err := g.updateRef(ctx, "refs/heads/"+mr.Target, commit, target); err != nil {
		return "", fmt.Errorf("merge %s!%d: %w", project, iid, err)
	}
	if err := f.markMerged(ctx, p, iid, u, commit); err != nil {
		return "", fmt.Errorf("merge %s!%d: %w", project, iid, err)
	}
	return commit, f.rescanLocked(ctx, p, u)
}

// AddNote comments on an MR as username and sends the Note Hook.
func (f *Forge) AddNote(ctx context.Context, project string, iid int64, username, body string) (Note, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return Note{}, fmt.Errorf("comment on %s!%d: %w", project, iid, err)
	}
	n, err := f.addNote(ctx, p, iid, u, body)
	if err != nil {
		return Note{}, fmt.Errorf("comment on %s!%d: %w", project, iid, err)
	}
	return noteOf(&n, u), nil
}

// AddInternalNote posts an internal note on MR iid as username, which
// only project members see: no GitHub comment, and a Confidential Note
// Hook on GitLab.
func (f *Forge) AddInternalNote(ctx context.Context, project string, iid int64, username, body string) (Note, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return Note{}, fmt.Errorf("comment on %s!%d: %w", project, iid, err)
	}
	f.mu.Lock()
	m, ok := p.mrs[iid]
	if !ok {
		f.mu.Unlock()
		return Note{}, fmt.Errorf("comment on %s!%d: %w", project, iid, ErrNoMR)
	}
	now := f.opts.Now()
	n := &note{ID: f.st.nextID(), Body: body, AuthorID: u.ID, Created: now, Updated: now, Internal: true}
	n.Discussion = discussionID(n.ID)
	m.notes = append(m.notes, n)
	m.Updated = now
	f.mu.Unlock()
	return noteOf(n, u), f.sendNoteHook(ctx, p, iid, u, n, "create")
}

func noteOf(n *note, author *user) Note {
	return Note{ID: n.ID, Author: author.Username, Body: n.Body, CreatedAt: n.Created, UpdatedAt: n.Updated}
}

func (f *Forge) addNote(ctx context.Context, p *project, iid int64, u *user, body string) (note, error) {
	return f.postNote(ctx, p, iid, u, body, false)
}

// postNote adds a user's note, the first of a resolvable thread when
// thread is set. A note touches its MR, as on GitLab, so lists by
// updated_at find the MR.
func (f *Forge) postNote(ctx context.Context, p *project, iid int64, u *user, body string, thread bool) (note, error) {
	f.mu.Lock()
	m, ok := p.mrs[iid]
	if !ok {
		f.mu.Unlock()
		return note{}, ErrNoMR
	}
	now := f.opts.Now()
	n := &note{ID: f.st.nextID(), Body: body, AuthorID: u.ID, Created: now, Updated: now}
	n.Discussion = discussionID(n.ID)
	if thread {
		if m.review.threads == nil {
			m.review.threads = map[string]*glThread{}
		}
		m.review.threads[n.Discussion] = &glThread{}
	}
	m.notes = append(m.notes, n)
	m.Updated = now
	f.mu.Unlock()
	f.sendGHComment(p, iid, u, n)
	return *n, f.sendNoteHook(ctx, p, iid, u, n, "create")
}

// EditNote replaces the body of note id on MR iid, as its author editing
// it would; the note's and the MR's updated_at move, and a Note Hook with
// action "update" is sent.
func (f *Forge) EditNote(ctx context.Context, project string, iid, id int64, body string) (Note, error) {
	f.mu.Lock()
	p, err := f.st.project(project)
	f.mu.Unlock()
	if err != nil {
		return Note{}, fmt.Errorf("edit note %d of %s!%d: %w", id, project, iid, err)
	}
	n, u, err := f.editNote(ctx, p, iid, id, body)
	if err != nil {
		return Note{}, fmt.Errorf("edit note %d of %s!%d: %w", id, project, iid, err)
	}
	return noteOf(&n, u), nil
}

// DeleteNote deletes note id of MR iid, as its author or a maintainer
// deleting it would.
func (f *Forge) DeleteNote(project string, iid, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return fmt.Errorf("delete note %d of %s!%d: %w", id, project, iid, err)
	}
	m, ok := p.mrs[iid]
	if !ok {
		return fmt.Errorf("delete note %d of %s!%d: %w", id, project, iid, ErrNoMR)
	}
	i := slices.IndexFunc(m.notes, func(n *note) bool { return n.ID == id })
	if i < 0 {
		return fmt.Errorf("delete note %d of %s!%d: %w", id, project, iid, errNoNote)
	}
	m.notes = slices.Delete(m.notes, i, i+1)
	return nil
}

// errNoNote: the MR has no user's note by that id.
var errNoNote = errors.New("note not found")

func (f *Forge) editNote(ctx context.Context, p *project, iid, id int64, body string) (note, *user, error) {
	f.mu.Lock()
	m, ok := p.mrs[iid]
	if !ok {
		f.mu.Unlock()
		return note{}, nil, ErrNoMR
	}
	i := slices.IndexFunc(m.notes, func(n *note) bool { return n.ID == id })
	if i < 0 {
		f.mu.Unlock()
		return note{}, nil, errNoNote
	}
	n := m.notes[i]
	now := f.opts.Now()
	n.Body, n.Updated, m.Updated = body, now, now
	author := f.st.users[n.AuthorID]
	f.mu.Unlock()
	return *n, author, f.sendNoteHook(ctx, p, iid, author, n, "update")
}

// sendNoteHook sends GitLab's Note Hook for a user's note; GitLab sends
// none for system notes.
func (f *Forge) sendNoteHook(ctx context.Context, p *project, iid int64, u *user, n *note, action string) error {
	if !f.hooksOn(HookGitLab) {
		return nil
	}
	f.mu.Lock()
	sha := p.mrs[iid].SHA
	f.mu.Unlock()
	last, err := f.commit(ctx, p.Path, sha)
	if err != nil {
		return err
	}
	f.mu.Lock()
	m := p.mrs[iid]
	payload := noteHook{
		ObjectKind: "note", EventType: "note", User: hookUserOf(u), ProjectID: p.ID,
		Project: f.hookProjectOf(p), Repository: f.hookRepositoryOf(p),
		ObjectAttributes: noteAttrs{
			ID: n.ID, Note: n.Body, NoteableType: "MergeRequest", AuthorID: n.AuthorID,
			CreatedAt: fmtHookTime(n.Created), UpdatedAt: fmtHookTime(n.Updated), ProjectID: p.ID,
			NoteableID: m.ID, Action: action, URL: mrURL(f.projectURLs(p), iid) + "#note_" + itoa(n.ID), Internal: n.Internal,
		},
		MergeRequest: f.hookMROf(p, m, last),
	}
	f.mu.Unlock()
	event := EventNote
	if n.Internal {
		event = EventInternalNote
	}
	f.hooks.send(HookGitLab, event, payload)
	return nil
}

// Notes lists the users' notes of an MR, threads' included, oldest first;
// notes GitLab writes itself are left out.
func (f *Forge) Notes(project string, iid int64) ([]Note, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, m, err := f.st.mr(project, iid)
	if err != nil {
		return nil, err
	}
	out := make([]Note, len(m.notes))
	for i, n := range m.notes {
		out[i] = noteOf(n, f.st.users[n.AuthorID])
	}
	return out, nil
}

// MR returns one merge request.
func (f *Forge) MR(project string, iid int64) (MR, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, m, err := f.st.mr(project, iid)
	if err != nil {
		return MR{}, err
	}
	return f.mrOf(p, m), nil
}

// MRs lists a project's merge requests, newest first.
func (f *Forge) MRs(project string) ([]MR, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return nil, err
	}
	var out []MR
	for _, m := range p.sortedMRs() {
		out = append(out, f.mrOf(p, m))
	}
	return out, nil
}

func (f *Forge) mrOf(p *project, m *mergeRequest) MR {
	return MR{
		ID: m.ID, IID: m.IID, Project: p.Path, Title: m.Title, Source: m.Source, Target: m.Target,
		State: m.State, Draft: m.Draft, SHA: m.SHA, Author: f.st.users[m.AuthorID].Username,
		MergeCommitSHA: m.MergeCommitSHA, MergedAt: m.MergedAt, ClosedAt: m.ClosedAt,
	}
}
