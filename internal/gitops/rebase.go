package gitops

import (
	"context"
	"fmt"
	"strings"
)

// buildRebase replays the MR's commits onto Base, one by one, like
// git rebase with its defaults:
//
//   - the commits replayed are Base..Head without merge commits, parents
//     first (rev-list --reverse --topo-order --no-merges); the history comes
//     out linear, and what a merge commit itself added beyond its parents
//     is not carried over;
//   - a commit whose parent already is the tip is kept as it is, so an MR
//     already rebased on Base builds to its own Head;
//   - a commit that changes nothing once replayed is dropped;
//   - each replayed commit keeps its author line and message verbatim; the
//     committer is our identity at req.Time.
//
// git 2.39's merge-tree has no --merge-base option, so each cherry-pick
// merges the tip with the commit through a stand-in for the tip: a commit
// with the tip's tree whose parent is the picked commit's parent. That
// parent is then the only merge base, which makes the merge a cherry-pick.
func (r *Repo) buildRebase(ctx context.Context, req BuildRequest, base commitObject) (BuildResult, error) {
	shas, err := r.commitsToReplay(ctx, req.Base, req.Head)
	if err != nil {
		return BuildResult{}, err
	}
	commits, err := r.readCommits(ctx, shas)
	if err != nil {
		return BuildResult{}, err
	}
	tip, tipTree := req.Base, base.tree
	for _, c := range commits {
		if len(c.parents) == 1 && c.parents[0] == tip {
			tip, tipTree = c.sha, c.tree
			continue
		}
		m, err := r.cherryPickTree(ctx, req, tipTree, c)
		if err != nil {
			return BuildResult{}, err
		}
		if len(m.conflicts) > 0 {
			return BuildResult{Conflict: m.conflicts, ConflictCommit: c.sha}, nil
		}
		if m.tree == tipTree {
			continue
		}
		replayed := commitObject{
			tree:      m.tree,
			parents:   []string{tip},
			author:    c.author,
			committer: signature(r.identity, req.Time),
			encoding:  c.encoding,
			message:   c.message,
		}
		if tip, err = r.writeCommit(ctx, replayed); err != nil {
			return BuildResult{}, fmt.Errorf("replay %s: %w", c.sha, err)
		}
		tipTree = m.tree
	}
	if tip == req.Base {
		return upToDate(req), nil
	}
	return BuildResult{Commit: tip}, nil
}

// commitsToReplay lists Base..Head without merges, parents first.
func (r *Repo) commitsToReplay(ctx context.Context, base, head string) ([]string, error) {
	out, err := r.run.output(ctx, "rev-list", "--reverse", "--topo-order", "--no-merges", head, "^"+base)
	if err != nil {
		return nil, fmt.Errorf("list commits of %s not in %s: %w", head, base, err)
	}
	return strings.Fields(out), nil
}

// cherryPickTree merges the change c made to its parent into tipTree.
func (r *Repo) cherryPickTree(ctx context.Context, req BuildRequest, tipTree string, c commitObject) (treeMerge, error) {
	standIn, err := r.writeCommit(ctx, commitObject{
		tree:      tipTree,
		parents:   c.parents,
		author:    signature(r.identity, req.Time),
		committer: signature(r.identity, req.Time),
		message:   "rebase onto " + req.Base + "\n",
	})
	if err != nil {
		return treeMerge{}, fmt.Errorf("replay %s: %w", c.sha, err)
	}
	// A root commit has no parent: merge over the empty tree instead.
	m, err := r.mergeTrees(ctx, standIn, c.sha, len(c.parents) == 0)
	if err != nil {
		return treeMerge{}, fmt.Errorf("replay %s: %w", c.sha, err)
	}
	return m, nil
}
