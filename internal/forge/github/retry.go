package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v82/github"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/backoff"
	"github.com/trainyard/trainyard/internal/forge/retry"
)

// ErrGaveUp: a call kept failing with retryable errors, or waiting for a
// rate limit, until Options.MaxWait was spent. It wraps the last error.
var ErrGaveUp = retry.ErrGaveUp

// secondaryWait is how long GitHub asks a client hit by a secondary limit
// to wait when it does not say: at least a minute.
const secondaryWait = time.Minute

// kind tells the retry rules and the budget what a request does.
type kind int

const (
	read  kind = iota // GET: idempotent, outside the write budget
	write             // creates content: not idempotent, in the budget
	edit              // PATCH and the like: idempotent, in the budget
)

// request is one go-github call under try, the attempt's context.
type request func(try context.Context) (*gh.Response, error)

// do runs req, a go-github call, under the retry policy.
func (c *Client) do(ctx context.Context, op string, k kind, req request) error {
	return c.call(ctx, op, k, func(try context.Context) (retry.Answer, error) {
		resp, err := req(try)
		return answerOf(resp, err, time.Now()), err
	})
}

// call runs attempt under the retry policy: REST and GraphQL requests
// alike. Every attempt first waits out a rate limit GitHub announced to
// any call of this client, then, for a write, for room in the budget.
func (c *Client) call(ctx context.Context, op string, k kind, attempt retry.Attempt) error {
	p := c.retry
	p.Before = func(call context.Context, _ string) error {
		if err := c.gate.wait(call); err != nil {
			return err
		}
		if k == read {
			return nil
		}
		return c.budget.reserve(call)
	}
	return p.Do(ctx, op, k != write, func(try context.Context) (retry.Answer, error) {
		ans, err := attempt(try)
		if ans.Throttled {
			c.gate.pause(time.Now().Add(ans.RetryAfter))
			c.log.Info("github rate limit", zap.String("op", op), zap.Int("status", ans.Status), zap.Duration("wait", ans.RetryAfter))
		}
		return ans, err
	})
}

// pages calls req for page 1, 2, ... until GitHub's Link header has no
// next page; each page is retried on its own.
func (c *Client) pages(ctx context.Context, op string, req func(try context.Context, page int) (*gh.Response, error)) error {
	for n := 1; ; n++ {
		next := 0
		err := c.do(ctx, fmt.Sprintf("%s (page %d)", op, n), read, func(try context.Context) (*gh.Response, error) {
			resp, err := req(try, n)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil || next == 0 {
			return err
		}
		if n == maxPages {
			return fmt.Errorf("%s: more than %d pages", op, maxPages)
		}
	}
}

// maxPages stops a list that never ends; 100 pages of 100 is far beyond
// any pull request's comments or any commit's checks.
const maxPages = 100

// answerOf reads what an attempt learned: the status, and for GitHub's
// rate limits (403 with no requests left, 403 secondary, 429) how long to
// wait: until X-RateLimit-Reset, or Retry-After, or a minute.
func answerOf(resp *gh.Response, err error, now time.Time) retry.Answer {
	var ans retry.Answer
	var token *ghinstallation.HTTPError
	switch {
	case resp != nil && resp.Response != nil:
		ans.Status = resp.StatusCode
		ans.RetryAfter = backoff.RetryAfter(resp.Header.Get("Retry-After"), now)
	case errors.As(err, &token) && token.Response != nil:
		// The installation token could not be had: GitHub's answer
		// decides as any other does (a refused JWT is for good).
		ans.Status = token.Response.StatusCode
		ans.RetryAfter = backoff.RetryAfter(token.Response.Header.Get("Retry-After"), now)
	}
	var primary *gh.RateLimitError
	var secondary *gh.AbuseRateLimitError
	switch {
	case errors.As(err, &primary):
		// Reset has whole seconds: a second more is never too early.
		ans.Throttled, ans.RetryAfter = true, max(primary.Rate.Reset.Sub(now)+time.Second, 0)
	case errors.As(err, &secondary):
		ans.Throttled, ans.RetryAfter = true, secondaryWait
		if secondary.RetryAfter != nil {
			ans.RetryAfter = *secondary.RetryAfter
		}
	case ans.Status == http.StatusTooManyRequests:
		ans.Throttled = true
		if ans.RetryAfter == 0 {
			ans.RetryAfter = secondaryWait
		}
	}
	return ans
}

// gate holds every call of a client back while GitHub has said it is
// rate limited: GitHub asks clients to stop, not just to retry the one
// request it refused.
type gate struct {
	mu    sync.Mutex
	until time.Time
}

func (g *gate) pause(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.until = later(g.until, until)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// wait blocks until the gate opens, or fails at once when it opens only
// after call's deadline.
func (g *gate) wait(call context.Context) error {
	g.mu.Lock()
	until := g.until
	g.mu.Unlock()
	return sleepUntil(call, until, fmt.Sprintf("rate limited until %s", until.Format(time.RFC3339)))
}

// sleepUntil waits for t unless call ends first; a wait past call's
// deadline is not started.
func sleepUntil(call context.Context, t time.Time, why string) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	if deadline, ok := call.Deadline(); ok && t.After(deadline) {
		return fmt.Errorf("%w: %s, past the call's deadline", ErrGaveUp, why)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-call.Done():
		return call.Err()
	}
}
