package gitlab

import (
	"github.com/trainyard/trainyard/internal/backoff"

	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
)

// ErrGaveUp: a call kept failing with retryable errors until Options.MaxWait
// was spent. It wraps the last error too.
var ErrGaveUp = errors.New("gave up retrying")

// request is one client-go call; opts carry the attempt's context.
type request func(opts ...gl.RequestOptionFunc) (*gl.Response, error)

// do runs req until it succeeds, fails for good, or the call's budget
// (Options.MaxWait, or ctx's deadline if sooner) is spent. Each attempt
// has its own Options.Timeout. 429 and 5xx answers are retried for every
// method; transport errors only when idempotent, because a request that
// reached the server may have taken effect.
func (c *Client) do(ctx context.Context, op string, idempotent bool, req request) error {
	call, cancel := context.WithTimeout(ctx, c.maxWait)
	defer cancel()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		try, cancelTry := context.WithTimeout(call, c.timeout)
		resp, err := req(gl.WithContext(try))
		cancelTry()
		if err == nil {
			return nil
		}
		wait, retry := c.retryable(call, resp, err, idempotent, attempt)
		if !retry {
			if code := status(resp); code >= 400 && code < 500 && code != http.StatusNotFound && code != http.StatusRequestTimeout {
				return fmt.Errorf("%s: %w: %w", op, forge.ErrRejected, err)
			}
			return c.failed(ctx, call, op, attempt, start, err)
		}
		if deadline, ok := call.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%s: %w after %d attempts in %v: %w", op, ErrGaveUp, attempt+1, since(start), err)
		}
		c.log.Debug("gitlab call failed, retrying", zap.String("op", op), zap.Int("attempt", attempt+1),
			zap.Duration("wait", wait), zap.Int("status", status(resp)), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-call.Done():
			t.Stop()
			return c.failed(ctx, call, op, attempt, start, err)
		}
	}
}

// failed wraps a final error: 404 becomes forge.ErrNotFound, and a call
// stopped by its own budget (not the caller's context) is ErrGaveUp.
func (c *Client) failed(ctx, call context.Context, op string, attempt int, start time.Time, err error) error {
	switch {
	case errors.Is(err, gl.ErrNotFound):
		return fmt.Errorf("%s: %w", op, forge.ErrNotFound)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, ctx.Err())
	case call.Err() != nil:
		return fmt.Errorf("%s: %w after %d attempts in %v: %w", op, ErrGaveUp, attempt+1, since(start), err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// retryable decides whether an error is worth another attempt, and how
// long to wait first: full jitter over an exponential ceiling, but never
// less than the server's Retry-After.
func (c *Client) retryable(call context.Context, resp *gl.Response, err error, idempotent bool, attempt int) (time.Duration, bool) {
	if call.Err() != nil {
		return 0, false
	}
	switch code := status(resp); {
	case code == http.StatusTooManyRequests, code >= 500 && code != http.StatusNotImplemented:
		return max(c.jitter(attempt), retryAfter(resp)), true
	case code != 0:
		return 0, false
	}
	var ue *url.Error
	if idempotent && (errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded)) {
		return c.jitter(attempt), true
	}
	return 0, false
}

func (c *Client) jitter(attempt int) time.Duration {
	return backoff.Jitter(c.base, c.max, attempt)
}

func status(resp *gl.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// retryAfter reads Retry-After, in seconds or as an HTTP date.
func retryAfter(resp *gl.Response) time.Duration {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return backoff.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
}
