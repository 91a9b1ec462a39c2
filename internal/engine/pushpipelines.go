package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/train"
)

// On GitLab a push can start the car's pipeline by itself: the push
// options ci.variable give it the variables a pipeline created through
// the API would have, and the forge runs it for the pushed commit. That
// saves a write per car. The pipeline is created after the push returns,
// so the car learns its id from the pipeline's webhook, or from a sweep.
// Where the project's CI rules run no pipeline for such a push (rules
// that admit API pipelines only) or the server takes no push options,
// pipelines are created through the API again, for pushlessFor.

// pushlessFor is how long a project whose car push started no pipeline
// has its car pipelines created through the API before a push is tried
// again: long enough that the wait for a pipeline that never comes is
// paid rarely, short enough that a fixed CI configuration is noticed.
const pushlessFor = time.Hour

// pipelineVariables are what a car's pipeline is given: the documented
// contract with the project's CI configuration.
func pipelineVariables(branch string, mrs []int64) map[string]string {
	ids := make([]string, len(mrs))
	for i, mr := range mrs {
		ids[i] = strconv.FormatInt(mr, 10)
	}
	return map[string]string{
		event.VarTrain:  "true",
		event.VarTarget: branch,
		event.VarMRs:    strings.Join(ids, ","),
	}
}

// pushOptions are pipelineVariables as GitLab's ci.variable push options,
// in a fixed order.
func pushOptions(branch string, mrs []int64) []string {
	vars := pipelineVariables(branch, mrs)
	opts := make([]string, 0, len(vars))
	for _, name := range []string{event.VarTrain, event.VarTarget, event.VarMRs} {
		opts = append(opts, "ci.variable="+name+"="+vars[name])
	}
	return opts
}

// pipelinesOnPush reports whether a car push of project starts the car's
// pipeline.
func (e *Engine) pipelinesOnPush(project string) bool {
	return !e.cfg.Profile.PipelinesBySHA && !e.cfg.PipelinesByAPI && !e.pushless.has(project, e.now())
}

// maxCarMRs bounds the MRs a car pipeline's TRAINYARD_MRS may name: far
// more than any train holds.
const maxCarMRs = 1000

// pushedPipeline reports whether a pipeline event is of a pipeline a
// car's push started, and the MRs it tests: run for a push of the car
// branch (not a tag, not a child of another pipeline) by the user
// Trainyard signs in as, with the variables Trainyard gives the car
// pipelines of target. Anyone who can push may run a pipeline on a car
// branch, with variables of their choosing: such a pipeline is never the
// car's, nor cancelled as a stray; only the train's own ids are heard of.
func (e *Engine) pushedPipeline(ctx context.Context, ev event.Event, target string) ([]int64, bool, error) {
	v := ev.CarVars
	if e.cfg.PipelinesByAPI || ev.Source != "push" || ev.Tag || ev.Parent != 0 || v.Train != "true" || v.Target != target {
		return nil, false, nil
	}
	s, ok := e.forge.(forge.Self)
	if !ok {
		return nil, false, nil
	}
	self, err := s.Self(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("read who the forge client is: %w", err)
	}
	if self == "" || !strings.EqualFold(ev.User.Username, self) {
		return nil, false, nil
	}
	parts := strings.Split(v.MRs, ",")
	if len(parts) > maxCarMRs {
		return nil, false, nil
	}
	mrs := make([]int64, len(parts))
	for i, p := range parts {
		mr, err := strconv.ParseInt(p, 10, 64)
		if err != nil || mr <= 0 {
			return nil, false, nil
		}
		mrs[i] = mr
	}
	return mrs, true, nil
}

