// Package retry is Trainyard's one retry loop, shared by the forge clients
// and the chat notifier: a deadline on every attempt, a budget for the
// whole call, an optional limit on attempts, and exponential backoff with
// full jitter that never undercuts what the server asked for. What is
// worth another attempt is the caller's Classifier; HTTP holds the rules
// of the forges' APIs.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrGaveUp: a call kept failing with retryable errors until its attempts
// or its budget (or the caller's deadline, when a wait would pass it) ran
// out. The error that says so wraps the last attempt's error too.
var ErrGaveUp = errors.New("gave up retrying")

// Answer is what one attempt learned from the server besides its error.
type Answer struct {
	// Status is the HTTP status; zero when no answer came.
	Status int
	// RetryAfter is how long the server asked to be left alone.
	RetryAfter time.Duration
	// Throttled marks a rate-limit answer whatever its status: GitHub
	// says so with 403.
	Throttled bool
	// Said is the message of a refusal, as the forge worded it.
	Said string
}

// Attempt makes one try under try, the attempt's context.
type Attempt func(try context.Context) (Answer, error)

// Classifier reads a failed attempt: again says another attempt may
// pass, atLeast is the least time to wait before it (the server's
// Retry-After, a rate limit's reset). The loop waits the longer of
// atLeast and its own jittered backoff.
type Classifier func(err error, ans Answer) (atLeast time.Duration, again bool)

// Retry is one retry, as Policy.OnRetry is told of it before its wait.
type Retry struct {
	// Attempt is the number of the attempt that failed, from 1.
	Attempt int
	Wait    time.Duration
	Answer  Answer
	Err     error
}

// Policy is how a call is retried. A zero duration or count means no
// bound of that kind; Classify nil means nothing is retried.
type Policy struct {
	Classify Classifier
	// Timeout bounds each attempt; Budget the whole call, waits
	// included.
	Timeout time.Duration
	Budget  time.Duration
	// Attempts is the most attempts of one call.
	Attempts int
	// Base and Max shape the wait after failed attempt n (from 1): a
	// random time in (0, min(Max, Base*2^(n-1))].
	Base, Max time.Duration
	// Before, if set, runs before every attempt with the call's context
	// (not the attempt's), so a client-side budget can hold requests back
	// without eating into each attempt's timeout. Its error ends the call.
	Before func(call context.Context) error
	// OnRetry, if set, is told of each retry before its wait.
	OnRetry func(Retry)
}

// Do runs attempt until it succeeds, fails for good, or the policy is
// spent. An error the classifier does not retry is returned as it is; a
// call that ran out of attempts or budget fails with ErrGaveUp wrapping
// the last error; one whose caller's context ended, with the context's
// error.
func (p Policy) Do(ctx context.Context, attempt Attempt) error {
	call, cancel := ctx, context.CancelFunc(func() {})
	if p.Budget > 0 {
		call, cancel = context.WithTimeout(ctx, p.Budget)
	}
	defer cancel()
	start := time.Now()
	var prev error
	for n := 1; ; n++ {
		if p.Before != nil {
			if err := p.Before(call); err != nil {
				return stopped(ctx, call, n-1, start, err)
			}
		}
		ans, err := p.try(call, attempt)
		if err == nil {
			return nil
		}
		if call.Err() != nil {
			if prev != nil {
				// An attempt cut short by the call's end says less
				// than the answer before it.
				err = prev
			}
			return stopped(ctx, call, n, start, err)
		}
		prev = err
		atLeast, again := p.classify(err, ans)
		if !again {
			return err
		}
		wait := max(backoff(p.Base, p.Max, n), atLeast)
		if p.Attempts > 0 && n >= p.Attempts {
			return gaveUp(n, start, err)
		}
		if deadline, ok := call.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return gaveUp(n, start, err)
		}
		if p.OnRetry != nil {
			p.OnRetry(Retry{Attempt: n, Wait: wait, Answer: ans, Err: err})
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-call.Done():
			t.Stop()
			return stopped(ctx, call, n, start, err)
		}
	}
}

func (p Policy) try(call context.Context, attempt Attempt) (Answer, error) {
	if p.Timeout <= 0 {
		return attempt(call)
	}
	try, cancel := context.WithTimeout(call, p.Timeout)
	defer cancel()
	return attempt(try)
}

func (p Policy) classify(err error, ans Answer) (time.Duration, bool) {
	if p.Classify == nil {
		return 0, false
	}
	return p.Classify(err, ans)
}

// stopped is the error of a call that ended with err after n attempts:
// the caller's context ending is the caller's business, the budget
// running out is ErrGaveUp, anything else err itself.
func stopped(ctx, call context.Context, n int, start time.Time, err error) error {
	switch cause := ctx.Err(); {
	case cause != nil && errors.Is(err, cause):
		return err
	case cause != nil:
		return fmt.Errorf("%w after %d attempts: %v", cause, n, err)
	case call.Err() != nil:
		return gaveUp(n, start, err)
	}
	return err
}

func gaveUp(n int, start time.Time, err error) error {
	return fmt.Errorf("%w after %d attempts in %v: %w", ErrGaveUp, n, time.Since(start).Round(time.Millisecond), err)
}

// backoff is the wait after failed attempt n (from 1): full jitter over
// an exponential ceiling, so many clients retrying at once spread out,
// and never zero.
func backoff(base, ceil time.Duration, n int) time.Duration {
	c := ceil
	if shift := n - 1; shift >= 0 && shift < 32 && base<<shift > 0 && base<<shift < ceil {
		c = base << shift
	}
	if c <= 0 {
		return 0
	}
	return rand.N(c) + 1
}
