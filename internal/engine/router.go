package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// ErrUnknownForge: no engine serves the forge an event, a train or a call
// names.
var ErrUnknownForge = errors.New("forge not configured")

// Router finds the engine of a forge's project, for the workers, the
// sweep, the catch-up and the API alike. A project is found whatever the
// case of its path, as the forges themselves find it, and named as the
// configuration spells it, so one project has one train per branch.
type Router struct {
	engines map[string]*Engine
}

// NewRouter routes to es, one engine per forge.
func NewRouter(es ...*Engine) *Router {
	r := &Router{engines: map[string]*Engine{}}
	for _, e := range es {
		r.engines[e.cfg.Profile.Name] = e
	}
	return r
}

// route is the engine of key's forge and key with its project spelled as
// configured.
func (r *Router) route(key train.Key) (*Engine, train.Key, error) {
	e, ok := r.engines[key.Forge]
	if !ok {
		return nil, key, fmt.Errorf("forge %q: %w", key.Forge, ErrUnknownForge)
	}
	key.Project = e.project(key.Project)
	return e, key, nil
}

// project is p as the configuration spells it, or p when no configured
// project is p whatever its case.
func (e *Engine) project(p string) string {
	c, _ := e.configuredAs(p)
	return c
}

// configuredAs is p as the configuration spells it, and whether the
// configuration names p at all (p itself when not).
func (e *Engine) configuredAs(p string) (string, bool) {
	for _, c := range e.cfg.Projects {
		if forge.SameProject(c, p) {
			return c, true
		}
	}
	return p, false
}

// LaneTarget is the key of the target's train when key is a lane's train
// (see lane trains), and false for any other train.
func (r *Router) LaneTarget(key train.Key) (train.Key, bool) {
	e, ok := r.engines[key.Forge]
	if !ok {
		return train.Key{}, false
	}
	target, _, ok := e.laneOf(key)
	return target, ok
}

// Jobs says what an event asks of its forge's trains, with the project
// spelled as configured.
func (r *Router) Jobs(ctx context.Context, ev event.Event) ([]Job, error) {
	e, key, err := r.route(train.Key{Forge: ev.Forge, Project: ev.Project})
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	ev.Project = key.Project
	return e.Jobs(ctx, ev)
}

// Pass does a job through its forge's engine, with one try at the lease.
func (r *Router) Pass(ctx context.Context, j Job) ([]Job, error) {
	e, key, err := r.route(j.Key)
	if err != nil {
		return nil, fmt.Errorf("train %s: %w", j.Key, err)
	}
	j.Key = key
	return e.Pass(ctx, j)
}

// Forward hands an urgent job to the holder of its train's lease through
// its forge's engine.
func (r *Router) Forward(ctx context.Context, j Job) (Job, error) {
	e, key, err := r.route(j.Key)
	if err != nil {
		return j, fmt.Errorf("train %s: %w", j.Key, err)
	}
	j.Key = key
	return e.Forward(ctx, j)
}

// Urgent reports whether a car of key's train waits for the pipeline of
// one of commits, as its saved state tells (see Workers.Urgent).
func (r *Router) Urgent(ctx context.Context, key train.Key, commits []string) bool {
	e, key, err := r.route(key)
	if err != nil {
		return false
	}
	return e.waitedOn(ctx, key, commits...)
}

// Sweep sweeps a train through its forge's engine.
func (r *Router) Sweep(ctx context.Context, key train.Key) error {
	e, key, err := r.route(key)
	if err != nil {
		return fmt.Errorf("sweep train %s: %w", key, err)
	}
	return e.Sweep(ctx, key)
}

// Retire retires a train idle long enough (see Engine.Retire).
// A train of a forge no longer configured is left as it is.
func (r *Router) Retire(ctx context.Context, key train.Key) (bool, error) {
	e, key, err := r.route(key)
	if errors.Is(err, ErrUnknownForge) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("retire train %s: %w", key, err)
	}
	return e.Retire(ctx, key)
}

