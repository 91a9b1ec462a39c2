package github

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
)

// commitChecks is what GitHub reports on one commit: its checks (check
// runs and commit statuses), and its workflow runs.
type commitChecks struct {
	sha    string
	checks checks
	// runs are the commit's workflow runs on car branches, read when
	// asked for or needed (listed says whether they were).
	runs   []*gh.WorkflowRun
	listed bool
}

// attempt is the highest run attempt of the commit's workflow runs, 1
// without any.
func (cc commitChecks) attempt() int {
	a := 1
	for _, r := range cc.runs {
		a = max(a, r.GetRunAttempt())
	}
	return a
}

// commitOf resolves an abbreviated commit id. The answer never changes,
// so it is cached; GitHub answers 422 for a commit it does not have.
func (c *Client) commitOf(ctx context.Context, r repoRef, prefix string) (string, error) {
	key := r.project + "@" + prefix
	if sha, ok := c.shas.get(key); ok {
		return sha, nil
	}
	op := fmt.Sprintf("find commit %s of %s", prefix, r.project)
	var sha string
	status := 0
	err := c.do(ctx, op, read, func(try context.Context) (resp *gh.Response, err error) {
		sha, resp, err = c.gh.Repositories.GetCommitSHA1(try, r.owner, r.repo, prefix, "")
		if resp != nil {
			status = resp.StatusCode
		}
		return resp, err
	})
	switch {
	case status == http.StatusUnprocessableEntity:
		return "", fmt.Errorf("%s: %w", op, forge.ErrNotFound)
	case err != nil:
		return "", err
	case !strings.HasPrefix(sha, prefix):
		return "", fmt.Errorf("%s: answer %q is another commit", op, sha)
	}
	c.shas.put(key, sha)
	return sha, nil
}

// commitChecks reads the check runs on sha and, unless they settle the
// verdict alone, its commit statuses; with runs, its workflow runs too.
// Only the check runs of the apps and the statuses of the users the
// repository trusts count: anything else could pass a car that its CI
// never passed.
func (c *Client) commitChecks(ctx context.Context, r repoRef, sha string, runs bool) (commitChecks, error) {
	cc := commitChecks{sha: sha, checks: checks{}}
	checkRuns, err := c.checkRuns(ctx, r, sha, "all")
	if err != nil {
		return cc, err
	}

	if runs {
		if cc.runs, err = c.workflowRuns(ctx, r, sha); err != nil {
			return cc, err
		}
		cc.listed = true
	}
	own, read, err := c.carChecks(ctx, r, sha, r.trustedRuns(checkRuns), cc.runs, cc.listed)
	if err != nil {
		return cc, err
	}
	if read != nil {
		cc.runs, cc.listed = read, true
	}
	cc.checks.addRuns(newest(own))
	if len(r.StatusCreators) > 0 && !complete(r.RequiredChecks, cc.checks) {
		statuses, err := c.statuses(ctx, r, sha)
		if err != nil {
			return cc, err
		}
		cc.checks.addStatuses(r.trustedStatuses(statuses))
	}
	return cc, nil
}

// checkRuns lists the check runs on sha: every one with filter "all",
// GitHub's choice of the newest with "latest".
func (c *Client) checkRuns(ctx context.Context, r repoRef, sha, filter string) ([]*gh.CheckRun, error) {
	var out []*gh.CheckRun
	err := c.pages(ctx, fmt.Sprintf("list check runs of %s@%.12s", r.project, sha), func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.ListCheckRunsOptions{Filter: gh.Ptr(filter), ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		res, resp, err := c.gh.Checks.ListCheckRunsForRef(try, r.owner, r.repo, sha, opts)
		if res != nil {
			out = append(out, res.CheckRuns...)
		}
		return resp, err
	})
	return out, err
}

// statuses lists every commit status set on sha, newest first. The
// combined status would be one request for many, but it does not say
// who set each status.
func (c *Client) statuses(ctx context.Context, r repoRef, sha string) ([]*gh.RepoStatus, error) {
	var out []*gh.RepoStatus
	err := c.pages(ctx, fmt.Sprintf("list statuses of %s@%.12s", r.project, sha), func(try context.Context, page int) (*gh.Response, error) {
		res, resp, err := c.gh.Repositories.ListStatuses(try, r.owner, r.repo, sha, &gh.ListOptions{Page: page, PerPage: perPage})
		out = append(out, res...)
		return resp, err
	})
	return out, err
}

