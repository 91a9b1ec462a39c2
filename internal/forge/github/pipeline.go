package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// A car's pipeline on GitHub is the required checks on its commit: there
// is nothing to create, only checks that the push of the car branch
// started (or a workflow_dispatch, or a re-run of failed jobs). The
// engine still asks for pipelines by id, from any replica and after
// restarts, and cancels them by id alone, so the id carries what is
// needed to find the checks again: the commit's first 13 hex digits (52
// bits; GitHub resolves the abbreviation) and the attempt, counted by
// re-runs of the commit's workflow runs (10 bits). An automatic retry is
// a re-run of the failed jobs and so a new attempt, a new id.
//
// The id is not unique per run: a car branch pushed away from a commit
// and back starts a new run at attempt 1, and its checks get the id the
// old ones had (as do checks that come back to life on a commit whose
// failure the train saw). The planner copes (train.Car.Retested, and a
// car that waits for a pipeline takes the one created for it, whatever
// its id). The id stays as it is: 63 bits hold no run or check-suite id
// beside the 52-bit prefix, and counting runs instead of attempts would
// race with the runs of one push appearing one by one, and would read
// the ids stored in running trains as superseded, so failed.

const (
	attemptBits = 10
	maxAttempt  = 1<<attemptBits - 1
	prefixLen   = 13
)

// PipelineID is the id of the checks on commit sha at an attempt (1 for
// the first run, counted by re-runs), as the client reports it.
func PipelineID(sha string, attempt int) (int64, error) { return pipelineID(sha, attempt) }

func pipelineID(sha string, attempt int) (int64, error) {
	if len(sha) < prefixLen {
		return 0, fmt.Errorf("commit id %q is too short", sha)
	}
	prefix, err := strconv.ParseUint(sha[:prefixLen], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("commit id %q: %w", sha, err)
	}
	return int64(prefix<<attemptBits | uint64(min(max(attempt, 1), maxAttempt))), nil
}

func splitPipelineID(id int64) (prefix string, attempt int, err error) {
	if id <= 0 || id&maxAttempt == 0 {
		return "", 0, fmt.Errorf("pipeline %d is not a GitHub check set: %w", id, forge.ErrNotFound)
	}
	return fmt.Sprintf("%0*x", prefixLen, uint64(id)>>attemptBits), int(id & maxAttempt), nil
}

// repoRef is a repository as go-github names it, with its checks.
type repoRef struct {
	project, owner, repo string
	Repository
}

func (c *Client) repoOf(ctx context.Context, project string) (repoRef, error) {
	owner, repo, err := splitProject(project)
	return repoRef{project, owner, repo, c.repository(ctx, project)}, err
}

// CreatePipeline makes sure the required checks run on ref's head: a
// commit whose checks failed has its failed workflow jobs re-run (a new
// attempt); otherwise the configured workflows that have no run for the
// commit are dispatched. vars are not passed on: workflow inputs must be
// declared, and the car branch's name says which train and MR it is.
func (c *Client) CreatePipeline(ctx context.Context, project, ref string, _ map[string]string) (forge.Pipeline, error) {
	r, err := c.carRepo(ctx, project)
	if err != nil {
		return forge.Pipeline{}, err
	}
	sha, err := c.BranchHead(ctx, project, ref)
	if err != nil {
		return forge.Pipeline{}, err
	}
	cc, err := c.commitChecks(ctx, r, sha, true)
	if err != nil {
		return forge.Pipeline{}, err
	}
	attempt := cc.attempt()
	switch r.verdict(cc.checks) {
	case train.PipelineFailed, train.PipelineCanceled:
		if err := c.rerunFailed(ctx, r, cc); err != nil {
			return forge.Pipeline{}, err
		}
		attempt++
	default:
		if err := c.dispatchMissing(ctx, r, ref, cc); err != nil {
			return forge.Pipeline{}, err
		}
	}
	return c.pipelineOf(r, sha, ref, attempt, train.PipelinePending)
}

