package engine

import (
	"context"
	"errors"

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
		return []train.Observation{e.lanesOf(ctx, t, iid, head)}, nil
	}
}

// lanesOf reads the lanes of the train the MR at head touches.
func (e *Engine) lanesOf(ctx context.Context, t train.Train, iid int64, head string) train.LanesFound {
	files, err := e.changedPaths(ctx, t, iid, head)
	if err != nil {
		e.log.Warn("read the paths an MR changes; it touches every lane",
			zap.String("train", t.Key.String()), zap.Int64("mr", iid), zap.Error(err))
		files = nil
	}
	return train.LanesFound{MR: iid, HeadSHA: head, Lanes: lanes.Of(t.Settings.Lanes, files), Of: train.LanesDigest(t.Settings.Lanes)}
}

// maxLaneReads bounds the cars whose lanes one sweep reads: each may
// cost a fetch.
const maxLaneReads = 5

// staleLanes reads again the lanes of cars read with other lanes than
// the train's: cars added before the project had lanes, or before its
// lanes changed (in the configuration or .trainyard.yml).
func (e *Engine) staleLanes(ctx context.Context, t train.Train) []train.Observation {
	var obs []train.Observation
	now := train.LanesDigest(t.Settings.Lanes)
	for _, c := range t.Cars {
		if len(obs) == maxLaneReads {
			break
		}
		switch {
		case c.LanesOf == now:
		case now == "":
			obs = append(obs, train.LanesFound{MR: c.MR, HeadSHA: c.HeadSHA})
		default:
			obs = append(obs, e.lanesOf(ctx, t, c.MR, c.HeadSHA))
		}
	}
	return obs
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
