package notify

import (
	"github.com/trainyard/trainyard/internal/backoff"

	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Retry bounds how hard one message is pushed through a failing webhook.
type Retry struct {
	// Attempts is the most sends of one message; default 5.
	Attempts int
	// Base is the first backoff ceiling, doubled for each retry up to Max;
	// the wait is drawn at random below the ceiling (full jitter), so many
	// messages held up by one outage do not retry in step.
	Base time.Duration // default 500ms
	Max  time.Duration // default 30s
	// Budget bounds the time spent on one message, waits included;
	// default 2m.
	Budget time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	if r.Budget <= 0 {
		r.Budget = 2 * time.Minute
	}
	return r
}

// ErrGaveUp marks a message that was still failing when its attempts or
// its time budget ran out; it wraps the last error too.
var ErrGaveUp = errors.New("gave up")

// send posts m through s until it is delivered, fails for good, or the
// policy is spent. retried is told of each retry before its wait.
func (r Retry) send(ctx context.Context, s Sender, m Message, retried func(attempt int, wait time.Duration, err error)) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Budget)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := s.Send(ctx, m)
		if err == nil {
			return attempt, nil
		}
		wait, again := r.wait(err, attempt)
		switch {
		case !again:
			return attempt, err
		case attempt >= r.Attempts:
			return attempt, fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, attempt, err)
		case ctx.Err() != nil:
			return attempt, fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, attempt, err)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return attempt, fmt.Errorf("%w after %d attempts, the next would be after the deadline: %w", ErrGaveUp, attempt, err)
		}
		retried(attempt, wait, err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, attempt, err)
		}
	}
}

// wait says whether err is worth another attempt and how long to wait
// first: never less than the receiver's Retry-After. Transport errors,
// 429 and 5xx are passing; any other answer will not change on a retry.
func (r Retry) wait(err error, attempt int) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		if se.Code == http.StatusTooManyRequests || se.Code >= 500 {
			return max(r.jitter(attempt), se.RetryAfter), true
		}
		return 0, false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return r.jitter(attempt), true
	}
	return 0, false
}

func (r Retry) jitter(attempt int) time.Duration {
	// Never zero: attempt 1 waits at least a moment.
	return backoff.Jitter(r.Base, r.Max, attempt-1) + 1
}
