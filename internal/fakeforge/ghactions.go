package fakeforge

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// The simulated GitHub Actions: one workflow whose jobs are check runs on
// the pushed commit. A run queues for CI.QueueDelay, runs for CI.Duration
// (or, with CI.Manual, until FinishWorkflowRun), and each job's check run
// succeeds or fails by the CI rules the GitLab pipelines follow.

// WorkflowRun is a workflow run as the control API reports it.
type WorkflowRun struct {
	ID         int64
	Project    string
	Branch     string
	SHA        string
	Event      string
	Status     string
	Conclusion string
	Attempt    int
	// Checks maps each job of the current attempt to its check run.
	Checks map[string]int64
}

// workflowFile is the path of the simulated workflow.
func (f *Forge) workflowFile() string {
	return ".github/workflows/" + strings.ToLower(f.opts.GitHub.Actions.Workflow) + ".yml"
}

// actionsRun reports whether a push to branch starts the workflow.
func (f *Forge) actionsRun(branch string) bool {
	for _, pattern := range f.opts.GitHub.Actions.Branches {
		if branchPattern(pattern).MatchString(branch) {
			return true
		}
	}
	return false
}

// branchPattern compiles a workflow branch filter: * within a segment, **
// across segments.
func branchPattern(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i, part := range strings.Split(pattern, "**") {
		if i > 0 {
			b.WriteString(".*")
		}
		b.WriteString(strings.ReplaceAll(regexp.QuoteMeta(part), `\*`, "[^/]*"))
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// startWorkflowRun creates a queued run with a queued check run per job,
// and starts its runner.
func (f *Forge) startWorkflowRun(p *project, by *user, branch, sha, event string) (WorkflowRun, error) {
	f.mu.Lock()
	now := f.opts.Now()
	p.nextRunNumber++
	run := &workflowRun{
		ID: f.st.nextID(), SuiteID: f.st.nextID(), ProjectID: p.ID, Number: p.nextRunNumber, Attempt: 1,
		Branch: branch, SHA: sha, Event: event, Status: CheckQueued, ActorID: by.ID,
		Created: now, Updated: now, Started: now, jobs: map[string]int64{}, stop: make(chan struct{}),
	}
	for _, name := range f.opts.GitHub.Actions.Checks {
		run.jobs[name] = f.queueCheckRun(p, run, name)
	}
	f.st.gh.workflowRuns[run.ID] = run
	out := f.workflowRunOf(run)
	jobs := jobIDs(run)
	f.mu.Unlock()
	id, attempt := run.ID, run.Attempt
	if !f.goTracked(func(ctx context.Context) {
		f.announceAttempt(ctx, id, jobs)
		f.runWorkflow(ctx, id, attempt)
	}) {
		return out, fmt.Errorf("start workflow run for %s: forge closed", sha)
	}
	return out, nil
}

// announceAttempt sends the webhooks of a new attempt: the run requested,
// and a check run created for each of its jobs. The runner sends them
// before it runs, so their order is the order GitHub sends them in.
func (f *Forge) announceAttempt(ctx context.Context, id int64, jobs []int64) {
	f.sendGHWorkflowRun(ctx, id, "requested")
	f.sendGHCheckRuns("created", jobs...)
}

// jobIDs are the check runs of run's current attempt, in job order;
// call with f.mu held.
func jobIDs(run *workflowRun) []int64 {
	var ids []int64
	for _, id := range run.jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// queueCheckRun adds a queued check run for a job of run; call with f.mu
// held.
func (f *Forge) queueCheckRun(p *project, run *workflowRun, name string) int64 {
	c := &checkRun{ID: f.st.nextID(), ProjectID: p.ID, RunID: run.ID, SuiteID: run.SuiteID, Name: name, SHA: run.SHA, Status: CheckQueued}
	f.st.gh.checkRuns[c.ID] = c
	return c.ID
}

// runWorkflow drives one attempt of a run to its end, unless it is
// cancelled, re-run or finished by hand first.
func (f *Forge) runWorkflow(ctx context.Context, id int64, attempt int) {
	f.mu.Lock()
	stop := f.st.gh.workflowRuns[id].stop
	f.mu.Unlock()
	ci := f.opts.CI
	if !wait(ctx, stop, ci.QueueDelay) {
		f.finishWorkflowRequested(ctx, id, attempt)
		return
	}
	if f.setWorkflowInProgress(id, attempt) {
		f.sendGHWorkflowRun(ctx, id, "in_progress")
	}
	if ci.Manual {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		f.finishWorkflowRequested(ctx, id, attempt)
		return
	}
	if !wait(ctx, stop, ci.Duration) {
		f.finishWorkflowRequested(ctx, id, attempt)
		return
	}
	results, err := f.jobVerdicts(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		f.log.Error("workflow verdict", zap.Int64("run", id), zap.Error(err))
	}
	f.completeWorkflow(id, attempt, func(string) string { return "" }, results)
}

// jobVerdicts decides each unfinished job of a run's current attempt.
func (f *Forge) jobVerdicts(ctx context.Context, id int64) (map[string]string, error) {
	f.mu.Lock()
	run := f.st.gh.workflowRuns[id]
	project, sha := f.projectPathByID(run.ProjectID), run.SHA
	jobs := map[string]int64{}
	for name, cid := range run.jobs {
		if f.st.gh.checkRuns[cid].Status != CheckCompleted {
			jobs[name] = cid
		}
	}
	f.mu.Unlock()
	out := map[string]string{}
	for name, cid := range jobs {
		failed, err := f.fails(ctx, project, sha, uint64(cid))
		switch {
		case err != nil:
			out[name] = ConclusionFailure
			return out, err
		case failed:
			out[name] = ConclusionFailure
		default:
			out[name] = ConclusionSuccess
		}
	}
	return out, nil
}

// setWorkflowInProgress starts the attempt's jobs; it reports whether
// this call did.
func (f *Forge) setWorkflowInProgress(id int64, attempt int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.st.gh.workflowRuns[id]
	if run.Attempt != attempt || run.Status != CheckQueued {
		return false
	}
	now := f.opts.Now()
	run.Status, run.Updated = CheckInProgress, now
	for _, cid := range run.jobs {
		if c := f.st.gh.checkRuns[cid]; c.Status == CheckQueued {
			c.Status, c.Started = CheckInProgress, now
		}
	}
	return true
}

// finishWorkflowRequested applies a conclusion asked for by
// FinishWorkflowRun; a cancelled run is final already, and a closing
// forge leaves runs as they are.
func (f *Forge) finishWorkflowRequested(ctx context.Context, id int64, attempt int) {
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	result := f.st.gh.workflowRuns[id].result
	f.mu.Unlock()
	if result != "" {
		f.completeWorkflow(id, attempt, func(string) string { return result }, nil)
	}
}

// completeWorkflow concludes every unfinished job of the attempt, with
// results[name] or else conclusion(name), and the run with the worst of
// its jobs, and sends the webhooks that tell so. It reports whether this
// call did.
func (f *Forge) completeWorkflow(id int64, attempt int, conclusion func(string) string, results map[string]string) bool {
	done, ok := f.concludeAttempt(id, attempt, conclusion, results)
	if ok {
		f.logAttempt(id)
		f.sendGHCheckRuns("completed", done...)
		f.sendGHWorkflowRun(f.ctx, id, "completed")
	}
	return ok
}

// pipelineStatuses maps a run's conclusion onto the pipeline log's words.
var pipelineStatuses = map[string]string{
	ConclusionSuccess: PipelineSuccess, ConclusionFailure: PipelineFailed, ConclusionCancelled: PipelineCanceled,
}

// logAttempt writes the attempt that just finished to the pipeline log.
func (f *Forge) logAttempt(id int64) {
	f.mu.Lock()
	run := f.st.gh.workflowRuns[id]
	rec := PipelineRecord{ID: run.ID, Project: f.projectPathByID(run.ProjectID), Ref: run.Branch, SHA: run.SHA,
		Status: pipelineStatuses[run.Conclusion], CreatedAt: run.Created, StartedAt: run.Started, FinishedAt: run.Updated, Attempt: run.Attempt}
	f.mu.Unlock()
	if err := f.ciLog.append(rec); err != nil {
		f.log.Error("pipeline log", zap.Int64("run", id), zap.Error(err))
	}
}

// concludeAttempt is completeWorkflow's change of state; it returns the
// check runs it completed.
func (f *Forge) concludeAttempt(id int64, attempt int, conclusion func(string) string, results map[string]string) ([]int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.st.gh.workflowRuns[id]
	if run.Attempt != attempt || run.Status == CheckCompleted {
		return nil, false
	}
	var done []int64
	now := f.opts.Now()
	worst := ConclusionSuccess
	for name, cid := range run.jobs {
		c := f.st.gh.checkRuns[cid]
		if c.Status != CheckCompleted {
			r := results[name]
			if r == "" {
				r = conclusion(name)
			}
			if c.Started.IsZero() {
				c.Started = now
			}
			c.Status, c.Conclusion, c.Completed = CheckCompleted, r, now
			done = append(done, cid)
		}
		worst = worse(worst, c.Conclusion)
	}
	run.Status, run.Conclusion, run.Updated = CheckCompleted, worst, now
	run.halt()
	slices.Sort(done)
	return done, true
}

// worse orders conclusions: a failure outweighs a cancellation, which
// outweighs success.
func worse(a, b string) string {
	rank := func(c string) int {
		return slices.Index([]string{ConclusionSuccess, ConclusionCancelled, ConclusionFailure}, c)
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// cancelWorkflow cancels a run that has not finished; it reports whether
// it did.
func (f *Forge) cancelWorkflow(id int64) bool {
	f.mu.Lock()
	attempt := f.st.gh.workflowRuns[id].Attempt
	f.mu.Unlock()
	return f.completeWorkflow(id, attempt, func(string) string { return ConclusionCancelled }, nil)
}

// rerunFailedJobs starts a new attempt of a finished run that did not
// succeed: each job that did not succeed gets a new check run; the jobs
// that passed keep theirs.
func (f *Forge) rerunFailedJobs(id int64) error {
	f.mu.Lock()
	run := f.st.gh.workflowRuns[id]
	if run.Status != CheckCompleted || run.Conclusion == ConclusionSuccess {
		f.mu.Unlock()
		return &ghError{403, ghMessage{Message: "This workflow run is not completed or has no failed jobs", DocumentationURL: ghDocs}}
	}
	p := f.st.projects[run.ProjectID]
	now := f.opts.Now()
	run.Attempt++
	run.Status, run.Conclusion, run.Updated, run.Started = CheckQueued, "", now, now
	run.stop, run.stopped, run.result = make(chan struct{}), false, ""
	for name, cid := range run.jobs {
		if f.st.gh.checkRuns[cid].Conclusion != ConclusionSuccess {
			run.jobs[name] = f.queueCheckRun(p, run, name)
		}
	}
	attempt := run.Attempt
	var jobs []int64
	for _, cid := range jobIDs(run) {
		if f.st.gh.checkRuns[cid].Status == CheckQueued {
			jobs = append(jobs, cid)
		}
	}
	f.mu.Unlock()
	if !f.goTracked(func(ctx context.Context) {
		f.announceAttempt(ctx, id, jobs)
		f.runWorkflow(ctx, id, attempt)
	}) {
		return fmt.Errorf("re-run workflow run %d: forge closed", id)
	}
	return nil
}

// FinishWorkflowRun ends a run's current attempt with conclusion (success,
// failure or cancelled) for every job still running, whatever its tree;
// with CI.Manual it is the only way runs end.
func (f *Forge) FinishWorkflowRun(project string, id int64, conclusion string) error {
	if !slices.Contains([]string{ConclusionSuccess, ConclusionFailure, ConclusionCancelled}, conclusion) {
		return fmt.Errorf("finish workflow run %d: bad conclusion %q", id, conclusion)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	run, err := f.workflowRunIn(project, id)
	switch {
	case err != nil:
		return fmt.Errorf("finish workflow run %d: %w", id, err)
	case run.Status == CheckCompleted || run.result != "":
		return fmt.Errorf("finish workflow run %d: already %s", id, run.Status)
	}
	run.result = conclusion
	run.halt()
	return nil
}

// workflowRunIn finds run id of project; call with f.mu held.
func (f *Forge) workflowRunIn(project string, id int64) (*workflowRun, error) {
	p, err := f.st.project(project)
	if err != nil {
		return nil, err
	}
	run, ok := f.st.gh.workflowRuns[id]
	if !ok || run.ProjectID != p.ID {
		return nil, ErrNoRun
	}
	return run, nil
}

// WorkflowRuns lists a project's workflow runs for sha (all when empty),
// newest first.
func (f *Forge) WorkflowRuns(project, sha string) ([]WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return nil, err
	}
	var out []WorkflowRun
	for _, run := range f.projectWorkflowRuns(p) {
		if sha == "" || run.SHA == sha {
			out = append(out, f.workflowRunOf(run))
		}
	}
	return out, nil
}

// projectWorkflowRuns returns p's runs newest first; call with f.mu held.
func (f *Forge) projectWorkflowRuns(p *project) []*workflowRun {
	var out []*workflowRun
	for _, run := range f.st.gh.workflowRuns {
		if run.ProjectID == p.ID {
			out = append(out, run)
		}
	}
	slices.SortFunc(out, func(a, b *workflowRun) int { return int(b.ID - a.ID) })
	return out
}

func (f *Forge) workflowRunOf(run *workflowRun) WorkflowRun {
	checks := map[string]int64{}
	for name, id := range run.jobs {
		checks[name] = id
	}
	return WorkflowRun{
		ID: run.ID, Project: f.projectPathByID(run.ProjectID), Branch: run.Branch, SHA: run.SHA, Event: run.Event,
		Status: run.Status, Conclusion: run.Conclusion, Attempt: run.Attempt, Checks: checks,
	}
}

// CheckRun is a check run as the control API reports it.
type CheckRun struct {
	ID         int64
	RunID      int64 // the workflow run it belongs to; 0 for none
	Name       string
	SHA        string
	Status     string
	Conclusion string
	// URL is its page, as html_url gives it.
	URL string
}

// CheckRuns lists every check run on sha, of every attempt, oldest first.
func (f *Forge) CheckRuns(project, sha string) ([]CheckRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(project)
	if err != nil {
		return nil, err
	}
	var out []CheckRun
	for _, c := range f.st.gh.checkRuns {
		if c.ProjectID == p.ID && c.SHA == sha {
			out = append(out, CheckRun{ID: c.ID, RunID: c.RunID, Name: c.Name, SHA: c.SHA, Status: c.Status,
				Conclusion: c.Conclusion, URL: f.ghCheckRunOf(p, c).HTMLURL})
		}
	}
	slices.SortFunc(out, func(a, b CheckRun) int { return int(a.ID - b.ID) })
	return out, nil
}

// SetCheckRun adds a check run named name on sha as the app whose slug
// is app would (ActionsApp, or empty, for Actions outside the simulated
// workflow), with status and, once completed, conclusion. It returns the
// check run's id.
func (f *Forge) SetCheckRun(project, sha, app, name, status, conclusion string) (int64, error) {
	f.mu.Lock()
	p, err := f.st.project(project)
	if err != nil {
		f.mu.Unlock()
		return 0, err
	}
	now := f.opts.Now()
	c := &checkRun{ID: f.st.nextID(), ProjectID: p.ID, SuiteID: f.appSuite(p, app, sha), Name: name, SHA: sha, Status: status, Started: now, App: app}
	if status == CheckCompleted {
		c.Conclusion, c.Completed = conclusion, now
	}
	f.st.gh.checkRuns[c.ID] = c
	f.mu.Unlock()
	action := "created"
	if status == CheckCompleted {
		action = "completed"
	}
	f.sendGHCheckRuns(action, c.ID)
	return c.ID, nil
}

// appSuite is the check suite of an app's check runs on sha outside any
// workflow: GitHub makes one per app and commit. Call with f.mu held.
func (f *Forge) appSuite(p *project, app, sha string) int64 {
	for _, c := range f.st.gh.checkRuns {
		if c.ProjectID == p.ID && c.RunID == 0 && c.App == app && c.SHA == sha {
			return c.SuiteID
		}
	}
	return f.st.nextID()
}

// SetCommitStatus posts a commit status on sha as username, as an
// external CI does.
func (f *Forge) SetCommitStatus(project, sha, context, state, username string) error {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return fmt.Errorf("set status %s on %.12s: %w", context, sha, err)
	}
	f.mu.Lock()
	s := *f.addStatus(p, u, sha, context, state, "", "")
	f.mu.Unlock()
	f.sendGHStatus(f.ctx, p, s)
	return nil
}

// addStatus records a commit status; call with f.mu held.
func (f *Forge) addStatus(p *project, u *user, sha, context, state, description, target string) *commitStatus {
	now := f.opts.Now()
	s := &commitStatus{
		ID: f.st.nextID(), ProjectID: p.ID, SHA: sha, Context: context, State: state,
		Description: description, TargetURL: target, CreatorID: u.ID, Created: now, Updated: now,
	}
	f.st.gh.statuses = append(f.st.gh.statuses, s)
	return s
}
