package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.uber.org/zap"
)

// maxPushCommits is how many commits GitLab lists in a push event.
const maxPushCommits = 20

type branchMove struct {
	Branch   string
	Old, New string // "" when the branch did not exist, or no longer does
}

func diffHeads(old, cur map[string]string) []branchMove {
	var moves []branchMove
	for b, sha := range cur {
		if old[b] != sha {
			moves = append(moves, branchMove{Branch: b, Old: old[b], New: sha})
		}
	}
	for b, sha := range old {
		if _, ok := cur[b]; !ok {
			moves = append(moves, branchMove{Branch: b, Old: sha})
		}
	}
	sort.Slice(moves, func(i, j int) bool { return moves[i].Branch < moves[j].Branch })
	return moves
}

// rescan reads p's branches and acts on every branch that moved since the
// last scan: a push event, MR heads follow their source branch, MRs
// whose head reached their target are merged, and pipelines start, as
// GitLab does on push. push is the git push that moved them, if one did:
// its CI options decide the pipelines of the branches it names.
func (f *Forge) rescan(ctx context.Context, p *project, by *user) error {
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	return f.rescanLocked(ctx, p, by)
}

func (f *Forge) rescanLocked(ctx context.Context, p *project, by *user) error {
	at := f.opts.Now()
	heads, err := f.repo(p.Path).heads(ctx)
	if err != nil {
		return fmt.Errorf("rescan %s: %w", p.Path, err)
	}
	moves := diffHeads(p.heads, heads)
	p.heads = heads
	if f.opts.OnBranchMoved != nil {
		for _, mv := range moves {
			f.opts.OnBranchMoved(BranchMoved{Project: p.Path, Branch: mv.Branch, Old: mv.Old, New: mv.New, At: at})
		}
	}
	// heads is recorded already: a move whose handling fails is not seen
	// again, so every move is handled whatever happened to the others.
	var errs []error
	for _, mv := range moves {
		if err := f.onBranchMoved(ctx, p, by, mv); err != nil {
			errs = append(errs, fmt.Errorf("branch %s: %w", mv.Branch, err))
		}
	}
	if len(moves) > 0 {
		errs = append(errs, f.detectMerged(ctx, p, by, heads, moves))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rescan %s: %w", p.Path, err)
	}
	return nil
}

func (f *Forge) onBranchMoved(ctx context.Context, p *project, by *user, mv branchMove) error {
	if err := f.sendPushHook(ctx, p, by, mv); err != nil {
		return err
	}
	if mv.New == "" {
		return nil
	}
	for _, iid := range f.followers(p, mv.Branch, mv.New) {
		if err := f.moveMRHead(ctx, p, by, iid, mv.New); err != nil {
			return err
		}
	}
	if start, vars := f.pushPipeline(f.takePush(p, mv.Branch), mv.Branch); start {
		if _, err := f.startPipeline(ctx, p, by, mv.Branch, mv.New, "push", vars...); err != nil {
			return err
		}
	}
	if f.actionsRun(mv.Branch) {
		if _, err := f.startWorkflowRun(p, by, mv.Branch, mv.New, "push"); err != nil {
			return err
		}
	}
	return nil
}

// followers lists the open MRs from branch whose head is not sha yet.
func (f *Forge) followers(p *project, branch, sha string) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var iids []int64
	for _, m := range p.sortedMRs() {
		// An MR from a fork follows the fork's branch, not this
		// project's of the same name.
		if m.State == StateOpened && m.Source == branch && m.SHA != sha && m.ForkID == 0 {
			iids = append(iids, m.IID)
		}
	}
	return iids
}

// moveMRHead records new commits on an MR: its head, its head refs, its
// approvals reset unless the project keeps them, and an "update" event
// with oldrev.
func (f *Forge) moveMRHead(ctx context.Context, p *project, by *user, iid int64, sha string) error {
	if err := f.setMRRef(ctx, p, iid, sha); err != nil {
		return err
	}
	f.mu.Lock()
	m := p.mrs[iid]
	old := m.SHA
	m.SHA = sha
	m.Updated = f.opts.Now()
	resetApprovals(p, m)
	f.mu.Unlock()
	return f.sendMRHook(ctx, p, iid, by, "update", old, nil)
}

