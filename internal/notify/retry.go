package notify

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/trainyard/trainyard/internal/retry"
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

// send posts m through s until it is delivered, fails for good, or the
// policy is spent, and says how many attempts it made. retried is told of
// each retry before its wait. A message still failing when its attempts
// or budget run out fails with retry.ErrGaveUp.
func (r Retry) send(ctx context.Context, s Sender, m Message, retried func(attempt int, wait time.Duration, err error)) (int, error) {
	attempts := 0
	p := retry.Policy{
		Classify: classify, Budget: r.Budget, Attempts: r.Attempts, Base: r.Base, Max: r.Max,
		OnRetry: func(rt retry.Retry) { retried(rt.Attempt, rt.Wait, rt.Err) },
	}
	err := p.Do(ctx, func(try context.Context) (retry.Answer, error) {
		attempts++
		return retry.Answer{}, s.Send(try, m)
	})
	return attempts, err
}

// classify says whether a webhook's error is worth another attempt, and
// the least wait first: the receiver's Retry-After. Transport errors, 429
// and any 5xx are passing; any other answer will not change on a retry.
// A chat message posted twice is a smaller harm than one lost, so a
// transport error is retried though the post may have arrived.
func classify(err error, _ retry.Answer) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter, se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	var ue *url.Error
	return 0, errors.As(err, &ue)
}