// pushCar pushes a built car's commit to its branch, with the pipeline's
// variables where the push is to start the pipeline (the car's pipeline
// starts once it is built; a car in the middle of a batch must start
// none), and records what startPipeline needs to know of the push. A
// build repeated from an action saved before builds named their MRs is
// pushed without them: its pipeline is created as before.
func (e *Engine) pushCar(ctx context.Context, repo RepoWriter, t *train.Train, a train.BuildCar, commit string) (startsPipeline bool, err error) {
	ref := e.carBranch(t.Key, a.MR)
	onPush := a.Start && len(a.MRs) > 0 && e.pipelinesOnPush(t.Project)
	var opts []string
	if onPush {
		opts = pushOptions(t.Branch, a.MRs)
	}
	p, err := repo.PushCar(ctx, ref, commit, opts...)
	if errors.Is(err, gitops.ErrNoPushOptions) {
		e.pushless.add(t.Project, e.now())
		e.log.Warn("the forge takes no push options; creating car pipelines through the API for a while",
			zap.String("train", t.Key.String()), zap.Int64("mr", a.MR), zap.Duration("for", pushlessFor))
		onPush = false
		p, err = repo.PushCar(ctx, ref, commit)
	}
	if err != nil {
		return false, err
	}
	// What was remembered of an earlier push of this commit no longer
	// holds.
	e.fresh.forget(t.Key, commit)
	starts := onPush && p.Moved
	if p.Created && !starts && !e.cfg.Profile.PipelinesBySHA {
		// Where a push starts the checks by itself (pipelines found by
		// commit), they may be done already: the look is what reports
		// them.
		e.fresh.put(t.Key, commit, carPushed{at: e.now(), created: true})
	}
	return starts, nil
}

// carPushed is what this replica knows of a car commit's push.
type carPushed struct {
	at time.Time
	// created: this replica pushed the commit onto a new branch, with no
	// pipeline to start: none can have run for it there yet.
	created bool
	// asked: the car asked for the pipeline its push starts.
	asked bool
}

// freshCommits are car commits just pushed, by key and commit. The set
// is bounded; a commit dropped from it costs a look for its pipeline.
type freshCommits struct {
	mu sync.Mutex
	m  map[string]carPushed
}

// freshMax bounds the set: far more than the cars of every train in one
// pass.
const freshMax = 4096

// freshKeep is how long a push is remembered at most: far longer than
// any wait for its pipeline.
const freshKeep = 10 * time.Minute

// putLocked remembers p under k; f.mu is held.
func (f *freshCommits) putLocked(k string, p carPushed) {
	if len(f.m) >= freshMax {
		// Most entries are never looked at again: they leave by age.
		for old, q := range f.m {
			if p.at.Sub(q.at) > freshKeep {
				delete(f.m, old)
			}
		}
	}
	if len(f.m) >= freshMax {
		clear(f.m)
	}
	f.m[k] = p
}

func (f *freshCommits) put(key train.Key, commit string, p carPushed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(key.String()+"@"+commit, p)
}

// takeCreated reports whether this replica pushed commit onto a new
// branch with no pipeline to start, and forgets it.
func (f *freshCommits) takeCreated(key train.Key, commit string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key.String() + "@" + commit
	p := f.m[k]
	if p.created {
		delete(f.m, k)
	}
	return p.created
}

// ask records that the car of commit, pushed at, asked for the pipeline
// its push starts, and reports whether it had before on this replica.
func (f *freshCommits) ask(key train.Key, commit string, at time.Time) (before bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key.String() + "@" + commit
	p, ok := f.m[k]
	if !ok {
		p = carPushed{at: at}
	}
	before, p.asked = p.asked, true
	f.putLocked(k, p)
	return before
}

func (f *freshCommits) forget(key train.Key, commit string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key.String()+"@"+commit)
}

// pushlessProjects are projects whose car pushes start no pipeline, and
// since when. Bounded like freshCommits.
type pushlessProjects struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (p *pushlessProjects) add(project string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= freshMax {
		clear(p.m)
	}
	p.m[project] = now
}

func (p *pushlessProjects) has(project string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	since, ok := p.m[project]
	if ok && now.Sub(since) >= pushlessFor {
		delete(p.m, project)
		return false
	}
	return ok
}
