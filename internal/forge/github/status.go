package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
)

// PostNote posts a comment on pull request number and returns its id,
// so that it can be edited later.
func (c *Client) PostNote(ctx context.Context, project string, number int64, body string) (int64, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return 0, err
	}
	var cm *gh.IssueComment
	err = c.do(ctx, fmt.Sprintf("comment on pull request %s#%d", project, number), write, func(try context.Context) (r *gh.Response, err error) {
		cm, r, err = c.gh.Issues.CreateComment(try, owner, repo, int(number), &gh.IssueComment{Body: gh.Ptr(body)})
		return r, err
	})
	if err != nil {
		return 0, err
	}
	return cm.GetID(), nil
}

// EditNote replaces the body of comment id on pull request number.
func (c *Client) EditNote(ctx context.Context, project string, number, id int64, body string) error {
	owner, repo, err := splitProject(project)
	if err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("edit comment %d on pull request %s#%d", id, project, number), edit, func(try context.Context) (*gh.Response, error) {
		_, r, err := c.gh.Issues.EditComment(try, owner, repo, id, &gh.IssueComment{Body: gh.Ptr(body)})
		return r, err
	})
}

// checkPrefix starts the id of a status that is a check run.
const checkPrefix = "check:"

// SetCommitStatus shows Trainyard's status on s.SHA as a check run named
// forge.StatusName, created once and then updated through s.ID. Only a
// GitHub App may write check runs; with a token it writes nothing: a
// commit status instead would double the writes of every pull request,
// and GitHub's limit of 80 writes a minute would then hold back the
// pushes that move the target.
func (c *Client) SetCommitStatus(ctx context.Context, project string, s forge.CommitStatus) (string, error) {
	if !c.asApp {
		return "", nil
	}
	owner, repo, err := splitProject(project)
	if err != nil {
		return "", err
	}
	op := fmt.Sprintf("set status %s of %s at %.12s", s.State, project, s.SHA)
	status, conclusion := runOf(s.State)
	out := &gh.CheckRunOutput{Title: gh.Ptr(forge.Clip(s.Description, 140)), Summary: gh.Ptr(s.Description)}
	var details *string
	if s.TargetURL != "" {
		details = gh.Ptr(s.TargetURL)
	}
	var completed *gh.Timestamp
	if conclusion != nil {
		completed = &gh.Timestamp{Time: time.Now()}
	}
	if id, ok := strings.CutPrefix(s.ID, checkPrefix); ok {
		n, err := strconv.ParseInt(id, 10, 64)
		if err == nil {
			err = c.do(ctx, op, edit, func(try context.Context) (*gh.Response, error) {
				_, r, err := c.gh.Checks.UpdateCheckRun(try, owner, repo, n, gh.UpdateCheckRunOptions{
					Name: forge.StatusName, DetailsURL: details, Status: gh.Ptr(status), Conclusion: conclusion,
					CompletedAt: completed, Output: out})
				return r, err
			})
			return s.ID, err
		}
	}
	var run *gh.CheckRun
	err = c.do(ctx, op, write, func(try context.Context) (r *gh.Response, err error) {
		run, r, err = c.gh.Checks.CreateCheckRun(try, owner, repo, gh.CreateCheckRunOptions{
			Name: forge.StatusName, HeadSHA: s.SHA, DetailsURL: details, Status: gh.Ptr(status), Conclusion: conclusion,
			CompletedAt: completed, Output: out})
		return r, err
	})
	if err != nil {
		return "", err
	}
	return checkPrefix + strconv.FormatInt(run.GetID(), 10), nil
}

// runOf is a check run's status and conclusion (nil while it runs)
// for s.
func runOf(s forge.StatusState) (string, *string) {
	switch s {
	case forge.StatusPending:
		return "queued", nil
	case forge.StatusSuccess:
		return "completed", gh.Ptr("success")
	case forge.StatusFailed:
		return "completed", gh.Ptr("failure")
	case forge.StatusCanceled:
		return "completed", gh.Ptr("cancelled")
	}
	return "in_progress", nil
}
