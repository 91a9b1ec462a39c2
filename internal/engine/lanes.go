package engine

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/lanes"
	"github.com/trainyard/trainyard/internal/train"
)

// findLanes tells the train which of its lanes the MR just added at head
// touches, from the paths it changes against the target, read in the
// mirror. Where they cannot be read (the mirror cannot fetch the MR, too
// many paths), the MR touches every lane: the safe answer for a change
// nobody has looked at.
func (e *Engine) findLanes(iid int64, head string) afterFunc {
	return func(ctx context.Context, t train.Train) ([]train.Observation, error) {
		c := t.Car(iid)
		if len(t.Settings.Lanes) == 0 || c == nil || c.HeadSHA != head || len(c.Lanes) > 0 {
			return nil, nil
		}
		ls := make([]lanes.Lane, len(t.Settings.Lanes))
		for i, l := range t.Settings.Lanes {
			ls[i] = lanes.Lane(l)
		}
		files, err := e.changedPaths(ctx, t, iid, head)
		if err != nil {
			e.log.Warn("read the paths an MR changes; it touches every lane",
				zap.String("train", t.Key.String()), zap.Int64("mr", iid), zap.Error(err))
			files = nil
		}
		return []train.Observation{train.LanesFound{MR: iid, HeadSHA: head, Lanes: lanes.Of(ls, files)}}, nil
	}
}

// errNoMirror: an engine without mirrors cannot read what an MR changes.
var errNoMirror = errors.New("no git mirror")

// changedPaths reads the paths the MR at head changes against the train's
// target head, fetching what the mirror lacks.
func (e *Engine) changedPaths(ctx context.Context, t train.Train, iid int64, head string) ([]string, error) {
	if e.repos == nil {
		return nil, errNoMirror
	}
	repo, err := e.repos.Repo(ctx, t.Project)
	if err != nil {
		return nil, err
	}
	base := t.TargetHead
	if base == "" || !repo.HasCommit(ctx, base) {
		if base, err = repo.FetchBranch(ctx, t.Branch); err != nil {
			return nil, err
		}
	}
	if !repo.HasCommit(ctx, head) {
		if _, err := repo.FetchMR(ctx, e.cfg.Profile.Names.HeadRef(iid)); err != nil {
			return nil, err
		}
	}
	return repo.ChangedPaths(ctx, base, head)
}

// backticked renders lane names as code, "`api`, `web`": they are checked
// names (lanes.ValidName), so no backtick of theirs can end the span.
func backticked(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	return strings.Join(out, ", ")
}
