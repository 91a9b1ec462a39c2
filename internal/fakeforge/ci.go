package fakeforge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Pipeline statuses the simulated runner goes through.
const (
	PipelinePending  = "pending"
	PipelineRunning  = "running"
	PipelineSuccess  = "success"
	PipelineFailed   = "failed"
	PipelineCanceled = "canceled"
)

// Pipeline is a pipeline as the control API reports it.
type Pipeline struct {
	ID, IID    int64
	Project    string
	Ref, SHA   string
	Status     string
	Source     string
	User       string
	Variables  map[string]string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// PipelineRecord is one line of the finished-pipeline log.
type PipelineRecord struct {
	ID         int64     `json:"id"`
	Project    string    `json:"project"`
	Ref        string    `json:"ref"`
	SHA        string    `json:"sha"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at"`
	// Attempt numbers the attempts of a GitHub workflow run, whose every
	// attempt is logged with the run's id; 0 for GitLab pipelines.
	Attempt int `json:"attempt,omitempty"`
}

// startPipeline creates a pending pipeline for sha and starts its runner.
func (f *Forge) startPipeline(ctx context.Context, p *project, by *user, ref, sha, source string, vars ...variable) (pipeline, error) {
	f.mu.Lock()
	p.nextPipeIID++
	now := f.opts.Now()
	pl := &pipeline{
		ID: f.st.nextID(), IID: p.nextPipeIID, ProjectID: p.ID, Ref: ref, SHA: sha, BeforeSHA: zeroSHA,
		Source: source, Status: PipelinePending, UserID: by.ID, Variables: vars,
		Created: now, Updated: now, stop: make(chan struct{}),
	}
	f.st.pipelines[pl.ID] = pl
	snap := *pl
	f.mu.Unlock()
	f.sendPipelineHook(ctx, snap)
	id := pl.ID
	if !f.goTracked(func(ctx context.Context) { f.runPipeline(ctx, id) }) {
		return snap, fmt.Errorf("start pipeline for %s: forge closed", sha)
	}
	return snap, nil
}

// runPipeline moves a pipeline through pending, running and a result,
// unless it is cancelled or finished by hand first.
func (f *Forge) runPipeline(ctx context.Context, id int64) {
	f.mu.Lock()
	stop := f.st.pipelines[id].stop
	f.mu.Unlock()
	ci := f.opts.CI
	if !wait(ctx, stop, ci.QueueDelay) {
		f.finishRequested(ctx, id)
		return
	}
	f.setRunning(ctx, id)
	if ci.Manual {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		f.finishRequested(ctx, id)
		return
	}
	if !wait(ctx, stop, ci.Duration) {
		f.finishRequested(ctx, id)
		return
	}
	status, err := f.verdict(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Error("pipeline verdict", zap.Int64("pipeline", id), zap.Error(err))
		}
		status = PipelineFailed
	}
	f.finish(ctx, id, status)
}

// wait sleeps d and reports true, or false when stopped or ctx is done.
func wait(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
	case <-ctx.Done():
	}
	return false
}

// finishRequested applies a result asked for by FinishPipeline; a cancelled
// pipeline is already final, and a closing forge leaves it as it is.
func (f *Forge) finishRequested(ctx context.Context, id int64) {
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	result := f.st.pipelines[id].result
	f.mu.Unlock()
	if result != "" {
		f.finish(ctx, id, result)
	}
}

func (f *Forge) setRunning(ctx context.Context, id int64) {
	f.mu.Lock()
	pl := f.st.pipelines[id]
	if pl.Status != PipelinePending {
		f.mu.Unlock()
		return
	}
	now := f.opts.Now()
	pl.Status, pl.Started, pl.Updated = PipelineRunning, now, now
	snap := *pl
	f.mu.Unlock()
	f.sendPipelineHook(ctx, snap)
}

