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
	checkRuns, err := c.checkRuns(ctx, r, sha)
	if err != nil {
		return cc, err
	}
	if runs {
		if cc.runs, err = c.workflowRuns(ctx, r, sha); err != nil {
			return cc, err
		}
		cc.listed = true
	}
	own, read, listedNow, err := c.carChecks(ctx, r, sha, r.trustedRuns(checkRuns), cc.runs, cc.listed)
	if err != nil {
		return cc, err
	}
	if listedNow {
		cc.runs, cc.listed = read, true
	}
	cc.checks.addRuns(newest(own))
	if len(r.StatusCreators) > 0 && !r.complete(cc.checks) {
		statuses, err := c.statuses(ctx, r, sha)
		if err != nil {
			return cc, err
		}
		cc.checks.addStatuses(r.trustedStatuses(statuses))
	}
	return cc, nil
}

// checkRuns lists every check run on sha, of every attempt: which are
// the car's, and the newest of them, is chosen here (see newest).
func (c *Client) checkRuns(ctx context.Context, r repoRef, sha string) ([]*gh.CheckRun, error) {
	var out []*gh.CheckRun
	err := c.pages(ctx, fmt.Sprintf("list check runs of %s@%.12s", r.project, sha), func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.ListCheckRunsOptions{Filter: gh.Ptr("all"), ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
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

// isCar reports whether run is a car's: on a car branch of the
// repository itself, started by a push, or by a dispatch that self,
// Trainyard, made. The same commit may be a pull request's own head, and
// anyone can open a pull request from a fork branch named like a car's
// with the car's commit: those runs, whose jobs may do less for a pull
// request, are not the car's, and neither their attempts nor their
// results are the train's to act on. Nor is a dispatch by someone else,
// who chose its inputs.
func (c *Client) isCar(r repoRef, run *gh.WorkflowRun, self string) bool {
	if !strings.HasPrefix(run.GetHeadBranch(), c.cars) || !ownRepository(r, run) {
		return false
	}
	switch run.GetEvent() {
	case "push":
		return true
	case "workflow_dispatch":
		return strings.EqualFold(run.GetActor().GetLogin(), self)
	}
	return false
}

// ownRepository reports whether run ran on a branch of the repository
// itself rather than of a fork: by id where GitHub gives both (a renamed
// repository keeps its id), else by name.
func ownRepository(r repoRef, run *gh.WorkflowRun) bool {
	if id, head := run.GetRepository().GetID(), run.GetHeadRepository().GetID(); id != 0 && head != 0 {
		return id == head
	}
	return strings.EqualFold(run.GetHeadRepository().GetFullName(), r.project)
}

// carSuite is what a check suite of Actions is: a car's workflow run
// (of workflow), or not.
type carSuite struct {
	car      bool
	workflow int64
}

// carChecks keeps, of the trusted check runs on sha, those that are the
// car's: every check run of GitHub Actions belongs to a workflow run, by
// its check suite, which must be one of the car's (see isCar); other
// apps' runs are kept as they are. An Actions check run no listed
// workflow run accounts for (one a workflow step made through the API on
// any commit it likes) is left out. What a listing found a suite to be
// is remembered (a run never changes branch, repository, event or
// workflow); a suite not listed yet makes the runs be read again, at
// most once per call. runs are those already read, if listed; listedNow
// reports whether this call read them, into read. The check runs kept
// come with their groups: see newest.
func (c *Client) carChecks(ctx context.Context, r repoRef, sha string, trusted []*gh.CheckRun, runs []*gh.WorkflowRun, listed bool) (own []grouped, read []*gh.WorkflowRun, listedNow bool, err error) {
	for _, run := range trusted {
		if run.GetApp().GetSlug() != DefaultCheckApp {
			own = append(own, grouped{run, checkGroup{app: run.GetApp().GetID(), name: run.GetName()}})
			continue
		}
		suite := run.GetCheckSuite().GetID()
		key, ok := suiteKey(r, suite)
		if !ok {
			continue
		}
		if _, known := c.carSuites.get(key); !known && !listed {
			if read, err = c.workflowRuns(ctx, r, sha); err != nil {
				return nil, nil, false, err
			}
			runs, listed, listedNow = read, true, true
		}
		cs, known := c.carSuites.get(key)
		if !known {
			// Not listed yet, or since forgotten: the runs at hand tell.
			if i := slices.IndexFunc(runs, func(w *gh.WorkflowRun) bool { return w.GetCheckSuiteID() == suite }); i >= 0 {
				cs = carSuite{true, runs[i].GetWorkflowID()}
			}
		}
		if cs.car {
			own = append(own, grouped{run, checkGroup{app: run.GetApp().GetID(), workflow: cs.workflow, name: run.GetName()}})
		}
	}
	return own, read, listedNow, nil
}

// suiteKey names a check suite of r in the memo of car suites: an
// Actions check run's suite is its workflow run's.
func suiteKey(r repoRef, suite int64) (string, bool) {
	return r.project + "#" + strconv.FormatInt(suite, 10), suite != 0
}

// checkGroup is what a check run replaces an earlier one of: the same
// name from the same app and, for Actions, the same workflow.
type checkGroup struct {
	app, workflow int64
	name          string
}

type grouped struct {
	*gh.CheckRun
	group checkGroup
}

// newest keeps the newest check run of each group, of the car's own: a
// re-run's, or those of the car branch pushed again onto the same commit
// (the same workflow run again), replace what came before, while a job
// of another workflow that has the same name stands beside it. It is
// chosen here, from every check run, rather than by GitHub's
// filter=latest, which picks among all the commit's runs: a newer run of
// another workflow run on the commit (a pull request's, which is not the
// car's) could hide the car's.
func newest(runs []grouped) []*gh.CheckRun {
	best := map[checkGroup]*gh.CheckRun{}
	for _, run := range runs {
		if cur, ok := best[run.group]; !ok || run.GetID() > cur.GetID() {
			best[run.group] = run.CheckRun
		}
	}
	var out []*gh.CheckRun
	for _, run := range runs {
		if best[run.group] == run.CheckRun {
			out = append(out, run.CheckRun)
		}
	}
	return out
}

// workflowRuns lists the workflow runs of sha on car branches.
func (c *Client) workflowRuns(ctx context.Context, r repoRef, sha string) ([]*gh.WorkflowRun, error) {
	self, err := c.login(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workflow runs of %s@%.12s: %w", r.project, sha, err)
	}
	var out []*gh.WorkflowRun
	err = c.pages(ctx, fmt.Sprintf("list workflow runs of %s@%.12s", r.project, sha), func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.ListWorkflowRunsOptions{HeadSHA: sha, ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		res, resp, err := c.gh.Actions.ListRepositoryWorkflowRuns(try, r.owner, r.repo, opts)
		if res != nil {
			for _, run := range res.WorkflowRuns {
				// Each suite is remembered once, as what it is: a car's
				// is never, even for a moment, taken for another's.
				car := c.isCar(r, run, self)
				if key, ok := suiteKey(r, run.GetCheckSuiteID()); ok {
					c.carSuites.put(key, carSuite{car, run.GetWorkflowID()})
				}
				if car {
					out = append(out, run)
				}
			}
		}
		return resp, err
	})
	return out, err
}

// memo remembers answers that never change (a commit an abbreviation
// names, whether a check suite is a car's workflow run), emptied when
// full.
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
