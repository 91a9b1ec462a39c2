package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// Trains is what the API needs from the engines.
type Trains interface {
	Trains(ctx context.Context) ([]train.Key, error)
	Train(ctx context.Context, key train.Key) (train.Train, error)
	History(ctx context.Context, key train.Key, limit int64) ([]train.Car, error)
	Add(ctx context.Context, r engine.Request) error
	Remove(ctx context.Context, r engine.Request) error
	Retry(ctx context.Context, r engine.Request) error
	Pause(ctx context.Context, key train.Key, by string) error
	Resume(ctx context.Context, key train.Key, by string) error
}

// Engines serves Trains with one engine per forge name ("gitlab",
// "github"). A forge with no engine fails with ErrUnknownForge.
type Engines map[string]*engine.Engine

var _ Trains = Engines(nil)

func (es Engines) engine(name string) (*engine.Engine, error) {
	if e, ok := es[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("forge %q: %w", name, ErrUnknownForge)
}

// Trains lists the trains of every forge, sorted by forge, project and
// branch. Engines may share one store, so each lists only its own forge's.
func (es Engines) Trains(ctx context.Context) ([]train.Key, error) {
	var all []train.Key
	for name, e := range es {
		keys, err := e.Trains(ctx)
		if err != nil {
			return nil, fmt.Errorf("list trains of %s: %w", name, err)
		}
		for _, k := range keys {
			if k.Forge == name {
				all = append(all, k)
			}
		}
	}
	slices.SortFunc(all, func(a, b train.Key) int { return strings.Compare(a.String(), b.String()) })
	return all, nil
}

// Train returns a train; one that was never stored has Version 0.
func (es Engines) Train(ctx context.Context, key train.Key) (train.Train, error) {
	e, err := es.engine(key.Forge)
	if err != nil {
		return train.Train{}, err
	}
	return e.Train(ctx, key)
}

// History returns the cars that left a train, newest first.
func (es Engines) History(ctx context.Context, key train.Key, limit int64) ([]train.Car, error) {
	e, err := es.engine(key.Forge)
	if err != nil {
		return nil, err
	}
	return e.History(ctx, key, limit)
}

// Add puts an MR on its train.
func (es Engines) Add(ctx context.Context, r engine.Request) error {
	return es.request(ctx, r, (*engine.Engine).Add)
}

// Remove takes an MR off its train.
func (es Engines) Remove(ctx context.Context, r engine.Request) error {
	return es.request(ctx, r, (*engine.Engine).Remove)
}

// Retry rebuilds an MR's car or puts the MR back on its train.
func (es Engines) Retry(ctx context.Context, r engine.Request) error {
	return es.request(ctx, r, (*engine.Engine).Retry)
}

// Pause stops a train from starting or merging anything.
func (es Engines) Pause(ctx context.Context, key train.Key, by string) error {
	return es.train(ctx, key, by, (*engine.Engine).Pause)
}

// Resume undoes Pause.
func (es Engines) Resume(ctx context.Context, key train.Key, by string) error {
	return es.train(ctx, key, by, (*engine.Engine).Resume)
}

func (es Engines) request(ctx context.Context, r engine.Request, do func(*engine.Engine, context.Context, engine.Request) error) error {
	e, err := es.engine(r.Forge)
	if err != nil {
		return err
	}
	return do(e, ctx, r)
}

func (es Engines) train(ctx context.Context, key train.Key, by string, do func(*engine.Engine, context.Context, train.Key, string) error) error {
	e, err := es.engine(key.Forge)
	if err != nil {
		return err
	}
	return do(e, ctx, key, by)
}
