package engine

import (
	"context"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// checkJobs turns a check run, check suite, commit status or workflow
// run into jobs that read again, under the lease, the pipeline of the car
// whose commit it ran on: the event's own id is not the train's pipeline
// id, and one check says little about the others the pipeline needs.
func (e *Engine) checkJobs(ctx context.Context, ev event.Event) ([]Job, error) {
	if ev.SHA == "" {
		return nil, nil
	}
	keys, err := e.trainsFor(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("checks on %.12s of %s: %w", ev.SHA, ev.Project, err)
	}
	jobs := make([]Job, len(keys))
	for i, key := range keys {
		jobs[i] = Job{Key: key, Checks: []string{ev.SHA}}
		if ev.Status.Done() {
			jobs[i].urgent = e.resultUrgent(ctx, key, ev.SHA)
			jobs[i].results = []string{ev.SHA}
		}
	}
	return jobs, nil
}

// waitedOn reports whether a car of the train waits for the pipeline of
// commit sha, as far as the train's last saved state tells: the result
// of that pipeline is urgent work. (Read without the lease, so it may be
// a moment old: a car whose pipeline is starting counts.) Unknown when
// the state cannot be read: not urgent, which only orders work.
func (e *Engine) waitedOn(ctx context.Context, key train.Key, shas ...string) bool {
	t, err := e.store.Load(ctx, key)
	if err != nil {
		return false
	}
	for _, c := range t.Cars {
		if slices.Contains(shas, c.Commit) && (c.State == train.StateBuilt || c.State == train.StateStarting || c.State == train.StateRunning) {
			return true
		}
	}
	return false
}

// resultUrgent reports whether a car of the train waits for the pipeline
// of commit sha (waitedOn). When none does, the car may be in the pass
// under way, whose push started an instant pipeline before the car was
// saved: the lease is then marked awaited, so that its release is
// announced to every replica and the result looked at again then
// (Workers.leaseFreed), though nobody tried the lease. A pass that ended
// just now is seen by the workers' look once the result is queued.
func (e *Engine) resultUrgent(ctx context.Context, key train.Key, sha string) bool {
	if e.waitedOn(ctx, key, sha) {
		return true
	}
	if _, err := e.store.AwaitLease(ctx, key, e.cfg.LeaseTTL); err != nil {
		// Only the order of work is at stake.
		e.log.Debug("mark a lease awaited", zap.String("train", key.String()), zap.Error(err))
	}
	return false
}

// checks reads once the pipeline of each car built at one of commits.
func (e *Engine) checks(ctx context.Context, t train.Train, commits []string) ([]train.Observation, error) {
	var obs []train.Observation
	read := map[int64]bool{}
	for _, c := range t.Cars {
		if c.Pipeline == 0 || read[c.Pipeline] || !slices.Contains(commits, c.Commit) {
			continue
		}
		read[c.Pipeline] = true
		p, err := e.forge.Pipeline(ctx, t.Project, c.Pipeline)
		if err != nil {
			return nil, fmt.Errorf("checks on %.12s: pipeline %d of !%d: %w", c.Commit, c.Pipeline, c.MR, err)
		}
		e.log.Debug("checks changed", zap.String("train", t.Key.String()), zap.Int64("mr", c.MR),
			zap.Int64("pipeline", p.ID), zap.String("sha", p.SHA), zap.String("status", string(p.Status)))
		obs = append(obs, train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status})
	}
	return obs, nil
}

// trainsFor lists the trains a check event may concern: the one its car
// branch names, none for another branch (a pull request's own checks),
// and every train of the project when it names no branch (a commit
// status names one only when a single branch holds its commit).
func (e *Engine) trainsFor(ctx context.Context, ev event.Event) ([]train.Key, error) {
	if branch, _, ok := e.parseCarBranch(ev.Ref); ok {
		return []train.Key{{Forge: ev.Forge, Project: ev.Project, Branch: branch}}, nil
	}
	if ev.Ref != "" {
		return nil, nil
	}
	all, err := e.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var keys []train.Key
	for _, k := range all {
		if k.Forge == ev.Forge && k.Project == ev.Project {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// pipelineText names a pipeline for a reader: the forge's name for it, or
// "pipeline #<id>" linked to its page.
func (e *Engine) pipelineText(ctx context.Context, project string, ref train.Span) string {
	id := ref.Pipeline
	label := e.cfg.Profile.PipelineLabel(id)
	if n, ok := e.forge.(forge.PipelineNamer); ok {
		name, err := n.PipelineName(ctx, project, id, ref.Passed)
		if err == nil {
			return name
		}
		e.log.Warn("name a pipeline", zap.String("project", project), zap.Int64("pipeline", id), zap.Error(err))
		return label
	}
	if url := e.cfg.Profile.Link().Pipeline(project, id); url != "" {
		return "[" + label + "](" + url + ")"
	}
	if p, err := e.forge.Pipeline(ctx, project, id); err == nil && p.WebURL != "" {
		return "[" + label + "](" + p.WebURL + ")"
	}
	return label
}