// finish gives a pipeline its final status once; it reports whether this
// call did.
func (f *Forge) finish(ctx context.Context, id int64, status string) bool {
	f.mu.Lock()
	pl := f.st.pipelines[id]
	if pl.done() {
		f.mu.Unlock()
		return false
	}
	now := f.opts.Now()
	pl.Status, pl.Finished, pl.Updated = status, now, now
	snap := *pl
	projectPath := f.projectPathByID(pl.ProjectID)
	f.mu.Unlock()
	rec := PipelineRecord{ID: snap.ID, Project: projectPath, Ref: snap.Ref, SHA: snap.SHA, Status: status,
		CreatedAt: snap.Created, StartedAt: snap.Started, FinishedAt: snap.Finished}
	if err := f.ciLog.append(rec); err != nil {
		f.log.Error("pipeline log", zap.Int64("pipeline", id), zap.Error(err))
	}
	f.sendPipelineHook(ctx, snap)
	return true
}

func (f *Forge) projectPathByID(id int64) string {
	if p, ok := f.st.projects[id]; ok {
		return p.Path
	}
	return ""
}

// cancelPipeline cancels a pipeline that has not finished.
func (f *Forge) cancelPipeline(ctx context.Context, id int64) {
	if f.finish(ctx, id, PipelineCanceled) {
		f.mu.Lock()
		f.st.pipelines[id].halt()
		f.mu.Unlock()
	}
}

