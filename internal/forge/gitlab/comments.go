package gitlab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/forge"
)

// CommentsSince returns the users' comments (no system notes) on open MRs
// of project that were created or edited at or after since, oldest first,
// and next, to pass as since next time: a millisecond after the newest
// updated_at of the MRs read, the finest step GitLab's times have, or
// since itself when none changed. With nothing new it makes one request.
//
// A note touches its MR, so only the notes of MRs updated at or after
// since are read. A note written in the same millisecond as the newest
// update an earlier call saw, but after that call read it, is missed:
// for a catch-up of missed webhooks, that is rare enough.
func (c *Client) CommentsSince(ctx context.Context, project string, since time.Time) (comments []forge.Comment, next time.Time, err error) {
	changed, next, err := c.changedMRs(ctx, project, since)
	if err != nil {
		return nil, since, err
	}
	for _, iid := range changed {
		notes, err := c.notesSince(ctx, project, iid, since)
		switch {
		case errors.Is(err, forge.ErrNotFound):
			// Deleted since it was listed: nothing of it to act on.
		case err != nil:
			return nil, since, err
		}
		comments = append(comments, notes...)
	}
	slices.SortFunc(comments, func(a, b forge.Comment) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return comments, next, nil
}

// changedMRs lists the open MRs updated at or after since, least recently
// updated first, and the next since. GitLab pages by offset, so an MR that
// changes or closes while the pages are read can shift another past a page
// boundary, unseen; only lists of more than one page, over a hundred MRs
// changed since the last call, are exposed to it.
func (c *Client) changedMRs(ctx context.Context, project string, since time.Time) ([]int64, time.Time, error) {
	// updated_after goes out in whole seconds and GitLab's bound is
	// inclusive, so the list can hold MRs a little older than since: they
	// are filtered here.
	opt := &gl.ListProjectMergeRequestsOptions{
		ListOptions: gl.ListOptions{PerPage: perPage}, State: gl.Ptr(forge.StateOpened),
		UpdatedAfter: gl.Ptr(since), OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc"),
	}
	var iids []int64
	seen := map[int64]bool{}
	next := since
	op := fmt.Sprintf("list MRs of %s updated since %s", project, since.UTC().Format(time.RFC3339Nano))
	err := c.pages(ctx, op, &opt.Page, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		list, r, err := c.gl.MergeRequests.ListProjectMergeRequests(project, opt, o...)
		if err != nil {
			return r, err
		}
		for _, mr := range list {
			updated := timeOf(mr.UpdatedAt)
			// An MR updated while the list is paged moves to its end and
			// shows up twice.
			if updated.Before(since) || seen[mr.IID] {
				continue
			}
			seen[mr.IID] = true
			iids = append(iids, mr.IID)
			next = later(next, updated.Add(time.Millisecond))
		}
		return r, nil
	})
	return iids, next, err
}

// notesSince reads the notes of MR iid from the most recently updated
// down to the first older than since.
func (c *Client) notesSince(ctx context.Context, project string, iid int64, since time.Time) ([]forge.Comment, error) {
	opt := &gl.ListMergeRequestNotesOptions{ListOptions: gl.ListOptions{PerPage: perPage}, OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("desc")}
	var out []forge.Comment
	err := c.pagesWhile(ctx, fmt.Sprintf("list notes of %s!%d", project, iid), &opt.Page, func(o ...gl.RequestOptionFunc) (*gl.Response, bool, error) {
		list, r, err := c.gl.Notes.ListMergeRequestNotes(project, iid, opt, o...)
		if err != nil {
			return r, false, err
		}
		for _, n := range list {
			if timeOf(n.UpdatedAt).Before(since) {
				return r, false, nil
			}
			// Internal notes are no commands, as their webhooks are not:
			// the answer would be public.
			if !n.System && !n.Internal && !n.Confidential {
				out = append(out, commentOf(iid, n))
			}
		}
		return r, true, nil
	})
	return out, err
}

func commentOf(iid int64, n *gl.Note) forge.Comment {
	return forge.Comment{
		ID: n.ID, MR: iid, Body: n.Body, AuthorID: n.Author.ID, Author: n.Author.Username,
		Created: timeOf(n.CreatedAt), Updated: timeOf(n.UpdatedAt),
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