// PipelinesFor returns the pipeline of sha when anything reported on it
// (a check run, a commit status or a workflow run), and none otherwise.
func (c *Client) PipelinesFor(ctx context.Context, project, ref, sha string) ([]forge.Pipeline, error) {
	r, err := c.carRepo(ctx, project)
	if err != nil {
		return nil, err
	}
	cc, err := c.commitChecks(ctx, r, sha, true)
	if err != nil || (len(cc.checks) == 0 && len(cc.runs) == 0) {
		return nil, err
	}
	state := r.verdict(cc.checks)
	if state == train.PipelineSuccess && len(r.RequiredChecks) == 0 && runsOpen(cc.runs) {
		state = train.PipelineRunning // as in Pipeline
	}
	p, err := c.pipelineOf(r, sha, ref, cc.attempt(), state)
	if err != nil {
		return nil, err
	}
	return []forge.Pipeline{p}, nil
}

// Pipeline returns the state of the required checks on the commit id
// names. The checks GitHub lists are those of the newest attempt, so once
// they have settled, the attempt decides: an older attempt was superseded
// by a re-run and has failed; a newer one is a re-run GitHub does not
// show yet, and is pending, so the failure it re-runs is not read as its
// own. While the checks still run, their state is the answer, and the
// workflow runs are not read at all; nor are they when a first attempt's
// checks passed: nothing is older, and checks that pass on a re-run the
// train did not ask for passed on this very commit, as a GitLab pipeline
// whose failed job was retried.
func (c *Client) Pipeline(ctx context.Context, project string, id int64) (forge.Pipeline, error) {
	r, sha, attempt, err := c.resolveID(ctx, project, id)
	if err != nil {
		return forge.Pipeline{}, err
	}
	cc, err := c.commitChecks(ctx, r, sha, false)
	if err != nil {
		return forge.Pipeline{}, err
	}
	state := r.verdict(cc.checks)
	list := func() error {
		if !cc.listed {
			cc.runs, err = c.workflowRuns(ctx, r, sha)
			cc.listed = err == nil
		}
		return err
	}
	if state == train.PipelineSuccess && len(r.RequiredChecks) == 0 {
		// With no check named, the checks reported so far are all there
		// is to go by: a job that waits for another (needs:) or a second
		// workflow may not have reported yet. The car's workflow runs
		// tell: every one must have completed.
		if err := list(); err != nil {
			return forge.Pipeline{}, err
		}
		if runsOpen(cc.runs) {
			state = train.PipelineRunning
		}
	}
	if state.Done() && (attempt > 1 || state != train.PipelineSuccess) {
		if err := list(); err != nil {
			return forge.Pipeline{}, err
		}
		switch current := cc.attempt(); {
		case current < attempt:
			state = train.PipelinePending
		case current > attempt:
			state = train.PipelineFailed
		}
	}
	return c.pipelineOf(r, sha, "", attempt, state)
}

// runsOpen reports whether a workflow run has not completed.
func runsOpen(runs []*gh.WorkflowRun) bool {
	return slices.ContainsFunc(runs, func(run *gh.WorkflowRun) bool { return run.GetStatus() != "completed" })
}

// CancelPipeline cancels the unfinished workflow runs of the commit id
// names, on car branches only (see isCar). An attempt already
// superseded by a re-run is over, and the re-run may be what a car waits
// for: nothing is cancelled. Checks from outside Actions cannot be
// cancelled and run on. It reports whether a run was stopped: false when
// every run had finished.
func (c *Client) CancelPipeline(ctx context.Context, project string, id int64) (bool, error) {
	// Cancelling judges no check: no branch's rules need reading.
	r, sha, attempt, err := c.resolveID(forge.ForBranch(ctx, ""), project, id)
	if err != nil {
		return false, err
	}
	runs, err := c.workflowRuns(ctx, r, sha)
	if err != nil {
		return false, err
	}
	if (commitChecks{runs: runs}).attempt() > attempt {
		return false, nil
	}
	stopped := false
	for _, run := range runs {
		if run.GetStatus() == "completed" {
			continue
		}
		ok, err := c.cancelRun(ctx, r, run.GetID())
		if err != nil {
			return stopped, err
		}
		stopped = stopped || ok
	}
	return stopped, nil
}

