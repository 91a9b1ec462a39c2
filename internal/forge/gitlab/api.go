package gitlab

import (
	"context"
	"errors"
	"fmt"
	"sort"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/forge"
)

// perPage is the page size of list calls, GitLab's maximum.
const perPage = 100

// MergeRequest returns MR iid of project.
func (c *Client) MergeRequest(ctx context.Context, project string, iid int64) (forge.MR, error) {
	var mr *gl.MergeRequest
	err := c.do(ctx, fmt.Sprintf("get MR %s!%d", project, iid), true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		mr, r, err = c.gl.MergeRequests.GetMergeRequest(project, iid, nil, o...)
		return r, err
	})
	if err != nil {
		return forge.MR{}, err
	}
	return mrOf(project, &mr.BasicMergeRequest), nil
}

// AccessLevel returns userID's access to project, inherited from groups
// included; forge.NoAccess when not a member (GitLab answers 404 for a
// project the token cannot see as well, which is no access either).
func (c *Client) AccessLevel(ctx context.Context, project string, userID int64) (forge.AccessLevel, error) {
	var m *gl.ProjectMember
	err := c.do(ctx, fmt.Sprintf("get access of user %d to %s", userID, project), true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		m, r, err = c.gl.ProjectMembers.GetInheritedProjectMember(project, userID, o...)
		return r, err
	})
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return forge.NoAccess, nil
	case err != nil:
		return 0, err
	}
	return forge.AccessLevel(m.AccessLevel), nil
}

// UserID returns the id of the user called username.
func (c *Client) UserID(ctx context.Context, username string) (int64, error) {
	var users []*gl.User
	op := fmt.Sprintf("find user %q", username)
	err := c.do(ctx, op, true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		users, r, err = c.gl.Users.ListUsers(&gl.ListUsersOptions{Username: gl.Ptr(username)}, o...)
		return r, err
	})
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		if u.Username == username {
			return u.ID, nil
		}
	}
	return 0, fmt.Errorf("%s: %w", op, forge.ErrNotFound)
}

// CreatePipeline starts a pipeline on ref with vars as environment
// variables.
func (c *Client) CreatePipeline(ctx context.Context, project, ref string, vars map[string]string) (forge.Pipeline, error) {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	opts := make([]*gl.PipelineVariableOptions, 0, len(keys))
	for _, k := range keys {
		opts = append(opts, &gl.PipelineVariableOptions{Key: gl.Ptr(k), Value: gl.Ptr(vars[k]), VariableType: gl.Ptr(gl.EnvVariableType)})
	}
	var p *gl.Pipeline
	err := c.do(ctx, fmt.Sprintf("create pipeline on %s of %s", ref, project), false, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		p, r, err = c.gl.Pipelines.CreatePipeline(project, &gl.CreatePipelineOptions{Ref: gl.Ptr(ref), Variables: &opts}, o...)
		return r, err
	})
	if err != nil {
		return forge.Pipeline{}, err
	}
	return pipelineOf(p), nil
}

// Pipeline returns pipeline id of project.
func (c *Client) Pipeline(ctx context.Context, project string, id int64) (forge.Pipeline, error) {
	var p *gl.Pipeline
	err := c.do(ctx, fmt.Sprintf("get pipeline %d of %s", id, project), true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		p, r, err = c.gl.Pipelines.GetPipeline(project, id, o...)
		return r, err
	})
	if err != nil {
		return forge.Pipeline{}, err
	}
	return pipelineOf(p), nil
}

// username returns the name of the token's user, which never changes
// for a token: read once, and again only after a failure.
func (c *Client) username(ctx context.Context) (string, error) {
	c.selfMu.Lock()
	defer c.selfMu.Unlock()
	if c.self != "" {
		return c.self, nil
	}
	var u *gl.User
	err := c.do(ctx, "read the token's user", true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		u, r, err = c.gl.Users.CurrentUser(o...)
		return r, err
	})
	if err != nil {
		return "", err
	}
	if u == nil || u.Username == "" {
		return "", errors.New("read the token's user: GitLab answered without a username")
	}
	c.self = u.Username
	return c.self, nil
}

// PipelinesFor lists the pipelines that ran or run for exactly sha on ref,
// newest first, so a start can be skipped when one exists. Only those
// Trainyard's own user started count (its API calls and its pushes): a
// developer can run a pipeline on a car branch with variables of their
// own, such as one that skips the tests, and it must not pass the car.
func (c *Client) PipelinesFor(ctx context.Context, project, ref, sha string) ([]forge.Pipeline, error) {
	self, err := c.username(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pipelines for %.12s on %s of %s: %w", sha, ref, project, err)
	}
	opt := &gl.ListProjectPipelinesOptions{ListOptions: gl.ListOptions{PerPage: perPage}, Ref: gl.Ptr(ref), SHA: gl.Ptr(sha), Username: gl.Ptr(self)}
	var out []forge.Pipeline
	op := fmt.Sprintf("list pipelines for %.12s on %s of %s", sha, ref, project)
	err = c.pages(ctx, op, &opt.Page, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		list, r, err := c.gl.Pipelines.ListProjectPipelines(project, opt, o...)
		if err == nil {
			for _, p := range list {
				out = append(out, pipelineInfoOf(p))
			}
		}
		return r, err
	})
	return out, err
}

// CancelPipeline cancels pipeline id and reports whether it was stopped: a
// finished pipeline stays as it is, and GitLab answers with its final
// status. One found cancelled already counts as stopped: a repeated call
// (a retry whose first answer was lost) must report what the first did.
func (c *Client) CancelPipeline(ctx context.Context, project string, id int64) (bool, error) {
	var p *gl.Pipeline
	err := c.do(ctx, fmt.Sprintf("cancel pipeline %d of %s", id, project), true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		p, r, err = c.gl.Pipelines.CancelPipelineBuild(project, id, o...)
		return r, err
	})
	if err != nil {
		return false, err
	}
	return p == nil || p.Status == "canceled" || p.Status == "canceling", nil
}