// setMRRef points the MR's head refs at sha: GitLab's
// refs/merge-requests/<iid>/head and GitHub's refs/pull/<number>/head.
func (f *Forge) setMRRef(ctx context.Context, p *project, iid int64, sha string) error {
	// One transaction, one git process, for both refs.
	in := fmt.Sprintf("update refs/merge-requests/%d/head %s\nupdate refs/pull/%d/head %s\n", iid, sha, iid, sha)
	if _, err := f.repo(p.Path).run(ctx, in, nil, "update-ref", "--stdin"); err != nil {
		return fmt.Errorf("update the head refs of !%d: %w", iid, err)
	}
	return nil
}

// detectMerged marks merged every open MR whose head is now reachable from
// its target branch. Only MRs whose source or target moved can have become
// merged.
func (f *Forge) detectMerged(ctx context.Context, p *project, by *user, heads map[string]string, moves []branchMove) error {
	moved := map[string]bool{}
	for _, mv := range moves {
		moved[mv.Branch] = true
	}
	type cand struct {
		iid         int64
		sha, target string
		fork        bool
	}
	var cands []cand
	f.mu.Lock()
	for _, m := range p.sortedMRs() {
		// A fork's MR has its source branch in the fork: only its
		// target is a branch here.
		fork := m.ForkID != 0
		if m.State == StateOpened && heads[m.Target] != "" && (moved[m.Target] || (moved[m.Source] && !fork)) {
			cands = append(cands, cand{m.IID, m.SHA, heads[m.Target], fork})
		}
	}
	f.mu.Unlock()
	g := f.repo(p.Path)
	reached := map[string]map[int64]string{}
	for _, c := range cands {
		if c.fork || reached[c.target] != nil {
			continue
		}
		heads, err := g.mergedMRHeads(ctx, c.target)
		if err != nil {
			return err
		}
		reached[c.target] = heads
	}
	for _, c := range cands {
		if !c.fork {
			// An MR's head ref moves with its head under gitMu, so a
			// ref that was not reached is an MR not merged. One that
			// points elsewhere (it never should) is checked on its own.
			sha, ok := reached[c.target][c.iid]
			if !ok {
				continue
			}
			if sha == c.sha {
				if err := f.markMerged(ctx, p, c.iid, by, ""); err != nil {
					return err
				}
				continue
			}
		}
		if c.fork {
			// The head of a fork's MR is in this repository only once
			// someone pushed it here; until then the target cannot
			// hold it, and git would fail to look for it.
			if _, err := g.run(ctx, "", nil, "cat-file", "-e", c.sha+"^{commit}"); err != nil {
				continue
			}
		}
		in, err := g.isAncestor(ctx, c.sha, c.target)
		if err != nil {
			return fmt.Errorf("!%d: %w", c.iid, err)
		}
		if in {
			if err := f.markMerged(ctx, p, c.iid, by, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Forge) markMerged(ctx context.Context, p *project, iid int64, by *user, mergeCommit string) error {
	f.mu.Lock()
	m := p.mrs[iid]
	if m.State != StateOpened {
		f.mu.Unlock()
		return nil
	}
	now := f.opts.Now()
	m.State, m.MergedAt, m.Updated, m.MergedBy, m.MergeCommitSHA = StateMerged, now, now, by.ID, mergeCommit
	f.mu.Unlock()
	f.log.Info("merge request merged", zap.String("project", p.Path), zap.Int64("mr", iid))
	return f.sendMRHook(ctx, p, iid, by, "merge", "", stateChange(StateOpened, StateMerged))
}

func stateChange(from, to string) map[string]hookChange {
	return map[string]hookChange{"state_id": {Previous: mrStateID(from), Current: mrStateID(to)}}
}

// sendMRHook sends GitLab's Merge Request Hook and GitHub's
// pull_request event for MR iid as it is now.
func (f *Forge) sendMRHook(ctx context.Context, p *project, iid int64, by *user, action, oldrev string, changes map[string]hookChange) error {
	if err := f.sendGHPull(ctx, p, iid, by, action, oldrev); err != nil {
		return err
	}
	return f.sendGLMRHook(ctx, p, iid, by, action, oldrev, changes)
}

func (f *Forge) sendGLMRHook(ctx context.Context, p *project, iid int64, by *user, action, oldrev string, changes map[string]hookChange) error {
	if !f.hooksOn(HookGitLab) {
		return nil
	}
	f.mu.Lock()
	sha := p.mrs[iid].SHA
	f.mu.Unlock()
	last, err := f.commit(ctx, p.Path, sha)
	if err != nil {
		return fmt.Errorf("!%d: %w", iid, err)
	}
	if changes == nil {
		changes = map[string]hookChange{}
	}
	f.mu.Lock()
	m := p.mrs[iid]
	changes["updated_at"] = hookChange{Previous: fmtHookTime(m.Created), Current: fmtHookTime(m.Updated)}
	attrs := f.hookMROf(p, m, last)
	attrs.Action, attrs.OldRev = action, oldrev
	payload := mrHook{
		ObjectKind: "merge_request", EventType: "merge_request", User: hookUserOf(by),
		Project: f.hookProjectOf(p), Repository: f.hookRepositoryOf(p), ObjectAttributes: attrs,
		Labels: []any{}, Changes: changes, Assignees: []hookUser{}, Reviewers: []hookUser{},
	}
	f.mu.Unlock()
	f.hooks.send(HookGitLab, EventMergeRequest, payload)
	return nil
}

// sendPushHook sends GitLab's Push Hook and GitHub's push event.
func (f *Forge) sendPushHook(ctx context.Context, p *project, by *user, mv branchMove) error {
	if !f.hooksOn(HookGitLab) && !f.hooksOn(HookGitHub) {
		return nil
	}
	logged, total, err := f.pushLog(ctx, p, mv)
	if err != nil {
		return err
	}
	f.sendGHPush(p, by, mv, logged)
	if !f.hooksOn(HookGitLab) {
		return nil
	}
	u := f.projectURLs(p)
	commits := []pushCommit{}
	for i := len(logged) - 1; i >= 0; i-- {
		c := logged[i]
		commits = append(commits, pushCommit{hookCommit: hookCommitOf(c.commitInfo, u), Added: c.added, Modified: c.modified, Removed: c.removed})
	}
	f.mu.Lock()
	payload := pushHook{
		ObjectKind: "push", EventName: "push", Before: orZero(mv.Old), After: orZero(mv.New),
		Ref: "refs/heads/" + mv.Branch, RefProtected: mv.Branch == p.DefaultBranch,
		UserID: by.ID, UserName: by.Name, UserUsername: by.Username, UserEmail: by.email(), UserAvatar: avatarURL(by),
		ProjectID: p.ID, Project: f.hookProjectOf(p), Commits: commits, TotalCommitsCount: total,
		Repository: f.hookRepositoryOf(p),
	}
	if mv.New != "" {
		s := mv.New
		payload.CheckoutSHA = &s
	}
	f.mu.Unlock()
	f.hooks.send(HookGitLab, EventPush, payload)
	return nil
}

func orZero(sha string) string {
	if sha == "" {
		return zeroSHA
	}
	return sha
}

// pushLog lists the commits a push brought, newest first, and how many
// there were. A new branch brings what its project's default branch
// lacks.
func (f *Forge) pushLog(ctx context.Context, p *project, mv branchMove) ([]loggedCommit, int, error) {
	if mv.New == "" {
		return nil, 0, nil
	}
	exclude := mv.Old
	if mv.Old == "" && mv.Branch != p.DefaultBranch {
		exclude = p.heads[p.DefaultBranch]
	}
	g := f.repo(p.Path)
	logged, err := g.log(ctx, mv.New, exclude, maxPushCommits)
	if err != nil {
		return nil, 0, err
	}
	total := len(logged)
	if total == maxPushCommits {
		if total, err = g.count(ctx, mv.New, exclude); err != nil {
			return nil, 0, err
		}
	}
	return logged, total, nil
}