// FinishPipeline ends a pipeline that has not finished with status
// (success, failed or canceled), whatever its tree; with CI.Manual it is
// the only way pipelines end.
func (f *Forge) FinishPipeline(ctx context.Context, id int64, status string) error {
	if !slices.Contains([]string{PipelineSuccess, PipelineFailed, PipelineCanceled}, status) {
		return fmt.Errorf("finish pipeline %d: bad status %q", id, status)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pl, ok := f.st.pipelines[id]
	switch {
	case !ok:
		return fmt.Errorf("finish pipeline %d: %w", id, ErrNoPipeline)
	case pl.done() || pl.result != "":
		return fmt.Errorf("finish pipeline %d: already %s", id, pl.Status)
	}
	pl.result = status
	pl.halt()
	return nil
}

// verdict decides a pipeline's result from its commit's tree and the seed.
func (f *Forge) verdict(ctx context.Context, id int64) (string, error) {
	f.mu.Lock()
	pl := f.st.pipelines[id]
	sha, projectPath := pl.SHA, f.projectPathByID(pl.ProjectID)
	f.mu.Unlock()
	failed, err := f.fails(ctx, projectPath, sha, uint64(id))
	if err != nil {
		return "", fmt.Errorf("pipeline %d: %w", id, err)
	}
	if failed {
		return PipelineFailed, nil
	}
	return PipelineSuccess, nil
}

// fails applies the CI rules, GitLab's pipelines and GitHub's check runs
// alike: a tree holding the fail marker or a fail path fails; otherwise
// it flakes by the seed and key (the pipeline or check run id).
func (f *Forge) fails(ctx context.Context, projectPath, sha string, key uint64) (bool, error) {
	paths, err := f.repo(projectPath).paths(ctx, sha)
	if err != nil {
		return false, err
	}
	ci := f.opts.CI
	for _, p := range paths {
		if path.Base(p) == ci.FailMarker || slices.Contains(ci.FailPaths, p) {
			return true, nil
		}
	}
	return ci.FlakeRate > 0 && unitFloat(f.opts.Seed, key) < ci.FlakeRate, nil
}

// unitFloat maps (seed, n) to [0, 1) with splitmix64, so a pipeline's flake
// depends on its id and the seed only, not on scheduling.
func unitFloat(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// Pipelines lists a project's pipelines, newest first.
func (f *Forge) Pipelines(project string) ([]Pipeline, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return nil, err
	}
	var out []Pipeline
	for _, pl := range f.projectPipelines(p) {
		out = append(out, f.pipelineOf(pl))
	}
	return out, nil
}

// projectPipelines returns p's pipelines, newest first; call with f.mu held.
func (f *Forge) projectPipelines(p *project) []*pipeline {
	var out []*pipeline
	for _, pl := range f.st.pipelines {
		if pl.ProjectID == p.ID {
			out = append(out, pl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

func (f *Forge) pipelineOf(pl *pipeline) Pipeline {
	vars := map[string]string{}
	for _, v := range pl.Variables {
		vars[v.Key] = v.Value
	}
	return Pipeline{
		ID: pl.ID, IID: pl.IID, Project: f.projectPathByID(pl.ProjectID), Ref: pl.Ref, SHA: pl.SHA,
		Status: pl.Status, Source: pl.Source, User: f.st.users[pl.UserID].Username, Variables: vars,
		CreatedAt: pl.Created, StartedAt: pl.Started, FinishedAt: pl.Finished,
	}
}

// PipelineLog returns the finished pipelines in the order they finished.
func (f *Forge) PipelineLog() []PipelineRecord { return f.ciLog.snapshot() }

func (f *Forge) sendPipelineHook(ctx context.Context, pl pipeline) {
	if !f.hooksOn(HookGitLab) {
		return
	}
	f.mu.Lock()
	p := f.st.projects[pl.ProjectID]
	by := f.st.users[pl.UserID]
	f.mu.Unlock()
	last, err := f.commit(ctx, p.Path, pl.SHA)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Error("pipeline hook", zap.Int64("pipeline", pl.ID), zap.Error(err))
		}
		return
	}
	f.mu.Lock()
	payload := f.pipelineHookOf(p, by, pl, last)
	f.mu.Unlock()
	f.hooks.send(HookGitLab, EventPipeline, payload)
}

func (f *Forge) pipelineHookOf(p *project, by *user, pl pipeline, last commitInfo) pipelineHook {
	u := f.projectURLs(p)
	vars := []hookVariable{}
	for _, v := range pl.Variables {
		vars = append(vars, hookVariable{Key: v.Key, Value: v.Value})
	}
	attrs := pipelineAttrs{
		ID: pl.ID, IID: pl.IID, Ref: pl.Ref, SHA: pl.SHA, BeforeSHA: pl.BeforeSHA, Source: pl.Source,
		Status: pl.Status, DetailedStatus: detailedStatus(pl.Status), Stages: []string{"test"},
		CreatedAt: fmtHookTime(pl.Created), FinishedAt: optHookTime(pl.Finished),
		Variables: vars, URL: u.web() + "/-/pipelines/" + itoa(pl.ID),
	}
	if !pl.Finished.IsZero() && !pl.Started.IsZero() {
		d := int64(pl.Finished.Sub(pl.Started).Seconds())
		attrs.Duration = &d
	}
	build := hookBuild{
		ID: pl.ID, Stage: "test", Name: "test", Status: pl.Status, CreatedAt: fmtHookTime(pl.Created),
		StartedAt: optHookTime(pl.Started), FinishedAt: optHookTime(pl.Finished), When: "on_success",
		User: hookUserOf(by),
	}
	if pl.Status == PipelineFailed {
		reason := "script_failure"
		build.FailureReason = &reason
	}
	return pipelineHook{
		ObjectKind: "pipeline", ObjectAttributes: attrs, User: hookUserOf(by),
		Project: f.hookProjectOf(p), Commit: hookCommitOf(last, u), Builds: []hookBuild{build},
	}
}

// detailedStatus is the label GitLab shows for a status.
func detailedStatus(status string) string {
	if status == PipelineSuccess {
		return "passed"
	}
	return status
}

// pipelineLog appends finished pipelines to a JSONL file and keeps them in
// memory.
type pipelineLog struct {
	mu      sync.Mutex
	file    *os.File
	records []PipelineRecord
}

func openPipelineLog(path string) (*pipelineLog, error) {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fakeforge: open pipeline log: %w", err)
	}
	return &pipelineLog{file: file}, nil
}

func (l *pipelineLog) append(r PipelineRecord) error {
	// UTC without a monotonic reading: a record read back from the file
	// equals the one kept in memory.
	r.CreatedAt, r.StartedAt, r.FinishedAt = plain(r.CreatedAt), plain(r.StartedAt), plain(r.FinishedAt)
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode pipeline %d: %w", r.ID, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	if _, err := l.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write pipeline %d: %w", r.ID, err)
	}
	return nil
}

func plain(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Round(0).UTC()
}

func (l *pipelineLog) snapshot() []PipelineRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

func (l *pipelineLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}
