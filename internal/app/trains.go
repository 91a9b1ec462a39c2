package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// knownTrains is every train of a configured project and branch: those
// stored in Redis, with the lane trains of such a branch, and those of
// the branches the configuration names literally (a pattern such as
// release/* names none until a train for it exists). Trains of projects
// or branches no longer configured are left out, so the metrics' train
// labels stay the configured ones.
func (a *App) knownTrains(ctx context.Context) ([]train.Key, error) {
	stored, err := a.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var keys []train.Key
	for _, k := range stored {
		of := k
		if a.engines != nil {
			if target, ok := a.engines.LaneTarget(k); ok {
				of = target
			}
		}
		if a.cfg.BranchAllowed(of.Forge, of.Project, of.Branch) {
			keys = append(keys, k)
		}
	}
	for _, p := range a.cfg.Projects {
		for _, b := range p.Branches {
			if strings.ContainsAny(b, `*?[\`) {
				continue
			}
			// A stored train may spell the path as the forge does.
			k := train.Key{Forge: p.Forge, Project: p.Path, Branch: b}
			if !hasTrain(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// hasTrain reports whether keys hold k, paths compared as the forges do.
func hasTrain(keys []train.Key, k train.Key) bool {
	for _, o := range keys {
		if o.Forge == k.Forge && o.Branch == k.Branch && forge.SameProject(o.Project, k.Project) {
			return true
		}
	}
	return false
}

// trainsForMetrics loads every known train for a scrape; a train not
// stored yet has no car.
func (a *App) trainsForMetrics(ctx context.Context) ([]train.Train, error) {
	keys, err := a.knownTrains(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the trains: %w", err)
	}
	out := make([]train.Train, 0, len(keys))
	for _, k := range keys {
		t, err := a.store.Load(ctx, k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			t = train.Train{Key: k}
		case err != nil:
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// initTrainSeries gives every known train its counters at zero, so that
// the alerts on their rates see the trains that did nothing since this
// replica started. A failure costs only those series until the train is
// handled.
func (a *App) initTrainSeries(ctx context.Context) {
	keys, err := a.knownTrains(ctx)
	if err != nil {
		a.log.Warn("cannot list the trains for their metrics", zap.Error(err))
		return
	}
	for _, k := range keys {
		a.metrics.InitTrain(k)
	}
}

// retire retires an idle train (engine.Router.Retire), but not one of a
// branch the configuration names itself: the dashboard and the API list
// those trains, and show their pages, whatever they hold.
func (a *App) retire(ctx context.Context, key train.Key) (bool, error) {
	for _, p := range a.cfg.Projects {
		if p.Forge == key.Forge && forge.SameProject(p.Path, key.Project) && slices.Contains(p.Branches, key.Branch) {
			return false, nil
		}
	}
	return a.engines.Retire(ctx, key)
}
