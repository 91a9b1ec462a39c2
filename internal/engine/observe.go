package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// observe reads from the forge what the train's fate depends on (its MRs'
// heads and states, its running pipelines) and returns it as
// observations. It is the level-triggered sweep: whatever webhooks were
// lost, feeding these to the planner, with the target head read under
// the same lease, brings the train up to date.
func (e *Engine) observe(ctx context.Context, t train.Train) ([]train.Observation, error) {
	key := t.Key
	var obs []train.Observation
	for _, c := range t.Cars {
		news, err := e.mrNews(ctx, key, c)
		if err != nil {
			return nil, fmt.Errorf("observe train %s: %w", key, err)
		}
		obs = append(obs, news...)
		if c.State == train.StateRunning && c.Pipeline != 0 {
			p, err := e.forge.Pipeline(ctx, key.Project, c.Pipeline)
			if err != nil {
				return nil, fmt.Errorf("observe train %s: pipeline %d of !%d: %w", key, c.Pipeline, c.MR, err)
			}
			obs = append(obs, train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status})
		}
		if w := c.Witness; w != nil && w.Status == "" {
			st, err := e.witnessStatus(ctx, key, w)
			if err != nil {
				return nil, fmt.Errorf("observe train %s: witness pipeline %d of !%d: %w", key, w.Pipeline, c.MR, err)
			}
			obs = append(obs, st)
		}
	}
	obs = append(obs, e.strays(ctx, t)...)
	// Resync repeats what the train still waits for, in case a result was
	// lost for good (a pipeline created for a car branch that moved on).
	return append(obs, train.Tick{}, train.Resync{}), nil
}

// strays looks for the pipelines that the pushes of commits no car
// waits for any more started (train.Stray): their webhooks may be lost,
// and such a pipeline would run to its end for nobody. A look that
// fails costs only CI time, so it fails no sweep: the next one looks
// again, until the stray expires.
func (e *Engine) strays(ctx context.Context, t train.Train) []train.Observation {
	var obs []train.Observation
	for _, s := range t.Strays {
		ps, err := e.forge.PipelinesFor(ctx, t.Project, e.carBranch(t.Key, s.MR), s.Commit)
		if err != nil {
			e.log.Warn("look for a stray pipeline", zap.String("train", t.Key.String()), zap.Int64("mr", s.MR),
				zap.String("sha", s.Commit), zap.Error(err))
			continue
		}
		for _, p := range ps {
			if p.SHA == s.Commit {
				obs = append(obs, train.PipelineFound{MR: s.MR, SHA: p.SHA, Pipeline: p.ID, Status: p.Status})
			}
		}
	}
	return obs
}

// mrNews reads car c's MR and says what changed since the car was added:
// closed, merged elsewhere, or new commits; nothing for an MR as it was.
func (e *Engine) mrNews(ctx context.Context, key train.Key, c train.Car) ([]train.Observation, error) {
	mr, err := e.forge.MergeRequest(ctx, key.Project, c.MR)
	return newsOf(e.mrTarget(key), c, mr, err)
}

// newsOf says what changed of car c, given its MR as read (or the error
// of reading it).
func newsOf(key train.Key, c train.Car, mr forge.MR, err error) ([]train.Observation, error) {
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return []train.Observation{train.Closed{MR: c.MR}}, nil
	case err != nil:
		return nil, fmt.Errorf("!%d: %w", c.MR, err)
	case mr.State == forge.StateMerged:
		return []train.Observation{train.Closed{MR: c.MR, Merged: true}}, nil
	case mr.State != forge.StateOpened:
		return []train.Observation{train.Closed{MR: c.MR}}, nil
	case mr.HeadSHA != "" && mr.HeadSHA != c.HeadSHA:
		return []train.Observation{train.HeadChanged{MR: c.MR, HeadSHA: mr.HeadSHA}}, nil
	case mr.TargetBranch != "" && mr.TargetBranch != key.Branch && mr.TargetBranch != c.Stacked:
		return []train.Observation{train.Retargeted{MR: c.MR, Branch: mr.TargetBranch}}, nil
	}
	return nil, nil
}

// witnessStatus reads a witness pipeline. One the forge no longer has
// tells nothing, as a cancelled one does.
func (e *Engine) witnessStatus(ctx context.Context, key train.Key, w *train.Witness) (train.PipelineStatus, error) {
	p, err := e.forge.Pipeline(ctx, key.Project, w.Pipeline)
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return train.PipelineStatus{Pipeline: w.Pipeline, SHA: w.SHA, Status: train.PipelineCanceled}, nil
	case err != nil:
		return train.PipelineStatus{}, err
	}
	return train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status}, nil
}

// Sweep observes the train under its lease, whenever it was last swept,
// and hands what it saw to the planner. A train that does not exist is
// left alone.
func (e *Engine) Sweep(ctx context.Context, key train.Key) error {
	err := e.handle(ctx, Job{Key: key, Sweep: true, force: true}, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// RunUntilIdle sweeps the train every interval until it has no cars and
// owes nothing, for callers without webhooks (tests, the demo).
func (e *Engine) RunUntilIdle(ctx context.Context, key train.Key, interval time.Duration) error {
	if err := e.Handle(ctx, key, train.Resync{}); err != nil && !errors.Is(err, ErrBusy) {
		return err
	}
	for {
		if err := e.Sweep(ctx, key); err != nil && !errors.Is(err, ErrBusy) {
			return err
		}
		t, err := e.load(ctx, key)
		if err != nil {
			return err
		}
		if t.Idle() && len(t.Outbox) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("run train %s until idle: %w", key, ctx.Err())
		case <-time.After(interval):
		}
	}
}
