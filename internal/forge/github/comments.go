package github

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v82/github"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
)

// CommentsSince lists the comments on pull requests of repo created or
// edited at or after since (to the second), oldest first, for the
// catch-up of commands whose webhooks were lost. next is the newest
// updated_at seen, or since: the caller's since for the next call, which
// returns the comments of that second again.
//
// A repository whose comments did not change since the same call last
// answered costs one request, answered 304 Not Modified, which GitHub
// does not count against the rate limit.
//
// One call reads at most commentPagesPerCall pages, the oldest: next is
// then the newest updated_at among them, and the next call goes on from
// there. Reading a longer list whole, after days of comments on a busy
// repository, would fail on its page limit every time and never move on.
func (c *Client) CommentsSince(ctx context.Context, repo string, since time.Time) (comments []forge.Comment, next time.Time, err error) {
	r, err := c.repoOf(ctx, repo)
	if err != nil {
		return nil, since, err
	}
	q := url.Values{"sort": {"updated"}, "direction": {"asc"}, "per_page": {strconv.Itoa(perPage)}}
	when := "the start"
	if !since.IsZero() {
		when = since.UTC().Format(time.RFC3339)
		q.Set("since", when)
	}
	first := fmt.Sprintf("repos/%s/%s/issues/comments?%s", url.PathEscape(r.owner), url.PathEscape(r.repo), q.Encode())
	key := strings.ToLower(repo)
	last, cached := c.commentPages.get(key)
	cached = cached && last.url == first
	var list []*gh.IssueComment
	var etag string
	pages, unchanged := 0, false
	err = c.pages(ctx, fmt.Sprintf("list comments of %s since %s", repo, when), func(try context.Context, page int) (*gh.Response, error) {
		u := first
		if page > 1 {
			u += "&page=" + strconv.Itoa(page)
		}
		req, err := c.gh.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if page == 1 && cached {
			req.Header.Set("If-None-Match", last.etag)
		}
		var got []*gh.IssueComment
		resp, err := c.gh.Do(try, req, &got)
		if resp != nil && resp.StatusCode == http.StatusNotModified {
			// A 304 stands for the whole list: there is no next page
			// to read, whatever its headers say.
			unchanged, resp.NextPage = true, 0
			return resp, nil
		}
		if err == nil {
			list, pages = append(list, got...), page
			if page == 1 {
				etag = resp.Header.Get("ETag")
			}
			if page == commentPagesPerCall {
				resp.NextPage = 0 // the rest is the next call's
			}
		}
		return resp, err
	})
	switch {
	case err != nil:
		return nil, since, err
	case unchanged:
		c.log.Debug("comments not modified", zap.String("project", repo), zap.String("since", when))
		return slices.Clone(last.comments), last.next, nil
	}
	comments, next = pullComments(list, since)
	// Only a short single page is known whole by its ETag: a new or
	// edited comment sorts last, onto that page, and changes it, while
	// it would leave a full first page as it was.
	if pages == 1 && len(list) < perPage && etag != "" {
		c.commentPages.put(key, commentPage{url: first, etag: etag, comments: slices.Clone(comments), next: next})
	} else {
		c.commentPages.drop(key)
	}
	return comments, next, nil
}

// commentPagesPerCall bounds the pages one CommentsSince reads.
const commentPagesPerCall = 20

// pullComments keeps the comments on pull requests, oldest first, and
// finds the newest updated_at of all.
func pullComments(list []*gh.IssueComment, since time.Time) ([]forge.Comment, time.Time) {
	next := since
	var out []forge.Comment
	for _, cm := range list {
		updated := cm.GetUpdatedAt().Time
		if updated.After(next) {
			next = updated
		}
		mr, ok := pullNumber(cm.GetHTMLURL())
		if !ok {
			continue
		}
		out = append(out, forge.Comment{
			ID: cm.GetID(), MR: mr, Body: cm.GetBody(), AuthorID: cm.GetUser().GetID(), Author: cm.GetUser().GetLogin(),
			Created: cm.GetCreatedAt().Time, Updated: updated,
		})
	}
	slices.SortStableFunc(out, func(a, b forge.Comment) int {
		return cmp.Or(a.Updated.Compare(b.Updated), cmp.Compare(a.ID, b.ID))
	})
	return out, next
}

// pullNumber reads the pull request a comment is on from its web URL,
// .../pull/<n>#issuecomment-<id>: issue_url has the number too, but is
// the same for a plain issue's comment.
func pullNumber(htmlURL string) (int64, bool) {
	u, err := url.Parse(htmlURL)
	if err != nil {
		return 0, false
	}
	parts := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] != "pull" {
		return 0, false
	}
	n, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	return n, err == nil && n > 0
}

// commentPage is the answer to one repository's last comment list whose
// ETag stands for all of it.
type commentPage struct {
	url, etag string
	comments  []forge.Comment
	next      time.Time
}

// pageCache holds a commentPage per repository, emptied when full.
type pageCache struct {
	mu sync.Mutex
	m  map[string]commentPage
}

const pageCacheSize = 1024

func newPageCache() *pageCache { return &pageCache{m: map[string]commentPage{}} }

func (p *pageCache) get(key string) (commentPage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp, ok := p.m[key]
	return cp, ok
}

func (p *pageCache) put(key string, cp commentPage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[key]; !ok && len(p.m) >= pageCacheSize {
		p.m = map[string]commentPage{}
	}
	p.m[key] = cp
}

func (p *pageCache) drop(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
}
