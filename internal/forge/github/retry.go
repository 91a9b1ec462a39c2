package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v82/github"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/retry"
)

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

// call runs attempt under the retry policy and retry.HTTP's rules: REST
// and GraphQL requests alike. Every attempt first waits out a rate limit
// GitHub announced to any call of this client, then, for a write, for
// room in the budget.
func (c *Client) call(ctx context.Context, op string, k kind, attempt retry.Attempt) error {
	p := c.retry
	p.Classify, p.OnRetry = retry.HTTP(k != write), retry.LogRetries(c.log, op)
	p.Before = func(call context.Context) error {
		if err := c.gate.wait(call); err != nil {
			return err
		}
		if k == read {
			return nil
		}
		return retry.Reserve(call, c.budget, "write budget")
	}
	err := p.Do(ctx, func(try context.Context) (retry.Answer, error) {
		ans, err := attempt(try)
		if ans.Throttled {
			// A limit with a wait holds back every call; one without
			// (a 429 with no Retry-After) only backs this one off.
			c.gate.pause(time.Now().Add(ans.RetryAfter))
			c.log.Info("github rate limit", zap.String("op", op), zap.Int("status", ans.Status), zap.Duration("wait", ans.RetryAfter))
		}
		return ans, retry.ForgeError(ans, err)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// pages calls req for page 1, 2, ... until GitHub's Link header has no
// next page; each page is retried on its own.
func (c *Client) pages(ctx context.Context, op string, req func(try context.Context, page int) (*gh.Response, error)) error {
	return retry.Pages(ctx, op, func(ctx context.Context, op string, n int) (more bool, err error) {
		err = c.do(ctx, op, read, func(try context.Context) (*gh.Response, error) {
			resp, err := req(try, n)
			more = resp != nil && resp.NextPage != 0
			return resp, err
		})
		return more, err
	})
}

// answerOf reads what an attempt learned: the status, and for GitHub's
// rate limits how long to wait. A primary limit (no requests remaining,
// on a 403 or a 429) waits until X-RateLimit-Reset; a secondary limit
// (403) for Retry-After, or a minute when it does not say; a 429 for
// Retry-After, or the usual backoff when it gives none or 0.
func answerOf(resp *gh.Response, err error, now time.Time) retry.Answer {
	var ans retry.Answer
	var header http.Header
	var token *ghinstallation.HTTPError
	switch {
	case resp != nil && resp.Response != nil:
		ans.Status, header = resp.StatusCode, resp.Header
	case errors.As(err, &token) && token.Response != nil:
		// The installation token could not be had: GitHub's answer
		// decides as any other does (a refused JWT is for good).
		ans.Status, header = token.Response.StatusCode, token.Response.Header
	}
	ans.RetryAfter = retry.RetryAfter(header, now)
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
		if reset, ok := primaryReset(header, now); ok {
			ans.RetryAfter = max(ans.RetryAfter, reset)
		}
	}
	if e, ok := errors.AsType[*gh.ErrorResponse](err); ok {
		// "Validation Failed" says little; the first error says what.
		ans.Said = e.Message
		if len(e.Errors) > 0 && e.Errors[0].Message != "" {
			ans.Said = e.Errors[0].Message
		}
	}
	return ans
}

// primaryReset is the wait until X-RateLimit-Reset when h says no request
// remains; ok is false when it does not say so or gives no reset.
func primaryReset(h http.Header, now time.Time) (time.Duration, bool) {
	if h.Get("X-RateLimit-Remaining") != "0" {
		return 0, false
	}
	reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		return 0, false
	}
	// Reset has whole seconds: a second more is never too early.
	return max(time.Unix(reset, 0).Sub(now)+time.Second, 0), true
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
		return fmt.Errorf("%w: %s, past the call's deadline", retry.ErrGaveUp, why)
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