// CatchUp catches up on every forge's projects.
func (r *Router) CatchUp(ctx context.Context) error {
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.CatchUp(ctx))
	}
	return errors.Join(errs...)
}

// Trains lists the trains of every forge, sorted by forge, project and
// branch. Engines share one store, so each lists only its own forge's.
func (r *Router) Trains(ctx context.Context) ([]train.Key, error) {
	var all []train.Key
	for name, e := range r.engines {
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
func (r *Router) Train(ctx context.Context, key train.Key) (train.Train, error) {
	e, key, err := r.route(key)
	if err != nil {
		return train.Train{}, err
	}
	return e.Train(ctx, key)
}

// History returns the cars that left a train, newest first.
func (r *Router) History(ctx context.Context, key train.Key, limit int64) ([]train.Car, error) {
	e, key, err := r.route(key)
	if err != nil {
		return nil, err
	}
	return e.History(ctx, key, limit)
}

// Add puts an MR on its train.
func (r *Router) Add(ctx context.Context, req Request) error {
	return r.request(ctx, req, (*Engine).Add)
}

// Projects lists the configured projects of every forge, by forge then
// path (Key.Branch empty).
func (r *Router) Projects() []train.Key {
	var out []train.Key
	for name, e := range r.engines {
		for _, p := range e.cfg.Projects {
			out = append(out, train.Key{Forge: name, Project: p})
		}
	}
	slices.SortFunc(out, func(a, b train.Key) int {
		return cmp.Or(cmp.Compare(a.Forge, b.Forge), cmp.Compare(a.Project, b.Project))
	})
	return out
}

// OpenMRs lists a project's open MRs through its forge's engine.
func (r *Router) OpenMRs(ctx context.Context, forgeName, project string, limit int) ([]forge.MR, error) {
	e, key, err := r.route(train.Key{Forge: forgeName, Project: project})
	if err != nil {
		return nil, err
	}
	return e.OpenMRs(ctx, key.Project, limit)
}

// Remove takes an MR off its train.
func (r *Router) Remove(ctx context.Context, req Request) error {
	return r.request(ctx, req, (*Engine).Remove)
}

// Retry rebuilds an MR's car or puts the MR back on its train.
func (r *Router) Retry(ctx context.Context, req Request) error {
	return r.request(ctx, req, (*Engine).Retry)
}

// Pause stops a train from starting or merging anything.
func (r *Router) Pause(ctx context.Context, key train.Key, by Actor) error {
	return r.steer(ctx, key, by, (*Engine).Pause)
}

// Resume undoes Pause.
func (r *Router) Resume(ctx context.Context, key train.Key, by Actor) error {
	return r.steer(ctx, key, by, (*Engine).Resume)
}

// Freeze holds a train's target with a reason; see Engine.Freeze.
func (r *Router) Freeze(ctx context.Context, key train.Key, by Actor, reason string) error {
	return r.steer(ctx, key, by, func(e *Engine, ctx context.Context, key train.Key, by Actor) error {
		return e.Freeze(ctx, key, by, reason)
	})
}

// Unfreeze lifts Freeze.
func (r *Router) Unfreeze(ctx context.Context, key train.Key, by Actor) error {
	return r.steer(ctx, key, by, (*Engine).Unfreeze)
}

// Drain turns draining on or off; see Engine.Drain.
func (r *Router) Drain(ctx context.Context, key train.Key, by Actor, on bool) error {
	return r.steer(ctx, key, by, func(e *Engine, ctx context.Context, key train.Key, by Actor) error {
		return e.Drain(ctx, key, by, on)
	})
}

func (r *Router) request(ctx context.Context, req Request, do func(*Engine, context.Context, Request) error) error {
	e, key, err := r.route(train.Key{Forge: req.Forge, Project: req.Project})
	if err != nil {
		return err
	}
	req.Project = key.Project
	return do(e, ctx, req)
}

func (r *Router) steer(ctx context.Context, key train.Key, by Actor, do func(*Engine, context.Context, train.Key, Actor) error) error {
	e, key, err := r.route(key)
	if err != nil {
		return err
	}
	return do(e, ctx, key, by)
}
