package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v82/github"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/gitops"
)

// FastForward moves branch to `to` through the refs API with force off,
// as bulldozer does: GitHub refuses anything but a fast-forward, so the
// update is a compare-and-set like a plain git push. The commit must be
// on GitHub already (a car's commit is, on its car branch). The answer's
// SHA is checked: a ref reported anywhere but `to` is an error, never a
// success. expectedOld is only logged when the branch moved from another
// ancestor of `to`, which is still a fast-forward to the tested commit.
func (c *Client) FastForward(ctx context.Context, project, branch, expectedOld, to string) (gitops.FFResult, error) {
	r, err := c.repoOf(ctx, project)
	if err != nil {
		return gitops.FFResult{}, err
	}
	head, err := c.BranchHead(ctx, project, branch)
	switch {
	case err != nil:
		return gitops.FFResult{}, err
	case head == to:
		return gitops.FFResult{Head: to, Done: true}, nil
	}
	op := fmt.Sprintf("fast-forward %s of %s to %.12s", branch, project, to)
	var ref *gh.Reference
	refused := false
	err = c.do(ctx, op, edit, func(try context.Context) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		ref, resp, err = c.gh.Git.UpdateRef(try, r.owner, r.repo, "heads/"+branch, gh.UpdateRef{SHA: to, Force: gh.Ptr(false)})
		refused = notFastForward(resp, err)
		return resp, err
	})
	if refused {
		return c.afterRefusal(ctx, project, branch, to)
	}
	if err != nil {
		return gitops.FFResult{}, err
	}
	if got := ref.GetObject().GetSHA(); got != to {
		return gitops.FFResult{}, fmt.Errorf("%s: GitHub answered with %s at %q", op, ref.GetRef(), got)
	}
	if head != expectedOld {
		c.log.Warn("fast-forward from an unexpected head", zapFields(project, branch, expectedOld, head, to)...)
	}
	return gitops.FFResult{Head: to}, nil
}

// notFastForward reads GitHub's refusal of a forced-off update.
func notFastForward(resp *gh.Response, err error) bool {
	var er *gh.ErrorResponse
	return resp != nil && resp.StatusCode == http.StatusUnprocessableEntity &&
		errors.As(err, &er) && strings.Contains(strings.ToLower(er.Message), "fast forward")
}

// afterRefusal re-reads the branch someone else moved first. A refusal of
// a repeated update that did land reads as done.
func (c *Client) afterRefusal(ctx context.Context, project, branch, to string) (gitops.FFResult, error) {
	head, err := c.BranchHead(ctx, project, branch)
	if err != nil {
		return gitops.FFResult{}, fmt.Errorf("re-read %s of %s after a refused fast-forward: %w", branch, project, err)
	}
	if head == to {
		return gitops.FFResult{Head: to, Done: true}, nil
	}
	c.log.Info("fast-forward rejected", zapFields(project, branch, "", head, to)...)
	return gitops.FFResult{Head: head, Rejected: true}, nil
}

func zapFields(project, branch, expected, head, to string) []zap.Field {
	return []zap.Field{zap.String("project", project), zap.String("branch", branch),
		zap.String("expected", expected), zap.String("head", head), zap.String("sha", to)}
}
