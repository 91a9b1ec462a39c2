package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
)

// treeMerge is the outcome of one merge-tree run.
type treeMerge struct {
	tree      string
	conflicts []string // sorted, unique; empty when the merge is clean
}

// mergeTrees merges commits ours and theirs over their merge base(s) with
// merge-tree --write-tree, which needs neither a work tree nor an index.
// unrelated lets a merge without a common ancestor use the empty tree as
// base, which replaying a root commit needs.
func (r *Repo) mergeTrees(ctx context.Context, ours, theirs string, unrelated bool) (treeMerge, error) {
	args := []string{"merge-tree", "--write-tree", "--name-only", "--no-messages", "-z"}
	if unrelated {
		args = append(args, "--allow-unrelated-histories")
	}
	args = append(args, ours, theirs)
	// Exit status 1 means conflicts: the output still names the tree and
	// lists the conflicted paths. A clean merge prints the tree alone, so
	// output past the bound is conflicts: their first paths stand for all.
	res, err := r.run.run(ctx, call{args: args, okCodes: []int{1}, maxStdout: maxMergeTreeOutput})
	if errors.Is(err, errOutputTooLarge) {
		cut := bytes.LastIndexByte(res.stdout, 0)
		if cut < 0 {
			return treeMerge{}, fmt.Errorf("merge %s into %s: %w", theirs, ours, err)
		}
		res.stdout, res.code, err = res.stdout[:cut+1], 1, nil
	}
	if err != nil {
		return treeMerge{}, fmt.Errorf("merge %s into %s: %w", theirs, ours, err)
	}
	m, err := parseMergeTree(res.stdout)
	if err != nil {
		return treeMerge{}, fmt.Errorf("merge %s into %s: %w", theirs, ours, err)
	}
	if res.code == 1 && len(m.conflicts) == 0 {
		return treeMerge{}, fmt.Errorf("merge %s into %s: conflict reported without paths", theirs, ours)
	}
	return m, nil
}

// parseMergeTree reads "<tree>\0<path>\0<path>\0..." (the -z --name-only
// --no-messages format).
func parseMergeTree(out []byte) (treeMerge, error) {
	fields := bytes.Split(bytes.TrimRight(out, "\x00\n"), []byte{0})
	tree := string(bytes.TrimSpace(fields[0]))
	if checkSHA(tree) != nil {
		return treeMerge{}, fmt.Errorf("unexpected merge-tree output %q", out)
	}
	m := treeMerge{tree: tree}
	for _, f := range fields[1:] {
		if len(f) > 0 {
			m.conflicts = append(m.conflicts, string(f))
		}
	}
	slices.Sort(m.conflicts)
	m.conflicts = slices.Compact(m.conflicts)
	return m, nil
}

// maxMergeTreeOutput bounds what is read of merge-tree's list of
// conflicting paths: tens of thousands of them.
const maxMergeTreeOutput = 1 << 20
