package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
)

// MaxChangedPaths is the most paths ChangedPaths returns. An MR changing
// more is, for deciding where it goes, an MR that changes everything.
const MaxChangedPaths = 10000

// ErrTooManyPaths means an MR changes more than MaxChangedPaths paths.
var ErrTooManyPaths = errors.New("too many changed paths")

// mergeBase is the best common ancestor of a and b, or ErrNoMergeBase.
// merge-base tells unrelated histories apart by its exit code, where
// diff's three-dot form would fail like any other error.
func (r *Repo) mergeBase(ctx context.Context, a, b string) (string, error) {
	res, err := r.run.run(ctx, call{args: []string{"merge-base", a, b}, okCodes: []int{1}})
	if err != nil {
		return "", fmt.Errorf("merge base: %w", err)
	}
	if res.code == 1 {
		return "", ErrNoMergeBase
	}
	return string(bytes.TrimSpace(res.stdout)), nil
}

// related reports whether a and b share history.
func (r *Repo) related(ctx context.Context, a, b string) (bool, error) {
	_, err := r.mergeBase(ctx, a, b)
	if errors.Is(err, ErrNoMergeBase) {
		return false, nil
	}
	return err == nil, err
}

// ErrNoMergeBase means two commits share no history, so there is no change
// of one against the other to list.
var ErrNoMergeBase = errors.New("no merge base")

// ChangedPaths returns the paths an MR whose head is head changes against
// the target at base: the files that differ between their merge base and
// head, sorted. The target's own commits since the fork are not the MR's
// and do not count. A rename counts as its old and its new path, since it
// changes both places. A base or head the mirror lacks is an error matching
// ErrMissingCommit.
func (r *Repo) ChangedPaths(ctx context.Context, base, head string) (_ []string, err error) {
	defer r.run.scrubErr(&err)
	paths, err := r.changedPaths(ctx, base, head)
	if err != nil {
		return nil, fmt.Errorf("paths changed by %s against %s: %w", head, base, err)
	}
	return paths, nil
}

func (r *Repo) changedPaths(ctx context.Context, base, head string) ([]string, error) {
	if err := checkSHA(base); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if err := checkSHA(head); err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	if _, err := r.readCommits(ctx, []string{base, head}); err != nil {
		return nil, err
	}
	fork, err := r.mergeBase(ctx, base, head)
	if err != nil {
		return nil, err
	}
	// -z prints names verbatim, where core.quotePath would escape them.
	res, err := r.run.run(ctx, call{args: []string{"diff", "--name-only", "-z", "--no-renames", fork, head}, maxStdout: maxNamesOutput})
	if errors.Is(err, errOutputTooLarge) {
		return nil, fmt.Errorf("%w: their names are over %d bytes", ErrTooManyPaths, maxNamesOutput)
	}
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return parseNames(res.stdout)
}

// maxNamesOutput bounds what is read of the changed paths' names: 10,000
// names of 800 bytes on average. Names can be 4 KiB each, and an MR can
// hold millions.
const maxNamesOutput = 8 << 20

// parseNames splits -z output. It counts before it allocates, so that an
// MR with a million files costs one buffer rather than a million strings.
func parseNames(out []byte) ([]string, error) {
	out = bytes.TrimSuffix(out, []byte{0})
	if len(out) == 0 {
		return nil, nil
	}
	n := bytes.Count(out, []byte{0}) + 1
	if n > MaxChangedPaths {
		return nil, fmt.Errorf("%w: %d, more than the %d allowed", ErrTooManyPaths, n, MaxChangedPaths)
	}
	names := make([]string, 0, n)
	for f := range bytes.SplitSeq(out, []byte{0}) {
		names = append(names, string(f))
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
