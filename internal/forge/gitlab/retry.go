package gitlab

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/retry"
)

// request is one client-go call; opts carry the attempt's context.
type request func(opts ...gl.RequestOptionFunc) (*gl.Response, error)

// do runs req under the client's retry policy and retry.HTTP's rules:
// each attempt has its own Options.Timeout and the call as a whole
// Options.MaxWait; a call that runs out of it fails with retry.ErrGaveUp.
// Every attempt first takes room in the request budget, if there is one.
func (c *Client) do(ctx context.Context, op string, idempotent bool, req request) error {
	p := c.retry
	p.Classify, p.OnRetry = retry.HTTP(idempotent), retry.LogRetries(c.log, op)
	if c.budget != nil {
		p.Before = func(call context.Context) error { return retry.Reserve(call, c.budget, "request budget") }
	}
	err := p.Do(ctx, func(try context.Context) (retry.Answer, error) {
		resp, err := req(gl.WithContext(try))
		ans := answerOf(resp)
		ans.Said = said(err)
		return ans, retry.ForgeError(ans, err)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
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
	return retry.Pages(ctx, op, func(ctx context.Context, op string, n int) (more bool, err error) {
		*page = int64(n)
		err = c.do(ctx, op, true, func(opts ...gl.RequestOptionFunc) (*gl.Response, error) {
			resp, wanted, err := req(opts...)
			more = wanted && resp != nil && resp.NextPage != 0
			return resp, err
		})
		return more, err
	})
}

func answerOf(resp *gl.Response) retry.Answer {
	if resp == nil || resp.Response == nil {
		return retry.Answer{}
	}
	return retry.Answer{Status: resp.StatusCode, RetryAfter: retry.RetryAfter(resp.Header, time.Now())}
}

// fieldMessage is how client-go flattens GitLab's validation errors,
// {"message": {"base": ["..."]}}: "{message: {base: [...]}}".
var fieldMessage = regexp.MustCompile(`^(?:\{message: )?\{\w+: \[(.+)\]\}\}?$`)

// said is GitLab's message in a refusal; "" for another error.
func said(err error) string {
	e, ok := errors.AsType[*gl.ErrorResponse](err)
	if !ok {
		return ""
	}
	if m := fieldMessage.FindStringSubmatch(e.Message); m != nil {
		return m[1]
	}
	return e.Message
}