// Comment posts a note on MR iid.
func (c *Client) Comment(ctx context.Context, project string, iid int64, body string) error {
	return c.do(ctx, fmt.Sprintf("comment on %s!%d", project, iid), false, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		_, r, err := c.gl.Notes.CreateMergeRequestNote(project, iid, &gl.CreateMergeRequestNoteOptions{Body: gl.Ptr(body)}, o...)
		return r, err
	})
}

// CloseMR closes MR iid; closing a closed MR changes nothing. A train that
// lands an MR by squash or rebase closes it this way, since the commits on
// the target are not the MR's own and GitLab would leave it open.
func (c *Client) CloseMR(ctx context.Context, project string, iid int64) error {
	return c.do(ctx, fmt.Sprintf("close %s!%d", project, iid), true, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		_, r, err := c.gl.MergeRequests.UpdateMergeRequest(project, iid, &gl.UpdateMergeRequestOptions{StateEvent: gl.Ptr("close")}, o...)
		return r, err
	})
}

// Notes lists every note on MR iid, oldest first.
func (c *Client) Notes(ctx context.Context, project string, iid int64) ([]forge.Note, error) {
	opt := &gl.ListMergeRequestNotesOptions{ListOptions: gl.ListOptions{PerPage: perPage}, Sort: gl.Ptr("asc"), OrderBy: gl.Ptr("created_at")}
	var out []forge.Note
	err := c.pages(ctx, fmt.Sprintf("list notes of %s!%d", project, iid), &opt.Page, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		list, r, err := c.gl.Notes.ListMergeRequestNotes(project, iid, opt, o...)
		if err == nil {
			for _, n := range list {
				out = append(out, forge.Note{ID: n.ID, Body: n.Body, Author: n.Author.Username})
			}
		}
		return r, err
	})
	return out, err
}

// BranchHead returns the commit branch points to.
func (c *Client) BranchHead(ctx context.Context, project, branch string) (string, error) {
	var b *gl.Branch
	op := fmt.Sprintf("get branch %s of %s", branch, project)
	err := c.do(ctx, op, true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		b, r, err = c.gl.Branches.GetBranch(project, branch, o...)
		return r, err
	})
	if err != nil {
		return "", err
	}
	if b.Commit == nil || b.Commit.ID == "" {
		return "", fmt.Errorf("%s: answer has no commit", op)
	}
	return b.Commit.ID, nil
}

// DeleteBranch removes branch; a branch already gone is not an error.
func (c *Client) DeleteBranch(ctx context.Context, project, branch string) error {
	err := c.do(ctx, fmt.Sprintf("delete branch %s of %s", branch, project), true, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		return c.gl.Branches.DeleteBranch(project, branch, o...)
	})
	if errors.Is(err, forge.ErrNotFound) {
		return nil
	}
	return err
}

// OpenMRFromBranch returns the open MR of project whose source branch is
// branch, and false when there is none. GitLab lists a project's MRs by
// their target project, so an MR from a fork's branch of the same name
// is listed too: only one whose source project is its target project is
// taken. Of several (into different targets), the oldest, with the
// lowest iid.
func (c *Client) OpenMRFromBranch(ctx context.Context, project, branch string) (forge.MR, bool, error) {
	opt := &gl.ListProjectMergeRequestsOptions{
		ListOptions: gl.ListOptions{PerPage: perPage}, State: gl.Ptr(forge.StateOpened),
		SourceBranch: gl.Ptr(branch), OrderBy: gl.Ptr("created_at"), Sort: gl.Ptr("asc"),
	}
	var found *gl.BasicMergeRequest
	op := fmt.Sprintf("find the open MR from branch %s of %s", branch, project)
	err := c.pages(ctx, op, &opt.Page, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		list, r, err := c.gl.MergeRequests.ListProjectMergeRequests(project, opt, o...)
		for _, mr := range list {
			// The filters are checked again: a GitLab that ignored one
			// must not make another branch's MR this one's.
			if mr.SourceProjectID != mr.TargetProjectID || mr.SourceBranch != branch || mr.State != forge.StateOpened {
				continue
			}
			if found == nil || mr.IID < found.IID {
				found = mr
			}
		}
		return r, err
	})
	if err != nil || found == nil {
		return forge.MR{}, false, err
	}
	return mrOf(project, found), true, nil
}

// OpenMRs lists project's open MRs, the most recently updated first, at
// most limit (up to one page).
func (c *Client) OpenMRs(ctx context.Context, project string, limit int) ([]forge.MR, error) {
	opt := &gl.ListProjectMergeRequestsOptions{
		ListOptions: gl.ListOptions{PerPage: int64(min(max(limit, 1), perPage))}, State: gl.Ptr(forge.StateOpened),
		OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("desc"),
	}
	var list []*gl.BasicMergeRequest
	err := c.do(ctx, "list the open MRs of "+project, true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		list, r, err = c.gl.MergeRequests.ListProjectMergeRequests(project, opt, o...)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]forge.MR, 0, len(list))
	for _, mr := range list {
		if mr.State == forge.StateOpened && len(out) < limit {
			out = append(out, mrOf(project, mr))
		}
	}
	return out, nil
}

// Self is the username of the token's user, whose notes are Trainyard's.
func (c *Client) Self(ctx context.Context) (string, error) { return c.username(ctx) }
