package github

import (
	"context"
	"fmt"
	"net/http"
	"slices"
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
	// runs are the commit's workflow runs, read when asked for.
	runs []*gh.WorkflowRun
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
	checkRuns, err := c.checkRuns(ctx, r, sha, "latest")
	if err != nil {
		return cc, err
	}
	cc.checks.addRuns(r.trustedRuns(checkRuns))
	if len(r.StatusCreators) > 0 && !complete(r.RequiredChecks, cc.checks) {
		statuses, err := c.statuses(ctx, r, sha)
		if err != nil {
			return cc, err
		}
		cc.checks.addStatuses(r.trustedStatuses(statuses))
	}
	if runs {
		if cc.runs, err = c.workflowRuns(ctx, r, sha); err != nil {
			return cc, err
		}
	}
	return cc, nil
}

// checkRuns lists the check runs on sha: the newest of each name with
// filter "latest", every one with "all".
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

// onCars keeps the runs on car branches. The same commit may be a pull
// request's own head: its runs (a fork's among them) are not the car's,
// and neither their attempts nor their failures are the train's to act
// on.
func (c *Client) onCars(runs []*gh.WorkflowRun) []*gh.WorkflowRun {
	return slices.DeleteFunc(runs, func(run *gh.WorkflowRun) bool { return !strings.HasPrefix(run.GetHeadBranch(), c.cars) })
}

// workflowRuns lists the workflow runs of sha on car branches.
func (c *Client) workflowRuns(ctx context.Context, r repoRef, sha string) ([]*gh.WorkflowRun, error) {
	var out []*gh.WorkflowRun
	err := c.pages(ctx, fmt.Sprintf("list workflow runs of %s@%.12s", r.project, sha), func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.ListWorkflowRunsOptions{HeadSHA: sha, ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		res, resp, err := c.gh.Actions.ListRepositoryWorkflowRuns(try, r.owner, r.repo, opts)
		if res != nil {
			out = append(out, c.onCars(res.WorkflowRuns)...)
		}
		return resp, err
	})
	return out, err
}

// shaCache remembers resolved commit abbreviations, emptied when full.
type shaCache struct {
	mu sync.Mutex
	m  map[string]string
}

const shaCacheSize = 4096

func newSHACache() *shaCache { return &shaCache{m: map[string]string{}} }

func (s *shaCache) get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.m[key]
	return sha, ok
}

func (s *shaCache) put(key, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= shaCacheSize {
		s.m = map[string]string{}
	}
	s.m[key] = sha
}
