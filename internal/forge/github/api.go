package github

import (
	"context"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
)

// perPage is the page size of list calls, GitHub's maximum.
const perPage = 100

// MergeRequest returns pull request number of project ("owner/repo").
func (c *Client) MergeRequest(ctx context.Context, project string, number int64) (forge.MR, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return forge.MR{}, err
	}
	var pr *gh.PullRequest
	err = c.do(ctx, fmt.Sprintf("get pull request %s#%d", project, number), read, func(try context.Context) (r *gh.Response, err error) {
		pr, r, err = c.gh.PullRequests.Get(try, owner, repo, int(number))
		return r, err
	})
	if err != nil {
		return forge.MR{}, err
	}
	return mrOf(project, pr), nil
}

// AccessLevel returns the access of the user with id userID to project:
// their repository role as a forge level, forge.NoAccess for a user
// GitHub does not know. The id is looked up each time, as a login may
// have been renamed since the event that named it.
func (c *Client) AccessLevel(ctx context.Context, project string, userID int64) (forge.AccessLevel, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return 0, err
	}
	var u *gh.User
	err = c.do(ctx, fmt.Sprintf("get user %d", userID), read, func(try context.Context) (r *gh.Response, err error) {
		u, r, err = c.gh.Users.GetByID(try, userID)
		return r, err
	})
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return forge.NoAccess, nil
	case err != nil:
		return 0, err
	}
	var p *gh.RepositoryPermissionLevel
	err = c.do(ctx, fmt.Sprintf("get permission of %s on %s", u.GetLogin(), project), read, func(try context.Context) (r *gh.Response, err error) {
		p, r, err = c.gh.Repositories.GetPermissionLevel(try, owner, repo, u.GetLogin())
		return r, err
	})
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return forge.NoAccess, nil
	case err != nil:
		return 0, err
	}
	return accessOf(p), nil
}

// Comment posts a comment on pull request number.
func (c *Client) Comment(ctx context.Context, project string, number int64, body string) error {
	owner, repo, err := splitProject(project)
	if err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("comment on pull request %s#%d", project, number), write, func(try context.Context) (*gh.Response, error) {
		_, r, err := c.gh.Issues.CreateComment(try, owner, repo, int(number), &gh.IssueComment{Body: gh.Ptr(body)})
		return r, err
	})
}

// Notes lists every comment on pull request number, oldest first.
func (c *Client) Notes(ctx context.Context, project string, number int64) ([]forge.Note, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return nil, err
	}
	var out []forge.Note
	err = c.pages(ctx, fmt.Sprintf("list comments of pull request %s#%d", project, number), func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.IssueListCommentsOptions{Sort: gh.Ptr("created"), Direction: gh.Ptr("asc"), ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		list, r, err := c.gh.Issues.ListComments(try, owner, repo, int(number), opts)
		for _, cm := range list {
			out = append(out, forge.Note{ID: cm.GetID(), Body: cm.GetBody(), Author: cm.GetUser().GetLogin()})
		}
		return r, err
	})
	return out, err
}

// CloseMR closes pull request number; closing a closed one changes
// nothing. A train that lands a pull request by squash or rebase closes
// it this way, since the commits on the target are not its own and
// GitHub would leave it open.
func (c *Client) CloseMR(ctx context.Context, project string, number int64) error {
	owner, repo, err := splitProject(project)
	if err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("close pull request %s#%d", project, number), edit, func(try context.Context) (*gh.Response, error) {
		_, r, err := c.gh.PullRequests.Edit(try, owner, repo, int(number), &gh.PullRequest{State: gh.Ptr("closed")})
		return r, err
	})
}

// BranchHead returns the commit branch points to. It reads the git ref,
// which names exactly that branch: the branches endpoint follows renames.
func (c *Client) BranchHead(ctx context.Context, project, branch string) (string, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return "", err
	}
	var ref *gh.Reference
	op := fmt.Sprintf("get branch %s of %s", branch, project)
	err = c.do(ctx, op, read, func(try context.Context) (r *gh.Response, err error) {
		ref, r, err = c.gh.Git.GetRef(try, owner, repo, "heads/"+branch)
		return r, err
	})
	if err != nil {
		return "", err
	}
	if sha := ref.GetObject().GetSHA(); sha != "" && ref.GetRef() == "refs/heads/"+branch {
		return sha, nil
	}
	return "", fmt.Errorf("%s: answer is for %q, without a commit", op, ref.GetRef())
}

// OpenMRs lists repository project's open pull requests, the most
// recently updated first, at most limit (up to one page).
func (c *Client) OpenMRs(ctx context.Context, project string, limit int) ([]forge.MR, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return nil, err
	}
	var list []*gh.PullRequest
	err = c.do(ctx, "list the open pull requests of "+project, read, func(try context.Context) (r *gh.Response, err error) {
		opts := &gh.PullRequestListOptions{State: "open", Sort: "updated", Direction: "desc",
			ListOptions: gh.ListOptions{PerPage: min(max(limit, 1), perPage)}}
		list, r, err = c.gh.PullRequests.List(try, owner, repo, opts)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]forge.MR, 0, len(list))
	for _, pr := range list {
		if pr.GetState() == "open" && len(out) < limit {
			out = append(out, mrOf(project, pr))
		}
	}
	return out, nil
}

// OpenMRFromBranch returns the open pull request of project whose head is
// branch of project itself, and false when there is none. GitHub filters
// by head as "owner:branch", the owner being the repository's: a fork's
// branch of the same name has its own owner, and GitHub ignores a head
// without one, listing every pull request. Of several (into different
// bases), the oldest, with the lowest number.
func (c *Client) OpenMRFromBranch(ctx context.Context, project, branch string) (forge.MR, bool, error) {
	owner, repo, err := splitProject(project)
	if err != nil {
		return forge.MR{}, false, err
	}
	var found *gh.PullRequest
	op := fmt.Sprintf("find the open pull request from branch %s of %s", branch, project)
	err = c.pages(ctx, op, func(try context.Context, page int) (*gh.Response, error) {
		opts := &gh.PullRequestListOptions{State: "open", Head: owner + ":" + branch, Sort: "created", Direction: "asc",
			ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		list, r, err := c.gh.PullRequests.List(try, owner, repo, opts)
		for _, pr := range list {
			// The filters are checked again: a head GitHub did not
			// understand lists every pull request. GitHub compares the
			// repository's name without regard to case.
			head := pr.GetHead()
			if pr.GetState() != "open" || head.GetRef() != branch || !forge.SameProject(head.GetRepo().GetFullName(), project) {
				continue
			}
			if found == nil || pr.GetNumber() < found.GetNumber() {
				found = pr
			}
		}
		return r, err
	})
	if err != nil || found == nil {
		return forge.MR{}, false, err
	}
	return mrOf(project, found), true, nil
}
