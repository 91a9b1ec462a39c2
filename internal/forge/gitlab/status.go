package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/forge"
)

// PostNote posts a note on MR iid and returns its id, so that it can be
// edited later.
func (c *Client) PostNote(ctx context.Context, project string, iid int64, body string) (int64, error) {
	var n *gl.Note
	err := c.do(ctx, fmt.Sprintf("comment on %s!%d", project, iid), false, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		n, r, err = c.gl.Notes.CreateMergeRequestNote(project, iid, &gl.CreateMergeRequestNoteOptions{Body: gl.Ptr(body)}, o...)
		return r, err
	})
	if err != nil {
		return 0, err
	}
	return n.ID, nil
}

// EditNote replaces the body of note id on MR iid.
func (c *Client) EditNote(ctx context.Context, project string, iid, id int64, body string) error {
	return c.do(ctx, fmt.Sprintf("edit note %d on %s!%d", id, project, iid), true, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		_, r, err := c.gl.Notes.UpdateMergeRequestNote(project, iid, id, &gl.UpdateMergeRequestNoteOptions{Body: gl.Ptr(body)}, o...)
		return r, err
	})
}

// SetCommitStatus sets Trainyard's commit status on s.SHA, filed under
// the MR's source branch so that it shows on the MR. GitLab keeps one
// status per name, commit and ref and moves it along: the returned id is
// only informative.
func (c *Client) SetCommitStatus(ctx context.Context, project string, s forge.CommitStatus) (string, error) {
	opt := &gl.SetCommitStatusOptions{
		State: gl.BuildStateValue(s.State), Name: gl.Ptr(forge.StatusName),
		Description: gl.Ptr(forge.Clip(s.Description, 255)),
	}
	if s.Ref != "" {
		opt.Ref = gl.Ptr(s.Ref)
	}
	if s.TargetURL != "" {
		opt.TargetURL = gl.Ptr(s.TargetURL)
	}
	var st *gl.CommitStatus
	op := fmt.Sprintf("set status %s of %s at %.12s", s.State, project, s.SHA)
	err := c.do(ctx, op, true, func(o ...gl.RequestOptionFunc) (r *gl.Response, err error) {
		st, r, err = c.gl.Commits.SetCommitStatus(project, s.SHA, opt, o...)
		return r, err
	})
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", errors.New(op + ": empty answer")
	}
	return strconv.FormatInt(st.ID, 10), nil
}
