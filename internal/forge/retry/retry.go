// Package retry is the retry loop both forge clients share: a deadline on
// every attempt, a bound on the whole call, exponential backoff with full
// jitter that never undercuts the forge's own Retry-After, and the mapping
// of final answers onto forge.ErrNotFound and forge.ErrRejected.
package retry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/backoff"
	"github.com/trainyard/trainyard/internal/forge"
)

// ErrGaveUp: a call kept failing with retryable errors until its budget
// (Policy.MaxWait, or the caller's deadline) was spent. It wraps the last
// error too.
var ErrGaveUp = errors.New("gave up retrying")

// Policy is how a client retries. The zero durations are not defaults:
// clients fill them in.
type Policy struct {
	// Forge names the forge in logs ("gitlab", "github").
	Forge string
	// Timeout bounds each attempt; MaxWait bounds the whole call.
	Timeout time.Duration
	MaxWait time.Duration
	// BackoffBase and BackoffMax shape the wait before attempt n: a random
	// time in [0, min(BackoffMax, BackoffBase*2^n)).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Logger      *zap.Logger
	// Before, if set, runs before every attempt with the call's context
	// (not the attempt's), so a client-side budget can hold requests back
	// without eating into each attempt's timeout.
	Before func(ctx context.Context, op string) error
}

// Answer is what one attempt learned from the forge besides its error.
type Answer struct {
	// Status is the HTTP status; zero when no answer came.
	Status int
	// RetryAfter is how long the forge asked to be left alone.
	RetryAfter time.Duration
	// Throttled marks a rate-limit answer whatever its status: GitHub
	// says so with 403.
	Throttled bool
}

// Attempt makes one request under try, the attempt's context.
type Attempt func(try context.Context) (Answer, error)

// Do runs attempt until it succeeds, fails for good, or the call's budget
// is spent. Throttled, 429 and 5xx answers are retried for every method;
// transport errors only when idempotent, because a request that reached
// the server may have taken effect.
func (p Policy) Do(ctx context.Context, op string, idempotent bool, attempt Attempt) error {
	call, cancel := context.WithTimeout(ctx, p.MaxWait)
	defer cancel()
	start := time.Now()
	for n := 0; ; n++ {
		if p.Before != nil {
			if err := p.Before(call, op); err != nil {
				return p.failed(ctx, call, op, n, start, Answer{}, err)
			}
		}
		try, cancelTry := context.WithTimeout(call, p.Timeout)
		ans, err := attempt(try)
		cancelTry()
		if err == nil {
			return nil
		}
		wait, again := p.retryable(call, ans, err, idempotent, n)
		if !again {
			return p.failed(ctx, call, op, n, start, ans, err)
		}
		if deadline, ok := call.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%s: %w after %d attempts in %v: %w", op, ErrGaveUp, n+1, since(start), err)
		}
		p.logger().Debug(p.Forge+" call failed, retrying", zap.String("op", op), zap.Int("attempt", n+1),
			zap.Duration("wait", wait), zap.Int("status", ans.Status), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-call.Done():
			t.Stop()
			return p.failed(ctx, call, op, n, start, ans, err)
		}
	}
}

// failed wraps a final error: 404 and 410 are forge.ErrNotFound, another
// 4xx (but 408) forge.ErrRejected, and a call stopped by its own budget
// (not the caller's context) ErrGaveUp.
func (p Policy) failed(ctx, call context.Context, op string, n int, start time.Time, ans Answer, err error) error {
	switch code := ans.Status; {
	case code == http.StatusNotFound, code == http.StatusGone:
		return fmt.Errorf("%s: %w", op, forge.ErrNotFound)
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && !ans.Throttled && code != http.StatusTooManyRequests:
		return fmt.Errorf("%s: %w: %w", op, forge.ErrRejected, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, ctx.Err())
	case call.Err() != nil:
		return fmt.Errorf("%s: %w after %d attempts in %v: %w", op, ErrGaveUp, n+1, since(start), err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// retryable decides whether an error is worth another attempt, and how
// long to wait first: full jitter over an exponential ceiling, but never
// less than the forge asked for.
func (p Policy) retryable(call context.Context, ans Answer, err error, idempotent bool, n int) (time.Duration, bool) {
	if call.Err() != nil {
		return 0, false
	}
	switch code := ans.Status; {
	case ans.Throttled, code == http.StatusTooManyRequests, code >= 500 && code != http.StatusNotImplemented:
		return max(backoff.Jitter(p.BackoffBase, p.BackoffMax, n), ans.RetryAfter), true
	case code != 0:
		return 0, false
	}
	var ue *url.Error
	if idempotent && (errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded)) {
		return backoff.Jitter(p.BackoffBase, p.BackoffMax, n), true
	}
	return 0, false
}

func (p Policy) logger() *zap.Logger {
	if p.Logger == nil {
		return zap.NewNop()
	}
	return p.Logger
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// maxPages stops a list that never ends; 100 pages of 100 is far beyond
// any MR's notes or any commit's pipelines.
const maxPages = 100

// Page fetches page n of a list and returns the next page's number, zero
// after the last.
type Page func(try context.Context, n int) (ans Answer, next int, err error)

// Pages fetches page 1, 2, ... until the forge says there is no next page;
// each page is retried on its own.
func (p Policy) Pages(ctx context.Context, op string, page Page) error {
	for n := 1; ; n++ {
		next := 0
		err := p.Do(ctx, fmt.Sprintf("%s (page %d)", op, n), true, func(try context.Context) (Answer, error) {
			ans, nx, err := page(try, n)
			next = nx
			return ans, err
		})
		if err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		if n == maxPages {
			return fmt.Errorf("%s: more than %d pages", op, maxPages)
		}
	}
}
