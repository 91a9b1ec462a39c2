package gitlab

import (
	"context"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/backoff"
	"github.com/trainyard/trainyard/internal/forge/retry"
)

// ErrGaveUp: a call kept failing with retryable errors until Options.MaxWait
// was spent. It wraps the last error too.
var ErrGaveUp = retry.ErrGaveUp

// request is one client-go call; opts carry the attempt's context.
type request func(opts ...gl.RequestOptionFunc) (*gl.Response, error)

// do runs req under the client's retry policy (see package retry): each
// attempt has its own Options.Timeout and the call as a whole
// Options.MaxWait.
func (c *Client) do(ctx context.Context, op string, idempotent bool, req request) error {
	return c.retry.Do(ctx, op, idempotent, func(try context.Context) (retry.Answer, error) {
		resp, err := req(gl.WithContext(try))
		return answerOf(resp), err
	})
}

// pages calls req for page 1, 2, ... until GitLab says there is no next
// page; each page is retried on its own.
func (c *Client) pages(ctx context.Context, op string, page *int64, req request) error {
	return c.pagesWhile(ctx, op, page, func(opts ...gl.RequestOptionFunc) (*gl.Response, bool, error) {
		resp, err := req(opts...)
		return resp, true, err
	})
}

// pageRequest is one page of a list; more is false when the caller has
// read enough, as when a list sorted newest first reaches older items.
type pageRequest func(opts ...gl.RequestOptionFunc) (resp *gl.Response, more bool, err error)

// pagesWhile is pages for a caller that may stop before the last page.
func (c *Client) pagesWhile(ctx context.Context, op string, page *int64, req pageRequest) error {
	return c.retry.Pages(ctx, op, func(try context.Context, n int) (retry.Answer, int, error) {
		*page = int64(n)
		resp, more, err := req(gl.WithContext(try))
		next := 0
		if resp != nil && more {
			next = int(resp.NextPage)
		}
		return answerOf(resp), next, err
	})
}

func answerOf(resp *gl.Response) retry.Answer {
	if resp == nil || resp.Response == nil {
		return retry.Answer{}
	}
	return retry.Answer{Status: resp.StatusCode, RetryAfter: backoff.RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}