// onCars keeps the car's runs: on a car branch of the repository itself,
// started by a push or a dispatch. The same commit may be a pull
// request's own head, and anyone can open a pull request from a fork
// branch named like a car's with the car's commit: those runs, whose
// jobs may do less for a pull request, are not the car's, and neither
// their attempts nor their results are the train's to act on.
func (c *Client) onCars(r repoRef, runs []*gh.WorkflowRun) []*gh.WorkflowRun {
	return slices.DeleteFunc(runs, func(run *gh.WorkflowRun) bool {
		event := run.GetEvent()
		return !strings.HasPrefix(run.GetHeadBranch(), c.cars) ||
			!strings.EqualFold(run.GetHeadRepository().GetFullName(), r.project) ||
			(event != "push" && event != "workflow_dispatch")
	})
}

// carChecks keeps, of the trusted check runs on sha, those that are the
// car's: every check run of GitHub Actions belongs to a workflow run,
// which must be one of the car's (see onCars); other apps' runs are
// kept as they are. What a listing found a workflow run to be is
// remembered (a run never changes branch, repository or event); a run
// not listed yet makes the runs be read again, at most once per call
// (runs are those already read, if listed; read returns them when this
// call read them).
func (c *Client) carChecks(ctx context.Context, r repoRef, sha string, trusted []*gh.CheckRun, runs []*gh.WorkflowRun, listed bool) (own []*gh.CheckRun, read []*gh.WorkflowRun, err error) {
	for _, run := range trusted {
		if run.GetApp().GetSlug() != DefaultCheckApp {
			own = append(own, run)
			continue
		}
		id, ok := workflowRunOf(run)
		if !ok {
			continue
		}
		key := runKey(r, id)
		if _, known := c.carRuns.get(key); !known && !listed {
			if read, err = c.workflowRuns(ctx, r, sha); err != nil {
				return nil, nil, err
			}
			runs, listed = read, true
		}
		if car, _ := c.carRuns.get(key); car || slices.ContainsFunc(runs, func(w *gh.WorkflowRun) bool { return w.GetID() == id }) {
			own = append(own, run)
		}
	}
	return own, read, nil
}

// newest keeps each app's newest check run of each name, of the car's
// own: a re-run's, or those of the car branch pushed again onto the same
// commit, replace what came before. It is chosen here, from every check
// run, rather than by GitHub's filter=latest, which picks among all the
// commit's runs: a newer run of another workflow run on the commit (a
// pull request's, which is not the car's) could hide the car's.
func newest(runs []*gh.CheckRun) []*gh.CheckRun {
	type appName struct {
		app  int64
		name string
	}
	best := map[appName]*gh.CheckRun{}
	for _, run := range runs {
		k := appName{run.GetApp().GetID(), run.GetName()}
		if cur, ok := best[k]; !ok || run.GetID() > cur.GetID() {
			best[k] = run
		}
	}
	return slices.DeleteFunc(runs, func(run *gh.CheckRun) bool {
		return best[appName{run.GetApp().GetID(), run.GetName()}] != run
	})
}

func runKey(r repoRef, id int64) string { return r.project + "#" + strconv.FormatInt(id, 10) }

// workflowRunOf reads the workflow run of an Actions check run from its
// page, .../actions/runs/RUN/job/JOB: the check run gives no other link
// to it.
func workflowRunOf(run *gh.CheckRun) (int64, bool) {
	for _, u := range []string{run.GetDetailsURL(), run.GetHTMLURL()} {
		_, rest, ok := strings.Cut(u, "/actions/runs/")
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, "/")
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
			return n, true
		}
	}
	return 0, false
}

// workflowRuns lists the workflow runs of sha on car branches.
func (c *Client) workflowRuns(ctx context.Context, r repoRef, sha string) ([]*gh.WorkflowRun, error) {
	var out []*gh.WorkflowRun
	err := c.pages(ctx, fmt.Sprintf("list workflow runs of %s@%.12s", r.project, sha), func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.ListWorkflowRunsOptions{HeadSHA: sha, ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		res, resp, err := c.gh.Actions.ListRepositoryWorkflowRuns(try, r.owner, r.repo, opts)
		if res != nil {
			for _, run := range res.WorkflowRuns {
				c.carRuns.put(runKey(r, run.GetID()), false)
			}
			for _, run := range c.onCars(r, res.WorkflowRuns) {
				c.carRuns.put(runKey(r, run.GetID()), true)
				out = append(out, run)
			}
		}
		return resp, err
	})
	return out, err
}

// memo remembers answers that never change (a commit an abbreviation
// names, a workflow run that is a car's), emptied when full.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

const memoSize = 4096

func newMemo[V any]() *memo[V] { return &memo[V]{m: map[string]V{}} }

func (s *memo[V]) get(key string) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok
}

func (s *memo[V]) put(key string, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= memoSize {
		s.m = map[string]V{}
	}
	s.m[key] = v
}