// cancelRun cancels a workflow run and reports whether it was stopped:
// false when it finished meanwhile.
func (c *Client) cancelRun(ctx context.Context, r repoRef, id int64) (bool, error) {
	stopped := false
	err := c.do(ctx, fmt.Sprintf("cancel workflow run %d of %s", id, r.project), edit, func(try context.Context) (*gh.Response, error) {
		resp, err := c.gh.Actions.CancelWorkflowRunByID(try, r.owner, r.repo, id)
		var accepted *gh.AcceptedError
		switch {
		case errors.As(err, &accepted):
			stopped = true
			return resp, nil // GitHub answers 202: cancelling
		case resp != nil && resp.StatusCode == http.StatusConflict:
			stopped = false
			return resp, nil // finished meanwhile
		}
		return resp, err
	})
	return stopped, err
}

func (c *Client) pipelineOf(r repoRef, sha, ref string, attempt int, state train.PipelineState) (forge.Pipeline, error) {
	id, err := pipelineID(sha, attempt)
	if err != nil {
		return forge.Pipeline{}, fmt.Errorf("checks of %s: %w", r.project, err)
	}
	// The id will be asked about: its commit need not be looked up.
	c.shas.put(r.project+"@"+sha[:prefixLen], sha)
	return forge.Pipeline{ID: id, SHA: sha, Ref: ref, Status: state, WebURL: c.web + "/" + r.project + "/commit/" + sha + "/checks"}, nil
}

// resolveID finds the commit and attempt a pipeline id names.
func (c *Client) resolveID(ctx context.Context, project string, id int64) (repoRef, string, int, error) {
	r, err := c.carRepo(ctx, project)
	if err != nil {
		return r, "", 0, err
	}
	prefix, attempt, err := splitPipelineID(id)
	if err != nil {
		return r, "", 0, err
	}
	sha, err := c.commitOf(ctx, r, prefix)
	return r, sha, attempt, err
}

// errRunning: a workflow run of the commit is still going, and GitHub
// re-runs the failed jobs of finished runs only. The engine tries the
// start again later.
var errRunning = errors.New("a workflow run of the commit still runs; its failed jobs can be re-run once it has finished")

// rerunFailed re-runs the failed jobs of every finished workflow run of
// the commit that did not pass; with none, the failure is for good.
func (c *Client) rerunFailed(ctx context.Context, r repoRef, cc commitChecks) error {
	if slices.ContainsFunc(cc.runs, func(run *gh.WorkflowRun) bool { return run.GetStatus() != "completed" }) {
		return fmt.Errorf("start checks on %s@%.12s: %w", r.project, cc.sha, errRunning)
	}
	n := 0
	for _, run := range cc.runs {
		if slices.Contains([]string{"success", "neutral", "skipped"}, run.GetConclusion()) {
			continue
		}
		err := c.do(ctx, fmt.Sprintf("re-run failed jobs of workflow run %d of %s", run.GetID(), r.project), write, func(try context.Context) (*gh.Response, error) {
			return c.gh.Actions.RerunFailedJobsByID(try, r.owner, r.repo, run.GetID())
		})
		if err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("start checks on %s@%.12s: %w: its checks failed and none of them is a workflow run that can be re-run",
			r.project, cc.sha, forge.ErrRejected)
	}
	return nil
}

// dispatchMissing starts each configured workflow that has no run for the
// commit on ref.
func (c *Client) dispatchMissing(ctx context.Context, r repoRef, ref string, cc commitChecks) error {
	for _, file := range r.Workflows {
		if slices.ContainsFunc(cc.runs, func(run *gh.WorkflowRun) bool { return strings.HasSuffix(run.GetPath(), "/"+file) }) {
			continue
		}
		err := c.do(ctx, fmt.Sprintf("dispatch %s on %s of %s", file, ref, r.project), write, func(try context.Context) (*gh.Response, error) {
			return c.gh.Actions.CreateWorkflowDispatchEventByFileName(try, r.owner, r.repo, file, gh.CreateWorkflowDispatchEventRequest{Ref: ref})
		})
		if err != nil {
			return err
		}
	}
	return nil
}
