package fakeforge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Plain issues, and the repository-wide list of issue comments that a bot
// reads to catch up on commands it missed. On GitHub every pull request
// is an issue too, so the list holds both kinds of comment.

// CreateIssue opens a plain issue as username and returns its number;
// issues and pull requests share one sequence of numbers.
func (f *Forge) CreateIssue(ctx context.Context, project, username, title string) (int64, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return 0, fmt.Errorf("open an issue in %s: %w", project, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p.nextMRIID++
	is := &issue{ID: f.st.nextID(), Number: p.nextMRIID, Title: title, AuthorID: u.ID, Created: f.opts.Now()}
	if f.st.gh.issues[p.ID] == nil {
		f.st.gh.issues[p.ID] = map[int64]*issue{}
	}
	f.st.gh.issues[p.ID][is.Number] = is
	return is.Number, nil
}

// CommentOnIssue comments on plain issue number as username. Comments on
// pull requests are AddNote's.
func (f *Forge) CommentOnIssue(ctx context.Context, project string, number int64, username, body string) (Note, error) {
	p, u, err := f.lookup(project, username)
	if err != nil {
		return Note{}, fmt.Errorf("comment on issue %s#%d: %w", project, number, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	is, ok := f.st.gh.issues[p.ID][number]
	if !ok {
		return Note{}, fmt.Errorf("comment on issue %s#%d: %w", project, number, errNoIssue)
	}
	now := f.opts.Now()
	n := &note{ID: f.st.nextID(), Body: body, AuthorID: u.ID, Created: now, Updated: now}
	is.comments = append(is.comments, n)
	return Note{ID: n.ID, Author: u.Username, Body: body, CreatedAt: now, UpdatedAt: now}, nil
}

var errNoIssue = errors.New("issue not found")

// ghRepoComment is a comment in the repository-wide list, with what it
// is sorted by.
type ghRepoComment struct {
	created, updated time.Time
	id               int64
	json             ghComment
}

// ghListRepoComments lists the comments on every issue and pull request
// of a repository: those updated at or after since, sorted by created
// (the default) or updated, ascending unless direction=desc, one page at
// a time. Like every GET of the API, the page carries an ETag, and a
// request whose If-None-Match names it is answered 304 with no body
// (conditional.go).
func (f *Forge) ghListRepoComments(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.ghRepoFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			return ghUnprocessable("Validation Failed", ghFieldError{Resource: "IssueComment", Field: "since", Code: "invalid"})
		}
	}
	byUpdated := q.Get("sort") == "updated"
	desc := q.Get("direction") == "desc"
	f.mu.Lock()
	var all []ghRepoComment
	add := func(page string, number int64, n *note) {
		c := ghRepoComment{created: n.Created, updated: cmp.Or(n.Updated, n.Created), id: n.ID}
		if !c.updated.Before(since) {
			c.json = f.ghIssueCommentOf(p, page, number, n)
			all = append(all, c)
		}
	}
	for _, m := range p.mrs {
		for _, n := range m.notes {
			if !n.Internal { // GitLab's alone
				add("pull", m.IID, n)
			}
		}
	}
	for _, is := range f.st.gh.issues[p.ID] {
		for _, n := range is.comments {
			add("issues", is.Number, n)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(all, func(a, b ghRepoComment) int {
		ta, tb := a.created, b.created
		if byUpdated {
			ta, tb = a.updated, b.updated
		}
		c := cmp.Or(ta.Compare(tb), cmp.Compare(a.id, b.id))
		if desc {
			return -c
		}
		return c
	})
	out := make([]ghComment, 0, len(all))
	for _, c := range all {
		out = append(out, c.json)
	}
	writeGH(w, http.StatusOK, ghPaginate(w, r, out))
	return nil
}
