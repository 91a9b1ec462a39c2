package engine

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Retire deletes an idle train's record once it has been idle for
// train.RetireAfter, under its lease, so that every target branch ever
// used does not stay and cost each sweep a read: the next add makes it
// again. Its history stays. A train idle since before idle times were
// kept is marked idle now instead. It reports whether the train was
// deleted; a busy lease is ErrBusy.
func (e *Engine) Retire(ctx context.Context, key train.Key) (bool, error) {
	ctx = context.WithValue(ctx, oneTryKey{}, true)
	ctx, release, h, err := e.lease(ctx, key)
	if err != nil {
		return false, err
	}
	defer release()
	if h.inbox {
		return false, nil // work forwarded to it waits: a pass takes it first
	}
	t, err := e.store.Load(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := e.now()
	switch {
	case !t.Idle() || len(t.Outbox) > 0:
		return false, nil
	case t.IdleSince.IsZero():
		t.IdleSince = now
		if _, err := e.store.Save(ctx, t); err != nil {
			return false, fmt.Errorf("mark train %s idle: %w", key, err)
		}
		return false, nil
	case !t.Retirable(now):
		return false, nil
	}
	retired, err := e.store.Retire(ctx, key, t.Version)
	if err != nil || !retired {
		return false, err
	}
	e.log.Info("retired an idle train", zap.String("train", key.String()), zap.Time("idle_since", t.IdleSince))
	if target, _, lane := e.laneOf(key); lane && e.repos != nil {
		if err := e.dropLaneBranch(ctx, key, target); err != nil {
			e.log.Warn("delete a retired lane's branch", zap.String("train", key.String()), zap.Error(err))
		}
	}
	return true, nil
}

// dropLaneBranch deletes the branch of the retired lane's train of key:
// the next MR for the lane makes it again, at the target's head, and one
// left behind is only clutter. An MR sent to the lane as it retired
// makes the train again first and its branch after (reviveLane), so a
// train found again after the delete lost a branch it had just been
// given: it is given it again.
func (e *Engine) dropLaneBranch(ctx context.Context, key, target train.Key) error {
	repo, err := e.repos.Repo(ctx, key.Project)
	if err != nil {
		return err
	}
	if err := repo.DeleteRemoteBranch(ctx, key.Branch); err != nil {
		return err
	}
	if back, err := e.store.Exists(ctx, key); err != nil || !back {
		return err
	}
	_, err = e.resetLaneTo(ctx, target, key.Branch, "")
	return err
}
